package dockerops_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// TestTwoProjectsConcurrently: both get their own container with exactly the bindings asked
// for, and IRIS answers on 127.0.0.1 for both.
func TestTwoProjectsConcurrently(t *testing.T) {
	t.Parallel()
	e, img, p1 := setup(t)
	p2 := dockertest.Project(t)
	ctx := testCtx(t)
	specs := []dockerops.Spec{spec(p1, img, 30010, 30011), spec(p2, img, 30012, 30013)}
	got := make([]dockerops.Container, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range specs {
		wg.Go(func() { got[i], errs[i] = e.Start(ctx, specs[i], nil) })
	}
	wg.Wait()
	for i, s := range specs {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		c := got[i]
		rpctest.Must(t, fmt.Sprintf("container %d", i), rpctest.Want("name", c.Name, dockerops.ContainerName(s.Project, s.Superserver)),
			rpctest.Want("state", c.State, "running"), rpctest.Want("superserver", c.Superserver, s.Superserver), rpctest.Want("web", c.Web, s.Web),
			rpctest.Want("bindAddress", c.BindAddress, "127.0.0.1"), rpctest.Want("project", c.Project, s.Project), rpctest.Want("iris", c.IRIS, true))
		if st := httpStatus(t, s.Web, "/csp/sys/UtilHome.csp"); st != http.StatusOK {
			t.Fatalf("portal on %d: status %d", s.Web, st)
		}
		if st := httpStatus(t, s.Web, "/api/atelier/"); st != http.StatusUnauthorized {
			t.Fatalf("atelier without credentials on %d: status %d, want 401", s.Web, st)
		}
		superserverStaysOpen(t, s.Superserver)

		ins, err := e.Client().ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := network.PortMap{
			network.MustParsePort("1972/tcp"):  {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: fmt.Sprint(s.Superserver)}},
			network.MustParsePort("52773/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: fmt.Sprint(s.Web)}},
		}
		if fmt.Sprint(ins.Container.HostConfig.PortBindings) != fmt.Sprint(want) {
			t.Fatalf("port bindings %v, want %v", ins.Container.HostConfig.PortBindings, want)
		}
		labels := ins.Container.Config.Labels
		rpctest.Must(t, "labels", rpctest.Want(dockerops.LabelProject, labels[dockerops.LabelProject], s.Project),
			rpctest.Want(dockerops.LabelSuperserver, labels[dockerops.LabelSuperserver], fmt.Sprint(s.Superserver)),
			rpctest.Want(dockerops.LabelWeb, labels[dockerops.LabelWeb], fmt.Sprint(s.Web)), rpctest.Want(dockerops.LabelVersion, labels[dockerops.LabelVersion], "test"))
	}
	if got[0].ID == got[1].ID {
		t.Fatal("two projects share one container")
	}
	ports, err := e.HostPortsInUse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		for _, p := range []int{s.Superserver, s.Web} {
			if ports[p] != "container "+got[i].Name {
				t.Errorf("HostPortsInUse()[%d] = %q, want container %s", p, ports[p], got[i].Name)
			}
		}
	}
	owned, err := e.Owned(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if !slices.ContainsFunc(owned, func(o dockerops.Container) bool { return o.ID == c.ID }) {
			t.Errorf("Owned() misses %s", c.Name)
		}
	}
}

// TestStopStartCycles: the same container and ports across three stop/start cycles.
func TestStopStartCycles(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	s := spec(p, img, 30020, 30021, "STUB_READY_DELAY=1s")
	first, err := e.Start(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for cycle := 1; cycle <= 3; cycle++ {
		if err := e.Stop(ctx, p, false, false); err != nil {
			t.Fatalf("cycle %d: stop: %v", cycle, err)
		}
		c, ok, err := e.Inspect(ctx, p)
		if err != nil || !ok {
			t.Fatalf("cycle %d: inspect after stop: %v %v", cycle, ok, err)
		}
		rpctest.Must(t, fmt.Sprintf("cycle %d: after stop", cycle), rpctest.Want("state", c.State, "exited"), rpctest.Want("exitCode", c.ExitCode, 0),
			rpctest.Want("id (the same container)", c.ID, first.ID))
		var phases []dockerops.Phase
		c, err = e.Start(ctx, s, func(pr dockerops.Progress) { phases = append(phases, pr.Phase) })
		if err != nil {
			t.Fatalf("cycle %d: start: %v", cycle, err)
		}
		rpctest.Must(t, fmt.Sprintf("cycle %d: restarted", cycle), rpctest.Want("id (the same container)", c.ID, first.ID),
			rpctest.Want("superserver", c.Superserver, 30020), rpctest.Want("web", c.Web, 30021), rpctest.Want("state", c.State, "running"))
		if slices.Contains(phases, dockerops.PhaseCreating) || !slices.Contains(phases, dockerops.PhaseStarting) {
			t.Fatalf("cycle %d: phases %v: want starting without creating", cycle, phases)
		}
		if st := httpStatus(t, 30021, "/csp/sys/UtilHome.csp"); st != http.StatusOK {
			t.Fatalf("cycle %d: portal status %d", cycle, st)
		}
	}
	// Starting a running project is a no-op that returns the same container.
	again, err := e.Start(ctx, s, nil)
	if err != nil || again.ID != first.ID {
		t.Fatalf("start of running project: %v %+v", err, again)
	}
}

// TestSameProjectStartedTwiceAtOnce: concurrent Starts of one project end with one container.
func TestSameProjectStartedTwiceAtOnce(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	s := spec(p, img, 30030, 30031)
	const n = 3
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := e.Start(ctx, s, nil)
			ids[i], errs[i] = c.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("starts returned different containers: %v", ids)
		}
	}
	list, err := e.Client().ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", dockerops.LabelProject+"="+p)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("%d containers for the project, want 1", len(list.Items))
	}
}

// runForeign starts a container that is not ours (no project label), publishing hostPort.
func runForeign(t *testing.T, e *dockerops.Engine, img, name string, hostPort int) string {
	t.Helper()
	ctx := testCtx(t)
	mark := "dev.iris-helper.test=" + t.Name()
	port := network.MustParsePort("52773/tcp")
	res, err := e.Client().ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{Image: img, Labels: map[string]string{"dev.iris-helper.test": t.Name()},
			ExposedPorts: network.PortSet{port: {}}},
		HostConfig: &container.HostConfig{PortBindings: network.PortMap{
			port: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: fmt.Sprint(hostPort)}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dockertest.RemoveLabeled(ctx, e.Client(), mark); err != nil {
			t.Error(err)
		}
	})
	if _, err := e.Client().ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	return res.ID
}

// TestForeignContainers: a container that is not ours shows in HostPortsInUse, and one that
// has our container's name is never touched.
func TestForeignContainers(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	foreign := fmt.Sprintf("iris-helper-test-foreign-%d", time.Now().UnixNano())
	runForeign(t, e, img, foreign, 30040)
	ports, err := e.HostPortsInUse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ports[30040] != "container "+foreign {
		t.Fatalf("HostPortsInUse()[30040] = %q, want container %s (all: %v)", ports[30040], foreign, ports)
	}

	name := dockerops.ContainerName(p, 30041)
	id := runForeign(t, e, img, name, 30043)
	_, err = e.Start(ctx, spec(p, img, 30041, 30042), nil)
	var nc *dockerops.NameConflictError
	if !errors.As(err, &nc) {
		t.Fatalf("Start over a foreign same-named container: %v, want *NameConflictError", err)
	}
	rpctest.Must(t, "Start over a foreign same-named container: *NameConflictError", rpctest.Want("name", nc.Name, name))
	if !strings.Contains(err.Error(), "not created by iris-helper") {
		t.Fatalf("Start over a foreign same-named container: %v, want *NameConflictError", err)
	}
	ins, err := e.Client().ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil || !ins.Container.State.Running {
		t.Fatalf("foreign container was touched: %v %+v", err, ins.Container.State)
	}
}

// TestPortTaken: a host port grabbed before start → *PortTakenError naming it, no container left.
func TestPortTaken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ss, web   int
		grab      int
		byDocker  bool // grabbed by another container (engine says "port is already allocated")
		wantPorts int
	}{
		{name: "superserver held by a listener", ss: 30050, web: 30051, grab: 30050},
		{name: "web held by a listener", ss: 30052, web: 30053, grab: 30053},
		{name: "web held by another container", ss: 30054, web: 30055, grab: 30055, byDocker: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, img, p := setup(t)
			ctx := testCtx(t)
			if tt.byDocker {
				runForeign(t, e, img, fmt.Sprintf("iris-helper-test-grab-%d", time.Now().UnixNano()), tt.grab)
			} else {
				l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", tt.grab))
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
			}
			_, err := e.Start(ctx, spec(p, img, tt.ss, tt.web), nil)
			var pt *dockerops.PortTakenError
			if !errors.As(err, &pt) || pt.Port != tt.grab {
				t.Fatalf("Start() = %v, want *PortTakenError{Port: %d}", err, tt.grab)
			}
			if c, ok, err := e.Inspect(ctx, p); err != nil || ok {
				t.Fatalf("a container was left behind: %+v (%v)", c, err)
			}
		})
	}
}

// TestDurableSurvivesRecreate: data in the durable volume outlives a recreate (port move of the
// stopped container); purge deletes it.
func TestDurableSurvivesRecreate(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	s := spec(p, img, 30060, 30061)
	s.Durable = true
	first, err := e.Start(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Volume != dockerops.VolumeName(p) {
		t.Fatalf("volume %q, want %q", first.Volume, dockerops.VolumeName(p))
	}
	vol, err := e.Client().VolumeInspect(ctx, first.Volume, client.VolumeInspectOptions{})
	if err != nil || vol.Volume.Labels[dockerops.LabelProject] != p {
		t.Fatalf("volume %v labels %v", err, vol.Volume.Labels)
	}
	if r, err := e.Exec(ctx, p, "iris-stub", "write", "/durable/iris/user.dat", "precious"); err != nil || r.ExitCode != 0 {
		t.Fatalf("write into the volume: %v %+v", err, r)
	}
	var logs strings.Builder
	if err := e.Logs(ctx, p, false, &logs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "durable %SYS in /durable/iris (parent owned by uid 51773)") {
		t.Fatalf("durable dir not prepared for UID 51773; logs:\n%s", logs.String())
	}

	// a port move recreates the stopped container (a running one is never recreated by a start)
	if err := e.Stop(ctx, p, false, false); err != nil {
		t.Fatal(err)
	}
	s.Superserver, s.Web = 30062, 30063
	second, err := e.Start(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID == first.ID || second.Name != dockerops.ContainerName(p, 30062) {
		t.Fatalf("not recreated: %+v", second)
	}
	if _, err := e.Client().ContainerInspect(ctx, first.ID, client.ContainerInspectOptions{}); err == nil {
		t.Fatal("old container still exists")
	}
	r, err := e.Exec(ctx, p, "iris-stub", "cat", "/durable/iris/user.dat", "/durable/iris/iris-stub.marker")
	if err != nil {
		t.Fatalf("data after recreate: %v", err)
	}
	rpctest.Must(t, fmt.Sprintf("data after recreate %q", r.Output), rpctest.Want("exitCode", r.ExitCode, 0),
		rpctest.Want("starts with precious", strings.HasPrefix(r.Output, "precious"), true), rpctest.Want(`count of "started "`, strings.Count(r.Output, "started "), 2))

	if err := e.Stop(ctx, p, true, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client().VolumeInspect(ctx, first.Volume, client.VolumeInspectOptions{}); err == nil {
		t.Fatal("purge left the volume")
	}
	if _, ok, err := e.Inspect(ctx, p); ok || err != nil {
		t.Fatalf("purge left the container (%v)", err)
	}
}

func TestMissingImage(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	p := dockertest.Project(t)
	ctx := testCtx(t)
	var phases []dockerops.Phase
	_, err := e.Start(ctx, dockerops.Spec{Project: p, Image: "iris-helper/no-such-image:never", Superserver: 30070, Web: 30071},
		func(pr dockerops.Progress) { phases = append(phases, pr.Phase) })
	var pe *dockerops.PullError
	if !errors.As(err, &pe) || pe.Image != "iris-helper/no-such-image:never" {
		t.Fatalf("Start() = %v, want *PullError", err)
	}
	for _, want := range []string{"iris-helper/no-such-image:never", "docker login containers.intersystems.com"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %q", err, want)
		}
	}
	if !slices.Contains(phases, dockerops.PhasePulling) {
		t.Errorf("phases %v, want pulling", phases)
	}
}
