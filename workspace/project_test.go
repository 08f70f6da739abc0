package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/dotenv"
)

// Project tests run against the real engine with the stand-in image. Port band: each test takes
// its own ten slots from 31200–31499 (superserver) and 31700–31999 (web) of the workspace band.

const testDeadline = 4 * time.Minute

// fixture is one test's engine, stand-in image and registry (own home, own port slots).
type fixture struct {
	t    testing.TB
	eng  *dockerops.Engine
	img  string
	home string
	reg  *registry.Registry
	lo   int
}

func newFixture(t testing.TB, lo int) *fixture {
	t.Helper()
	f := &fixture{t: t, eng: dockertest.Engine(t), img: dockertest.StubImage(t), home: t.TempDir(), lo: lo}
	t.Setenv(registry.EnvHome, f.home)
	f.reg = f.openRegistry()
	return f
}

func (f *fixture) openRegistry() *registry.Registry {
	f.t.Helper()
	reg, err := registry.Open(registry.Options{Home: f.home,
		Superserver: &registry.Range{Lo: f.lo, Hi: f.lo + 9}, Web: &registry.Range{Lo: f.lo + 500, Hi: f.lo + 509},
		Ports: f.eng, ChangesInterval: 100 * time.Millisecond})
	if err != nil {
		f.t.Fatal(err)
	}
	return reg
}

// projectDir makes an IRIS project folder (module.xml) whose containers and volume are removed
// when the test ends, and returns its canonical path (the project key).
func (f *fixture) projectDir(files map[string]string) string {
	f.t.Helper()
	dir, err := filepath.EvalSymlinks(f.t.TempDir())
	if err != nil {
		f.t.Fatal(err)
	}
	if files == nil {
		files = map[string]string{}
	}
	if _, ok := files["module.xml"]; !ok {
		files["module.xml"] = "<Export/>\n"
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := dockertest.RemoveProject(ctx, f.eng.Client(), dir); err != nil {
			f.t.Errorf("remove containers of %s: %v", dir, err)
		}
	})
	return dir
}

func (f *fixture) open(dir string, mod ...func(*ProjectOptions)) *Project {
	f.t.Helper()
	opts := ProjectOptions{Registry: f.reg, Engine: f.eng, FlagImage: f.img, ReadyTimeout: 2 * time.Minute}
	for _, m := range mod {
		m(&opts)
	}
	p, err := OpenProject(context.Background(), dir, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	t.Cleanup(cancel)
	return ctx
}

// portal asks the stand-in (or IRIS) for its management portal page through the host port.
func portal(t *testing.T, host string, port int) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	url := fmt.Sprintf("http://%s/csp/sys/UtilHome.csp", net.JoinHostPort(host, fmt.Sprint(port)))
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
}

// bindings returns `docker inspect`'s port bindings of a container: "1972/tcp" -> "ip:port".
func bindings(t *testing.T, name string) map[string]string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{json .HostConfig.PortBindings}}", name).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", name, err)
	}
	var raw map[string][]struct{ HostIp, HostPort string }
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("docker inspect %s: %v: %s", name, err, out)
	}
	m := map[string]string{}
	for k, v := range raw {
		for _, b := range v {
			m[k] = net.JoinHostPort(b.HostIp, b.HostPort)
		}
	}
	return m
}

func mustStart(t testing.TB, ctx context.Context, p *Project) Status {
	t.Helper()
	st, err := p.Start(ctx, nil)
	if err != nil {
		t.Fatalf("start %s: %v\nstatus: %+v", p.Root().Dir, err, st)
	}
	if st.State != StateReady {
		t.Fatalf("start %s: state %q, want ready (%s)", p.Root().Dir, st.State, st.Message)
	}
	return st
}

func TestTwoProjectsStartConcurrently(t *testing.T) {
	f := newFixture(t, 31200)
	ctx := testCtx(t)
	projects := []*Project{f.open(f.projectDir(nil)), f.open(f.projectDir(nil))}
	sts := make([]Status, len(projects))
	errs := make([]error, len(projects))
	var wg sync.WaitGroup
	for i, p := range projects {
		wg.Add(1)
		go func() { defer wg.Done(); sts[i], errs[i] = p.Start(ctx, nil) }()
	}
	wg.Wait()
	for i := range projects {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
	}
	a, b := sts[0], sts[1]
	if a.SuperserverPort == b.SuperserverPort || a.WebPort == b.WebPort {
		t.Fatalf("projects share ports: %+v / %+v", a, b)
	}
	for _, st := range sts {
		rpctest.Check(t, "status of "+st.Project, rpctest.Want("state", st.State, StateReady), rpctest.Want("bindAddress", st.BindAddress, "127.0.0.1"),
			rpctest.Want("container is set", st.Container != "", true), rpctest.Want("startedAt is set", st.StartedAt != nil, true))
		if st.SuperserverPort < f.lo || st.SuperserverPort > f.lo+9 {
			t.Errorf("superserver port %d outside the range", st.SuperserverPort)
		}
		portal(t, "127.0.0.1", st.WebPort)
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", st.SuperserverPort), 5*time.Second); err != nil {
			t.Errorf("superserver: %v", err)
		} else {
			c.Close()
		}
		want := map[string]string{
			"1972/tcp":  fmt.Sprintf("127.0.0.1:%d", st.SuperserverPort),
			"52773/tcp": fmt.Sprintf("127.0.0.1:%d", st.WebPort),
		}
		if got := bindings(t, st.Container); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("bindings of %s: %v, want %v", st.Container, got, want)
		}
		a, ok, err := f.reg.Get(ctx, st.Project)
		if err != nil {
			t.Errorf("registry entry of %s: %v", st.Project, err)
		}
		rpctest.Check(t, "registry entry of "+st.Project, rpctest.Want("found", ok, true), rpctest.Want("status", a.Status, registry.StatusActive),
			rpctest.Want("container", a.Container, st.Container), rpctest.Want("engine", a.Engine, f.eng.Endpoint()))
	}
}

func TestSameProjectKeepsPortsAcrossStopStart(t *testing.T) {
	f := newFixture(t, 31210)
	ctx := testCtx(t)
	p := f.open(f.projectDir(nil))
	first := mustStart(t, ctx, p)
	for i := 0; i < 3; i++ {
		st, err := p.Stop(ctx, StopOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rpctest.Must(t, fmt.Sprintf("after stop %d", i), rpctest.Want("state", st.State, StateStopped), rpctest.Want("container", st.Container, first.Container),
			rpctest.Want("exitCode is set", st.ExitCode != nil, true))
		a, _, _ := f.reg.Get(ctx, p.Root().Dir)
		if a.Status != registry.StatusIdle {
			t.Errorf("registry status after stop: %q, want idle", a.Status)
		}
		st = mustStart(t, ctx, p)
		rpctest.Must(t, fmt.Sprintf("cycle %d (the project stays)", i), rpctest.Want("superserverPort", st.SuperserverPort, first.SuperserverPort),
			rpctest.Want("webPort", st.WebPort, first.WebPort), rpctest.Want("container", st.Container, first.Container))
	}
	// a new Project (as a new process would open it) sees the same ports and the running container
	q := f.open(p.Root().Dir)
	st := q.Status(ctx)
	rpctest.Must(t, "fresh open", rpctest.Want("state", st.State, StateReady), rpctest.Want("superserverPort", st.SuperserverPort, first.SuperserverPort),
		rpctest.Want("container", st.Container, first.Container))
	st, err := q.Stop(ctx, StopOptions{Remove: true})
	if err != nil {
		t.Fatalf("stop --remove: %v", err)
	}
	rpctest.Must(t, "stop --remove", rpctest.Want("state", st.State, StateNotCreated), rpctest.Want("superserverPort", st.SuperserverPort, first.SuperserverPort))
}

func TestSkipsForeignContainerAndListener(t *testing.T) {
	f := newFixture(t, 31220)
	ctx := testCtx(t)
	// a container that is not ours publishes the first superserver port of the range
	name := fmt.Sprintf("iris-helper-test-foreign-%d", time.Now().UnixNano())
	out, err := exec.Command("docker", "run", "-d", "--name", name, "--label", "dev.iris-helper.test=workspace",
		"-p", fmt.Sprintf("127.0.0.1:%d:1972", f.lo), f.img).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	// a plain listener holds the next one
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", f.lo+1))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	st := mustStart(t, ctx, f.open(f.projectDir(nil)))
	if st.SuperserverPort != f.lo+2 || st.WebPort != f.lo+502 {
		t.Fatalf("ports %d/%d, want %d/%d (slots 0 and 1 are taken)", st.SuperserverPort, st.WebPort, f.lo+2, f.lo+502)
	}
	portal(t, "127.0.0.1", st.WebPort)
}

func TestPortGrabbedBeforeStartMovesProject(t *testing.T) {
	f := newFixture(t, 31230)
	ctx := testCtx(t)
	dir := f.projectDir(nil)
	a, err := f.reg.Assign(ctx, dir, registry.Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	// someone grabs the assigned superserver port after assignment, before the start
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", a.SuperserverPort))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	p := f.open(dir)
	var mu sync.Mutex
	var msgs []Message
	wctx, stopWatch := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Watch(wctx, nil, func(m Message) { mu.Lock(); msgs = append(msgs, m); mu.Unlock() })
	}()
	st := mustStart(t, ctx, p)
	if st.SuperserverPort == a.SuperserverPort {
		t.Fatalf("not moved: %+v", st)
	}
	if !strings.Contains(st.Message, fmt.Sprintf("port %d was taken", a.SuperserverPort)) ||
		!strings.Contains(st.Message, fmt.Sprintf("%d/%d", st.SuperserverPort, st.WebPort)) {
		t.Errorf("status message does not report the move: %q", st.Message)
	}
	got, _, err := f.reg.Get(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	c, found, err := f.eng.Inspect(ctx, dir)
	if err != nil || !found {
		t.Fatalf("inspect: %v %v", found, err)
	}
	rpctest.Must(t, "the registry and the container agree", rpctest.Want("registry superserverPort", got.SuperserverPort, c.Superserver),
		rpctest.Want("registry webPort", got.WebPort, c.Web), rpctest.Want("registry container", got.Container, c.Name),
		rpctest.Want("status superserverPort", st.SuperserverPort, c.Superserver), rpctest.Want("status container", st.Container, c.Name))
	portal(t, "127.0.0.1", st.WebPort)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(msgs)
		var text string
		for _, m := range msgs {
			if m.Level == LevelWarning && strings.Contains(m.Text, "moved the project") {
				text = m.Text
			}
		}
		mu.Unlock()
		if text != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no move message reached the watcher (%d messages)", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopWatch()
	<-done
}

func TestJoinedStartsAndStopDuringStart(t *testing.T) {
	f := newFixture(t, 31240)
	ctx := testCtx(t)
	p := f.open(f.projectDir(nil), func(o *ProjectOptions) { o.ContainerEnv = []string{"STUB_READY_DELAY=3s"} })

	// Two callers join one start; the first gives up while waiting, the start goes on for the second.
	waiting := make(chan struct{})
	var once sync.Once
	ctx1, cancel1 := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Start(ctx1, func(pr dockerops.Progress) {
			if pr.Phase == dockerops.PhaseWaiting {
				once.Do(func() { close(waiting) })
			}
		})
		errc <- err
	}()
	select {
	case <-waiting:
	case <-ctx.Done():
		t.Fatal("the start never reached the waiting phase")
	}
	if st := p.Status(ctx); st.State != StateStarting || st.Phase != dockerops.PhaseWaiting {
		t.Errorf("status while starting: %q/%q", st.State, st.Phase)
	}
	second := make(chan Status, 1)
	go func() {
		st, err := p.Start(ctx, nil)
		if err != nil {
			t.Errorf("joined start: %v", err)
		}
		second <- st
	}()
	waitFor(t, "the second caller to join the start", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.op != nil && len(p.op.listeners) == 2
	})
	cancel1()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("first caller: %v, want context.Canceled", err)
	}
	st := <-second
	if st.State != StateReady {
		t.Fatalf("joined start ended %+v", st)
	}
	portal(t, "127.0.0.1", st.WebPort)
	owned := 0
	all, _ := f.eng.Owned(ctx)
	for _, c := range all {
		if c.Project == p.Root().Dir {
			owned++
		}
	}
	if owned != 1 {
		t.Errorf("%d containers for the project, want 1", owned)
	}

	// A stop during a start cancels the start.
	if _, err := p.Stop(ctx, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	waiting2 := make(chan struct{})
	var once2 sync.Once
	go func() {
		_, err := p.Start(ctx, func(pr dockerops.Progress) {
			if pr.Phase == dockerops.PhaseWaiting {
				once2.Do(func() { close(waiting2) })
			}
		})
		errc <- err
	}()
	select {
	case <-waiting2:
	case <-ctx.Done():
		t.Fatal("the second start never reached the waiting phase")
	}
	st, err := p.Stop(ctx, StopOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "cancelled by a stop") {
		t.Errorf("start during stop: %v, want cancelled by a stop", err)
	}
	if st.State != StateStopped {
		t.Errorf("after stop during start: %+v", st)
	}
	// every caller gone: the start is cancelled and nothing stays "starting"
	cctx, ccancel := context.WithCancel(ctx)
	go func() {
		_, err := p.Start(cctx, func(pr dockerops.Progress) {
			if pr.Phase == dockerops.PhaseWaiting {
				ccancel()
			}
		})
		errc <- err
	}()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("abandoned start: %v", err)
	}
	// A Start that arrives after every caller left, while the cancelled start still winds down
	// (its goroutine is held inside this progress callback), begins afresh instead of joining it.
	cctx2, ccancel2 := context.WithCancel(ctx)
	abandonedErr, freshErr, abandonedReturned := make(chan error, 1), make(chan error, 1), make(chan struct{})
	var cancelOnce sync.Once
	go func() {
		_, err := p.Start(cctx2, func(pr dockerops.Progress) {
			if pr.Phase != dockerops.PhaseWaiting {
				return
			}
			cancelOnce.Do(func() {
				ccancel2()
				<-abandonedReturned
				go func() {
					st, err := p.Start(ctx, nil)
					if err == nil && st.State != StateReady {
						err = fmt.Errorf("state %s", st.State)
					}
					freshErr <- err
				}()
				time.Sleep(300 * time.Millisecond) // let the new Start arrive before this one ends
			})
		})
		close(abandonedReturned)
		abandonedErr <- err
	}()
	if err := <-abandonedErr; !errors.Is(err, context.Canceled) {
		t.Errorf("abandoned start: %v", err)
	}
	if err := <-freshErr; err != nil {
		t.Fatalf("start arriving while an abandoned one winds down: %v", err)
	}
	if _, err := p.Stop(ctx, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for p.Status(ctx).State == StateStarting {
		if time.Now().After(deadline) {
			t.Fatal("abandoned start still running")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCorruptRegistryRebuiltFromLabels(t *testing.T) {
	f := newFixture(t, 31250)
	ctx := testCtx(t)
	// another project holds slot 0, so this one's container lives on slot 1
	if _, err := f.reg.Assign(ctx, t.TempDir(), registry.Preferred{}); err != nil {
		t.Fatal(err)
	}
	p := f.open(f.projectDir(nil))
	first := mustStart(t, ctx, p)
	if first.SuperserverPort != f.lo+1 {
		t.Fatalf("started on %d, want slot 1 (%d)", first.SuperserverPort, f.lo+1)
	}
	if err := os.WriteFile(filepath.Join(f.home, registry.FileName), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	q := f.open(p.Root().Dir)
	st := q.Status(ctx)
	rpctest.Must(t, "after corruption", rpctest.Want("superserverPort", st.SuperserverPort, first.SuperserverPort),
		rpctest.Want("webPort", st.WebPort, first.WebPort), rpctest.Want("state", st.State, StateReady))
	a, ok, err := f.reg.Get(ctx, p.Root().Dir)
	if err != nil {
		t.Fatalf("rebuilt entry: %v", err)
	}
	rpctest.Must(t, "rebuilt entry", rpctest.Want("found", ok, true), rpctest.Want("type", a.Type, registry.TypeAuto),
		rpctest.Want("slot is set", a.Slot != nil, true), rpctest.Want("container", a.Container, first.Container))
	backups, _ := filepath.Glob(filepath.Join(f.home, registry.FileName+".corrupt-*"))
	if len(backups) != 1 {
		t.Errorf("corrupt file kept as %v, want one backup", backups)
	}
	// the next start keeps the ports
	if st := mustStart(t, ctx, q); st.SuperserverPort != first.SuperserverPort {
		t.Fatalf("start after rebuild moved the project: %+v", st)
	}
	// the registry forgot everything (ports clear) while the stopped container exists: a start
	// takes the container's ports (slot 1) back instead of the lowest free slot (0)
	if _, err := q.Stop(ctx, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if st := mustStart(t, ctx, q); st.SuperserverPort != first.SuperserverPort || st.Container != first.Container {
		t.Fatalf("start after ports clear: %+v, want the container's ports %d", st, first.SuperserverPort)
	}
}

func TestReleaseRefusedWhileRunning(t *testing.T) {
	f := newFixture(t, 31260)
	ctx := testCtx(t)
	p := f.open(f.projectDir(nil))
	st := mustStart(t, ctx, p)
	_, err := p.Release(ctx, ReleaseOptions{})
	var re *RunningError
	if !errors.As(err, &re) {
		t.Fatalf("release while running: %v, want a *RunningError", err)
	}
	rpctest.Must(t, "release while running: *RunningError", rpctest.Want("container", re.Container, st.Container),
		rpctest.Want("message", err.Error(), "the IRIS container "+st.Container+" of "+p.Root().Dir+" is running"))
	if _, ok, _ := f.reg.Get(ctx, p.Root().Dir); !ok {
		t.Fatal("refused release dropped the assignment")
	}
	a, err := p.Release(ctx, ReleaseOptions{Force: true, Purge: true})
	if err != nil || a.SuperserverPort != st.SuperserverPort {
		t.Fatalf("release --force: %+v, %v", a, err)
	}
	if _, ok, _ := f.reg.Get(ctx, p.Root().Dir); ok {
		t.Error("assignment still there after release --force")
	}
	if _, found, _ := f.eng.Inspect(ctx, p.Root().Dir); found {
		t.Error("container still there after release --force")
	}
	if out, err := exec.Command("docker", "volume", "inspect", dockerops.VolumeName(p.Root().Dir)).CombinedOutput(); err == nil {
		t.Errorf("volume still there after --purge: %s", out)
	}
	if st := p.Status(ctx); st.State != StateNotCreated || st.SuperserverPort != 0 {
		t.Errorf("status after release: %+v", st)
	}
}

func TestPortsAndCleanup(t *testing.T) {
	f := newFixture(t, 31270)
	ctx := testCtx(t)
	p := f.open(f.projectDir(nil))
	st := mustStart(t, ctx, p)
	// an assignment whose folder is gone and that has no container
	gone := filepath.Join(t.TempDir(), "deleted-project")
	if _, err := f.reg.Assign(ctx, gone, registry.Preferred{}); err != nil {
		t.Fatal(err)
	}
	list, err := p.Ports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	entries := list.Assignments
	states := map[string]string{}
	for _, e := range entries {
		states[e.Project] = e.ContainerState + "/" + string(e.State)
	}
	if states[st.Project] != "running/ready" || states[gone] != "not-created/not-created" {
		t.Fatalf("ports: %v", states)
	}
	b, _ := json.Marshal(entries[0])
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"project", "superserverPort", "webPort", "type", "status", "containerState", "state"} {
		if _, ok := m[k]; !ok {
			t.Errorf("port entry JSON lacks %q: %s", k, b)
		}
	}
	// the running project's folder is deleted, but its container lives: not stale
	if err := os.RemoveAll(st.Project); err != nil {
		t.Fatal(err)
	}
	marked, warn, err := Machine{Reg: f.reg, Eng: f.eng}.CleanupPorts(ctx, false)
	if err != nil || warn != "" {
		t.Fatal(err, warn)
	}
	if len(marked) != 1 || marked[0].Project != gone {
		t.Fatalf("cleanup marked %+v, want only %s", marked, gone)
	}
	a, ok, err := f.reg.Get(ctx, st.Project)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "the assignment of the project with a container", rpctest.Want("found", ok, true),
		rpctest.Want("superserverPort", a.SuperserverPort, st.SuperserverPort), rpctest.Want("slot is set", a.Slot != nil, true))
	if _, ok, _ := f.reg.Get(ctx, gone); ok {
		t.Fatal("stale assignment kept")
	}
	// a stopped (kept) container counts as well: its folder is gone, its assignment stays
	if _, err := p.Stop(ctx, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	marked, _, err = Machine{Reg: f.reg, Eng: f.eng}.CleanupPorts(ctx, false)
	if err != nil || len(marked) != 0 {
		t.Fatalf("cleanup with a stopped container marked %+v (%v), want nothing", marked, err)
	}
	if _, ok, _ := f.reg.Get(ctx, st.Project); !ok {
		t.Fatal("the project with a stopped container lost its assignment")
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEnvSyncedAfterStart(t *testing.T) {
	f := newFixture(t, 31280)
	ctx := testCtx(t)
	env := "# my settings\r\nexport IRIS_PORT=1972 # superserver\r\nAPP=orders\r\nIRIS_WEB_PORT=\"52773\"\r\n"
	dir := f.projectDir(map[string]string{".env": env})
	st := mustStart(t, ctx, f.open(dir))
	want := fmt.Sprintf("# my settings\r\nexport IRIS_PORT=%d # superserver\r\nAPP=orders\r\nIRIS_WEB_PORT=\"%d\"\r\n",
		st.SuperserverPort, st.WebPort)
	if got := readFile(t, filepath.Join(dir, ".env")); !strings.HasPrefix(got, want) {
		t.Fatalf(".env after start:\n%q\nwant it to start with\n%q", got, want)
	}
	if st.EnvFile != filepath.Join(dir, ".env") {
		t.Errorf("envFile %q", st.EnvFile)
	}
	// sync false: the file is left alone
	dir2 := f.projectDir(map[string]string{".env": "IRIS_PORT=1\n", ConfigFileName: `{"env": {"sync": "false"}}`})
	st2 := mustStart(t, ctx, f.open(dir2))
	if got := readFile(t, filepath.Join(dir2, ".env")); got != "IRIS_PORT=1\n" || st2.EnvFile != "" {
		t.Errorf("sync false touched .env: %q (envFile %q)", got, st2.EnvFile)
	}
}

// recorder collects what Watch delivers.
type recorder struct {
	mu   sync.Mutex
	sts  []Status
	msgs []Message
}

func (r *recorder) status(st Status) { r.mu.Lock(); r.sts = append(r.sts, st); r.mu.Unlock() }
func (r *recorder) message(m Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

// waitStatus waits until a delivered status satisfies ok and returns it.
func (r *recorder) waitStatus(t *testing.T, what string, ok func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r.mu.Lock()
		for _, st := range r.sts {
			if ok(st) {
				r.mu.Unlock()
				return st
			}
		}
		var last Status
		if len(r.sts) > 0 {
			last = r.sts[len(r.sts)-1]
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("watch: no status with %s; last %+v", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *recorder) waitMessage(t *testing.T, what string, ok func(Message) bool) Message {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r.mu.Lock()
		for _, m := range r.msgs {
			if ok(m) {
				r.mu.Unlock()
				return m
			}
		}
		msgs := fmt.Sprint(r.msgs)
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("watch: no message with %s; got %s", what, msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *recorder) reset() { r.mu.Lock(); r.sts, r.msgs = nil, nil; r.mu.Unlock() }

func TestWatchFollowsEngineEnvAndRegistry(t *testing.T) {
	f := newFixture(t, 31290)
	ctx := testCtx(t)
	dir := f.projectDir(map[string]string{".env": "IRIS_HOST=localhost\nIRIS_PORT=1\nIRIS_WEB_PORT=2\n"})
	envPath := filepath.Join(dir, ".env")
	p := f.open(dir)
	rec := &recorder{}
	wctx, stopWatch := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Watch(wctx, rec.status, rec.message) }()
	defer func() { stopWatch(); <-done }()

	rec.waitStatus(t, "not-created", func(s Status) bool { return s.State == StateNotCreated })
	first := mustStart(t, ctx, p)
	rec.waitStatus(t, "starting", func(s Status) bool { return s.State == StateStarting })
	rec.waitStatus(t, "ready", func(s Status) bool { return s.State == StateReady && s.Container == first.Container })

	// the user asks for another superserver port in .env while IRIS runs: granted, restart needed
	wanted := f.lo + 7
	if err := os.WriteFile(envPath, []byte(fmt.Sprintf("IRIS_HOST=localhost\nIRIS_PORT=%d\nIRIS_WEB_PORT=%d\n", wanted, first.WebPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	st := rec.waitStatus(t, "restartNeeded", func(s Status) bool { return s.RestartNeeded && s.SuperserverPort == wanted })
	if st.State != StateReady || !strings.Contains(st.Message, "restart") {
		t.Errorf("status after the user's port request: %+v", st)
	}
	if a, _, _ := f.reg.Get(ctx, dir); a.Type != registry.TypeManual || a.SuperserverPort != wanted {
		t.Errorf("registry after the user's port request: %+v", a)
	}

	// a web port another project holds: refused, restored, the holder named
	other := filepath.Join(t.TempDir(), "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	oa, err := f.reg.Assign(ctx, other, registry.Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(envPath, []byte(fmt.Sprintf("IRIS_HOST=localhost\nIRIS_PORT=%d\nIRIS_WEB_PORT=%d\n", wanted, oa.WebPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	rec.waitMessage(t, "the refusal naming the holder", func(m Message) bool {
		return m.Level == LevelWarning && strings.Contains(m.Text, "refused") && strings.Contains(m.Text, other)
	})
	deadline := time.Now().Add(30 * time.Second)
	for readFile(t, envPath) != fmt.Sprintf("IRIS_HOST=localhost\nIRIS_PORT=%d\nIRIS_WEB_PORT=%d\n", wanted, first.WebPort) {
		if time.Now().After(deadline) {
			t.Fatalf(".env not restored: %q", readFile(t, envPath))
		}
		time.Sleep(20 * time.Millisecond)
	}

	// the container stopped outside the helper
	rec.reset()
	if out, err := exec.Command("docker", "stop", "-t", "5", first.Container).CombinedOutput(); err != nil {
		t.Fatalf("docker stop: %v %s", err, out)
	}
	st = rec.waitStatus(t, "stopped", func(s Status) bool { return s.State == StateStopped })
	if st.RestartNeeded {
		t.Errorf("a stopped container needs no restart: %+v", st)
	}

	// another process moves the project: status and .env follow
	rec.reset()
	other2 := f.openRegistry()
	moved, err := other2.Reassign(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	rec.waitStatus(t, "the moved ports", func(s Status) bool { return s.SuperserverPort == moved.SuperserverPort })
	want := fmt.Sprintf("IRIS_HOST=localhost\nIRIS_PORT=%d\nIRIS_WEB_PORT=%d\n", moved.SuperserverPort, moved.WebPort)
	deadline = time.Now().Add(30 * time.Second)
	for readFile(t, envPath) != want {
		if time.Now().After(deadline) {
			t.Fatalf(".env did not follow the move: %q, want %q", readFile(t, envPath), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// a restart applies the new ports
	st, err = p.Restart(ctx, nil)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	rpctest.Must(t, "restart", rpctest.Want("superserverPort", st.SuperserverPort, moved.SuperserverPort),
		rpctest.Want("restartNeeded", st.RestartNeeded, false), rpctest.Want("state", st.State, StateReady))
	portal(t, "127.0.0.1", moved.WebPort)
}

func TestEngineDownAndBack(t *testing.T) {
	f := newFixture(t, 31300)
	ctx := testCtx(t)
	proxy := dockertest.NewEngineProxy(t, f.eng)
	proxy.Up()
	eng := proxy.Engine()
	p := f.open(f.projectDir(nil), func(o *ProjectOptions) { o.Engine = eng })
	first := mustStart(t, ctx, p)

	rec := &recorder{}
	wctx, stopWatch := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Watch(wctx, rec.status, rec.message) }()
	defer func() { stopWatch(); <-done }()
	rec.waitStatus(t, "ready", func(s Status) bool { return s.State == StateReady })

	proxy.Down()
	st := rec.waitStatus(t, "docker-unavailable", func(s Status) bool { return s.State == StateDockerUnavailable })
	if st.SuperserverPort != first.SuperserverPort || !strings.Contains(st.Message, "docker engine not reachable at "+proxy.Host()) {
		t.Errorf("status with the engine down: %+v", st)
	}
	rec.waitMessage(t, "engine down", func(m Message) bool { return m.Level == LevelError && strings.Contains(m.Text, "not reachable") })
	if _, err := p.Start(ctx, nil); err == nil || !strings.Contains(err.Error(), "not reachable") {
		t.Errorf("start with the engine down: %v", err)
	}
	if st := p.Status(ctx); st.State != StateDockerUnavailable {
		t.Errorf("status after a failed start with the engine down: %+v", st)
	}

	rec.reset()
	proxy.Up()
	rec.waitStatus(t, "ready again", func(s Status) bool { return s.State == StateReady && s.Container == first.Container })
	rec.waitMessage(t, "engine back", func(m Message) bool { return m.Level == LevelInfo && strings.Contains(m.Text, "answers again") })
}

func TestOpenProjectPrecedence(t *testing.T) {
	t.Setenv(registry.EnvHome, t.TempDir())
	for _, tc := range []struct {
		name              string
		config            string
		env               string
		opts              ProjectOptions
		image, bind       string
		sync              dotenv.SyncMode
		durable, unexpire bool
	}{
		{name: "defaults", image: DefaultImage, bind: "127.0.0.1", sync: dotenv.SyncAuto, durable: true, unexpire: true},
		{name: "env image", env: "env/iris:1", image: "env/iris:1", bind: "127.0.0.1", sync: dotenv.SyncAuto, durable: true, unexpire: true},
		{name: "editor over env", env: "env/iris:1", opts: ProjectOptions{EditorImage: "editor/iris:1", BindAddress: "0.0.0.0", EditorSync: "true"},
			image: "editor/iris:1", bind: "0.0.0.0", sync: dotenv.SyncTrue, durable: true, unexpire: true},
		{name: "config over editor", env: "env/iris:1",
			config: `{"image": "cfg/iris:1", "bindAddress": "127.0.0.2", "durable": false, "env": {"sync": "false"}, "iris": {"unexpirePasswords": false}}`,
			opts:   ProjectOptions{EditorImage: "editor/iris:1", BindAddress: "0.0.0.0", EditorSync: "true"},
			image:  "cfg/iris:1", bind: "127.0.0.2", sync: dotenv.SyncFalse},
		{name: "flag over config", config: `{"image": "cfg/iris:1"}`, opts: ProjectOptions{FlagImage: "flag/iris:1", EditorImage: "editor/iris:1"},
			image: "flag/iris:1", bind: "127.0.0.1", sync: dotenv.SyncAuto, durable: true, unexpire: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvImage, tc.env)
			dir := t.TempDir()
			if tc.config != "" {
				if err := os.WriteFile(filepath.Join(dir, ConfigFileName), []byte(tc.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p, err := OpenProject(context.Background(), dir, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			spec := p.spec(registry.Assignment{SuperserverPort: 1, WebPort: 2}, "")
			rpctest.Check(t, "the project's settings", rpctest.Want("Image()", p.Image(), tc.image), rpctest.Want("spec.image", spec.Image, tc.image),
				rpctest.Want("spec.bindAddress", spec.BindAddress, tc.bind), rpctest.Want("syncMode", p.syncMode, tc.sync),
				rpctest.Want("spec.durable", spec.Durable, tc.durable), rpctest.Want("spec.unexpirePasswords", spec.UnexpirePasswords, tc.unexpire))
		})
	}
	if _, err := OpenProject(context.Background(), t.TempDir(), ProjectOptions{EditorSync: "sometimes"}); err == nil {
		t.Error("a bad syncEnv editor setting was accepted")
	}
}

func TestStatusOfFailingContainers(t *testing.T) {
	f := newFixture(t, 31310)
	ctx := testCtx(t)

	// a container that exits while starting: error, with its exit code and what to do
	p := f.open(f.projectDir(nil), func(o *ProjectOptions) { o.ContainerEnv = []string{"STUB_FAIL=exit"} })
	st, err := p.Start(ctx, nil)
	var ex *dockerops.ExitedError
	if !errors.As(err, &ex) || ex.Code != 3 {
		t.Fatalf("start of an exiting container: %v", err)
	}
	rpctest.Must(t, "status after the failed start", rpctest.Want("state", st.State, StateError), rpctest.Want("exitCode", st.ExitCode, ptr(3)))
	if !strings.Contains(st.Message, "exited with code 3") {
		t.Fatalf("status after the failed start: %+v", st)
	}
	later := p.Status(ctx)
	rpctest.Must(t, "status later", rpctest.Want("state", later.State, StateError), rpctest.Want("exitCode", later.ExitCode, ptr(3)))
	// another process (a fresh Project) sees the engine's view: a stopped container with its exit code
	fresh := f.open(p.Root().Dir).Status(ctx)
	rpctest.Must(t, "status from a fresh project", rpctest.Want("state", fresh.State, StateStopped), rpctest.Want("exitCode", fresh.ExitCode, ptr(3)))
	// a stop clears the error
	if st, err := p.Stop(ctx, StopOptions{}); err != nil || st.State != StateStopped {
		t.Fatalf("stop after the failed start: %+v %v", st, err)
	}

	// a container whose healthcheck turns unhealthy after readiness
	q := f.open(f.projectDir(nil), func(o *ProjectOptions) { o.ContainerEnv = []string{"STUB_FAIL=unhealthy-after=1s"} })
	mustStart(t, ctx, q)
	waitFor(t, "the unhealthy state", func() bool { return q.Status(ctx).State == StateUnhealthy })
	st = q.Status(ctx)
	rpctest.Check(t, "unhealthy status", rpctest.Want("startedAt is set", st.StartedAt != nil, true), rpctest.Want("running", st.Running(), true))
	if !strings.Contains(st.Message, "unhealthy") {
		t.Errorf("unhealthy status: %+v", st)
	}
}

// TestDurableDataSurvivesRecreate: with no .iris-helper.json (durable is on by default), data
// written into the project's volume survives a port move (which recreates the container) and
// `stop --remove`; only a purge deletes the volume.
func TestDurableDataSurvivesRecreate(t *testing.T) {
	f := newFixture(t, 31320)
	ctx := testCtx(t)
	dir := f.projectDir(nil)
	vol := dockerops.VolumeName(dir)
	cat := func(when string) {
		t.Helper()
		r, err := f.eng.Exec(ctx, dir, "iris-stub", "cat", "/durable/iris/user.dat")
		if err != nil {
			t.Fatalf("data %s: %v", when, err)
		}
		rpctest.Must(t, "data "+when, rpctest.Want("exitCode", r.ExitCode, 0),
			rpctest.Want(fmt.Sprintf("output %q starts with precious", r.Output), strings.HasPrefix(r.Output, "precious"), true))
	}
	volumeExists := func() bool {
		return exec.Command("docker", "volume", "inspect", vol).Run() == nil
	}

	first := mustStart(t, ctx, f.open(dir))
	if r, err := f.eng.Exec(ctx, dir, "iris-stub", "write", "/durable/iris/user.dat", "precious"); err != nil || r.ExitCode != 0 {
		t.Fatalf("write into the durable volume: %v %+v", err, r)
	}
	if !volumeExists() {
		t.Fatalf("no volume %s for a project without .iris-helper.json (durable is the default)", vol)
	}

	// another port pair: the restart must recreate the container, the data must stay
	moved := f.open(dir, func(o *ProjectOptions) {
		o.FlagPorts = registry.Preferred{Superserver: f.lo + 5, Web: f.lo + 505}
	})
	mustStart(t, ctx, moved) // assigns the ports; leaves the running container as it is
	second, err := moved.Restart(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Container == first.Container || second.SuperserverPort != f.lo+5 {
		t.Fatalf("port move did not recreate the container: %s → %s (port %d)", first.Container, second.Container, second.SuperserverPort)
	}
	if out, err := exec.Command("docker", "inspect", first.Container).CombinedOutput(); err == nil {
		t.Fatalf("old container %s still exists: %s", first.Container, out)
	}
	cat("after the recreate")

	// stop --remove keeps the volume; the next start's new container sees the data
	if _, err := moved.Stop(ctx, StopOptions{Remove: true}); err != nil {
		t.Fatal(err)
	}
	if !volumeExists() {
		t.Fatal("stop --remove deleted the data volume")
	}
	mustStart(t, ctx, moved)
	cat("after stop --remove and start")

	if _, err := moved.Stop(ctx, StopOptions{Remove: true, Purge: true}); err != nil {
		t.Fatal(err)
	}
	if volumeExists() {
		t.Fatal("stop --remove --purge left the data volume")
	}
}

// TestReleaseWithoutEngine: with Docker unavailable (nil engine) --force and --purge are refused
// and lose nothing; a plain release still works.
func TestReleaseWithoutEngine(t *testing.T) {
	ctx := testCtx(t)
	reg, err := registry.Open(registry.Options{Home: t.TempDir(),
		Superserver: &registry.Range{Lo: 31490, Hi: 31499}, Web: &registry.Range{Lo: 31990, Hi: 31999}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a, err := reg.Assign(ctx, dir, registry.Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []ReleaseOptions{{Force: true}, {Purge: true}} {
		if _, err := (Machine{Reg: reg}).ReleaseProject(ctx, dir, opts); err == nil || !strings.Contains(err.Error(), "start Docker") {
			t.Errorf("release %+v without engine: %v, want a refusal that says to start Docker", opts, err)
		}
		if got, ok, _ := reg.Get(ctx, dir); !ok || got.SuperserverPort != a.SuperserverPort {
			t.Fatalf("refused release %+v lost the assignment: %+v %v", opts, got, ok)
		}
	}
	got, err := Machine{Reg: reg}.ReleaseProject(ctx, dir, ReleaseOptions{})
	if err != nil || got.SuperserverPort != a.SuperserverPort {
		t.Fatalf("plain release without engine: %+v %v", got, err)
	}
	if _, ok, _ := reg.Get(ctx, dir); ok {
		t.Fatal("assignment still there after release")
	}
}
