package rpc

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace"
)

func (f *fakeProject) RestartWith(ctx context.Context, _ workspace.RestartOptions, progress func(dockerops.Progress)) (workspace.Status, error) {
	return f.Restart(ctx, progress)
}

// TestRestartConfirmRequired: a container whose data is not on a volume and whose port is taken
// is kept by iris/start and by iris/restart without confirm (-32020, with the container and the
// reason in error.data); a confirmation naming another container confirms nothing; iris.restart
// with {"confirm": true} (the container named last) moves and recreates it.
func TestRestartConfirmRequired(t *testing.T) {
	scenarioEnv(t, inProcessBand)
	eng := dockertest.Engine(t)
	image := dockertest.StubImage(t)
	dir := irisFolder(t)
	if err := os.WriteFile(filepath.Join(dir, workspace.ConfigFileName), []byte(`{"durable": false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := inProcess(t, Options{Version: "test"})
	if res := c.call("initialize", initParams(dir, map[string]any{"image": image, "autoStart": false})); res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	c.notify("initialized", map[string]any{})
	started := c.call(MethodStart, nil)
	if started.Error != nil {
		t.Fatalf("iris/start: %+v", started.Error)
	}
	first := statusOf(t, started.Result)
	if res := c.call(MethodStop, nil); res.Error != nil {
		t.Fatalf("iris/stop: %+v", res.Error)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", first.SuperserverPort))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	reason := fmt.Sprintf("host port %d is taken by another program", first.SuperserverPort)
	exists := func() bool {
		_, ok, err := eng.Inspect(context.Background(), dir)
		return err == nil && ok
	}

	m := c.call(MethodStart, nil)
	wantError(t, m, CodeConfirmRequired, "")
	d := decode[ErrorData](t, m.Error.Data)
	rpctest.Must(t, fmt.Sprintf("iris/start: error.data %s", m.Error.Data), rpctest.Want("container", d.Container, first.Container),
		rpctest.Want("reason", d.Reason, reason), rpctest.Want("status is set", d.Status != nil, true), rpctest.Want("the container kept", exists(), true))
	// the start's failure, as the auto-start's reaches the user: with the way forward
	shown := fmt.Sprintf("start IRIS for %s: container %s was kept: %s, but its data is not on the durable volume (it was "+
		"created with durable off), so a start does not remove it; free port %d and start again, or recreate it (its data is "+
		"lost). To recreate it, run \"IRIS: Restart\" (it asks first).", dir, first.Container, reason, first.SuperserverPort)
	c.waitFor("showMessage with the restart remedy", func(m wireMsg) bool {
		return m.Method == MethodShowMessage && decode[ShowMessageParams](t, m.Params).Message == shown
	})

	want := fmt.Sprintf("restarting %s would remove container %s and the data inside it, which is not on the durable volume "+
		"(it was created with durable off): %s; confirm the restart to recreate it", dir, first.Container, reason)
	for _, call := range []func() wireMsg{
		func() wireMsg { return c.call(MethodRestart, nil) },
		func() wireMsg { return c.call(MethodExecuteCommand, map[string]any{"command": "iris.restart"}) },
	} {
		m := call()
		wantError(t, m, CodeConfirmRequired, "")
		d := decode[ErrorData](t, m.Error.Data)
		rpctest.Must(t, fmt.Sprintf("restart without confirm: error.data %s", m.Error.Data), rpctest.Want("message", m.Error.Message, want),
			rpctest.Want("container", d.Container, first.Container), rpctest.Want("reason", d.Reason, reason),
			rpctest.Want("status is set", d.Status != nil, true), rpctest.Want("the container kept", exists(), true))
	}

	m = c.call(MethodRestart, map[string]any{"confirm": true, "container": "iris_another_1"})
	wantError(t, m, CodeConfirmRequired, "")
	if m.Error.Message != want || !exists() {
		t.Fatalf("restart confirming another container: %q (container kept: %v)\nwant %q", m.Error.Message, exists(), want)
	}
	wantError(t, c.call(MethodRestart, map[string]any{"container": first.Container}), CodeInvalidParams,
		"invalid params: params.container: container names the confirmed container and needs confirm: true")

	m = c.call(MethodExecuteCommand, map[string]any{"command": "iris.restart", "arguments": []any{map[string]any{"confirm": true}}})
	if m.Error != nil {
		t.Fatalf("confirmed restart: %+v", m.Error)
	}
	st := statusOf(t, m.Result)
	rpctest.Must(t, "confirmed restart", rpctest.Want("state", st.State, workspace.StateReady),
		rpctest.Want(fmt.Sprintf("superserverPort %d moved from %d", st.SuperserverPort, first.SuperserverPort), st.SuperserverPort != first.SuperserverPort, true),
		rpctest.Want(fmt.Sprintf("container %s is another than %s", st.Container, first.Container), st.Container != first.Container, true))
	wantError(t, c.call(MethodRestart, map[string]any{"confirm": "yes"}), CodeInvalidParams,
		"invalid params: params.confirm: expected a boolean, got string")
}

// TestNetworkBindRefusedInEditor: `{"bindAddress": "0.0.0.0"}` from the repository is refused,
// naming the editor's user setting that allows it.
func TestNetworkBindRefusedInEditor(t *testing.T) {
	scenarioEnv(t, inProcessBand)
	dockertest.Engine(t)
	image := dockertest.StubImage(t)
	dir := irisFolder(t)
	if err := os.WriteFile(filepath.Join(dir, workspace.ConfigFileName), []byte(`{"bindAddress": "0.0.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := inProcess(t, Options{Version: "test"})
	if res := c.call("initialize", initParams(dir, map[string]any{"image": image, "autoStart": false})); res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	c.notify("initialized", map[string]any{})
	m := c.call(MethodStart, nil)
	want := filepath.Join(dir, workspace.ConfigFileName) + " asks for bindAddress 0.0.0.0, which makes IRIS reachable from the " +
		"network; a project file cannot choose that, so the start was refused. To allow it, turn on irisHelper.allowNetworkBind " +
		"in your user settings (not the workspace's) and restart the helper."
	wantError(t, m, CodeStartFailed, "")
	if m.Error.Message != want {
		t.Fatalf("iris/start: %q\nwant %q", m.Error.Message, want)
	}
	st := decode[ErrorData](t, m.Error.Data).Status
	if st == nil {
		t.Fatalf("error.data %s: no status", m.Error.Data)
	}
	rpctest.Must(t, fmt.Sprintf("error.data %s: status", m.Error.Data), rpctest.Want("container", st.Container, ""), rpctest.Want("superserverPort", st.SuperserverPort, 0))
}

// exposedProject is a fake whose IRIS is published on every interface.
type exposedProject struct{ *fakeProject }

func (e exposedProject) Status(ctx context.Context) workspace.Status {
	st := e.fakeProject.Status(ctx)
	st.BindAddress = "0.0.0.0"
	return st
}

func (e exposedProject) Watch(ctx context.Context, onStatus func(workspace.Status), onMessage func(workspace.Message)) error {
	return e.fakeProject.Watch(ctx, func(st workspace.Status) { st.BindAddress = "0.0.0.0"; onStatus(st) }, onMessage)
}

// TestExposureWarnedOncePerSession: IRIS reachable from the network is said once per session
// (window/showMessage warning), however often it starts.
func TestExposureWarnedOncePerSession(t *testing.T) {
	dir := t.TempDir()
	fake := newFakeProject(dir, true)
	opts := fakeOpts(fake, nil)
	opts.Open = func(context.Context, string, workspace.ProjectOptions) (Project, error) {
		return exposedProject{fake}, nil
	}
	c, _ := inProcess(t, opts)
	if res := c.call("initialize", initParams(dir, map[string]any{"autoStart": false})); res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	c.notify("initialized", map[string]any{})
	c.waitFor("the first status", statusIs(t, workspace.StateNotCreated))
	for i := 0; i < 2; i++ {
		fake.setState(workspace.StateReady)
		fake.setState(workspace.StateStopped)
	}
	c.waitFor("the last stop", func(m wireMsg) bool {
		n := 0
		for _, s := range c.notifications(MethodStatus) {
			if statusOf(t, s.Params).State == workspace.StateStopped {
				n++
			}
		}
		return n == 2
	})
	want := fmt.Sprintf("IRIS for %s is reachable from the network: its ports 33001 and 33501 are published on 0.0.0.0, not only on this machine", dir)
	var got []string
	for _, m := range c.notifications(MethodShowMessage) {
		p := decode[ShowMessageParams](t, m.Params)
		if strings.Contains(p.Message, "reachable") {
			if p.Type != MessageWarning || p.Message != want {
				t.Errorf("warning %+v, want type %d %q", p, MessageWarning, want)
			}
			got = append(got, p.Message)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d exposure warnings, want 1: %q", len(got), got)
	}
}
