package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// CLI tests of start/stop/status/logs run against the real engine with the stand-in image, in the
// cmd band: superserver 32000–32499 and web 32500–32999, ten slots per test.

// statusKeys are the fields of the status object (docs/status.md), all always present.
var statusKeys = []string{"bindAddress", "composeProject", "container", "envFile", "exitCode", "host", "image", "irisService",
	"isIrisProject", "kind", "message", "namespace", "phase", "ports", "project", "restartNeeded", "startedAt", "state",
	"superserverPort", "username", "webPort"}

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
	out, errs := mustRun(t, 0, "start", e.project, "--image", e.img, "--json")
	st := statusJSON(t, out)
	rpctest.Must(t, "start --json", rpctest.Want("state", st["state"], "ready"), rpctest.Want("project", st["project"], e.project),
		rpctest.Want("isIrisProject", st["isIrisProject"], true), rpctest.Want("superserverPort", st["superserverPort"], float64(32000)),
		rpctest.Want("webPort", st["webPort"], float64(32500)), rpctest.Want("bindAddress", st["bindAddress"], "127.0.0.1"),
		rpctest.Want("image", st["image"], e.img), rpctest.Want("exitCode", st["exitCode"], nil), rpctest.Want("phase", st["phase"], ""),
		rpctest.Want("kind", st["kind"], "image"), rpctest.Want("composeProject", st["composeProject"], ""),
		rpctest.Want("irisService", st["irisService"], ""),
		rpctest.Want("ports", st["ports"], []any{
			map[string]any{"service": "", "containerPort": float64(1972), "protocol": "tcp", "hostPort": float64(32000), "hostIP": "127.0.0.1", "pinnedHostPort": float64(0), "state": "running"},
			map[string]any{"service": "", "containerPort": float64(52773), "protocol": "tcp", "hostPort": float64(32500), "hostIP": "127.0.0.1", "pinnedHostPort": float64(0), "state": "running"},
		}))
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(st["startedAt"])); err != nil {
		t.Errorf("startedAt %v: %v", st["startedAt"], err)
	}
	if !strings.Contains(errs, "waiting") {
		t.Errorf("no progress line on stderr: %q", errs)
	}

	out, _ = mustRun(t, 0, "status", e.project, "--json")
	s := statusJSON(t, out)
	rpctest.Must(t, "status --json", rpctest.Want("state", s["state"], "ready"), rpctest.Want("container", s["container"], st["container"]))
	if r := cli(t, "status", e.project).must(t, 0); !strings.Contains(r.stdout, "localhost:32000") || !strings.Contains(r.stdout, "http://localhost:32500/csp/sys/UtilHome.csp") {
		t.Fatalf("status does not show the superserver and the portal:\n%s", r)
	}
	if r := cli(t, "logs", e.project).must(t, 0); !strings.Contains(r.stdout, "Enabling logons") {
		t.Fatalf("logs lack the container's log:\n%s", r)
	}

	out, _ = mustRun(t, 0, "stop", e.project, "--json")
	s = statusJSON(t, out)
	rpctest.Must(t, "stop --json", rpctest.Want("state", s["state"], "stopped"), rpctest.Want("superserverPort", s["superserverPort"], float64(32000)))
	if s["exitCode"] == nil {
		t.Fatalf("stop --json: exitCode null, want the container's exit code:\n%s", out)
	}

	// human output: the connection block
	out, _ = mustRun(t, 0, "start", e.project, "--image", e.img)
	for _, want := range []string{"superserver  localhost:32000", "portal       http://localhost:32500/csp/sys/UtilHome.csp",
		"container    " + fmt.Sprint(st["container"]), "image        " + e.img} {
		if !strings.Contains(out, want) {
			t.Errorf("start output lacks %q:\n%s", want, out)
		}
	}
	if r := cli(t, "stop", e.project, "--remove", "--purge").must(t, 0); !strings.Contains(r.stdout, "removed") {
		t.Fatalf("stop --remove --purge does not say removed:\n%s", r)
	}
	out, _ = mustRun(t, 0, "status", e.project, "--json")
	s = statusJSON(t, out)
	rpctest.Must(t, "status after remove", rpctest.Want("state", s["state"], "not-created"), rpctest.Want("container", s["container"], ""),
		rpctest.Want("superserverPort", s["superserverPort"], float64(32000)))
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
	if r := cli(t, "start", dir, "--image", "whatever:1").must(t, 1); !strings.Contains(r.stderr, "docker engine not reachable at unix://") || !strings.Contains(r.stderr, "start Docker") {
		t.Fatalf("start with engine down does not name the endpoint and the remedy:\n%s", r)
	}
	out, _ := mustRun(t, 0, "status", dir, "--json")
	s := statusJSON(t, out)
	rpctest.Must(t, "status with engine down", rpctest.Want("state", s["state"], "docker-unavailable"))
	if !strings.Contains(fmt.Sprint(s["message"]), "not reachable") {
		t.Fatalf("status with engine down: message %q does not say the engine is not reachable", s["message"])
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
	rpctest.Must(t, "start in a new process (the project must not move)", rpctest.Want("superserverPort", again["superserverPort"], res[0]["superserverPort"]),
		rpctest.Want("webPort", again["webPort"], res[0]["webPort"]), rpctest.Want("container", again["container"], res[0]["container"]))
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
	if r := cli(t, "ports", "cleanup").must(t, 0); !strings.Contains(r.stdout, gone) || strings.Contains(r.stdout, e.project) {
		t.Fatalf("cleanup must name the gone folder and keep the running project:\n%s", r)
	}
	// release by port (the folder is gone): refused while the container runs
	if r := cli(t, "ports", "release", "32020").must(t, 1); !strings.Contains(r.stderr, "is running") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("release while running must say it runs and offer --force:\n%s", r)
	}
	code, out, errs := runCLI(t, "ports", "release", "32020", "--force", "--purge")
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

func TestCLILogsFollowUntilInterrupted(t *testing.T) {
	e := newCLIEnv(t, 32030)
	if code, _, errs := runCLI(t, "start", e.project, "--image", e.img); code != 0 {
		t.Fatalf("start: %s", errs)
	}
	follow := startCLI(t, "logs", e.project, "--follow")
	follow.waitUntil(t, "the container's log", func() bool { return strings.Contains(follow.stdout.String(), "Enabling logons") })
	select {
	case code := <-follow.done:
		t.Fatalf("logs --follow ended by itself with %d while the container runs:\n%s", code, follow)
	case <-time.After(300 * time.Millisecond):
	}
	follow.interrupt(t).must(t, 0) // Ctrl-C
	// without a container: a clear error
	if code, _, errs := runCLI(t, "stop", e.project, "--remove"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := runCLI(t, "logs", e.project); code != 1 || !strings.Contains(errs, "has no container") {
		t.Fatalf("logs without container: exit %d %q", code, errs)
	}
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
		{"hanging engine", dockertest.HangingEngine(t), "no answer within"},
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
			out, _ := mustRun(t, 0, "status", dir, "--json")
			s := statusJSON(t, out)
			rpctest.Check(t, "status --json", rpctest.Want("state", s["state"], "docker-unavailable"))
			if msg := fmt.Sprint(s["message"]); !strings.Contains(msg, tc.host) || !strings.Contains(msg, tc.want) {
				t.Errorf("status --json: message %q lacks the endpoint %q or %q", msg, tc.host, tc.want)
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
