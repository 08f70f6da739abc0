package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

func TestRangeConfiguration(t *testing.T) {
	// Not parallel: uses t.Setenv.
	home := t.TempDir()
	writeCfg := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(home, ConfigFileName), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	open := func(opts Options) (Range, Range, error) {
		opts.Home = home
		r, err := Open(opts)
		if err != nil {
			return Range{}, Range{}, err
		}
		ss, web := r.Ranges()
		return ss, web, nil
	}
	t.Setenv(EnvSuperserverRange, "")
	t.Setenv(EnvWebRange, "")
	t.Setenv(EnvExtraRange, "")
	ss, web, err := open(Options{})
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	rpctest.Must(t, "defaults", rpctest.Want("superserver", ss, Range{1972, 1981}), rpctest.Want("web", web, Range{52773, 52782}))
	writeCfg(`{"superserverRange":"20320-20324","webRange":"25320-25324","futureKey":1}`)
	ss, web, err = open(Options{})
	if err != nil {
		t.Fatalf("config.json: %v", err)
	}
	rpctest.Must(t, "config.json", rpctest.Want("superserver", ss, Range{20320, 20324}), rpctest.Want("web", web, Range{25320, 25324}))
	t.Setenv(EnvSuperserverRange, "20330-20331")
	t.Setenv(EnvWebRange, "25330 - 25331")
	ss, web, err = open(Options{})
	if err != nil {
		t.Fatalf("env over config.json: %v", err)
	}
	rpctest.Must(t, "env over config.json", rpctest.Want("superserver", ss, Range{20330, 20331}), rpctest.Want("web", web, Range{25330, 25331}))
	o1, o2 := Range{20335, 20335}, Range{25335, 25335}
	ss, web, err = open(Options{Superserver: &o1, Web: &o2})
	if err != nil {
		t.Fatalf("Options over env: %v", err)
	}
	rpctest.Must(t, "Options over env", rpctest.Want("superserver", ss, o1), rpctest.Want("web", web, o2))

	bad := []struct {
		name, ss, web, cfg, want string
	}{
		{"unequal lengths", "20330-20331", "25330-25339", "", "has 2 ports but the web range has 10"},
		{"not a range", "abc", "25330-25331", "", `expected "lo-hi"`},
		{"reversed", "20331-20330", "25330-25331", "", "lo is greater than hi"},
		{"too high", "65535-65536", "25330-25331", "", "between 1 and 65535"},
		{"overlap", "20330-20340", "20335-20345", "", "overlap"},
		{"bad config.json", "", "", `{"superserverRange":`, "config.json"},
		{"bad range in config.json", "", "", `{"superserverRange":"1-2","webRange":"x"}`, `"webRange" in`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvSuperserverRange, tc.ss)
			t.Setenv(EnvWebRange, tc.web)
			writeCfg(tc.cfg)
			if tc.cfg == "" {
				os.Remove(filepath.Join(home, ConfigFileName))
			}
			_, _, err := open(Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestAssignmentsOutsideAChangedRangeStayValid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseOutOfRanges, 5)
	ctx := ctxT(t)
	old, err := e.r.Assign(ctx, project(t, "old"), Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	ss, web := band(baseOutOfRanges+10, 5)
	r2, err := Open(Options{Home: e.home, Superserver: &ss, Web: &web})
	if err != nil {
		t.Fatal(err)
	}
	again, err := r2.Assign(ctx, old.Project, Preferred{})
	if err != nil || again.SuperserverPort != old.SuperserverPort {
		t.Fatalf("old assignment not kept under the new range: %+v %v", again, err)
	}
	fresh, err := r2.Assign(ctx, project(t, "new"), Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "new assignment from the new ranges",
		rpctest.Want(fmt.Sprintf("superserverPort %d in %s", fresh.SuperserverPort, ss), ss.Contains(fresh.SuperserverPort), true),
		rpctest.Want(fmt.Sprintf("webPort %d in %s", fresh.WebPort, web), web.Contains(fresh.WebPort), true))
}

func TestFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX modes do not apply on Windows")
	}
	t.Parallel()
	e := newEnv(t, baseModes, 5)
	if _, err := e.r.Assign(ctxT(t), project(t, "p"), Preferred{}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		e.home:                              0o700 | os.ModeDir,
		e.r.Path():                          0o600,
		filepath.Join(e.home, LockFileName): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), want)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(e.home, "*.tmp-*")); len(m) != 0 {
		t.Errorf("temp files left behind: %v", m)
	}
}

func TestChangesFiresForOtherWritersOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseChanges, 5, func(o *Options) { o.ChangesInterval = 20 * time.Millisecond })
	other, err := Open(Options{Home: e.home, Superserver: &e.ss, Web: &e.web})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	ch := e.r.Changes(ctx)
	quiet := func(what string) {
		t.Helper()
		select {
		case <-ch:
			t.Fatalf("Changes fired %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
	fired := func(what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("Changes did not fire %s", what)
		}
	}
	quiet("with nothing happening")
	if _, err := e.r.Assign(ctx, project(t, "own"), Preferred{}); err != nil {
		t.Fatal(err)
	}
	quiet("for this handle's own write")
	if _, err := other.Assign(ctx, project(t, "theirs"), Preferred{}); err != nil {
		t.Fatal(err)
	}
	fired("after another handle assigned")
	quiet("again without a new change (must not fire endlessly)")
	if _, err := other.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	fired("after another handle cleared")
	os.Remove(e.r.Path())
	fired("after the file was deleted")
	cancel()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed after the context ended")
		}
	}
}

func TestTouchUpdateFind(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseUpdate, 5)
	ctx := ctxT(t)
	dir := project(t, "p")
	a, _ := e.r.Assign(ctx, dir, Preferred{})
	time.Sleep(1100 * time.Millisecond)
	if err := e.r.Touch(ctx, dir); err != nil {
		t.Fatal(err)
	}
	got, _, _ := e.r.Get(ctx, dir)
	if !got.LastUsedAt.After(a.LastUsedAt) || !got.AssignedAt.Equal(a.AssignedAt) {
		t.Fatalf("Touch: lastUsedAt %v -> %v, assignedAt %v -> %v", a.LastUsedAt, got.LastUsedAt, a.AssignedAt, got.AssignedAt)
	}
	up, err := e.r.Update(ctx, dir, func(x *Assignment) {
		x.Status, x.Container, x.Engine = StatusActive, "iris_ab12cd34_20380", "unix:///var/run/docker.sock"
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	rpctest.Must(t, "Update", rpctest.Want("status", up.Status, StatusActive), rpctest.Want("container", up.Container, "iris_ab12cd34_20380"))
	if f := readFile(t, e.r.Path()); f.Assignments[0].Engine != "unix:///var/run/docker.sock" {
		t.Fatalf("Update not written: %+v", f)
	}
	if _, err := e.r.Update(ctx, dir, func(x *Assignment) { x.WebPort++ }); err == nil {
		t.Fatal("Update changed a port")
	}
	if _, err := e.r.Update(ctx, dir, func(x *Assignment) { *x.Slot = 3 }); err == nil {
		t.Fatal("Update changed the slot through the pointer")
	}
	if got, _, _ := e.r.Get(ctx, dir); *got.Slot != *a.Slot {
		t.Fatalf("slot changed to %d", *got.Slot)
	}
	for _, port := range []int{a.SuperserverPort, a.WebPort} {
		f, ok, err := e.r.Find(ctx, port)
		if err != nil {
			t.Fatalf("Find(%d): %v", port, err)
		}
		rpctest.Must(t, fmt.Sprintf("Find(%d)", port), rpctest.Want("found", ok, true), rpctest.Want("project", f.Project, dir))
	}
	if _, ok, _ := e.r.Find(ctx, 1); ok {
		t.Fatal("Find(1) found something")
	}
	if err := e.r.Touch(ctx, filepath.Join(dir, "nope")); !errors.As(err, new(*NotFoundError)) {
		t.Fatalf("Touch unknown: %v", err)
	}
	if _, err := e.r.Assign(ctx, "relative/path", Preferred{}); err == nil {
		t.Fatal("relative project key accepted")
	}
}

func TestReassignAvoidsGrabbedPorts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseReassign, 5)
	ctx := ctxT(t)
	dir := project(t, "p")
	a, _ := e.r.Assign(ctx, dir, Preferred{})
	e.r.Update(ctx, dir, func(x *Assignment) { x.Container = "c1" })
	// Someone grabbed slot 1's superserver port too.
	b, err := e.r.Reassign(ctx, dir, a.SuperserverPort, e.ss.Lo+1)
	if err != nil {
		t.Fatal(err)
	}
	two := 2
	rpctest.Must(t, "Reassign (slot 2, keeping the container)", rpctest.Want("slot", b.Slot, &two), rpctest.Want("type", b.Type, TypeAuto),
		rpctest.Want("container", b.Container, "c1"))
	list, _ := e.r.List(ctx)
	if len(list) != 1 {
		t.Fatalf("Reassign left %d assignments", len(list))
	}
	// A project with no assignment gets one.
	c, err := e.r.Reassign(ctx, project(t, "q"))
	if err != nil || *c.Slot != 0 {
		t.Fatalf("Reassign new = %+v %v", c, err)
	}
}

func TestRestoreRebuildsAfterCorruption(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseRestore, 5)
	ctx := ctxT(t)
	os.WriteFile(e.r.Path(), []byte("{garbage"), 0o600)
	p1, p2, p3 := project(t, "one"), project(t, "two"), project(t, "three")
	slot := 1
	err := e.r.Restore(ctx, []Assignment{
		{Project: p1, Slot: &slot, SuperserverPort: e.ss.Lo + 1, WebPort: e.web.Lo + 1, Container: "iris_1"},
		{Project: p2, SuperserverPort: 20429, WebPort: 25429},
		{Project: p3, SuperserverPort: e.ss.Lo + 1, WebPort: e.web.Lo + 3}, // clashes with p1: skipped
	})
	if !errors.As(err, new(*CorruptError)) {
		t.Fatalf("first call on the corrupt file: want *CorruptError, got %v", err)
	}
	err = e.r.Restore(ctx, []Assignment{
		{Project: p1, Slot: &slot, SuperserverPort: e.ss.Lo + 1, WebPort: e.web.Lo + 1, Container: "iris_1"},
		{Project: p2, SuperserverPort: 20429, WebPort: 25429},
		{Project: p3, SuperserverPort: e.ss.Lo + 1, WebPort: e.web.Lo + 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := e.r.List(ctx)
	rpctest.Must(t, "restored", rpctest.Want("len", len(list), 2))
	rpctest.Must(t, "restored", rpctest.Want("[0].project", list[0].Project, p1), rpctest.Want("[0].type", list[0].Type, TypeAuto),
		rpctest.Want("[1].type", list[1].Type, TypeManual))
	// New assignments avoid restored ports.
	a, _ := e.r.Assign(ctx, p3, Preferred{})
	if *a.Slot != 0 {
		t.Fatalf("got slot %d", *a.Slot)
	}
	b, _ := e.r.Assign(ctx, project(t, "four"), Preferred{})
	if *b.Slot != 2 {
		t.Fatalf("got slot %d, want 2 (1 is restored)", *b.Slot)
	}
	// Restore refuses what a read would reject as invalid (labels of a container are input too).
	p5 := project(t, "five")
	for _, tc := range []struct {
		a    Assignment
		want string
	}{
		{Assignment{Project: p5, SuperserverPort: 70000, WebPort: e.web.Lo + 4},
			"restore port registry: restore " + p5 + ": its superserver port 70000 is not between 1 and 65535"},
		{Assignment{Project: p5, SuperserverPort: e.ss.Lo + 4, WebPort: e.ss.Lo + 4},
			fmt.Sprintf("restore port registry: restore %s: its superserver and web ports are both %d", p5, e.ss.Lo+4)},
	} {
		if err := e.r.Restore(ctx, []Assignment{tc.a}); err == nil || err.Error() != tc.want {
			t.Errorf("Restore(%+v):\n got %v\nwant %s", tc.a, err, tc.want)
		}
	}
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseCleanup, 5)
	ctx := ctxT(t)
	keep, vanish, old := project(t, "keep"), project(t, "vanish"), project(t, "old")
	for _, d := range []string{keep, vanish, old} {
		if _, err := e.r.Assign(ctx, d, Preferred{}); err != nil {
			t.Fatal(err)
		}
	}
	os.RemoveAll(vanish)
	os.WriteFile(filepath.Join(e.home, FileName+".tmp-123"), []byte("half"), 0o600) // a writer died mid-write
	gone := func(a Assignment) bool { return a.Project == old || FolderGone(a) }
	stale, err := e.r.Cleanup(ctx, true, gone)
	if err != nil || len(stale) != 2 {
		t.Fatalf("dry run = %+v, %v", stale, err)
	}
	if list, _ := e.r.List(ctx); len(list) != 3 {
		t.Fatalf("dry run removed entries: %d left", len(list))
	}
	// The caller's rule decides alone: a folder that is gone but that it wants kept stays.
	stale, err = e.r.Cleanup(ctx, true, func(a Assignment) bool { return a.Project == old })
	if err != nil {
		t.Fatalf("dry run with the caller's rule: %v", err)
	}
	rpctest.Must(t, "dry run with the caller's rule", rpctest.Want("len", len(stale), 1))
	rpctest.Must(t, "dry run with the caller's rule", rpctest.Want("[0].project", stale[0].Project, old))
	stale, err = e.r.Cleanup(ctx, true, nil)
	if err != nil {
		t.Fatalf("dry run with the default rule: %v", err)
	}
	rpctest.Must(t, "dry run with the default rule", rpctest.Want("len", len(stale), 1))
	rpctest.Must(t, "dry run with the default rule", rpctest.Want("[0].project", stale[0].Project, vanish))
	stale, err = e.r.Cleanup(ctx, false, gone)
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	rpctest.Must(t, "cleanup", rpctest.Want("len", len(stale), 2))
	rpctest.Must(t, "cleanup", rpctest.Want("[0].status", stale[0].Status, StatusStale))
	list, _ := e.r.List(ctx)
	if len(list) != 1 || list[0].Project != keep {
		t.Fatalf("after cleanup: %+v", list)
	}
	if m, _ := filepath.Glob(filepath.Join(e.home, "*.tmp-*")); len(m) != 0 {
		t.Errorf("orphan temp files kept: %v", m)
	}
}

func TestPortFree(t *testing.T) {
	t.Parallel()
	e := newEnv(t, basePortFree, 5, func(o *Options) {
		o.Ports = &countingPorts{ports: map[int]string{basePortFree + 3: "container iris_x"}}
	})
	ctx := ctxT(t)
	mine, other := project(t, "mine"), project(t, "other")
	a, _ := e.r.Assign(ctx, mine, Preferred{})
	listen(t, "127.0.0.1", a.SuperserverPort) // its own IRIS is running
	listen(t, "127.0.0.1", basePortFree+4)
	tests := []struct {
		port    int
		project string
		holder  string
	}{
		{a.SuperserverPort, mine, ""},
		{a.SuperserverPort, other, "project " + mine},
		{basePortFree + 3, other, "container iris_x"},
		{basePortFree + 4, other, selfHolder(t)},
		{basePortFree + 2, other, ""},
	}
	for _, tc := range tests {
		err := e.r.PortFree(ctx, tc.port, tc.project)
		var ce *ConflictError
		switch {
		case tc.holder == "" && err != nil:
			t.Errorf("PortFree(%d, %s) = %v, want nil", tc.port, tc.project, err)
		case tc.holder != "" && (!errors.As(err, &ce) || ce.Holder != tc.holder):
			t.Errorf("PortFree(%d, %s) = %v, want holder %q", tc.port, tc.project, err, tc.holder)
		}
	}
}

func TestManualWebOnlyPreference(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseManualWeb, 5)
	ctx := ctxT(t)
	a, err := e.r.Assign(ctx, project(t, "w"), Preferred{Web: baseManualWeb + 5000 + 9})
	if err != nil {
		t.Fatalf("web-only preference: %v", err)
	}
	rpctest.Must(t, "web-only preference", rpctest.Want("webPort", a.WebPort, baseManualWeb+5009),
		rpctest.Want("superserverPort", a.SuperserverPort, e.ss.Lo), rpctest.Want("type", a.Type, TypeManual))
	if _, err := e.r.Assign(ctx, project(t, "bad"), Preferred{Superserver: 70000}); err == nil {
		t.Fatal("port 70000 accepted")
	}
	if _, err := e.r.Assign(ctx, project(t, "same"), Preferred{Superserver: 20529, Web: 20529}); err == nil {
		t.Fatal("equal preferred ports accepted")
	}
}

func TestExhaustionNamesPortsHeldOutsideTheRegistry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExhaustedBusy, 3)
	ctx := ctxT(t)
	listen(t, "127.0.0.1", e.web.Lo+2) // slot 2's web port is taken by a plain listener
	for i := 0; i < 2; i++ {
		if _, err := e.r.Assign(ctx, project(t, fmt.Sprintf("p%d", i)), Preferred{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.r.Assign(ctx, project(t, "third"), Preferred{})
	var ex *ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("want *ExhaustedError, got %v", err)
	}
	if ex.Busy[e.web.Lo+2] != selfHolder(t) || !strings.Contains(err.Error(), fmt.Sprintf("%d  %s", e.web.Lo+2, selfHolder(t))) {
		t.Fatalf("busy port not named: %v / %v", ex.Busy, err)
	}
}

// Rule 6: a registry.json that cannot be read (here: a folder, EISDIR) is reported by every
// operation and never moved aside (d65fd46 moved it aside as corrupt).
func TestUnreadableRegistryIsNotMovedAside(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExhaustedBusy+5, 3)
	ctx := ctxT(t)
	if err := os.Mkdir(e.r.Path(), 0o700); err != nil {
		t.Fatal(err)
	}
	dir := project(t, "p")
	cause := "cannot read the port registry " + e.r.Path() + ": it is a directory, not a file; it was left as it is; remove the directory and try again"
	for _, tc := range []struct {
		op   string
		run  func() error
		want string
	}{
		{"assign", func() error { _, err := e.r.Assign(ctx, dir, Preferred{}); return err }, "assign ports for " + dir + ": " + cause},
		{"list", func() error { _, err := e.r.List(ctx); return err }, "read port registry: " + cause},
		{"get", func() error { _, _, err := e.r.Get(ctx, dir); return err }, "read port registry: " + cause},
		{"release", func() error { _, err := e.r.Release(ctx, dir); return err }, "release ports of " + dir + ": " + cause},
		{"clear", func() error { _, err := e.r.Clear(ctx); return err }, "clear port registry: " + cause},
	} {
		err := tc.run()
		var ae *AccessError
		if !errors.As(err, &ae) {
			t.Errorf("%s: want *AccessError, got %v", tc.op, err)
			continue
		}
		rpctest.Check(t, tc.op, rpctest.Want("message", err.Error(), tc.want), rpctest.Want("kind", ae.Kind, fs.ModeDir))
	}
	if fi, err := os.Stat(e.r.Path()); err != nil || !fi.IsDir() {
		t.Fatalf("the folder was moved: %v", err)
	}
	if m, _ := filepath.Glob(e.r.Path() + ".corrupt-*"); len(m) != 0 {
		t.Fatalf("moved aside as corrupt: %v", m)
	}
	if strings.Contains(e.logs.String(), "CORRUPT") {
		t.Fatalf("logged as corrupt: %s", e.logs)
	}
}

func TestDefaultHomeFromEnvironment(t *testing.T) {
	home := filepath.Join(t.TempDir(), "from-env")
	t.Setenv(EnvHome, home)
	t.Setenv(EnvSuperserverRange, "")
	t.Setenv(EnvWebRange, "")
	t.Setenv(EnvExtraRange, "")
	r, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Home() != home || r.LockPath() != filepath.Join(home, LockFileName) {
		t.Fatalf("home %s, lock %s", r.Home(), r.LockPath())
	}
	if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
		t.Fatalf("home not created: %v", err)
	}
}

func TestAssignRevivesAStaleEntry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExhaustedBusy+10, 3)
	ctx := ctxT(t)
	dir := project(t, "p")
	a, _ := e.r.Assign(ctx, dir, Preferred{})
	if _, err := e.r.Update(ctx, dir, func(x *Assignment) { x.Status = StatusStale }); err != nil {
		t.Fatal(err)
	}
	b, err := e.r.Assign(ctx, dir, Preferred{})
	if err != nil {
		t.Fatalf("re-assign of a stale entry: %v", err)
	}
	rpctest.Must(t, "re-assign of a stale entry", rpctest.Want("status", b.Status, StatusIdle),
		rpctest.Want("superserverPort", b.SuperserverPort, a.SuperserverPort), rpctest.Want("assignedAt", b.AssignedAt, a.AssignedAt))
	if f := readFile(t, e.r.Path()); f.Assignments[0].Status != StatusIdle {
		t.Fatalf("revived status not written: %+v", f.Assignments[0])
	}
}

func TestReturnedSlotIsACopy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExhaustedBusy+15, 3)
	ctx := ctxT(t)
	dir := project(t, "p")
	a, err := e.r.Assign(ctx, dir, Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	// The slot the registry chose (usually 0; a port another test holds on the host at that
	// moment moves it on), then a careless caller changes its copies.
	want := *a.Slot
	*a.Slot = want + 2
	b, _ := e.r.Assign(ctx, dir, Preferred{})
	g, _, _ := e.r.Get(ctx, dir)
	*g.Slot = want + 2
	l, _ := e.r.List(ctx)
	if *b.Slot != want || *l[0].Slot != want {
		t.Fatalf("changing a returned slot changed the registry: %d %d, want %d", *b.Slot, *l[0].Slot, want)
	}
}

// TestDefaultsWithoutEnvironment: without IRIS_HELPER_HOME the home is ~/.iris-helper, created
// 0700; the lock timeout defaults to 5 s and the ranges to 1972-1981 / 52773-52782 / extra 12000-12999.
func TestDefaultsWithoutEnvironment(t *testing.T) {
	// Not parallel: uses t.Setenv.
	user := t.TempDir()
	t.Setenv("HOME", user)
	t.Setenv("USERPROFILE", user) // os.UserHomeDir on Windows
	t.Setenv(EnvHome, "")
	t.Setenv(EnvSuperserverRange, "")
	t.Setenv(EnvWebRange, "")
	t.Setenv(EnvExtraRange, "")
	r, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(user, ".iris-helper")
	if r.Home() != want || r.Path() != filepath.Join(want, FileName) {
		t.Fatalf("home %s, registry %s; want %s", r.Home(), r.Path(), want)
	}
	fi, err := os.Stat(want)
	if err != nil || !fi.IsDir() {
		t.Fatalf("home not created: %v", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Errorf("home has mode %v, want 0700", fi.Mode().Perm())
	}
	if r.lockTimeout != 5*time.Second || DefaultLockTimeout != 5*time.Second {
		t.Errorf("default lock timeout %v, want 5s", r.lockTimeout)
	}
	if ss, web := r.Ranges(); ss != (Range{1972, 1981}) || web != (Range{52773, 52782}) {
		t.Errorf("default ranges %v / %v", ss, web)
	}
	if x := r.ExtraRange(); x != (Range{12000, 12999}) {
		t.Errorf("default extra range %v", x)
	}
}
