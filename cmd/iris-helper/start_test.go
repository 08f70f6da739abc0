package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
)

// CLI tests of start/stop/status/logs run against the real engine with the stand-in image, in the
// cmd band: superserver 32000–32499 and web 32500–32999, ten slots per test.

// statusKeys are the fields of the status object (docs/status.md), all always present.
var statusKeys = []string{"bindAddress", "container", "envFile", "exitCode", "host", "image", "isIrisProject", "message",
	"namespace", "phase", "project", "restartNeeded", "startedAt", "state", "superserverPort", "username", "webPort"}

type cliEnv struct {
	t       *testing.T
	eng     *dockerops.Engine
	img     string
	home    string
	project string
}

// newCLIEnv prepares a registry home with its own port slots (via the environment, as a user
// would) and an IRIS project folder whose containers are removed at the end.
func newCLIEnv(t *testing.T, lo int) *cliEnv {
	t.Helper()
	e := &cliEnv{t: t, eng: dockertest.Engine(t), img: dockertest.StubImage(t), home: t.TempDir()}
	t.Setenv(registry.EnvHome, e.home)
	t.Setenv(registry.EnvSuperserverRange, fmt.Sprintf("%d-%d", lo, lo+9))
	t.Setenv(registry.EnvWebRange, fmt.Sprintf("%d-%d", lo+500, lo+509))
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "module.xml"), []byte("<Export/>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.project = dir
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := dockertest.RemoveProject(ctx, e.eng.Client(), dir); err != nil {
			t.Errorf("remove containers of %s: %v", dir, err)
		}
	})
	return e
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// statusJSON decodes a status object and checks that it has exactly the documented fields.
func statusJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, out)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, statusKeys) {
		t.Fatalf("status keys %v, want %v", keys, statusKeys)
	}
	return m
}

func TestCLIStartStopStatusJSON(t *testing.T) {
	e := newCLIEnv(t, 32000)
	code, out, errs := runCLI(t, "start", e.project, "--image", e.img, "--json")
	if code != 0 {
		t.Fatalf("start: exit %d\n%s\n%s", code, out, errs)
	}
	st := statusJSON(t, out)
	if st["state"] != "ready" || st["project"] != e.project || st["isIrisProject"] != true ||
		st["superserverPort"] != float64(32000) || st["webPort"] != float64(32500) ||
		st["bindAddress"] != "127.0.0.1" || st["image"] != e.img || st["exitCode"] != nil || st["phase"] != "" {
		t.Fatalf("start --json: %v", st)
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(st["startedAt"])); err != nil {
		t.Errorf("startedAt %v: %v", st["startedAt"], err)
	}
	if !strings.Contains(errs, "waiting") {
		t.Errorf("no progress line on stderr: %q", errs)
	}

	code, out, _ = runCLI(t, "status", e.project, "--json")
	if s := statusJSON(t, out); code != 0 || s["state"] != "ready" || s["container"] != st["container"] {
		t.Fatalf("status --json: exit %d %v", code, s)
	}
	code, out, _ = runCLI(t, "status", e.project)
	if code != 0 || !strings.Contains(out, "localhost:32000") || !strings.Contains(out, "http://localhost:32500/csp/sys/UtilHome.csp") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	code, out, errs = runCLI(t, "logs", e.project)
	if code != 0 || !strings.Contains(out, "Enabling logons") {
		t.Fatalf("logs: exit %d\n%s\n%s", code, out, errs)
	}

	code, out, errs = runCLI(t, "stop", e.project, "--json")
	if s := statusJSON(t, out); code != 0 || s["state"] != "stopped" || s["superserverPort"] != float64(32000) || s["exitCode"] == nil {
		t.Fatalf("stop --json: exit %d %v %s", code, s, errs)
	}

	// human output: the connection block
	code, out, errs = runCLI(t, "start", e.project, "--image", e.img)
	if code != 0 {
		t.Fatalf("start: exit %d\n%s", code, errs)
	}
	for _, want := range []string{"superserver  localhost:32000", "portal       http://localhost:32500/csp/sys/UtilHome.csp",
		"container    " + fmt.Sprint(st["container"]), "image        " + e.img} {
		if !strings.Contains(out, want) {
			t.Errorf("start output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "stop", e.project, "--remove", "--purge")
	if code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("stop --remove --purge: exit %d %s", code, out)
	}
	code, out, _ = runCLI(t, "status", e.project, "--json")
	if s := statusJSON(t, out); code != 0 || s["state"] != "not-created" || s["container"] != "" || s["superserverPort"] != float64(32000) {
		t.Fatalf("status after remove: %v", s)
	}
}

func TestCLIUsageAndEngineErrors(t *testing.T) {
	t.Setenv(registry.EnvHome, t.TempDir())
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"stop", dir, "--purge"}, 2, "--purge deletes the data volume and needs --remove"},
		{[]string{"start", dir, "--port", "70000"}, 2, "--port"},
		{[]string{"status", dir, "extra"}, 2, "accepts at most 1 arg"},
		{[]string{"logs", "--bogus"}, 2, "unknown flag"},
	} {
		code, _, errs := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	// engine down: a clear error naming the endpoint, exit 1; status still answers
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	code, _, errs := runCLI(t, "start", dir, "--image", "whatever:1")
	if code != 1 || !strings.Contains(errs, "docker engine not reachable at unix://") || !strings.Contains(errs, "start Docker") {
		t.Fatalf("start with engine down: exit %d, %q", code, errs)
	}
	code, out, _ := runCLI(t, "status", dir, "--json")
	if s := statusJSON(t, out); code != 0 || s["state"] != "docker-unavailable" || !strings.Contains(fmt.Sprint(s["message"]), "not reachable") {
		t.Fatalf("status with engine down: exit %d %v", code, s)
	}
}

// buildBinary builds the real iris-helper binary into the test's temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "iris-helper")
	if out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return path
}

func TestProcessesShareOneContainerAndKeepPorts(t *testing.T) {
	e := newCLIEnv(t, 32010)
	bin := buildBinary(t)
	start := func() (map[string]any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "start", e.project, "--image", e.img, "--json")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%v: %s", err, errb.String())
		}
		var m map[string]any
		err := json.Unmarshal(out.Bytes(), &m)
		return m, err
	}
	// two processes start the same project at once
	res := make([]map[string]any, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range res {
		wg.Add(1)
		go func() { defer wg.Done(); res[i], errs[i] = start() }()
	}
	wg.Wait()
	for i := range res {
		if errs[i] != nil {
			t.Fatalf("process %d: %v", i, errs[i])
		}
		if res[i]["state"] != "ready" {
			t.Fatalf("process %d: %v", i, res[i])
		}
	}
	if res[0]["container"] != res[1]["container"] || res[0]["superserverPort"] != res[1]["superserverPort"] {
		t.Fatalf("processes disagree: %v / %v", res[0], res[1])
	}
	ctx := context.Background()
	owned, err := e.eng.Owned(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range owned {
		if c.Project == e.project {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d containers for the project, want 1", n)
	}
	// stop in one process, start in another: same ports, same container
	if out, err := exec.Command(bin, "stop", e.project).CombinedOutput(); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	again, err := start()
	if err != nil {
		t.Fatal(err)
	}
	if again["superserverPort"] != res[0]["superserverPort"] || again["webPort"] != res[0]["webPort"] || again["container"] != res[0]["container"] {
		t.Fatalf("new process moved the project: %v, was %v", again, res[0])
	}
}

func TestCLIPortsReleaseAndCleanupWithContainers(t *testing.T) {
	e := newCLIEnv(t, 32020)
	if code, _, errs := runCLI(t, "start", e.project, "--image", e.img); code != 0 {
		t.Fatalf("start: %s", errs)
	}
	// a project without container whose folder is gone is stale; one whose folder is gone but
	// whose container is still there stays assigned
	gone := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "ports", "assign", gone); code != 0 {
		t.Fatalf("assign: %s", errs)
	}
	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(e.project); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "ports", "cleanup")
	if code != 0 || !strings.Contains(out, gone) || strings.Contains(out, e.project) {
		t.Fatalf("cleanup: exit %d %s %s", code, out, errs)
	}
	// release by port (the folder is gone): refused while the container runs
	code, _, errs = runCLI(t, "ports", "release", "32020")
	if code != 1 || !strings.Contains(errs, "is running") || !strings.Contains(errs, "--force") {
		t.Fatalf("release while running: exit %d %q", code, errs)
	}
	code, out, errs = runCLI(t, "ports", "release", "32020", "--force", "--purge")
	if code != 0 || !strings.Contains(out, "Released superserver 32020 and web 32520") {
		t.Fatalf("release --force --purge: exit %d %s %s", code, out, errs)
	}
	if _, found, err := e.eng.Inspect(context.Background(), e.project); err != nil || found {
		t.Fatalf("container still there after release --force: %v %v", found, err)
	}
	if err := exec.Command("docker", "volume", "inspect", dockerops.VolumeName(e.project)).Run(); err == nil {
		t.Error("volume still there after release --purge")
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in different goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestCLILogsFollowUntilInterrupted(t *testing.T) {
	e := newCLIEnv(t, 32030)
	if code, _, errs := runCLI(t, "start", e.project, "--image", e.img); code != 0 {
		t.Fatalf("start: %s", errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"logs", e.project, "--follow"}, strings.NewReader(""), &out, &errb) }()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "Enabling logons") {
		if time.Now().After(deadline) {
			t.Fatalf("logs --follow printed %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case code := <-done:
		t.Fatalf("logs --follow ended by itself with %d while the container runs", code)
	case <-time.After(300 * time.Millisecond):
	}
	cancel() // Ctrl-C
	if code := <-done; code != 0 {
		t.Fatalf("logs --follow interrupted: exit %d %s", code, errb.String())
	}
	// without a container: a clear error
	if code, _, errs := runCLI(t, "stop", e.project, "--remove"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := runCLI(t, "logs", e.project); code != 1 || !strings.Contains(errs, "has no container") {
		t.Fatalf("logs without container: exit %d %q", code, errs)
	}
}

// hangingEngine listens on a unix socket, accepts connections and never answers: an engine that
// is wedged. It returns the DOCKER_HOST value.
func hangingEngine(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ih-hang")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // hold it open, say nothing
			mu.Unlock()
		}
	}()
	return "unix://" + sock
}

// TestCLIEngineDownOrHanging: with no engine at DOCKER_HOST, or one that accepts connections and
// never answers, start, stop, logs and logs --follow end with exit 1 and an error that names the
// endpoint and says what to do; status answers docker-unavailable with exit 0. None hangs.
func TestCLIEngineDownOrHanging(t *testing.T) {
	t.Setenv(registry.EnvHome, t.TempDir())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "module.xml"), []byte("<Export/>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, host, want string
	}{
		{"missing socket", "unix://" + filepath.Join(t.TempDir(), "no-docker.sock"), "no such file"},
		{"hanging engine", hangingEngine(t), "no answer within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", tc.host)
			for _, args := range [][]string{
				{"start", dir, "--image", "whatever:1"},
				{"stop", dir},
				{"stop", dir, "--remove", "--purge"},
				{"logs", dir},
				{"logs", dir, "--follow"},
			} {
				code, out, errs := runCLI(t, args...)
				if code != 1 {
					t.Errorf("%v: exit %d, want 1\nstdout %q\nstderr %q", args, code, out, errs)
				}
				for _, want := range []string{"docker engine not reachable at " + tc.host + " (from DOCKER_HOST)", tc.want,
					"start Docker", "docker group", "check DOCKER_HOST"} {
					if !strings.Contains(errs, want) {
						t.Errorf("%v: stderr lacks %q:\n%s", args, want, errs)
					}
				}
				if strings.Contains(errs, "goroutine ") || strings.Contains(errs, "panic") {
					t.Errorf("%v: stack trace on stderr:\n%s", args, errs)
				}
			}
			code, out, _ := runCLI(t, "status", dir, "--json")
			if s := statusJSON(t, out); code != 0 || s["state"] != "docker-unavailable" ||
				!strings.Contains(fmt.Sprint(s["message"]), tc.host) || !strings.Contains(fmt.Sprint(s["message"]), tc.want) {
				t.Errorf("status --json: exit %d %v", code, s)
			}
		})
	}
}

// TestCLIImagePrecedence: the image a command uses is --image > .iris-helper.json "image" >
// $IRIS_HELPER_IMAGE > the real IRIS default, as the status object shows (no engine needed).
func TestCLIImagePrecedence(t *testing.T) {
	t.Setenv(registry.EnvHome, t.TempDir())
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	plain, withConfig := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(withConfig, ".iris-helper.json"), []byte(`{"image": "cfg/iris:1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, env string
		args      []string
		code      int
		want      string
	}{
		{"default", "", []string{"status", plain, "--json"}, 0, "containers.intersystems.com/intersystems/iris-community:latest-em"},
		{"environment", "env/iris:1", []string{"status", plain, "--json"}, 0, "env/iris:1"},
		{"config over environment", "env/iris:1", []string{"status", withConfig, "--json"}, 0, "cfg/iris:1"},
		{"flag over config", "env/iris:1", []string{"start", withConfig, "--image", "flag/iris:1", "--json"}, 1, "flag/iris:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("IRIS_HELPER_IMAGE", tc.env)
			code, out, errs := runCLI(t, tc.args...)
			if s := statusJSON(t, out); code != tc.code || s["image"] != tc.want {
				t.Errorf("%v: exit %d image %v, want %d and %q (%s)", tc.args, code, s["image"], tc.code, tc.want, errs)
			}
		})
	}
}
