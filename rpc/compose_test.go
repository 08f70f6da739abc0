package rpc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace"
)

// rpc tests of compose projects, in the rpc compose band 36300–36499.
var composeBand = band{ss: "36300-36309", web: "36400-36409"}

// iris/start {"build": true} (a Rebuild) of a compose project, and iris/stop {"remove": true,
// "purge": true} answering the status with the volumes removed.
func TestComposeRebuildAndPurge(t *testing.T) {
	scenarioEnv(t, composeBand)
	eng := dockertest.Engine(t)
	t.Setenv("IRIS_TEST_IMAGE", dockertest.StubImage(t))
	parent, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "rpcapp")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	compose := "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE:-intersystemsdc/iris-community}\n    ports: [\"52773\"]\n    volumes: [\"data:/data\"]\nvolumes:\n  data: {}\n"
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "docker", "compose", "-p", "rpcapp", "down", "-v").CombinedOutput(); err != nil {
			t.Errorf("cleanup: %v\n%s", err, out)
		}
		_ = dockertest.RemoveProject(ctx, eng.Client(), dir)
	})
	c, _ := inProcess(t, Options{Version: "test"})
	if res := c.call("initialize", initParams(dir, map[string]any{"autoStart": false})); res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	c.notify("initialized", map[string]any{})
	started := c.call(MethodStart, map[string]any{"build": true})
	if started.Error != nil {
		t.Fatalf("iris/start build: %+v", started.Error)
	}
	st := decode[workspace.Status](t, started.Result)
	rpctest.Must(t, "iris/start {build: true}", rpctest.Want("state", st.State, workspace.StateReady), rpctest.Want("kind", st.Kind, workspace.KindCompose),
		rpctest.Want("composeProject", st.ComposeProject, "rpcapp"), rpctest.Want("irisService", st.IrisService, "iris"),
		rpctest.Want("superserver published", st.Ports[0].HostPort, 36300), rpctest.Want("web published", st.Ports[1].HostPort, 36400))
	restart := c.call(MethodRestart, map[string]any{"build": true})
	rpctest.Must(t, "iris/restart {build: true}", rpctest.Want("refused", restart.Error != nil, true))

	stopped := c.call(MethodStop, map[string]any{"remove": true, "purge": true})
	if stopped.Error != nil {
		t.Fatalf("iris/stop: %+v", stopped.Error)
	}
	type stopAnswer struct {
		State          workspace.State `json:"state"`
		Kind           workspace.Kind  `json:"kind"`
		RemovedVolumes []string        `json:"removedVolumes"`
	}
	got := decode[stopAnswer](t, stopped.Result)
	rpctest.Must(t, "iris/stop {remove, purge}", rpctest.Want("state", got.State, workspace.StateNotCreated),
		rpctest.Want("kind", got.Kind, workspace.KindCompose), rpctest.Want("removedVolumes", got.RemovedVolumes, []string{"rpcapp_data"}))
	cs, err := eng.Containers(context.Background(), dockerops.LabelProject+"="+dir)
	rpctest.Must(t, "containers after the purge", rpctest.Want("err", err, nil), rpctest.Want("count", len(cs), 0))
}

// TestAutoStartRefusesComposeBeyondLoopback (issue 13 §3): the auto-start does not run a compose
// project published on a non-loopback address (iris-helper does not change a compose project's
// passwords); it says why once as a warning, naming the explicit start, and starts nothing.
func TestAutoStartRefusesComposeBeyondLoopback(t *testing.T) {
	scenarioEnv(t, band{ss: "36310-36319", web: "36410-36419"})
	eng := dockertest.Engine(t)
	t.Setenv("IRIS_TEST_IMAGE", dockertest.StubImage(t))
	parent, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "rpcexposed")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	compose := "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE:-intersystemsdc/iris-community}\n    ports: [\"1972\", \"52773\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "docker", "compose", "-p", "rpcexposed", "down", "-v").CombinedOutput(); err != nil {
			t.Errorf("cleanup: %v\n%s", err, out)
		}
		_ = dockertest.RemoveProject(ctx, eng.Client(), dir)
	})
	c, _ := inProcess(t, Options{Version: "test"})
	// The editor's user setting: the user's own choice of a non-loopback address.
	if res := c.call("initialize", initParams(dir, map[string]any{"bindAddress": "0.0.0.0"})); res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	c.notify("initialized", map[string]any{})
	want := "IRIS for " + dir + " is not started automatically: its compose project would be reachable from the network on 0.0.0.0, " +
		"and iris-helper does not change a compose project's passwords, so its accounts may keep well-known ones. To start it anyway, run \"IRIS: Start\"."
	m := c.waitFor("the auto-start's warning", func(m wireMsg) bool { return m.Method == MethodShowMessage })
	shown := decode[ShowMessageParams](t, m.Params)
	cs, err := eng.Containers(context.Background(), dockerops.LabelProject+"="+dir)
	rpctest.Must(t, "after the auto-start", rpctest.Want("type", shown.Type, MessageWarning), rpctest.Want("message", shown.Message, want),
		rpctest.Want("err", err, nil), rpctest.Want("containers", len(cs), 0))
}
