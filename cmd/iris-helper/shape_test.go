package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// One JSON shape per object (issue 11): what the CLI prints with --json is, byte for byte once
// compacted, what the editor helper answers.

// compactJSON is raw without insignificant spaces, so that indented and compact JSON compare.
func compactJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, bytes.TrimSpace(raw)); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	return b.String()
}

// helperAnswers opens a serve session on dir and returns the results of iris/status and
// iris/ports (the whole listing), compacted.
func helperAnswers(t *testing.T, dir string) (status, ports string) {
	t.Helper()
	ed, code, stderr := serveEditor(t)
	ed.Initialize(rpctest.InitParams(dir, map[string]any{"autoStart": false}))
	answer := func(method string) string {
		t.Helper()
		m := ed.Call(method, nil)
		if m.Error != nil || m.Result == nil {
			t.Fatalf("%s answered %+v", method, m)
		}
		return compactJSON(t, m.Result)
	}
	status, portsResult := answer("iris/status"), answer("iris/ports")
	ed.Shutdown()
	if c := serveEnd(t, ed, code); c != 0 {
		t.Fatalf("serve: exit %d, want 0; stderr:\n%s", c, stderr)
	}
	return status, portsResult
}

// assignmentsOf is the "assignments" array of a compacted listing, compacted.
func assignmentsOf(t *testing.T, list string) string {
	t.Helper()
	var pr struct {
		Assignments json.RawMessage `json:"assignments"`
	}
	if err := json.Unmarshal([]byte(list), &pr); err != nil {
		t.Fatal(err)
	}
	return compactJSON(t, pr.Assignments)
}

// entriesOf splits a compacted JSON array into its compacted elements.
func entriesOf(t *testing.T, array string) []string {
	t.Helper()
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(array), &raws); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(raws))
	for i, r := range raws {
		out[i] = compactJSON(t, r)
	}
	return out
}

// anotherProject is a second IRIS project folder whose containers are removed at the end.
func (e *cliEnv) anotherProject(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "module.xml"), []byte("<Export/>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := dockertest.RemoveProject(ctx, e.eng.Client(), dir); err != nil {
			t.Errorf("remove containers of %s: %v", dir, err)
		}
	})
	return dir
}

// TestPortsAndStatusJSONAreTheHelperObjects: on one registry with a running and a stopped
// container, `ports list/inspect/assign --json` print the entries iris/ports answers, key for key,
// and `status --json` prints what iris/status answers; with the engine down too (containerState
// "unknown", state "docker-unavailable").
func TestPortsAndStatusJSONAreTheHelperObjects(t *testing.T) {
	e := newCLIEnv(t, 32070)
	running, stopped := e.project, e.anotherProject(t)
	for _, args := range [][]string{{"start", running, "--image", e.img}, {"start", stopped, "--image", e.img}, {"stop", stopped}} {
		if code, out, errs := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errs)
		}
	}

	check := func(t *testing.T, wantStates map[string][2]string) {
		var list []string
		for i, dir := range []string{running, stopped} {
			status, ports := helperAnswers(t, dir)
			code, out, errs := runCLI(t, "status", dir, "--json")
			if got := compactJSON(t, []byte(out)); code != 0 || got != status {
				t.Errorf("status --json of %s (exit %d, %s):\n got %s\nwant %s (iris/status)", dir, code, errs, got, status)
			}
			code, out, errs = runCLI(t, "ports", "list", "--json")
			if code != 0 {
				t.Fatalf("ports list --json: exit %d\n%s\n%s", code, out, errs)
			}
			if got := compactJSON(t, []byte(out)); got != ports {
				t.Errorf("ports list --json:\n got %s\nwant %s (iris/ports of %s)", got, ports, dir)
			}
			if i == 0 {
				list = entriesOf(t, assignmentsOf(t, ports))
			}
		}
		if len(list) != 2 {
			t.Fatalf("iris/ports lists %d entries, want 2: %v", len(list), list)
		}
		for i, dir := range []string{running, stopped} {
			var x struct{ Project, ContainerState, State string }
			if err := json.Unmarshal([]byte(list[i]), &x); err != nil {
				t.Fatal(err)
			}
			if want := wantStates[dir]; x.Project != dir || [2]string{x.ContainerState, x.State} != want {
				t.Errorf("entry %d: project %s containerState %q state %q, want %s %q %q", i, x.Project, x.ContainerState, x.State, dir, want[0], want[1])
			}
			for _, args := range [][]string{{"ports", "inspect", dir, "--json"}, {"ports", "assign", dir, "--json"}} {
				code, out, errs := runCLI(t, args...)
				if got := compactJSON(t, []byte(out)); code != 0 || got != list[i] {
					t.Errorf("%v (exit %d, %s):\n got %s\nwant %s (iris/ports)", args, code, errs, got, list[i])
				}
			}
		}
	}
	t.Run("engine up", func(t *testing.T) {
		check(t, map[string][2]string{running: {"running", "ready"}, stopped: {"exited", "stopped"}})
	})
	t.Run("engine down", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
		down := [2]string{"unknown", "docker-unavailable"}
		check(t, map[string][2]string{running: down, stopped: down})
	})
}

// TestStartUsesTheConnectHost: ports published on 127.0.0.2 are not reachable at localhost, so a
// fresh start of two projects with "bindAddress": "127.0.0.2" writes IRIS_HOST=127.0.0.2 into
// .env, and the status (host) and the connection block say 127.0.0.2 too; the status carries the
// project's namespace and user.
func TestStartUsesTheConnectHost(t *testing.T) {
	e := newCLIEnv(t, 32080)
	for i, dir := range []string{e.project, e.anotherProject(t)} {
		writeProjectConfig(t, dir, `{"bindAddress": "127.0.0.2", "env": {"sync": true}, "iris": {"namespace": "APP", "username": "dev"}}`)
		code, out, errs := runCLI(t, "start", dir, "--image", e.img)
		if code != 0 {
			t.Fatalf("start %s: exit %d\n%s\n%s", dir, code, out, errs)
		}
		ss, web := 32080+i, 32580+i
		code, js, _ := runCLI(t, "status", dir, "--json")
		st := statusJSON(t, js)
		container := fmt.Sprint(st["container"])
		wantBlock := fmt.Sprintf("IRIS is ready for %s\n"+
			"  superserver  127.0.0.2:%d\n"+
			"  portal       http://127.0.0.2:%d/csp/sys/UtilHome.csp\n"+
			"  container    %s\n"+
			"  image        %s\n"+
			"  env file     %s\n", dir, ss, web, container, e.img, filepath.Join(dir, ".env"))
		if out != wantBlock {
			t.Errorf("start %s printed:\n%s\nwant:\n%s", dir, out, wantBlock)
		}
		wantEnv := fmt.Sprintf("# Managed by iris-helper: host and ports of the IRIS container of this project (iris-helper env sync)\n"+
			"IRIS_HOST=127.0.0.2\nIRIS_PORT=%d\nIRIS_WEB_PORT=%d\n", ss, web)
		if got, err := os.ReadFile(filepath.Join(dir, ".env")); err != nil || string(got) != wantEnv {
			t.Errorf(".env of %s = %q (%v), want %q", dir, got, err, wantEnv)
		}
		for k, want := range map[string]any{"bindAddress": "127.0.0.2", "host": "127.0.0.2", "namespace": "APP", "username": "dev",
			"superserverPort": float64(ss), "webPort": float64(web), "state": "ready"} {
			if code != 0 || st[k] != want {
				t.Errorf("status --json of %s: %s = %v, want %v (exit %d)", dir, k, st[k], want, code)
			}
		}
	}
}
