package workspace

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// fakeRuntime is a Runtime that reports fixed containers and records what Project asks of it:
// the Runtime seam lets the status rules be checked without an engine.
type fakeRuntime struct {
	cs     Containers
	drift  []dockerops.Difference
	plans  []RunPlan // the plans Drift was asked about
	events []dockerops.Event
	env    map[string]string // what EnvKeys answers
}

func (f *fakeRuntime) Kind() Kind                                  { return "fake" }
func (f *fakeRuntime) Inspect(context.Context) (Containers, error) { return f.cs, nil }
func (f *fakeRuntime) Drift(_ context.Context, plan RunPlan, _ Containers) ([]dockerops.Difference, error) {
	f.plans = append(f.plans, plan)
	return f.drift, nil
}
func (f *fakeRuntime) Recreation(context.Context, RunPlan) (*dockerops.Recreation, error) {
	return nil, nil
}
func (f *fakeRuntime) Start(context.Context, RunPlan, func(dockerops.Progress)) (Containers, error) {
	return f.cs, nil
}
func (f *fakeRuntime) Stop(context.Context, StopOptions) error { return nil }
func (f *fakeRuntime) Watch(ctx context.Context, onEvent func(dockerops.Event)) error {
	for _, ev := range f.events {
		onEvent(ev)
	}
	<-ctx.Done()
	return ctx.Err()
}
func (f *fakeRuntime) Logs(context.Context, bool, io.Writer) error { return nil }
func (f *fakeRuntime) EnvKeys(plan RunPlan) map[string]string {
	if f.env == nil {
		return nil
	}
	keys := map[string]string{}
	for k, v := range f.env {
		keys[k] = strings.ReplaceAll(v, "<port>", strconv.Itoa(plan.Assignment.SuperserverPort))
	}
	return keys
}

// TestEnvSyncTakesTheRuntimeKeys: the .env sync writes the managed keys a Runtime adds
// (Runtime.EnvKeys, for the plan of the project's assignment) with its own: a missing one is
// added to the helper's block, one that differs is set, the user's other lines stay.
func TestEnvSyncTakesTheRuntimeKeys(t *testing.T) {
	ctx := context.Background()
	reg, err := registry.Open(registry.Options{Home: t.TempDir(),
		Superserver: &registry.Range{Lo: 31980, Hi: 31989}, Web: &registry.Range{Lo: 31990, Hi: 31999}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	if err := os.WriteFile(env, []byte("APP=1\nCOMPOSE_PROJECT_NAME=old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := OpenProject(ctx, dir, ProjectOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	p.rt = &fakeRuntime{env: map[string]string{"COMPOSE_PROJECT_NAME": "shop", "SHOP_DB": "db-<port>"}}
	res, err := p.SyncEnv(ctx, EnvSyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "APP=1\nCOMPOSE_PROJECT_NAME=shop\n" +
		"# Managed by iris-helper: host and ports of the IRIS container of this project (iris-helper env sync)\n" +
		"IRIS_HOST=localhost\nIRIS_PORT=31980\nIRIS_WEB_PORT=31990\nSHOP_DB=db-31980\n"
	if got, _ := os.ReadFile(env); string(got) != want {
		t.Errorf(".env:\n got %q\nwant %q", got, want)
	}
	var changes []string
	for _, c := range res.Changes {
		changes = append(changes, c.String())
	}
	if got, want := strings.Join(changes, "; "), "COMPOSE_PROJECT_NAME changed from old to shop (line 2); IRIS_HOST=localhost added (line 4); IRIS_PORT=31980 added (line 5); "+
		"IRIS_WEB_PORT=31990 added (line 6); SHOP_DB=db-31980 added (line 7)"; got != want {
		t.Errorf("changes:\n got %q\nwant %q", got, want)
	}
	// in step: a second sync changes nothing
	if res, err := p.SyncEnv(ctx, EnvSyncOptions{}); err != nil || len(res.Changes) != 0 {
		t.Errorf("second sync: %v %v, want no change", res.Changes, err)
	}
}

// TestStatusThroughRuntime: Project.Status maps what its Runtime reports (the main container's
// state, its published pair, its drift) into the status, with the one container-state mapping.
func TestStatusThroughRuntime(t *testing.T) {
	const ss, web = 31980, 31990 // the assignment's (manual) pair
	running := func(c dockerops.Container) dockerops.Container {
		c.Name, c.State, c.Image, c.BindAddress = "iris_fake_31980", "running", "fake/iris:1", "127.0.0.1"
		c.ID, c.StartedAt = "fake0123", time.Date(2026, 11, 26, 16, 40, 12, 0, time.UTC)
		return c
	}
	pair := func(ss, web int) []PublishedPort {
		return []PublishedPort{
			{ContainerPort: dockerops.SuperserverContainerPort, Protocol: "tcp", HostIP: "127.0.0.1", HostPort: ss},
			{ContainerPort: dockerops.WebContainerPort, Protocol: "tcp", HostIP: "127.0.0.1", HostPort: web},
		}
	}
	for _, tc := range []struct {
		name      string
		cs        Containers
		drift     []dockerops.Difference
		state     State
		restart   bool
		exitCode  int // -1: null
		message   string
		driftPair [2]int // the ports of the plan Drift was asked about; zero: not asked
		waiting   bool   // IRIS has not answered since the container started
	}{
		{name: "none", state: StateNotCreated, exitCode: -1},
		{name: "ready", cs: Containers{Found: true, Main: running(dockerops.Container{}), Ports: pair(ss, web)},
			state: StateReady, exitCode: -1, driftPair: [2]int{ss, web}},
		{name: "running, IRIS has not answered", cs: Containers{Found: true, Main: running(dockerops.Container{}), Ports: pair(31981, 31991)},
			drift: []dockerops.Difference{{Kind: dockerops.DiffImage, Text: "image a instead of b"}}, waiting: true,
			state: StateStarting, exitCode: -1},
		{name: "moved ports and drift", cs: Containers{Found: true, Main: running(dockerops.Container{}), Ports: pair(31981, 31991)},
			drift: []dockerops.Difference{{Kind: dockerops.DiffPorts, Text: "ports"}, {Kind: dockerops.DiffImage, Text: "image a instead of b"}},
			state: StateReady, restart: true, exitCode: -1, driftPair: [2]int{31981, 31991},
			message: "the container still uses 31981/31991; restart to use 31980/31990; " +
				"the container still runs with image a instead of b; restart to apply the project's settings"},
		{name: "unhealthy", cs: Containers{Found: true, Main: running(dockerops.Container{Health: "unhealthy"}), Ports: pair(ss, web)},
			state: StateUnhealthy, exitCode: -1, driftPair: [2]int{ss, web},
			message: "the healthcheck of container iris_fake_31980 reports unhealthy; see its output with `docker logs iris_fake_31980`"},
		{name: "exited", cs: Containers{Found: true, Main: dockerops.Container{Name: "iris_fake_31980", State: "exited", ExitCode: 3}, Ports: pair(ss, web)},
			state: StateStopped, exitCode: 3},
		{name: "dead", cs: Containers{Found: true, Main: dockerops.Container{Name: "iris_fake_31980", State: "dead"}},
			state: StateError, exitCode: -1,
			message: "the engine reports container iris_fake_31980 as dead; remove it with `docker rm -f iris_fake_31980`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			reg, err := registry.Open(registry.Options{Home: t.TempDir(),
				Superserver: &registry.Range{Lo: 31980, Hi: 31989}, Web: &registry.Range{Lo: 31990, Hi: 31999}})
			if err != nil {
				t.Fatal(err)
			}
			p, err := OpenProject(ctx, t.TempDir(), ProjectOptions{Registry: reg})
			if err != nil {
				t.Fatal(err)
			}
			fake := &fakeRuntime{cs: tc.cs, drift: tc.drift}
			p.rt = fake
			if _, err := reg.Assign(ctx, p.Root().Dir, registry.Preferred{Superserver: ss, Web: web}); err != nil {
				t.Fatal(err)
			}
			p.ready.probe = func(context.Context, string, int) error { return errors.New("no answer") }
			if !tc.waiting {
				p.ready.Mark(tc.cs.Main) // IRIS answered since the container started
			}
			st := p.Status(ctx)
			if st.State != tc.state {
				t.Errorf("state: got %q, want %q", st.State, tc.state)
			}
			if st.RestartNeeded != tc.restart {
				t.Errorf("restartNeeded: got %v, want %v", st.RestartNeeded, tc.restart)
			}
			if got := strings.ReplaceAll(st.Message, p.Root().Dir, "<project>"); got != tc.message {
				t.Errorf("message:\n got %q\nwant %q", got, tc.message)
			}
			gotCode := -1
			if st.ExitCode != nil {
				gotCode = *st.ExitCode
			}
			if gotCode != tc.exitCode {
				t.Errorf("exitCode: got %d, want %d", gotCode, tc.exitCode)
			}
			var asked [2]int
			if len(fake.plans) > 0 {
				asked = [2]int{fake.plans[0].Assignment.SuperserverPort, fake.plans[0].Assignment.WebPort}
			}
			if asked != tc.driftPair {
				t.Errorf("drift asked about ports %v, want %v (the ports the container publishes)", asked, tc.driftPair)
			}
		})
	}
}

// TestWatchThroughRuntime: Watch turns the runtime's engine events into messages.
func TestWatchThroughRuntime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, err := registry.Open(registry.Options{Home: t.TempDir(),
		Superserver: &registry.Range{Lo: 31980, Hi: 31989}, Web: &registry.Range{Lo: 31990, Hi: 31999}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := OpenProject(ctx, t.TempDir(), ProjectOptions{Registry: reg, EditorSync: "false"})
	if err != nil {
		t.Fatal(err)
	}
	p.rt = &fakeRuntime{events: []dockerops.Event{{Kind: dockerops.EventEngineDown}, {Kind: dockerops.EventEngineUp}}}
	got := make(chan Message, 2)
	done := make(chan error, 1)
	go func() { done <- p.Watch(ctx, nil, func(m Message) { got <- m }) }()
	for _, want := range []Message{
		{Level: LevelError, Text: "the Docker engine stopped answering"},
		{Level: LevelInfo, Text: "the Docker engine answers again"},
	} {
		select {
		case m := <-got:
			if m.Level != want.Level || m.Text != want.Text {
				t.Errorf("message: got %s %q, want %s %q", m.Level, m.Text, want.Level, want.Text)
			}
		case <-ctx.Done():
			t.Fatalf("no message %q", want.Text)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch: %v", err)
	}
}
