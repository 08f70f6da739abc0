package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/dotenv"
)

// Tests of `iris-helper env` use superserver 32200-32209 and web 32250-32259 (cmd band), and
// 32240-32249 for ports asked for in the .env; their own IRIS_HELPER_HOME.

func newEnvTestHome(t *testing.T) *registry.Registry {
	t.Helper()
	home := t.TempDir()
	t.Setenv(registry.EnvHome, home)
	t.Setenv(registry.EnvSuperserverRange, "32200-32209")
	t.Setenv(registry.EnvWebRange, "32250-32259")
	reg, err := registry.Open(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func envProjectDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func envReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEnvSyncWritesAssignedPorts(t *testing.T) {
	reg := newEnvTestHome(t)
	input := "# my project\r\nexport IRIS_PORT=1972 # superserver\r\nAPP='x'\r\n"
	dir := envProjectDir(t, map[string]string{"module.xml": "<Export/>", ".env": input, "src/Demo/": ""})
	ctx := context.Background()

	// From a subfolder: the project root is found, ports are assigned on first use.
	code, stdout, stderr := runCLI(t, "env", "sync", filepath.Join(dir, "src"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	a, ok, err := reg.Get(ctx, dir)
	if err != nil || !ok {
		t.Fatalf("no assignment after env sync: %v", err)
	}
	want := fmt.Sprintf("# my project\r\nexport IRIS_PORT=%d # superserver\r\nAPP='x'\r\n%s\r\nIRIS_HOST=localhost\r\nIRIS_WEB_PORT=%d\r\n",
		a.SuperserverPort, dotenv.ManagedComment, a.WebPort)
	if got := envReadFile(t, filepath.Join(dir, ".env")); got != want {
		t.Errorf(".env is\n%q\nwant\n%q", got, want)
	}
	for _, s := range []string{"updated " + filepath.Join(dir, ".env"), fmt.Sprintf("IRIS_PORT changed from 1972 to %d (line 2)", a.SuperserverPort),
		"IRIS_HOST=localhost added", fmt.Sprintf("IRIS_WEB_PORT=%d added", a.WebPort)} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout %q does not say %q", stdout, s)
		}
	}
	if !strings.Contains(stderr, "assigned ports") {
		t.Errorf("stderr %q does not mention the new assignment", stderr)
	}

	// Again: nothing to do, same ports (no new assignment).
	code, stdout, _ = runCLI(t, "env", "sync", dir)
	if code != 0 || !strings.Contains(stdout, "already up to date") {
		t.Errorf("second sync: exit %d, %q", code, stdout)
	}
}

func TestEnvSyncDryRunShowsDiffAndWritesNothing(t *testing.T) {
	reg := newEnvTestHome(t)
	input := "A=1\nB=2\nC=3\nIRIS_PORT=\"1\"\nD=4\nE=5\nF=6\nG=7\nH=8\nI=9\nIRIS_WEB_PORT=2\n"
	dir := envProjectDir(t, map[string]string{".env": input})
	ctx := context.Background()
	a, err := reg.Assign(ctx, dir, registry.Preferred{Superserver: 32241, Web: 32242})
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "env", "sync", "--dry-run", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	path := filepath.Join(dir, ".env")
	wantDiff := fmt.Sprintf(`would update %[1]s (superserver %[2]d, web %[3]d):
--- %[1]s
+++ %[1]s (after sync)
@@ -2,5 +2,5 @@
 B=2
 C=3
-IRIS_PORT="1"
+IRIS_PORT="%[2]d"
 D=4
 E=5
@@ -9,3 +9,5 @@
 H=8
 I=9
-IRIS_WEB_PORT=2
+IRIS_WEB_PORT=%[3]d
+%[4]s
+IRIS_HOST=localhost
`, path, a.SuperserverPort, a.WebPort, dotenv.ManagedComment)
	if stdout != wantDiff {
		t.Errorf("dry run printed\n%s\nwant\n%s", stdout, wantDiff)
	}
	if got := envReadFile(t, path); got != input {
		t.Errorf("--dry-run changed the file: %q", got)
	}
}

func TestEnvSyncModes(t *testing.T) {
	newEnvTestHome(t)

	dir := envProjectDir(t, map[string]string{"iris.script": "halt\n"})
	code, stdout, _ := runCLI(t, "env", "sync", dir)
	if code != 0 || !strings.Contains(stdout, `env sync "auto" creates none`) {
		t.Errorf("no file under auto: exit %d, %q", code, stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, ".env")); err == nil {
		t.Error("auto created a .env")
	}
	code, stdout, _ = runCLI(t, "env", "sync", "--sync", "true", dir)
	if code != 0 || !strings.Contains(stdout, "created ") {
		t.Errorf("--sync true: exit %d, %q", code, stdout)
	}
	if fi, err := os.Stat(filepath.Join(dir, ".env")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("created file: %v %v", fi, err)
	}

	// .iris-helper.json: sync false, its own file name and key names; the flag wins over the file.
	dir2 := envProjectDir(t, map[string]string{
		".iris-helper.json": `{"env": {"file": "conf/app.env", "sync": false, "superserverPort": "DB_PORT", "webPort": "", "host": ""}}`,
		"conf/app.env":      "DB_PORT=1\n",
	})
	code, stdout, _ = runCLI(t, "env", "sync", dir2)
	rpctest.Check(t, fmt.Sprintf("sync false (stdout %q)", stdout), rpctest.Want("exit", code, 0),
		rpctest.Want("conf/app.env", envReadFile(t, filepath.Join(dir2, "conf", "app.env")), "DB_PORT=1\n"))
	if !strings.Contains(stdout, "env sync is false") {
		t.Errorf("sync false: exit %d, %q", code, stdout)
	}
	code, _, stderr := runCLI(t, "env", "sync", "--sync", "auto", dir2)
	if code != 0 || !strings.HasPrefix(envReadFile(t, filepath.Join(dir2, "conf", "app.env")), "DB_PORT=322") {
		t.Errorf("--sync auto over file false: exit %d %s, file %q", code, stderr, envReadFile(t, filepath.Join(dir2, "conf", "app.env")))
	}
	code, _, stderr = runCLI(t, "env", "watch", dir2)
	if code != 1 || !strings.Contains(stderr, "nothing to watch") {
		t.Errorf("watch under sync false: exit %d, %q", code, stderr)
	}
}

func TestEnvSyncErrors(t *testing.T) {
	newEnvTestHome(t)
	dir := envProjectDir(t, map[string]string{".iris-helper.json": `{"env": {"fille": ".env"}}`})
	code, _, stderr := runCLI(t, "env", "sync", dir)
	rpctest.Check(t, fmt.Sprintf("bad settings (stderr %q)", stderr), rpctest.Want("exit", code, 1))
	if !strings.Contains(stderr, `unknown field "env.fille"`) || !strings.Contains(stderr, filepath.Join(dir, ".iris-helper.json")) {
		t.Errorf("bad settings: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "env", "sync", "--sync", "maybe", envProjectDir(t, nil))
	if code != 2 || !strings.Contains(stderr, "maybe") {
		t.Errorf("bad --sync: exit %d, %q", code, stderr)
	}
	code, _, _ = runCLI(t, "env", "sync", "a", "b")
	if code != 2 {
		t.Errorf("two folders: exit %d, want 2", code)
	}
}

func envWaitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestEnvWatchFollowsEditsAndRegistry(t *testing.T) {
	reg := newEnvTestHome(t)
	dir := envProjectDir(t, map[string]string{"module.xml": "<Export/>", ".env": "IRIS_PORT=1\n"})
	path := filepath.Join(dir, ".env")
	ctx := context.Background()
	watch := startCLI(t, "env", "watch", dir)

	var a registry.Assignment
	envWaitUntil(t, "the first sync", func() bool {
		var ok bool
		a, ok, _ = reg.Get(ctx, dir)
		return ok && strings.HasPrefix(envReadFile(t, path), fmt.Sprintf("IRIS_PORT=%d\n", a.SuperserverPort))
	})
	envWaitUntil(t, "the watching message", func() bool { return strings.Contains(watch.stderr.String(), "watching "+path) })

	// The user asks for a free port in the file: the registry follows.
	edited := strings.Replace(envReadFile(t, path), fmt.Sprintf("IRIS_PORT=%d", a.SuperserverPort), "IRIS_PORT=32245", 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	envWaitUntil(t, "the registry to take the port", func() bool {
		x, _, _ := reg.Get(ctx, dir)
		return x.SuperserverPort == 32245
	})
	envWaitUntil(t, "the report", func() bool { return strings.Contains(watch.stderr.String(), "needs a restart") })

	// Another process moves the project's web port in the registry: the file follows.
	if _, err := reg.Assign(ctx, dir, registry.Preferred{Web: 32246}); err != nil {
		t.Fatal(err)
	}
	envWaitUntil(t, "the file to follow the registry", func() bool {
		return strings.Contains(envReadFile(t, path), "IRIS_WEB_PORT=32246\n")
	})
	if !strings.HasPrefix(envReadFile(t, path), "IRIS_PORT=32245\n") {
		t.Errorf("file %q", envReadFile(t, path))
	}

	if r := watch.interrupt(t); r.code != 0 || r.stdout != "" {
		t.Errorf("after Ctrl-C: exit %d, want 0, and nothing on stdout:\n%s", r.code, r)
	}
}

func TestEnvSyncJSON(t *testing.T) {
	reg := newEnvTestHome(t)
	dir := envProjectDir(t, map[string]string{".env": "IRIS_PORT=1\n"})
	stdout, _ := mustRun(t, 0, "env", "sync", "--json", dir)
	var res struct {
		Path    string `json:"path"`
		Written bool   `json:"written"`
		Mode    string `json:"mode"`
		Keys    struct {
			Superserver string `json:"superserverPort"`
		} `json:"keys"`
		Changes []struct {
			Key   string `json:"key"`
			Old   string `json:"old"`
			New   string `json:"new"`
			Added bool   `json:"added"`
			Line  int    `json:"line"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	a, _, _ := reg.Get(context.Background(), dir)
	rpctest.Must(t, "env sync --json", rpctest.Want("path", res.Path, filepath.Join(dir, ".env")), rpctest.Want("written", res.Written, true),
		rpctest.Want("mode", res.Mode, "auto"), rpctest.Want("keys.superserverPort", res.Keys.Superserver, "IRIS_PORT"), rpctest.Want("len(changes)", len(res.Changes), 3))
	rpctest.Check(t, "env sync --json", rpctest.Want("changes[0].key", res.Changes[0].Key, "IRIS_PORT"), rpctest.Want("changes[0].old", res.Changes[0].Old, "1"),
		rpctest.Want("changes[0].new", res.Changes[0].New, fmt.Sprint(a.SuperserverPort)), rpctest.Want("changes[0].line", res.Changes[0].Line, 1),
		rpctest.Want("changes[1].added", res.Changes[1].Added, true))
}

func TestEnvWatchBinaryStopsOnInterrupt(t *testing.T) {
	reg := newEnvTestHome(t)
	dir := envProjectDir(t, map[string]string{"module.xml": "<Export/>", ".env": "IRIS_PORT=1\n"})
	bin := buildBinary(t)
	cmd := exec.Command(bin, "env", "watch", dir)
	var stdout, stderr rpctest.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	envWaitUntil(t, "the watcher to sync and watch", func() bool {
		a, ok, _ := reg.Get(context.Background(), dir)
		return ok && strings.HasPrefix(envReadFile(t, filepath.Join(dir, ".env")), fmt.Sprintf("IRIS_PORT=%d\n", a.SuperserverPort)) &&
			strings.Contains(stderr.String(), "press Ctrl-C to stop")
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("env watch exited with %v after Ctrl-C; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("env watch did not stop on Ctrl-C; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped watching") || stdout.String() != "" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestEnvSyncDryRunOfANewFileShowsItWhole(t *testing.T) {
	reg := newEnvTestHome(t)
	dir := envProjectDir(t, map[string]string{"iris.script": "halt\n"})
	ctx := context.Background()
	// ports from this test's own band (31190-31199 / 31690-31699)
	if _, err := reg.Assign(ctx, dir, registry.Preferred{Superserver: 31191, Web: 31691}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ".env")
	code, stdout, stderr := runCLI(t, "env", "sync", "--dry-run", "--sync", "true", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := fmt.Sprintf(`would create %[1]s (superserver 31191, web 31691):
--- %[1]s
+++ %[1]s (after sync)
@@ -0,0 +1,4 @@
+%[2]s
+IRIS_HOST=localhost
+IRIS_PORT=31191
+IRIS_WEB_PORT=31691
`, path, dotenv.ManagedComment)
	if stdout != want {
		t.Errorf("dry run printed\n%s\nwant\n%s", stdout, want)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("--dry-run created the file: %v", err)
	}
	// Under auto nothing would be created, and the dry run says why.
	code, stdout, _ = runCLI(t, "env", "sync", "--dry-run", dir)
	if code != 0 || !strings.Contains(stdout, `env sync "auto" creates none`) {
		t.Errorf("dry run under auto: exit %d, %q", code, stdout)
	}
}
