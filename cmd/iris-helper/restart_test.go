package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace"
)

func writeProjectConfig(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, workspace.ConfigFileName), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCLIKeptContainerAndRestartYes: a container without volume whose port is taken survives
// `start` (which says how to go on) and a `restart` without --yes and without a terminal; `restart
// --yes` moves and recreates it. (On d65fd46 `start` removed it and moved the project.)
func TestCLIKeptContainerAndRestartYes(t *testing.T) {
	e := newCLIEnv(t, 32100)
	writeProjectConfig(t, e.project, fmt.Sprintf(`{"durable": false, "image": %q}`, e.img))
	if code, out, errs := runCLI(t, "start", e.project); code != 0 {
		t.Fatalf("start: exit %d\n%s\n%s", code, out, errs)
	}
	name := dockerops.ContainerName(e.project, 32100)
	if code, out, errs := runCLI(t, "stop", e.project); code != 0 {
		t.Fatalf("stop: exit %d\n%s\n%s", code, out, errs)
	}
	l, err := net.Listen("tcp", "127.0.0.1:32100")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	exists := func() bool { return exec.Command("docker", "inspect", name).Run() == nil }

	code, _, errs := runCLI(t, "start", e.project)
	want := fmt.Sprintf("iris-helper: start IRIS for %s: container %s was kept: host port 32100 is taken by another program, "+
		"but its data is not on the durable volume (it was created with durable off), so a start does not remove it; "+
		"free port 32100 and start again, or recreate it (its data is lost)\nTo recreate it, run 'iris-helper restart --yes %s'.",
		e.project, name, e.project)
	if !rpctest.Check(t, "start", rpctest.Want("exit", code, 1), rpctest.Want("last lines of stderr", lastLines(errs, 2), want),
		rpctest.Want("container kept", exists(), true)) {
		t.Fatalf("start: stderr:\n%s", errs)
	}

	code, _, errs = runCLI(t, "restart", e.project)
	want = fmt.Sprintf("iris-helper: restarting %s would remove container %s and the data inside it, which is not on the "+
		"durable volume (it was created with durable off): host port 32100 is taken by another program; confirm the restart "+
		"to recreate it\nTo confirm, run 'iris-helper restart --yes %s'.", e.project, name, e.project)
	if !rpctest.Check(t, "restart", rpctest.Want("exit", code, 1), rpctest.Want("last lines of stderr", lastLines(errs, 2), want),
		rpctest.Want("container kept", exists(), true)) {
		t.Fatalf("restart: stderr:\n%s", errs)
	}

	code, out, errs := runCLI(t, "restart", "--yes", e.project, "--json")
	if code != 0 {
		t.Fatalf("restart --yes: exit %d\n%s\n%s", code, out, errs)
	}
	st := statusJSON(t, out)
	rpctest.Must(t, fmt.Sprintf("restart --yes: %v", st), rpctest.Want("state", st["state"], "ready"),
		rpctest.Want("superserverPort moved from 32100", st["superserverPort"] != float64(32100), true), rpctest.Want("old container still there", exists(), false))
}

// TestCLINetworkBindFromProject: `{"bindAddress": "0.0.0.0"}` in .iris-helper.json is refused with
// the ways to allow it, and nothing is created. (On d65fd46 IRIS was published on every interface.)
func TestCLINetworkBindFromProject(t *testing.T) {
	e := newCLIEnv(t, 32110)
	writeProjectConfig(t, e.project, fmt.Sprintf(`{"bindAddress": "0.0.0.0", "image": %q}`, e.img))
	code, out, errs := runCLI(t, "start", e.project)
	want := fmt.Sprintf("iris-helper: %s asks for bindAddress 0.0.0.0, which makes IRIS reachable from the network; a project "+
		"file cannot choose that, so the start was refused\nTo allow it, pass --allow-network-bind, or set "+
		"IRIS_HELPER_ALLOW_NETWORK_BIND=1, or put \"allowNetworkBind\": true in %s.",
		filepath.Join(e.project, workspace.ConfigFileName), filepath.Join(e.home, "config.json"))
	rpctest.Must(t, "start", rpctest.Want("exit", code, 1), rpctest.Want("stdout", out, ""), rpctest.Want("stderr", errs, want+"\n"))
	if code, _, errs := runCLI(t, "restart", e.project); code != 1 || errs != want+"\n" {
		t.Fatalf("restart: exit %d\n%q", code, errs)
	}
	if exec.Command("docker", "inspect", dockerops.ContainerName(e.project, 32110)).Run() == nil {
		t.Fatal("a container was created")
	}
}

// TestStartNotes: every start on a non-loopback address warns on stderr.
func TestStartNotes(t *testing.T) {
	tests := []struct {
		st   workspace.Status
		want string
	}{
		{workspace.Status{Project: "/p", BindAddress: "127.0.0.1", SuperserverPort: 1973, WebPort: 52774}, ""},
		{workspace.Status{Project: "/p", BindAddress: "0.0.0.0", SuperserverPort: 1973, WebPort: 52774},
			"iris-helper: warning: IRIS for /p is reachable from the network: its ports 1973 and 52774 are published on 0.0.0.0, not only on this machine\n"},
		{workspace.Status{Project: "/p", BindAddress: "::", SuperserverPort: 1973, WebPort: 52774, Message: "moved"},
			"iris-helper: warning: IRIS for /p is reachable from the network: its ports 1973 and 52774 are published on ::, not only on this machine\niris-helper: moved\n"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		startNotes(&b, tc.st)
		if b.String() != tc.want {
			t.Errorf("startNotes(%s) = %q, want %q", tc.st.BindAddress, b.String(), tc.want)
		}
	}
}
