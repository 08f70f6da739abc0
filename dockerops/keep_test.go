package dockerops_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// projectContainers lists the IDs of every container of the project, whatever its state.
func projectContainers(t *testing.T, e *dockerops.Engine, project string) []string {
	t.Helper()
	list, err := e.Client().ContainerList(testCtx(t), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", dockerops.LabelProject+"="+project)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range list.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

// TestStartLeavesRunningContainer: a start whose spec differs from the running container (other
// ports, other environment) neither stops nor recreates it; it waits for it as it is and says how
// it differs. (On d65fd46 findReusable stopped and removed it.)
func TestStartLeavesRunningContainer(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	s := spec(p, img, 30400, 30401)
	s.Durable = true
	first, err := e.Start(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Outdated != nil {
		t.Fatalf("fresh container outdated: %v", first.Outdated)
	}
	moved := s
	moved.Superserver, moved.Web = 30402, 30403
	moved.Env = []string{"STUB_READY_DELAY=1s"}
	var phases []dockerops.Phase
	got, err := e.Start(ctx, moved, func(pr dockerops.Progress) { phases = append(phases, pr.Phase) })
	if err != nil {
		t.Fatal(err)
	}
	want := []dockerops.Difference{
		{Kind: dockerops.DiffPorts, Text: "ports 30400/30401 instead of 30402/30403"},
		{Kind: dockerops.DiffEnv, Text: "another container environment (STUB_READY_DELAY)"},
	}
	rpctest.Must(t, "Start() (the running container kept)", rpctest.Want("id", got.ID, first.ID), rpctest.Want("state", got.State, "running"),
		rpctest.Want("outdated", got.Outdated, want))
	if slices.Contains(phases, dockerops.PhaseCreating) || slices.Contains(phases, dockerops.PhaseStarting) {
		t.Fatalf("phases %v: the running container was touched", phases)
	}
	if ids := projectContainers(t, e, p); !slices.Equal(ids, []string{first.ID}) {
		t.Fatalf("containers %v, want only %s", ids, first.ID)
	}
	ds, err := e.Differences(ctx, moved, got)
	if err != nil || !slices.Equal(ds, want) {
		t.Fatalf("Differences() = %v, %v; want %v", ds, err, want)
	}
	r, err := e.Recreation(ctx, moved)
	if err != nil || r == nil {
		t.Fatalf("Recreation() = %+v, %v", r, err)
	}
	rpctest.Must(t, "Recreation()", rpctest.Want("running", r.Running, true), rpctest.Want("keepsData", r.KeepsData, true),
		rpctest.Want("container", r.Container, first.Name))
	if ds, err := e.Differences(ctx, s, got); err != nil || ds != nil {
		t.Fatalf("Differences(own spec) = %v, %v; want none", ds, err)
	}
}

// TestKeptContainerWithoutVolume: a stopped container whose data is not on a volume (durable off)
// survives a start that finds its port taken and the start on other ports (a port move); only a
// confirmed start replaces it. (On d65fd46 the first start removed it.)
func TestKeptContainerWithoutVolume(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	s := spec(p, img, 30410, 30411)
	first, err := e.Start(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(ctx, p, false, false); err != nil {
		t.Fatal(err)
	}
	dockertest.HoldPort(t, 30410)

	_, err = e.Start(ctx, s, nil)
	var ke *dockerops.KeepError
	if !errors.As(err, &ke) {
		t.Fatalf("Start() with its port taken = %v, want *KeepError for port 30410", err)
	}
	rpctest.Must(t, "Start() with its port taken: *KeepError", rpctest.Want("port", ke.Port, 30410), rpctest.Want("container", ke.Container, first.Name))
	wantMsg := "container " + first.Name + " was kept: host port 30410 is taken by another program, but its data is not on " +
		"the durable volume (it was created with durable off), so a start does not remove it; free port 30410 and start again, " +
		"or recreate it (its data is lost)"
	if err.Error() != wantMsg {
		t.Fatalf("message\n%s\nwant\n%s", err, wantMsg)
	}
	var pt *dockerops.PortTakenError
	if errors.As(err, &pt) {
		t.Fatal("a *KeepError must not read as *PortTakenError: the caller would move the ports")
	}
	if ids := projectContainers(t, e, p); !slices.Equal(ids, []string{first.ID}) {
		t.Fatalf("after the failed start: containers %v, want %s kept", ids, first.ID)
	}

	moved := s
	moved.Superserver, moved.Web = 30412, 30413
	_, err = e.Start(ctx, moved, nil)
	wantMsg = "container " + first.Name + " was kept: it was created with ports 30410/30411 instead of 30412/30413, but its data is not on " +
		"the durable volume (it was created with durable off), so a start does not remove it; recreate it (its data is lost)"
	if !errors.As(err, &ke) || err.Error() != wantMsg {
		t.Fatalf("Start() on other ports = %v\nwant %s", err, wantMsg)
	}
	if ids := projectContainers(t, e, p); !slices.Equal(ids, []string{first.ID}) {
		t.Fatalf("after the port move: containers %v, want %s kept", ids, first.ID)
	}
	r, err := e.Recreation(ctx, moved)
	if err != nil || r == nil {
		t.Fatalf("Recreation() = %+v, %v", r, err)
	}
	rpctest.Must(t, "Recreation()", rpctest.Want("running", r.Running, false), rpctest.Want("keepsData", r.KeepsData, false),
		rpctest.Want("notOnVolume", r.NotOnVolume, "it was created with durable off"))

	moved.ConfirmRecreate = first.Name
	second, err := e.Start(ctx, moved, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ids := projectContainers(t, e, p); !slices.Equal(ids, []string{second.ID}) || second.ID == first.ID {
		t.Fatalf("after the confirmed start: containers %v, want only the new %s", ids, second.ID)
	}
}

// TestDurableContainerReplacedWhenStopped: a stopped container whose data is on the volume is kept
// when its port is taken (*PortTakenError, Kept), and replaced by the start on other ports, which
// mounts the same volume; never two containers.
func TestDurableContainerReplacedWhenStopped(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	s := spec(p, img, 30420, 30421)
	s.Durable = true
	first, err := e.Start(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := e.Exec(ctx, p, "iris-stub", "write", "/durable/iris/user.dat", "precious"); err != nil || r.ExitCode != 0 {
		t.Fatalf("write into the volume: %v %+v", err, r)
	}
	if err := e.Stop(ctx, p, false, false); err != nil {
		t.Fatal(err)
	}
	dockertest.HoldPort(t, 30421)
	_, err = e.Start(ctx, s, nil)
	var pt *dockerops.PortTakenError
	if !errors.As(err, &pt) {
		t.Fatalf("Start() = %v, want *PortTakenError{Port: 30421, Kept: true}", err)
	}
	rpctest.Must(t, "Start(): *PortTakenError", rpctest.Want("port", pt.Port, 30421), rpctest.Want("kept", pt.Kept, true))
	if ids := projectContainers(t, e, p); !slices.Equal(ids, []string{first.ID}) {
		t.Fatalf("containers %v, want %s kept", ids, first.ID)
	}
	s.Superserver, s.Web = 30422, 30423
	second, err := e.Start(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ids := projectContainers(t, e, p); !slices.Equal(ids, []string{second.ID}) || second.Volume != dockerops.VolumeName(p) {
		t.Fatalf("containers %v (new %s, volume %q), want only the new one on the volume", ids, second.ID, second.Volume)
	}
	if r, err := e.Exec(ctx, p, "iris-stub", "cat", "/durable/iris/user.dat"); err != nil || r.Output != "precious" {
		t.Fatalf("data after the replacement: %v %+v", err, r)
	}
}

// TestVolumePreparedAgain: a durable volume that exists without the preparation marker (its
// preparation failed, or an older iris-helper made it) is prepared at the next create, and the
// marker is written. (On d65fd46 an existing volume was never prepared again.)
func TestVolumePreparedAgain(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	if _, err := e.Client().VolumeCreate(ctx, client.VolumeCreateOptions{Name: dockerops.VolumeName(p),
		Labels: map[string]string{dockerops.LabelProject: p}}); err != nil {
		t.Fatal(err)
	}
	s := spec(p, img, 30430, 30431)
	s.Durable = true
	if _, err := e.Start(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	if err := e.Logs(ctx, p, false, &logs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "durable %SYS in /durable/iris (parent owned by uid 51773)") {
		t.Fatalf("the volume was not prepared for UID 51773; logs:\n%s", logs.String())
	}
	r, err := e.Exec(ctx, p, "iris-stub", "cat", dockerops.PreparedMarker)
	if err != nil {
		t.Fatalf("marker: %v", err)
	}
	rpctest.Must(t, "marker", rpctest.Want("exitCode", r.ExitCode, 0),
		rpctest.Want(fmt.Sprintf("output %q starts with the preparer", r.Output), strings.HasPrefix(r.Output, "prepared for UID 51773 by iris-helper test at "), true))
}

// TestFailedPreparationRetried: when the volume's preparation fails, the container is created
// anyway (a warning); the next start of that stopped container prepares the volume first.
func TestFailedPreparationRetried(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	s := spec(p, img, 30440, 30441)
	s.Durable = true
	e.SetPrepareFailForTest(errors.New("chown: operation not permitted"))
	first, err := e.Start(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantWarning := "prepare durable volume " + dockerops.VolumeName(p) + " for UID 51773: chown: operation not permitted"
	if !slices.Equal(first.Warnings, []string{wantWarning}) {
		t.Fatalf("warnings %q, want %q", first.Warnings, wantWarning)
	}
	if err := e.Stop(ctx, p, false, false); err != nil {
		t.Fatal(err)
	}
	e.SetPrepareFailForTest(nil)
	second, err := e.Start(ctx, s, nil)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	rpctest.Must(t, fmt.Sprintf("second start (warnings %q)", second.Warnings), rpctest.Want("id", second.ID, first.ID),
		rpctest.Want("len(warnings)", len(second.Warnings), 0))
	var logs strings.Builder
	if err := e.Logs(ctx, p, false, &logs); err != nil {
		t.Fatal(err)
	}
	if !rpctest.Check(t, "the container's runs", rpctest.Want("runs on the unprepared volume", strings.Count(logs.String(), "durable %SYS in /durable/iris (parent owned by uid 0)"), 1),
		rpctest.Want("a run on the prepared volume", strings.Contains(logs.String(), "durable %SYS in /durable/iris (parent owned by uid 51773)"), true)) {
		t.Fatalf("want one run on the unprepared volume, then one on the prepared one; logs:\n%s", logs.String())
	}
	if r, err := e.Exec(ctx, p, "iris-stub", "cat", dockerops.PreparedMarker); err != nil || r.ExitCode != 0 {
		t.Fatalf("marker: %v %+v", err, r)
	}
}

// TestStartLeavesPausedContainer: a paused container (Docker: status paused, running true) counts
// as running: a start on other ports neither removes nor recreates it, even with its data on the
// volume, and says it is paused. (Before, isRunning looked at the status only and the start
// force-removed it as a stopped container to replace.)
func TestStartLeavesPausedContainer(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	s := spec(p, img, 30450, 30451)
	s.Durable = true
	first, err := e.Start(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client().ContainerPause(ctx, first.ID, client.ContainerPauseOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = e.Client().ContainerUnpause(testCtx(t), first.ID, client.ContainerUnpauseOptions{}) })
	moved := s
	moved.Superserver, moved.Web = 30452, 30453
	for _, moved := range []dockerops.Spec{moved, s} {
		_, err = e.Start(ctx, moved, nil)
		want := "container " + first.Name + " is paused; a start leaves it as it is: resume it with `docker unpause " + first.Name + "`"
		var pe *dockerops.PausedError
		if !errors.As(err, &pe) || err.Error() != want {
			t.Fatalf("Start(%d/%d) = %v\nwant %s", moved.Superserver, moved.Web, err, want)
		}
		if ids := projectContainers(t, e, p); !slices.Equal(ids, []string{first.ID}) {
			t.Fatalf("containers %v, want only the paused %s", ids, first.ID)
		}
	}
	r, err := e.Recreation(ctx, moved)
	if err != nil || r == nil {
		t.Fatalf("Recreation() = %+v, %v", r, err)
	}
	rpctest.Must(t, "Recreation()", rpctest.Want("container", r.Container, first.Name))
}

// TestStartKeepsConcurrentlyCreatedContainer: when a concurrent start of the project creates the
// container first, this start uses it but did not create it, so a taken port does not make it
// remove it. (Before, create returned the other start's container and Start counted it as its own.)
func TestStartKeepsConcurrentlyCreatedContainer(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	var other string
	e.SetBeforeCreateForTest(func(opts client.ContainerCreateOptions) {
		res, err := e.Client().ContainerCreate(ctx, opts)
		if err != nil {
			t.Error(err)
		}
		other = res.ID
	})
	dockertest.HoldPort(t, 30460)
	_, err := e.Start(ctx, spec(p, img, 30460, 30461), nil)
	var ke *dockerops.KeepError
	if !errors.As(err, &ke) || ke.Port != 30460 {
		t.Fatalf("Start() = %v, want *KeepError for port 30460", err)
	}
	if ids := projectContainers(t, e, p); !slices.Equal(ids, []string{other}) {
		t.Fatalf("containers %v, want the other start's %s kept", ids, other)
	}
}

// TestConfirmCoversNamedContainerOnly: a confirmation names the container the user saw; a start
// that reuses the project's container leaves another stopped container without a volume next to
// it alone, confirmed or not, and removes it only when the confirmation names it. (Before, a
// confirmed start removed every stale stopped container.)
func TestConfirmCoversNamedContainerOnly(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	a, b := spec(p, img, 30470, 30471), spec(p, img, 30472, 30473)
	var optsB client.ContainerCreateOptions
	e.SetBeforeCreateForTest(func(o client.ContainerCreateOptions) { optsB = o })
	cb, err := e.Start(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.SetBeforeCreateForTest(nil)
	if err := e.Stop(ctx, p, true, false); err != nil {
		t.Fatal(err)
	}
	ca, err := e.Start(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(ctx, p, false, false); err != nil {
		t.Fatal(err)
	}
	// b's container again, next to a's: both stopped, data inside them
	res, err := e.Client().ContainerCreate(ctx, optsB)
	if err != nil {
		t.Fatal(err)
	}
	both := []string{ca.ID, res.ID}
	slices.Sort(both)
	a.ConfirmRecreate = ca.Name // the user confirmed a's container, not b's
	if _, err := e.Start(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	ids := projectContainers(t, e, p)
	slices.Sort(ids)
	if !slices.Equal(ids, both) {
		t.Fatalf("containers %v, want %v: %s was not confirmed", ids, both, cb.Name)
	}
	if err := e.Stop(ctx, p, false, false); err != nil {
		t.Fatal(err)
	}
	a.ConfirmRecreate = cb.Name
	if _, err := e.Start(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	if ids := projectContainers(t, e, p); !slices.Equal(ids, []string{ca.ID}) {
		t.Fatalf("containers %v, want only %s once %s was confirmed", ids, ca.ID, cb.Name)
	}
}

// TestLeftoverPreparingContainerRemoved: a volume-preparing container that an earlier, cancelled
// start left behind (the engine created it, the answer was lost to the cancel) is removed by the
// next start that prepares the project's volume; it holds no data. (Seen: a `Created` container
// labelled dev.iris-helper.project.prepare outlived TestCancelAndStopDuringStart.)
func TestLeftoverPreparingContainerRemoved(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	prepared := func() []string {
		t.Helper()
		list, err := e.Client().ContainerList(ctx, client.ContainerListOptions{All: true,
			Filters: make(client.Filters).Add("label", dockerops.LabelPrepare+"="+p)})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, it := range list.Items {
			names = append(names, strings.Join(it.Names, ","))
		}
		return names
	}
	if _, err := e.Client().ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: img, Labels: map[string]string{dockerops.LabelPrepare: p}},
	}); err != nil {
		t.Fatal(err)
	}
	if got := prepared(); len(got) != 1 {
		t.Fatalf("before the start: preparing containers %q, want the one left behind", got)
	}
	s := spec(p, img, 30480, 30481)
	s.Durable = true
	if _, err := e.Start(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	if got := prepared(); len(got) != 0 {
		t.Errorf("after the start: preparing containers %q, want none", got)
	}
}
