package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace"
)

// TestCLIStatusAgreesWithServeAfterAnExternalRestart: after `docker restart` of the project's
// container outside the helper, IRIS is not ready until it answered: `status` says
// starting/waiting while the stand-in holds its web port back (STUB_READY_DELAY), the serve
// process pushes starting/waiting and then ready in iris/status, and `status` then says ready for
// the same start, as recorded in the home's readiness file (0600). Ports: 32150–32154 /
// 32155–32159 (a corner of the cmd band no other test uses).
func TestCLIStatusAgreesWithServeAfterAnExternalRestart(t *testing.T) {
	e := newCLIEnv(t, 32150)
	t.Setenv(registry.EnvSuperserverRange, "32150-32154")
	t.Setenv(registry.EnvWebRange, "32155-32159")
	t.Setenv(workspace.EnvImage, e.img) // the image of every process here, so that they see the same settings
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// another process started the project with a stand-in that answers 3 s after each start
	// (the CLI has no flag for the container's environment)
	starter, err := workspace.OpenProject(ctx, e.project, workspace.ProjectOptions{Engine: e.eng, FlagImage: e.img,
		ContainerEnv: []string{"STUB_READY_DELAY=3s"}})
	if err != nil {
		t.Fatal(err)
	}
	first, err := starter.Start(ctx, nil)
	if err != nil || first.State != workspace.StateReady {
		t.Fatalf("start: %v %+v", err, first)
	}

	ed, code, _ := serveEditor(t)
	ed.Initialize(rpctest.InitParams(e.project, map[string]any{"autoStart": false, "image": e.img}))
	defer func() { ed.Shutdown(); serveEnd(t, ed, code) }()
	ed.WaitFor("ready before the restart", rpctest.Status("ready"))

	mark := ed.Mark()
	if out, err := exec.Command("docker", "restart", "-t", "5", first.Container).CombinedOutput(); err != nil {
		t.Fatalf("docker restart: %v %s", err, out)
	}
	out, _ := mustRun(t, 0, "status", e.project, "--json")
	st := statusJSON(t, out)
	restarted := st["startedAt"]
	rpctest.Must(t, "status right after the restart", rpctest.Want("state", st["state"], "starting"),
		rpctest.Want("phase", st["phase"], "waiting"), rpctest.Want("container", st["container"], first.Container),
		rpctest.Want("new start", restarted != nil && restarted != first.StartedAt.UTC().Format(time.RFC3339), true))

	// served is the first iris/status of state for the restarted container after mark.
	served := func(state string) map[string]any {
		var found map[string]any
		ed.WaitFor("iris/status "+state+" after the restart", ed.After(mark, func(m rpctest.Message) bool {
			if !rpctest.Status(state)(m) {
				return false
			}
			if p := rpctest.Decode[map[string]any](t, m.Params); p["startedAt"] == restarted {
				found = p
				return true
			}
			return false
		}))
		return found
	}
	waiting := served("starting")
	rpctest.Must(t, "iris/status while IRIS has not answered", rpctest.Want("phase", waiting["phase"], "waiting"))
	ready := served("ready")
	rpctest.Must(t, "iris/status when IRIS answered", rpctest.Want("phase", ready["phase"], ""))

	out, _ = mustRun(t, 0, "status", e.project, "--json")
	st = statusJSON(t, out)
	rpctest.Must(t, "status after IRIS answered", rpctest.Want("state", st["state"], "ready"),
		rpctest.Want("startedAt", st["startedAt"], restarted), rpctest.Want("restartNeeded", st["restartNeeded"], ready["restartNeeded"]),
		rpctest.Want("message", st["message"], ready["message"]))

	files, err := filepath.Glob(filepath.Join(e.home, "ready", "*.json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("readiness files in %s: %v %v, want one", filepath.Join(e.home, "ready"), files, err)
	}
	fi, err := os.Lstat(files[0])
	if err != nil || fi.Mode() != 0o600 {
		t.Fatalf("readiness file %s: %v %v, want -rw-------", files[0], fi.Mode(), err)
	}
	var proof struct {
		Container string    `json:"container"`
		StartedAt time.Time `json:"startedAt"`
	}
	b, _ := os.ReadFile(files[0])
	if err := json.Unmarshal(b, &proof); err != nil {
		t.Fatalf("readiness file %s: %v: %s", files[0], err, b)
	}
	if got := proof.StartedAt.UTC().Truncate(time.Second).Format(time.RFC3339); got != restarted {
		t.Errorf("readiness file's startedAt %s, want %v", got, restarted)
	}
}
