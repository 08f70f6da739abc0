package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// Port bases (registry band 20000-29999; web ports are base+5000). One per test so tests can run in parallel.
const (
	baseInRange       = 20000
	baseIdempotent    = 20020
	basePreferred     = 20040
	baseConflict      = 20060
	baseExhausted     = 20080
	baseRelease       = 20100
	baseConcurrent    = 20120
	baseListener      = 20200
	baseEngine        = 20220
	baseCorrupt       = 20240
	baseNewer         = 20260
	baseUnknown       = 20280
	baseLock          = 20300
	baseRanges        = 20320
	baseModes         = 20340
	baseChanges       = 20360
	baseUpdate        = 20380
	baseReassign      = 20400
	baseRestore       = 20420
	baseCleanup       = 20440
	basePortFree      = 20460
	baseMove          = 20480
	baseColdStart     = 21000 // 16 processes x 2 projects
	baseReaders       = 21100
	baseKill          = 21200 // 500 slots
	baseBenchSeq      = 22000 // 2,000 slots
	baseBenchMulti    = 24000 // 800 slots
	baseIPv6          = 20500
	baseListPerf      = 0 // List benchmark needs no ports
	baseManualWeb     = 20520
	baseOutOfRanges   = 20540
	baseExhaustedBusy = 20560
)

var _ = baseListPerf

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// listen holds a port on addr (e.g. "127.0.0.1") until the test ends.
func listen(t *testing.T, addr string, port int) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, itoa(port)))
	if err != nil {
		t.Fatalf("listen %s:%d: %v", addr, port, err)
	}
	t.Cleanup(func() { l.Close() })
}

func TestAssignReturnsPortPairInRange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseInRange, 10)
	ctx := ctxT(t)
	dir := project(t, "alpha")
	a, err := e.r.Assign(ctx, dir, Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	if !e.ss.Contains(a.SuperserverPort) || !e.web.Contains(a.WebPort) {
		t.Fatalf("ports %d/%d outside %s/%s", a.SuperserverPort, a.WebPort, e.ss, e.web)
	}
	if a.Slot == nil {
		t.Fatalf("no slot for the ports %d/%d", a.SuperserverPort, a.WebPort)
	}
	rpctest.Must(t, "the slot pairs the ports", rpctest.Want("superserverPort - lo", a.SuperserverPort-e.ss.Lo, *a.Slot),
		rpctest.Want("webPort - lo", a.WebPort-e.web.Lo, *a.Slot))
	rpctest.Must(t, "the assignment", rpctest.Want("type", a.Type, TypeAuto), rpctest.Want("status", a.Status, StatusIdle),
		rpctest.Want("project", a.Project, dir), rpctest.Want("assignedAt set", !a.AssignedAt.IsZero(), true),
		rpctest.Want("assignedAt's location", a.AssignedAt.Location(), time.UTC))
	f := readFile(t, filepath.Join(e.home, FileName))
	rpctest.Must(t, "the file", rpctest.Want("version", f.Version, 1), rpctest.Want("len(assignments)", len(f.Assignments), 1))
	rpctest.Must(t, "the file's assignment", rpctest.Want("superserverPort", f.Assignments[0].SuperserverPort, a.SuperserverPort))
}

// countingPorts is a PortsInUse that reports fixed ports (or an error) and counts calls.
type countingPorts struct {
	ports map[int]string
	err   error
	calls atomic.Int32
}

func (c *countingPorts) HostPortsInUse(context.Context) (map[int]string, error) {
	c.calls.Add(1)
	return c.ports, c.err
}

func TestAssignIsIdempotentAndNeedsNoProbeOrEngine(t *testing.T) {
	t.Parallel()
	engine := &countingPorts{ports: map[int]string{}}
	e := newEnv(t, baseIdempotent, 10, func(o *Options) { o.Ports = engine })
	ctx := ctxT(t)
	dir := project(t, "alpha")
	first, err := e.r.Assign(ctx, dir, Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(e.r.Path())
	// The project's own IRIS now binds its ports; the engine is asked no more.
	listen(t, "127.0.0.1", first.SuperserverPort)
	listen(t, "127.0.0.1", first.WebPort)
	calls := engine.calls.Load()
	time.Sleep(1100 * time.Millisecond) // a later second, so a rewritten assignedAt would show
	for i := 0; i < 3; i++ {
		again, err := e.r.Assign(ctx, dir, Preferred{})
		if err != nil {
			t.Fatal(err)
		}
		rpctest.Must(t, "re-assign (nothing may change)", rpctest.Want("superserverPort", again.SuperserverPort, first.SuperserverPort),
			rpctest.Want("webPort", again.WebPort, first.WebPort), rpctest.Want("slot", again.Slot, first.Slot),
			rpctest.Want("assignedAt", again.AssignedAt, first.AssignedAt))
	}
	if n := engine.calls.Load(); n != calls {
		t.Fatalf("idempotent assign asked the engine %d times", n-calls)
	}
	after, _ := os.ReadFile(e.r.Path())
	if string(before) != string(after) {
		t.Fatalf("idempotent assign rewrote the file")
	}
}

func TestPreferredPortMakesManualAssignment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, basePreferred, 10)
	ctx := ctxT(t)
	outside := basePreferred + 15 // outside the 10-port range
	dir := project(t, "manual")
	a, err := e.r.Assign(ctx, dir, Preferred{Superserver: outside, Web: outside + 5000})
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "manual assignment", rpctest.Want("type", a.Type, TypeManual), rpctest.Want("slot", a.Slot, (*int)(nil)),
		rpctest.Want("superserverPort", a.SuperserverPort, outside), rpctest.Want("webPort", a.WebPort, outside+5000))
	data, _ := os.ReadFile(e.r.Path())
	if !strings.Contains(string(data), `"slot": null`) || !strings.Contains(string(data), `"type": "manual"`) {
		t.Fatalf("file does not show a manual assignment:\n%s", data)
	}
	// Asking again with the same preference is idempotent.
	again, err := e.r.Assign(ctx, dir, Preferred{Superserver: outside})
	if err != nil {
		t.Fatalf("re-assign: %v", err)
	}
	rpctest.Must(t, "re-assign", rpctest.Want("superserverPort", again.SuperserverPort, outside),
		rpctest.Want("assignedAt", again.AssignedAt, a.AssignedAt))
	// Only the superserver preferred: the web port comes from the web range.
	dir2 := project(t, "manual-ss-only")
	b, err := e.r.Assign(ctx, dir2, Preferred{Superserver: outside + 1})
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "only the superserver preferred", rpctest.Want("type", b.Type, TypeManual),
		rpctest.Want("superserverPort", b.SuperserverPort, outside+1),
		rpctest.Want(fmt.Sprintf("webPort %d in %s", b.WebPort, e.web), e.web.Contains(b.WebPort), true))
	// An auto assignment after it skips the web port the manual one took.
	c, err := e.r.Assign(ctx, project(t, "auto"), Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	if c.WebPort == b.WebPort {
		t.Fatalf("auto assignment reused web port %d of a manual one", c.WebPort)
	}
}

func TestPreferredPortConflicts(t *testing.T) {
	t.Parallel()
	busyContainer := baseConflict + 7
	e := newEnv(t, baseConflict, 10, func(o *Options) {
		o.Ports = &countingPorts{ports: map[int]string{busyContainer: "container iris_ab12cd34_1973"}}
	})
	ctx := ctxT(t)
	holder := project(t, "holder")
	a, err := e.r.Assign(ctx, holder, Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	plain := baseConflict + 9
	listen(t, "127.0.0.1", plain)

	tests := []struct {
		name       string
		pref       Preferred
		wantHolder string
		wantText   string
	}{
		{"held by another project", Preferred{Superserver: a.SuperserverPort}, "project " + holder, "is assigned to project " + holder + "; choose another port, or release it"},
		{"web port held by another project", Preferred{Web: a.WebPort}, "project " + holder, "release"},
		{"bound by a plain listener", Preferred{Superserver: plain}, selfHolder(t), inUseText(t, plain)},
		{"published by a container", Preferred{Superserver: busyContainer}, "container iris_ab12cd34_1973", "container iris_ab12cd34_1973"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := project(t, "wants")
			_, err := e.r.Assign(ctx, dir, tc.pref)
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("want *ConflictError, got %v", err)
			}
			if ce.Holder != tc.wantHolder || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("holder %q, message %q", ce.Holder, err)
			}
			if _, ok, _ := e.r.Get(ctx, dir); ok {
				t.Fatalf("a refused assignment was stored")
			}
		})
	}
}

func TestDifferentPreferredPortMovesProject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseMove, 10)
	ctx := ctxT(t)
	dir := project(t, "mover")
	a, err := e.r.Assign(ctx, dir, Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	target := baseMove + 12
	b, err := e.r.Assign(ctx, dir, Preferred{Superserver: target})
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "move", rpctest.Want("superserverPort", b.SuperserverPort, target), rpctest.Want("webPort", b.WebPort, a.WebPort),
		rpctest.Want("type", b.Type, TypeManual), rpctest.Want("slot", b.Slot, (*int)(nil)))
	if _, ok, _ := e.r.Find(ctx, a.SuperserverPort); ok {
		t.Fatalf("old port %d still held after the move", a.SuperserverPort)
	}
	// Moving onto a port someone else holds is refused and keeps the old assignment.
	other, err := e.r.Assign(ctx, project(t, "other"), Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.r.Assign(ctx, dir, Preferred{Superserver: other.SuperserverPort})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.HolderProject != other.Project {
		t.Fatalf("want conflict naming %s, got %v", other.Project, err)
	}
	got, ok, err := e.r.Get(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "after the refused move", rpctest.Want("found", ok, true), rpctest.Want("superserverPort", got.SuperserverPort, target))
}

func TestExhaustionListsAssignmentsAndReclaimsStale(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExhausted, 3)
	ctx := ctxT(t)
	var dirs []string
	for i := 0; i < 3; i++ {
		d := project(t, fmt.Sprintf("p%d", i))
		if _, err := e.r.Assign(ctx, d, Preferred{}); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	_, err := e.r.Assign(ctx, project(t, "fourth"), Preferred{})
	var ex *ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("want *ExhaustedError, got %v", err)
	}
	msg := err.Error()
	for _, d := range dirs {
		if !strings.Contains(msg, d) {
			t.Errorf("message does not list %s:\n%s", d, msg)
		}
	}
	for _, want := range []string{"for more slots, widen the ranges", EnvSuperserverRange, EnvWebRange, "config.json"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if len(ex.Assignments) != 3 {
		t.Errorf("ExhaustedError has %d assignments", len(ex.Assignments))
	}
	// The folder of p1 disappears: its slot is reclaimed for the next project.
	gone, _, _ := e.r.Get(ctx, dirs[1])
	if err := os.RemoveAll(dirs[1]); err != nil {
		t.Fatal(err)
	}
	list, _ := e.r.List(ctx)
	for _, a := range list {
		if a.Project == dirs[1] && a.Status != StatusStale {
			t.Errorf("List shows a project with a missing folder as %q", a.Status)
		}
	}
	next, err := e.r.Assign(ctx, project(t, "fifth"), Preferred{})
	if err != nil {
		t.Fatalf("stale slot not reclaimed: %v", err)
	}
	if next.SuperserverPort != gone.SuperserverPort {
		t.Fatalf("got %d, want the reclaimed %d", next.SuperserverPort, gone.SuperserverPort)
	}
	if !strings.Contains(e.logs.String(), "reclaimed") {
		t.Errorf("reclaiming was not logged: %s", e.logs)
	}
}

func TestReleaseListClear(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseRelease, 10)
	ctx := ctxT(t)
	a1, _ := e.r.Assign(ctx, project(t, "one"), Preferred{})
	a2, _ := e.r.Assign(ctx, project(t, "two"), Preferred{})
	list, err := e.r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "List", rpctest.Want("len", len(list), 2))
	rpctest.Must(t, "List", rpctest.Want("[0].project", list[0].Project, a1.Project), rpctest.Want("[1].project", list[1].Project, a2.Project))
	rel, err := e.r.Release(ctx, a1.Project)
	if err != nil || rel.SuperserverPort != a1.SuperserverPort {
		t.Fatalf("Release = %+v, %v", rel, err)
	}
	if _, err := e.r.Release(ctx, a1.Project); !errors.As(err, new(*NotFoundError)) {
		t.Fatalf("second release: want *NotFoundError, got %v", err)
	}
	// The released slot is the next one handed out.
	a3, _ := e.r.Assign(ctx, project(t, "three"), Preferred{})
	if a3.SuperserverPort != a1.SuperserverPort {
		t.Fatalf("released slot not reused: got %d want %d", a3.SuperserverPort, a1.SuperserverPort)
	}
	before, _ := e.r.List(ctx)
	removed, err := e.r.Clear(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "Clear", rpctest.Want("len(removed)", len(removed), len(before)), rpctest.Want("removed any", len(removed) > 0, true))
	rpctest.Must(t, "Clear", rpctest.Want("removed[0].project", removed[0].Project, before[0].Project))
	list, err = e.r.List(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("after Clear: %+v, %v", list, err)
	}
	f := readFile(t, e.r.Path())
	rpctest.Must(t, "the cleared file", rpctest.Want("version", f.Version, 1), rpctest.Want("assignments is [] (not null)", f.Assignments != nil, true),
		rpctest.Want("len(assignments)", len(f.Assignments), 0))
}

func TestConcurrentProjectsGetDifferentPorts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseConcurrent, 20)
	ctx := ctxT(t)
	// Two handles (as two helpers in one process would have) and many goroutines.
	r2, err := Open(Options{Home: e.home, Superserver: &e.ss, Web: &e.web})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]Assignment, 16)
	errs := make([]error, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.r
			if i%2 == 1 {
				r = r2
			}
			results[i], errs[i] = r.Assign(ctx, project(t, fmt.Sprintf("c%d", i)), Preferred{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkUnique(t, results)
	list, _ := e.r.List(ctx)
	if len(list) != 16 {
		t.Fatalf("registry holds %d assignments, want 16", len(list))
	}
}

func TestPortHeldByPlainListenerIsSkipped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		addr string
		web  bool
	}{
		{"superserver on 127.0.0.1", "127.0.0.1", false},
		{"web on 127.0.0.1", "127.0.0.1", true},
		{"superserver on 0.0.0.0", "0.0.0.0", false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, baseListener+i*5, 5)
			port := e.ss.Lo
			if tc.web {
				port = e.web.Lo
			}
			listen(t, tc.addr, port)
			a, err := e.r.Assign(ctxT(t), project(t, "p"), Preferred{})
			if err != nil {
				t.Fatal(err)
			}
			if *a.Slot != 1 {
				t.Fatalf("got slot %d (%d/%d), want slot 1: slot 0 has a listener", *a.Slot, a.SuperserverPort, a.WebPort)
			}
		})
	}
}

func TestPortHeldOnIPv6LoopbackIsSkipped(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp6", net.JoinHostPort("::1", itoa(baseIPv6)))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("this host has no IPv6 loopback: %v", err)
		}
		t.Skipf("this host has no IPv6 loopback: %v", err)
	}
	defer l.Close()
	e := newEnv(t, baseIPv6, 5)
	a, err := e.r.Assign(ctxT(t), project(t, "p"), Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	if a.SuperserverPort == baseIPv6 {
		t.Fatalf("port %d held on [::1] was assigned", baseIPv6)
	}
}

func TestPortsInUseFromEngine(t *testing.T) {
	t.Parallel()
	t.Run("reported port is skipped", func(t *testing.T) {
		ss, web := band(baseEngine, 5)
		engine := &countingPorts{ports: map[int]string{web.Lo: "container iris_0000_1"}}
		e := newEnv(t, baseEngine, 5, func(o *Options) { o.Ports = engine })
		a, err := e.r.Assign(ctxT(t), project(t, "p"), Preferred{})
		if err != nil {
			t.Fatal(err)
		}
		if a.SuperserverPort == ss.Lo {
			t.Fatalf("slot 0 assigned though the engine publishes its web port %d", web.Lo)
		}
		if engine.calls.Load() != 1 {
			t.Fatalf("engine asked %d times for one assign, want 1", engine.calls.Load())
		}
	})
	t.Run("engine error means probe only", func(t *testing.T) {
		e := newEnv(t, baseEngine+5, 5, func(o *Options) { o.Ports = &countingPorts{err: errors.New("engine down")} })
		a, err := e.r.Assign(ctxT(t), project(t, "p"), Preferred{})
		if err != nil || *a.Slot != 0 {
			t.Fatalf("Assign = %+v, %v", a, err)
		}
	})
	t.Run("nil interface means probe only", func(t *testing.T) {
		e := newEnv(t, baseEngine+10, 5)
		a, err := e.r.Assign(ctxT(t), project(t, "p"), Preferred{})
		if err != nil || *a.Slot != 0 {
			t.Fatalf("Assign = %+v, %v", a, err)
		}
	})
}

func TestCorruptRegistryIsKeptAsideAndStartsEmpty(t *testing.T) {
	t.Parallel()
	for i, garbage := range []string{`{"version":1,"assignments":[{"project":`, "", "\x00\x01binary", `{"assignments":[]}`, `[1,2]`} {
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			e := newEnv(t, baseCorrupt+i*3, 3)
			ctx := ctxT(t)
			if err := os.WriteFile(e.r.Path(), []byte(garbage), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := e.r.List(ctx)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("want *CorruptError, got %v", err)
			}
			rpctest.Must(t, "*CorruptError", rpctest.Want("backup is set", ce.Backup != "", true),
				rpctest.Want(fmt.Sprintf("backup %q named registry.json.corrupt-*", ce.Backup), strings.HasPrefix(filepath.Base(ce.Backup), "registry.json.corrupt-"), true))
			if !strings.Contains(err.Error(), "run the command again") {
				t.Fatalf("message %v", err)
			}
			kept, err := os.ReadFile(ce.Backup)
			if err != nil || string(kept) != garbage {
				t.Fatalf("corrupt content not kept: %q, %v", kept, err)
			}
			if !strings.Contains(e.logs.String(), "CORRUPT") {
				t.Fatalf("no loud log: %s", e.logs)
			}
			// The registry starts empty; the next assignment works and writes a valid file.
			a, err := e.r.Assign(ctx, project(t, "p"), Preferred{})
			if err != nil || *a.Slot != 0 {
				t.Fatalf("assign after corruption: %+v, %v", a, err)
			}
			if f := readFile(t, e.r.Path()); len(f.Assignments) != 1 {
				t.Fatalf("file after recovery: %+v", f)
			}
		})
	}
	t.Run("assign on corrupt file refuses once, then works", func(t *testing.T) {
		e := newEnv(t, baseCorrupt+15, 3)
		ctx := ctxT(t)
		os.WriteFile(e.r.Path(), []byte("not json"), 0o600)
		dir := project(t, "p")
		if _, err := e.r.Assign(ctx, dir, Preferred{}); !errors.As(err, new(*CorruptError)) {
			t.Fatalf("want *CorruptError, got %v", err)
		}
		if _, err := e.r.Assign(ctx, dir, Preferred{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNewerVersionIsReadButNeverWritten(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseNewer, 5)
	ctx := ctxT(t)
	dir := project(t, "known")
	newer := fmt.Sprintf(`{"version":2,"assignments":[{"project":%q,"slot":0,"superserverPort":%d,"webPort":%d,"type":"auto","status":"idle","container":"","engine":"","assignedAt":"2026-01-01T00:00:00Z","lastUsedAt":"2026-01-01T00:00:00Z","future":true}],"futureTop":{"x":1}}`,
		dir, e.ss.Lo, e.web.Lo)
	os.WriteFile(e.r.Path(), []byte(newer), 0o600)
	list, err := e.r.List(ctx)
	if err != nil {
		t.Fatalf("List of a newer file: %v", err)
	}
	rpctest.Must(t, "List of a newer file", rpctest.Want("len", len(list), 1))
	rpctest.Must(t, "List of a newer file", rpctest.Want("[0].project", list[0].Project, dir))
	for name, op := range map[string]func() error{
		"assign":  func() error { _, err := e.r.Assign(ctx, project(t, "new"), Preferred{}); return err },
		"release": func() error { _, err := e.r.Release(ctx, dir); return err },
		"clear":   func() error { _, err := e.r.Clear(ctx); return err },
		"touch":   func() error { return e.r.Touch(ctx, dir) },
	} {
		err := op()
		var nv *NewerVersionError
		if !errors.As(err, &nv) {
			t.Errorf("%s: want *NewerVersionError, got %v", name, err)
			continue
		}
		rpctest.Check(t, name+": *NewerVersionError", rpctest.Want("found", nv.Found, 2), rpctest.Want("supported", nv.Supported, 1))
		if !strings.HasSuffix(err.Error(), "upgrade iris-helper") {
			t.Errorf("%s: want the remedy at the end, got %v", name, err)
		}
	}
	if got, _ := os.ReadFile(e.r.Path()); string(got) != newer {
		t.Fatalf("newer file was changed:\n%s", got)
	}
	if m, _ := filepath.Glob(e.r.Path() + ".corrupt-*"); len(m) != 0 {
		t.Fatalf("newer file treated as corrupt: %v", m)
	}
}

func TestUnknownFieldsAreKeptOnRewrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseUnknown, 5)
	ctx := ctxT(t)
	dir := project(t, "known")
	orig := fmt.Sprintf(`{"version":1,"comment":"hand edited","extra":{"nested":[1,2]},"assignments":[{"project":%q,"slot":0,"superserverPort":%d,"webPort":%d,"type":"auto","status":"idle","container":"","engine":"","assignedAt":"2026-01-01T00:00:00Z","lastUsedAt":"2026-01-01T00:00:00Z","note":"mine","labels":{"a":"b"}}]}`,
		dir, e.ss.Lo, e.web.Lo)
	os.WriteFile(e.r.Path(), []byte(orig), 0o600)
	if _, err := e.r.Assign(ctx, project(t, "other"), Preferred{}); err != nil {
		t.Fatal(err)
	}
	if err := e.r.Touch(ctx, dir); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(e.r.Path())
	for _, want := range []string{`"comment": "hand edited"`, `"nested": [`, `"note": "mine"`, `"labels": {`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("rewrite lost %s:\n%s", want, data)
		}
	}
	if f := readFile(t, e.r.Path()); len(f.Assignments) != 2 {
		t.Fatalf("file: %+v", f)
	}
}

func TestLockTimeoutNamesTheLockFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseLock, 5, func(o *Options) { o.LockTimeout = 300 * time.Millisecond })
	holder := startChild(t, "hold-lock", e.home, e.ss, e.web)
	t.Cleanup(func() { holder.cmd.Process.Kill(); holder.cmd.Wait() })
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(holder.stdout.String(), "locked") {
		if time.Now().After(deadline) {
			t.Fatalf("child never took the lock: %s", holder.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := e.r.Assign(ctxT(t), project(t, "p"), Preferred{})
	var lt *LockTimeoutError
	if !errors.As(err, &lt) {
		t.Fatalf("want *LockTimeoutError, got %v", err)
	}
	rpctest.Must(t, "*LockTimeoutError", rpctest.Want("path", lt.Path, filepath.Join(e.home, LockFileName)))
	if !strings.Contains(err.Error(), lt.Path) || !strings.Contains(err.Error(), "try again") {
		t.Fatalf("error does not name the lock: %v", err)
	}
	// A cancelled context is not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.r.Assign(ctx, project(t, "q"), Preferred{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v", err)
	}
	// A second wait of the same handle (its first blocking wait is still pending) polls and times out too.
	begin := time.Now()
	if _, err := e.r.Assign(ctxT(t), project(t, "r"), Preferred{}); !errors.As(err, new(*LockTimeoutError)) {
		t.Fatalf("second wait: want *LockTimeoutError, got %v", err)
	} else if time.Since(begin) < 300*time.Millisecond {
		t.Fatalf("second wait gave up after %v, before its timeout", time.Since(begin))
	}
	// When the holder dies, the lock is free again.
	holder.cmd.Process.Kill()
	holder.cmd.Wait()
	if _, err := e.r.Assign(ctxT(t), project(t, "p"), Preferred{}); err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
}
