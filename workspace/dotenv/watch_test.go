package dotenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/workspacetest"
)

// Watcher tests use real files, real fsnotify and the real port registry (in a temp home,
// ports from the workspace band 31000-31999). Deadlines are generous; latency is measured
// by BenchmarkEnvWatcherSaveToReconciled. Fixed ports stay in 31000-31199 / 31500-31699 (project_test.go
// uses 31200-31499 / 31700-31999).
const (
	watchDeadline = 15 * time.Second
	quietPeriod   = 800 * time.Millisecond // several debounce periods
)

type watchHarness struct {
	t       *testing.T
	ctx     context.Context
	dir     string
	path    string
	reg     *registry.Registry
	project string
	w       *Watcher
	events  chan Event
	assign  registry.Assignment
}

// requestPortVia is the RequestPort callback an owner builds from the registry: the
// preferred ports make a manual assignment, refused with *registry.ConflictError.
func requestPortVia(reg *registry.Registry, project string) func(ctx context.Context, ss, web int) (Ports, error) {
	return func(ctx context.Context, ss, web int) (Ports, error) {
		a, err := reg.Assign(ctx, project, registry.Preferred{Superserver: ss, Web: web})
		if err != nil {
			return Ports{}, err
		}
		return Ports{Host: "localhost", Superserver: a.SuperserverPort, Web: a.WebPort}, nil
	}
}

// newWatchHarness writes content (unless it is "<none>") to dir/.env, assigns the project
// ports and starts a watcher.
func newWatchHarness(t *testing.T, content string, mode SyncMode) *watchHarness {
	t.Helper()
	return newWatchHarnessDebounce(t, content, mode, 0)
}

func newWatchHarnessDebounce(t *testing.T, content string, mode SyncMode, debounce time.Duration) *watchHarness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &watchHarness{t: t, ctx: ctx, dir: workspacetest.TempDir(t), events: make(chan Event, 1000)}
	h.path = filepath.Join(h.dir, ".env")
	h.project = h.dir
	if content != "<none>" {
		if err := os.WriteFile(h.path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.reg = workspacetest.Registry(t)
	var err error
	if h.assign, err = h.reg.Assign(ctx, h.project, registry.Preferred{}); err != nil {
		t.Fatal(err)
	}
	h.w, err = NewWatcher(ctx, WatcherOptions{
		Path: h.path, Mode: mode, Ports: h.ports(),
		RequestPort: requestPortVia(h.reg, h.project),
		OnEvent:     func(e Event) { h.events <- e },
		Debounce:    debounce,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.w.Close() })
	return h
}

func (h *watchHarness) ports() Ports {
	return Ports{Host: "localhost", Superserver: h.assign.SuperserverPort, Web: h.assign.WebPort}
}

func (h *watchHarness) read() string {
	b, err := os.ReadFile(h.path)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// waitContent waits until the file says want.
func (h *watchHarness) waitContent(want string) {
	h.t.Helper()
	deadline := time.Now().Add(watchDeadline)
	for time.Now().Before(deadline) {
		if h.read() == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("file never became\n%q\nit is\n%q", want, h.read())
}

// waitEvent returns the next event of the given kind, failing on timeout.
func (h *watchHarness) waitEvent(kind EventKind) Event {
	h.t.Helper()
	timeout := time.After(watchDeadline)
	for {
		select {
		case e := <-h.events:
			if e.Kind == kind {
				return e
			}
			h.t.Logf("event %s: %s", e.Kind, e.Message)
		case <-timeout:
			h.t.Fatalf("no %s event within %s; file is %q", kind, watchDeadline, h.read())
		}
	}
}

// expectNoEvent asserts that no event arrives for a while.
func (h *watchHarness) expectNoEvent() {
	h.t.Helper()
	select {
	case e := <-h.events:
		h.t.Fatalf("unexpected event %s: %s", e.Kind, e.Message)
	case <-time.After(quietPeriod):
	}
}

// expectQuiet asserts that no event arrives and the file is not replaced for a while.
func (h *watchHarness) expectQuiet() {
	h.t.Helper()
	before, err := os.Stat(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	select {
	case e := <-h.events:
		h.t.Fatalf("unexpected event %s: %s", e.Kind, e.Message)
	case <-time.After(quietPeriod):
	}
	after, err := os.Stat(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		h.t.Fatal("the file was written during the quiet period")
	}
}

// std is a .env with comments, an export line and the managed keys at the given ports.
func std(ss, web int, extra string) string {
	return fmt.Sprintf("# app settings\r\nAPP=demo # inline\r\nexport IRIS_PORT=%d\r\nIRIS_WEB_PORT=\"%d\"\r\nIRIS_HOST=localhost\r\n%s", ss, web, extra)
}

func TestEnvWatcherInitialSyncThenQuietWithExactlyOneWrite(t *testing.T) {
	h := newWatchHarness(t, std(1, 2, ""), SyncAuto)
	want := std(h.assign.SuperserverPort, h.assign.WebPort, "")
	e := h.waitEvent(EventSynced)
	if len(e.Changes) != 2 {
		t.Errorf("changes %v, want the two ports", e.Changes)
	}
	if h.read() != want {
		t.Fatalf("after the first sync: %q", h.read())
	}
	h.expectQuiet() // its own write (an fsnotify event) caused no second write

	// The owner moves the project: one write, then quiet again.
	moved, err := h.reg.Assign(h.ctx, h.project, registry.Preferred{Superserver: 31111, Web: 31611})
	if err != nil {
		t.Fatal(err)
	}
	h.w.SetPorts(h.ctx, Ports{Host: "localhost", Superserver: moved.SuperserverPort, Web: moved.WebPort})
	h.waitEvent(EventSynced)
	if got := h.read(); got != std(31111, 31611, "") {
		t.Fatalf("after SetPorts: %q", got)
	}
	h.expectQuiet()
}

func TestEnvWatcherAtomicSaveByRename(t *testing.T) {
	h := newWatchHarness(t, "<none>", SyncTrue)
	h.waitEvent(EventSynced) // created
	p := h.ports()
	// An editor writes the new content to a temp file and renames it over .env: the user
	// added a line and dropped the web port key.
	tmp := filepath.Join(h.dir, ".env.tmp.1234")
	edited := fmt.Sprintf("# mine\nUSER_KEY=1\nIRIS_HOST=localhost\nIRIS_PORT=%d\n", p.Superserver)
	if err := os.WriteFile(tmp, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, h.path); err != nil {
		t.Fatal(err)
	}
	h.waitContent(edited + ManagedComment + "\n" + fmt.Sprintf("IRIS_WEB_PORT=%d\n", p.Web))
	h.waitEvent(EventSynced)
	h.expectQuiet()
}

func TestEnvWatcherVimStyleSave(t *testing.T) {
	h := newWatchHarness(t, "<none>", SyncAuto)
	h.expectNoEvent() // no file at start and auto creates none: nothing to report
	p := h.ports()
	content := std(p.Superserver, p.Web, "")
	if err := os.WriteFile(h.path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// vim: write the swap file, rename the original away, write the new file, drop the backup.
	swap := filepath.Join(h.dir, ".env.swp")
	if err := os.WriteFile(swap, []byte("swap"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(h.path, h.path+"~"); err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(content, "APP=demo", "APP=changed", 1)
	edited = strings.Replace(edited, fmt.Sprintf("export IRIS_PORT=%d\r\n", p.Superserver), "", 1)
	if err := os.WriteFile(h.path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(h.path + "~")
	os.Remove(swap)
	h.waitContent(edited + ManagedComment + "\r\n" + fmt.Sprintf("IRIS_PORT=%d\r\n", p.Superserver))
	h.waitEvent(EventSynced)
	h.expectQuiet()
}

func TestEnvWatcherTruncateAndWrite(t *testing.T) {
	// A slow writer could be caught mid-write by the debounce on a busy machine: give it room.
	h := newWatchHarnessDebounce(t, "<none>", SyncTrue, 400*time.Millisecond)
	h.waitEvent(EventSynced)
	p := h.ports()
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Written in two pieces with a pause, as a slow editor or a script would.
	if _, err := f.WriteString("A=1\nIRIS_PO"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := fmt.Fprintf(f, "RT=%d\nIRIS_WEB_PORT=%d\nIRIS_HOST=127.0.0.1\n", p.Superserver, p.Web); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := fmt.Sprintf("A=1\nIRIS_PORT=%d\nIRIS_WEB_PORT=%d\nIRIS_HOST=127.0.0.1\n", p.Superserver, p.Web)
	h.waitContent(want)
	h.expectQuiet()
}

func TestEnvWatcherDeleteAndRecreate(t *testing.T) {
	t.Run("auto leaves it deleted", func(t *testing.T) {
		h := newWatchHarness(t, "IRIS_PORT=1\n", SyncAuto)
		h.waitEvent(EventSynced)
		if err := os.Remove(h.path); err != nil {
			t.Fatal(err)
		}
		h.waitEvent(EventDeleted)
		time.Sleep(quietPeriod)
		if _, err := os.Stat(h.path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the deleted file was recreated under sync auto: %v", err)
		}
		// The user recreates it (e.g. git checkout) with stale ports: synced again.
		if err := os.WriteFile(h.path, []byte("APP=1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := h.ports()
		h.waitContent(fmt.Sprintf("APP=1\n%s\nIRIS_HOST=localhost\nIRIS_PORT=%d\nIRIS_WEB_PORT=%d\n", ManagedComment, p.Superserver, p.Web))
	})
	t.Run("true recreates it", func(t *testing.T) {
		h := newWatchHarness(t, "IRIS_PORT=1\n", SyncTrue)
		h.waitEvent(EventSynced)
		if err := os.Remove(h.path); err != nil {
			t.Fatal(err)
		}
		e := h.waitEvent(EventSynced)
		if !e.Created {
			t.Errorf("event %+v does not say created", e)
		}
		p := h.ports()
		h.waitContent(fmt.Sprintf("%s\nIRIS_HOST=localhost\nIRIS_PORT=%d\nIRIS_WEB_PORT=%d\n", ManagedComment, p.Superserver, p.Web))
		if fi, err := os.Stat(h.path); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("recreated file: %v %v", fi, err)
		}
	})
}

func TestEnvWatcherUserEditToFreePortIsHonoured(t *testing.T) {
	h := newWatchHarness(t, "<none>", SyncTrue)
	h.waitEvent(EventSynced)
	p := h.ports()
	edited := strings.Replace(h.read(), fmt.Sprintf("IRIS_PORT=%d", p.Superserver), "IRIS_PORT=31122", 1)
	if err := os.WriteFile(h.path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	e := h.waitEvent(EventPortsChanged)
	rpctest.Check(t, "event", rpctest.Want("restartNeeded", e.RestartNeeded, true), rpctest.Want("ports.superserver", e.Ports.Superserver, 31122),
		rpctest.Want("ports.web", e.Ports.Web, p.Web), rpctest.Want("key", e.Key, "IRIS_PORT"))
	a, ok, err := h.reg.Get(h.ctx, h.project)
	if err != nil {
		t.Fatalf("registry after the edit: %v", err)
	}
	rpctest.Must(t, "registry after the edit", rpctest.Want("found", ok, true), rpctest.Want("superserverPort", a.SuperserverPort, 31122),
		rpctest.Want("webPort", a.WebPort, p.Web), rpctest.Want("type", a.Type, registry.TypeManual))
	if got := h.w.Ports(); got.Superserver != 31122 {
		t.Errorf("watcher ports %+v", got)
	}
	h.expectQuiet()
	if h.read() != edited {
		t.Errorf("the honoured edit was changed: %q", h.read())
	}

	// The web port alone, written with an inline comment that holds a '#' itself: the
	// value is 31623 (the comment starts at the first " #"), a request for that port.
	edited2 := strings.Replace(edited, fmt.Sprintf("IRIS_WEB_PORT=%d", p.Web), "IRIS_WEB_PORT=31623 # mine, see #12", 1)
	if err := os.WriteFile(h.path, []byte(edited2), 0o644); err != nil {
		t.Fatal(err)
	}
	e = h.waitEvent(EventPortsChanged)
	rpctest.Check(t, "event for the web port", rpctest.Want("restartNeeded", e.RestartNeeded, true), rpctest.Want("ports.superserver", e.Ports.Superserver, 31122),
		rpctest.Want("ports.web", e.Ports.Web, 31623), rpctest.Want("key", e.Key, "IRIS_WEB_PORT"))
	a, ok, err = h.reg.Get(h.ctx, h.project)
	if err != nil {
		t.Fatalf("registry after the web edit: %v", err)
	}
	rpctest.Must(t, "registry after the web edit", rpctest.Want("found", ok, true), rpctest.Want("superserverPort", a.SuperserverPort, 31122),
		rpctest.Want("webPort", a.WebPort, 31623), rpctest.Want("type", a.Type, registry.TypeManual))
	h.expectQuiet()
	if h.read() != edited2 {
		t.Errorf("the honoured web edit was changed: %q", h.read())
	}
}

func TestEnvWatcherUserEditToHeldPortIsRestored(t *testing.T) {
	h := newWatchHarness(t, "<none>", SyncTrue)
	h.waitEvent(EventSynced)
	synced := h.read()
	p := h.ports()

	other := workspacetest.TempDir(t)
	if _, err := h.reg.Assign(h.ctx, other, registry.Preferred{Superserver: 31133, Web: 31633}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:31644")
	if err != nil {
		t.Fatalf("listen on the test port: %v", err)
	}
	defer ln.Close()

	tests := []struct {
		name, key, value, holder string
	}{
		{"port another project holds", "IRIS_PORT", "31133", other},
		// this test process listens on it, and the OS tells its pid to its own user
		{"port a process listens on", "IRIS_WEB_PORT", "31644", listenerHolder()},
	}
	for _, tt := range tests {
		func() {
			cur := p.Superserver
			if tt.key == "IRIS_WEB_PORT" {
				cur = p.Web
			}
			edited := strings.Replace(synced, fmt.Sprintf("%s=%d", tt.key, cur), tt.key+"="+tt.value, 1)
			if err := os.WriteFile(h.path, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			e := h.waitEvent(EventRestored)
			rpctest.Check(t, tt.name+": event", rpctest.Want("key", e.Key, tt.key), rpctest.Want("value", e.Value, tt.value))
			if !strings.Contains(e.Reason, tt.holder) || !strings.Contains(e.Message, tt.holder) {
				t.Errorf("%s: event %+v, want it to name %s", tt.name, e, tt.holder)
			}
			h.waitEvent(EventSynced) // the one write that restores the value
			h.waitContent(synced)
			a, _, err := h.reg.Get(h.ctx, h.project)
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			rpctest.Check(t, tt.name+": the assignment (unchanged)", rpctest.Want("superserverPort", a.SuperserverPort, p.Superserver),
				rpctest.Want("webPort", a.WebPort, p.Web))
			h.expectQuiet()
		}()
	}
}

func TestEnvWatcherNotAPortIsRestored(t *testing.T) {
	h := newWatchHarness(t, "<none>", SyncTrue)
	h.waitEvent(EventSynced)
	synced := h.read()
	p := h.ports()
	for _, tt := range []struct{ value, reason string }{
		{"${SUPERSERVER}", "variable reference"},
		{"abc", "not a port number"},
		{"70000", "out of range"},
	} {
		edited := strings.Replace(synced, fmt.Sprintf("IRIS_PORT=%d", p.Superserver), "IRIS_PORT="+tt.value, 1)
		if err := os.WriteFile(h.path, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		e := h.waitEvent(EventRestored)
		if e.Key != "IRIS_PORT" || !strings.Contains(e.Reason, tt.reason) {
			t.Errorf("%s: event %+v, want reason %q", tt.value, e, tt.reason)
		}
		h.waitContent(synced)
		h.waitEvent(EventSynced)
	}
	h.expectQuiet()
}

func TestEnvWatcherLeavesHostAndOtherKeysAlone(t *testing.T) {
	h := newWatchHarness(t, "<none>", SyncTrue)
	h.waitEvent(EventSynced)
	edited := strings.Replace(h.read(), "IRIS_HOST=localhost", "IRIS_HOST=iris.example.test", 1) + "NEW_KEY='x' # mine\n"
	if err := os.WriteFile(h.path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	h.expectQuiet()
	if h.read() != edited {
		t.Errorf("user's edit changed to %q", h.read())
	}
}

func TestEnvWatcherSyncFalseDoesNothing(t *testing.T) {
	h := newWatchHarness(t, "IRIS_PORT=1\n", SyncFalse)
	if err := os.WriteFile(h.path, []byte("IRIS_PORT=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(quietPeriod)
	if h.read() != "IRIS_PORT=2\n" {
		t.Errorf("sync false touched the file: %q", h.read())
	}
	select {
	case e := <-h.events:
		t.Errorf("event under sync false: %+v", e)
	default:
	}
}

func TestEnvWatcherCloseStops(t *testing.T) {
	h := newWatchHarness(t, "IRIS_PORT=1\n", SyncAuto)
	h.waitEvent(EventSynced)
	if err := h.w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.path, []byte("IRIS_PORT=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(quietPeriod)
	if h.read() != "IRIS_PORT=2\n" {
		t.Errorf("a closed watcher wrote the file: %q", h.read())
	}
}

// BenchmarkEnvWatcherSaveToReconciled measures the time from a user's save (an atomic
// rename that drops the web port key) to the watcher's reconciled file on disk, debounce
// (100 ms) included.
func BenchmarkEnvWatcherSaveToReconciled(b *testing.B) {
	dir := workspacetest.TempDir(b)
	path := filepath.Join(dir, ".env")
	p := Ports{Host: "localhost", Superserver: 31161, Web: 31162}
	full := fmt.Sprintf("APP=1\nIRIS_HOST=localhost\nIRIS_PORT=%d\nIRIS_WEB_PORT=%d\n", p.Superserver, p.Web)
	if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := NewWatcher(ctx, WatcherOptions{Path: path, Mode: SyncAuto, Ports: p})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	edited := fmt.Sprintf("APP=1\nIRIS_HOST=localhost\nIRIS_PORT=%d\n", p.Superserver)
	want := edited + ManagedComment + "\n" + fmt.Sprintf("IRIS_WEB_PORT=%d\n", p.Web)
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		tmp := filepath.Join(dir, fmt.Sprintf(".env.save%d", i))
		if err := os.WriteFile(tmp, []byte(edited), 0o644); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		for {
			if got, _ := os.ReadFile(path); string(got) == want {
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatal("not reconciled within 10s")
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/save")
}

func TestEnvWatcherSymlinkedEnvFollowsItsTarget(t *testing.T) {
	base := workspacetest.TempDir(t)
	proj := filepath.Join(base, "proj")
	shared := filepath.Join(base, "shared")
	writeTree(t, base, map[string]string{"proj/": "", "shared/real.env": "IRIS_PORT=1\n"})
	link := filepath.Join(proj, ".env")
	if err := os.Symlink(filepath.Join("..", "shared", "real.env"), link); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := Ports{Host: "localhost", Superserver: 31151, Web: 31152}
	events := make(chan Event, 100)
	// The target lies outside the project folder proj: the user allows it (the knob).
	w, err := NewWatcher(ctx, WatcherOptions{Path: link, Mode: SyncAuto, Ports: p,
		Scope:   Scope{Root: proj, AllowOutside: true},
		OnEvent: func(e Event) { events <- e }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	target := filepath.Join(shared, "real.env")
	want := fmt.Sprintf("IRIS_PORT=31151\n%s\nIRIS_HOST=localhost\nIRIS_WEB_PORT=31152\n", ManagedComment)
	waitFile := func(what string) {
		t.Helper()
		deadline := time.Now().Add(watchDeadline)
		for time.Now().Before(deadline) {
			if b, _ := os.ReadFile(target); string(b) == want {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		b, _ := os.ReadFile(target)
		t.Fatalf("%s: target is %q, want %q", what, b, want)
	}
	waitFile("first sync")
	// The user edits the target directly, outside the project folder: still seen.
	if err := os.WriteFile(target, []byte("IRIS_PORT=31151\nIRIS_WEB_PORT=${WEB}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want = fmt.Sprintf("IRIS_PORT=31151\nIRIS_WEB_PORT=31152\n%s\nIRIS_HOST=localhost\n", ManagedComment)
	waitFile("edit of the target")
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the .env is no longer a symlink: %v", err)
	}
}

// listenerHolder is how a conflict names a port this test process listens on: by its pid where
// the OS tells (registry.PortHolder, Linux), else "another process".
func listenerHolder() string {
	if runtime.GOOS == "linux" {
		return fmt.Sprintf("in use by process %d (", os.Getpid())
	}
	return "another process"
}
