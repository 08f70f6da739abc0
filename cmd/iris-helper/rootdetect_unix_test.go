//go:build unix

package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/workspace/sandboxtest"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// Root detection as the CLI sees it (issue 10, rules 3 and 8). Ports 32560-32561 / 32810-32811.

// rootdetectEnv gives the test its own $HOME (base/home), IRIS_HELPER_HOME and port band.
func rootdetectEnv(t *testing.T) (base, home string) {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	home = filepath.Join(base, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv(registry.EnvHome, filepath.Join(base, "iris-helper-home"))
	t.Setenv(registry.EnvSuperserverRange, "32560-32561")
	t.Setenv(registry.EnvWebRange, "32810-32811")
	return base, home
}

// TestPortsAssignStopsAtTheRepositoryAndListsUnreachedKeys: with ~/.env holding IRIS_PASSWORD=x a
// repository under ~ is its own project (it resolved to ~ before); the home folder named itself
// still is one, and `ports list` says that its subfolders no longer reach it. A key that now
// resolves to another folder is listed too.
func TestPortsAssignStopsAtTheRepositoryAndListsUnreachedKeys(t *testing.T) {
	base, home := rootdetectEnv(t)
	app := filepath.Join(home, "src", "app")
	svc := filepath.Join(base, "mono", "svc")
	sandboxtest.WriteTree(t, base, map[string]string{
		"home/.env": "IRIS_PASSWORD=x\n", "home/src/app/.git/": "", "home/src/app/pkg/": "",
		"mono/svc/module.xml": "<Export/>",
	})
	out, _ := mustRun(t, 0, "ports", "assign", filepath.Join(app, "pkg"), "--json")
	if a := assignmentJSON(t, []byte(out)); a.Project != app {
		t.Fatalf("ports assign from %s/pkg gave project %s, want the repository %s", app, a.Project, app)
	}
	out, _ = mustRun(t, 0, "ports", "assign", home, "--json")
	if a := assignmentJSON(t, []byte(out)); a.Project != home || a.SuperserverPort != 32561 {
		t.Fatalf("ports assign %s = %+v, want the home folder itself on 32561", home, a)
	}
	// An assignment made for mono/svc before mono got a settings file: svc now resolves to mono.
	reg, err := registry.Open(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Assign(t.Context(), svc, registry.Preferred{Superserver: 32570, Web: 32820}); err != nil {
		t.Fatal(err)
	}
	sandboxtest.WriteTree(t, base, map[string]string{"mono/.iris-helper.json": "{}"})

	out, _ = mustRun(t, 0, "ports", "list")
	_, notes, ok := strings.Cut(out, "\n\nNote: ")
	want := home + " is no longer a project root for its subfolders: it is your home folder (or holds it), " +
		"and project detection does not walk up into such a folder. Only a command or editor that names " + home +
		" itself uses its ports; 'iris-helper ports release 32561' frees them.\n" +
		"\nNote: " + svc + " is no longer a project root: it now resolves to " + filepath.Join(base, "mono") +
		", so its ports are unused; 'iris-helper ports release 32570' frees them.\n"
	if !ok || notes != want {
		t.Errorf("ports list notes\n got: %q\nwant: %q\nwhole output:\n%s", notes, want, out)
	}
	if !strings.Contains(out, app+" ") {
		t.Errorf("ports list does not list %s:\n%s", app, out)
	}

	out, _ = mustRun(t, 0, "ports", "list", "--json")
	var got struct {
		Assignments []json.RawMessage
		Notes       []map[string]string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	wantNotes := []map[string]string{
		{"project": home, "reason": "home"},
		{"project": svc, "resolvesTo": filepath.Join(base, "mono")},
	}
	if len(got.Assignments) != 3 || !reflect.DeepEqual(got.Notes, wantNotes) {
		t.Errorf("ports list --json: %d assignments, notes %v; want 3, %v\n%s", len(got.Assignments), got.Notes, wantNotes, out)
	}
}

// TestCommandsDoNotHangOnFIFOs: a FIFO named .env, docker-compose.yml, compose.yaml or Dockerfile in
// the project or an ancestor is no marker, and a FIFO .iris-helper.json in the root is an error, at
// once. (Issue 10: every command hung, SIGTERM ignored.)
func TestCommandsDoNotHangOnFIFOs(t *testing.T) {
	base, _ := rootdetectEnv(t)
	proj := filepath.Join(base, "w", "proj")
	sandboxtest.WriteTree(t, base, map[string]string{"w/proj/.git/": "", "w/proj/src/": "", "w/module.xml": "<Export/>"})
	var fifos []string
	for _, dir := range []string{filepath.Join(base, "w"), proj, filepath.Join(proj, "src")} {
		for _, name := range []string{".env", "docker-compose.yml", "compose.yaml", "Dockerfile"} {
			p := filepath.Join(dir, name)
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
			fifos = append(fifos, p)
		}
	}
	type result struct {
		code        int
		out, errOut string
	}
	runNoHang := func(args ...string) result {
		t.Helper()
		done := make(chan result, 1)
		go func() {
			code, out, errOut := runCLI(t, args...)
			done <- result{code, out, errOut}
		}()
		select {
		case r := <-done:
			return r
		case <-time.After(20 * time.Second):
		}
		for { // release the FIFOs until the command returns, then fail
			for _, f := range fifos {
				if w, err := os.OpenFile(f, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
			}
			select {
			case <-done:
				t.Fatalf("iris-helper %s blocked on a FIFO", strings.Join(args, " "))
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	r := runNoHang("ports", "assign", filepath.Join(proj, "src"), "--json")
	if r.code != 0 {
		t.Fatalf("ports assign: exit %d\n%s", r.code, r.errOut)
	}
	if a := assignmentJSON(t, []byte(r.out)); a.Project != proj {
		t.Fatalf("ports assign gave project %s, want %s (the repository; w/module.xml is above it)", a.Project, proj)
	}
	cfg := filepath.Join(proj, ".iris-helper.json")
	if err := syscall.Mkfifo(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	fifos = append(fifos, cfg)
	r = runNoHang("ports", "assign", filepath.Join(proj, "src"))
	want := "iris-helper: read project settings: " + cfg + " is a FIFO (named pipe), not a regular file\n"
	if r.code != 1 || r.errOut != want {
		t.Errorf("ports assign with a FIFO .iris-helper.json: exit %d, stderr\n got: %q\nwant: %q", r.code, r.errOut, want)
	}
}

// TestServeInitializeDoesNotHangOnFIFOs: `initialize` answers at once for a folder whose project,
// and a folder above it, hold FIFOs named like markers: with a result, or with the error that the
// project's .iris-helper.json is a FIFO. (Issue 10: `initialize` never answered.)
func TestServeInitializeDoesNotHangOnFIFOs(t *testing.T) {
	base, _ := rootdetectEnv(t)
	proj := filepath.Join(base, "w", "proj")
	sandboxtest.WriteTree(t, base, map[string]string{"w/proj/.git/": "", "w/proj/src/": ""})
	var fifos []string
	mkfifo := func(p string) {
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
		fifos = append(fifos, p)
	}
	for _, name := range []string{".env", "docker-compose.yml", "compose.yaml", "Dockerfile", ".iris-helper.json"} {
		mkfifo(filepath.Join(base, "w", name))
		if name != ".iris-helper.json" {
			mkfifo(filepath.Join(proj, name))
		}
	}
	serveEnv(t)
	init := rpctest.InitParams(filepath.Join(proj, "src"), map[string]any{"autoStart": false})
	initialize := func() rpctest.Message {
		t.Helper()
		type result struct {
			answer bool
			m      rpctest.Message
			code   int
			end    error
			stderr string
		}
		done := make(chan result, 1)
		go func() { // no t.Fatal here: the test's goroutine reports
			ed, code, stderr := serveEditor(t)
			m, ok := ed.WaitForWithin(rpctest.DefaultTimeout, rpctest.ResponseTo(ed.Request("initialize", init)))
			ed.Close()
			end := ed.WaitEndQuiet()
			done <- result{answer: ok, m: m, code: <-code, end: end, stderr: stderr.String()}
		}()
		select {
		case r := <-done:
			if !rpctest.Check(t, "serve", rpctest.Want("answered", r.answer, true), rpctest.Want("exit", r.code, 0), rpctest.Want("end of stdout", r.end, io.EOF)) {
				t.Fatalf("serve: stderr: %s", r.stderr)
			}
			return r.m
		case <-time.After(60 * time.Second):
		}
		for { // release the FIFOs until serve returns, then fail
			for _, f := range fifos {
				if w, err := os.OpenFile(f, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
			}
			select {
			case <-done:
				t.Fatal("initialize blocked on a FIFO")
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	if m := initialize(); m.Result == nil || m.Error != nil {
		t.Errorf("initialize with FIFOs named like markers: no result: %+v", m)
	}
	cfg := filepath.Join(proj, ".iris-helper.json")
	mkfifo(cfg)
	m := initialize()
	if m.Error == nil {
		t.Fatalf("initialize with a FIFO .iris-helper.json: no error: %+v", m)
	}
	if want := "read project settings: " + cfg + " is a FIFO (named pipe), not a regular file; fix it and restart the helper"; m.Error.Message != want {
		t.Errorf("initialize error\n got: %s\nwant: %s", m.Error.Message, want)
	}
}
