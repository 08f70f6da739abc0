package dockerops_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// eventLog collects Watch events for assertions.
type eventLog struct {
	mu     sync.Mutex
	events []dockerops.Event
}

func (l *eventLog) add(ev dockerops.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

// find returns the first event after index from for which match is true.
func (l *eventLog) find(match func(dockerops.Event) bool) (dockerops.Event, int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, ev := range l.events {
		if match(ev) {
			return ev, i, true
		}
	}
	return dockerops.Event{}, -1, false
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ev := range l.events {
		b.WriteString(ev.Kind + " " + ev.Container + "; ")
	}
	return b.String()
}

func watch(t *testing.T, e *dockerops.Engine) *eventLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &eventLog{}
	done := make(chan error, 1)
	go func() { done <- e.Watch(ctx, l.add) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	})
	return l
}

// TestWatchExternalStop: a `docker stop` typed by the user reaches the watcher, with the
// project and exit code; other containers' events do not.
func TestWatchExternalStop(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	l := watch(t, e)
	c, err := e.Start(ctx, spec(p, img, 30200, 30201), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "start event; got "+l.String(), func() bool {
		_, _, ok := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventStart && ev.ID == c.ID })
		return ok
	})
	dockerCLI(t, "stop", c.Name)
	waitFor(t, 30*time.Second, "stop and die events; got "+l.String(), func() bool {
		_, _, stop := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventStop && ev.ID == c.ID })
		_, _, die := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventDie && ev.ID == c.ID })
		return stop && die
	})
	die, _, _ := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventDie && ev.ID == c.ID })
	var exit any // nil when the event has no exit code
	if die.ExitCode != nil {
		exit = *die.ExitCode
	}
	rpctest.Must(t, "die event", rpctest.Want("project", die.Project, p), rpctest.Want("container", die.Container, c.Name),
		rpctest.Want("superserver", die.Superserver, 30200), rpctest.Want("web", die.Web, 30201), rpctest.Want("exitCode", exit, 0))
	if _, _, ok := l.find(func(ev dockerops.Event) bool { return ev.Project == "" && ev.ID != "" }); ok {
		t.Fatalf("events of containers without our label were delivered: %s", l)
	}
}

// TestWatchHealth: health_status events arrive as Kind health_status with the status.
func TestWatchHealth(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	l := watch(t, e)
	c, err := e.Start(ctx, spec(p, img, 30210, 30211, "STUB_FAIL=unhealthy-after=1s"), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "health_status unhealthy; got "+l.String(), func() bool {
		_, _, ok := l.find(func(ev dockerops.Event) bool {
			return ev.Kind == dockerops.EventHealthStatus && ev.ID == c.ID && ev.Health == "unhealthy"
		})
		return ok
	})
}

// TestWatchEngineOutage: through a socket proxy that goes down and up, the watcher reports the
// outage and the recovery, and replays what happened meanwhile; calls during the outage fail
// with *UnavailableError.
func TestWatchEngineOutage(t *testing.T) {
	t.Parallel()
	real, img, p := setup(t)
	proxy := dockertest.NewEngineProxy(t, real)
	proxy.Up()
	ctx := testCtx(t)
	e := proxy.Engine()
	if err := e.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	l := watch(t, e)
	time.Sleep(500 * time.Millisecond) // let the subscription settle

	proxy.Down()
	waitFor(t, 30*time.Second, "engine-down; got "+l.String(), func() bool {
		_, _, ok := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventEngineDown })
		return ok
	})
	var ue *dockerops.UnavailableError
	if _, err := e.Start(ctx, spec(p, img, 30220, 30221), nil); !errors.As(err, &ue) || ue.Endpoint != proxy.Host() {
		t.Fatalf("Start while the engine is down: %v, want *UnavailableError for %s", err, proxy.Host())
	}
	// Meanwhile the project starts through the real engine: the watcher must not miss it.
	c, err := real.Start(ctx, spec(p, img, 30220, 30221), nil)
	if err != nil {
		t.Fatal(err)
	}
	proxy.Up()
	waitFor(t, 30*time.Second, "engine-up and the missed start; got "+l.String(), func() bool {
		_, up, okUp := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventEngineUp })
		_, st, okStart := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventStart && ev.ID == c.ID })
		return okUp && okStart && st > up
	})
	if _, _, err := e.Inspect(ctx, p); err != nil {
		t.Fatalf("calls after recovery: %v", err)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	if err := e.Logs(ctx, p, false, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no container") {
		t.Fatalf("Logs without a container: %v", err)
	}
	if _, err := e.Start(ctx, spec(p, img, 30230, 30231), nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := e.Logs(ctx, p, false, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Enabling logons") || !strings.Contains(buf.String(), "--check-caps false") {
		t.Fatalf("logs:\n%s", buf.String())
	}
	// follow: returns when the container stops
	pr := &rpctest.Buffer{}
	done := make(chan error, 1)
	go func() { done <- e.Logs(ctx, p, true, pr) }()
	time.Sleep(300 * time.Millisecond)
	if err := e.Stop(ctx, p, false, false); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Logs(follow) did not return after the container stopped")
	}
	if !strings.Contains(pr.String(), "Shutdown complete") {
		t.Fatalf("followed logs miss the shutdown:\n%s", pr.String())
	}
}

// TestWatchEngineDownFromTheStart: watching an engine that is not there reports engine-down
// (with the endpoint in the error) instead of failing or hanging, until ctx ends.
func TestWatchEngineDownFromTheStart(t *testing.T) {
	t.Parallel()
	host := "unix://" + dockertest.SocketPath(t)
	e, err := dockerops.Connect(context.Background(), dockerops.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	l := watch(t, e)
	waitFor(t, 30*time.Second, "engine-down; got "+l.String(), func() bool {
		_, _, ok := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventEngineDown })
		return ok
	})
	ev, _, _ := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventEngineDown })
	var ue *dockerops.UnavailableError
	if !errors.As(ev.Err, &ue) || ue.Endpoint != host {
		t.Fatalf("engine-down error %v, want *UnavailableError for %s", ev.Err, host)
	}
	time.Sleep(2 * time.Second)
	downs := 0
	l.mu.Lock()
	for _, ev := range l.events {
		if ev.Kind == dockerops.EventEngineDown {
			downs++
		}
	}
	l.mu.Unlock()
	if downs != 1 {
		t.Fatalf("%d engine-down events for one outage: %s", downs, l)
	}
}

// wantNoAnswerDown waits for the engine-down event and checks that its error is the
// *UnavailableError of host saying that the engine did not answer.
func wantNoAnswerDown(t *testing.T, l *eventLog, host string) {
	t.Helper()
	waitFor(t, 60*time.Second, "engine-down; got "+l.String(), func() bool {
		_, _, ok := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventEngineDown })
		return ok
	})
	ev, _, _ := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventEngineDown })
	var ue *dockerops.UnavailableError
	if !errors.As(ev.Err, &ue) {
		t.Fatalf("engine-down error %v, want *UnavailableError", ev.Err)
	}
	rpctest.Check(t, "engine-down error", rpctest.Want("endpoint", ue.Endpoint, host),
		rpctest.Want(fmt.Sprintf("%q says no answer within", ev.Err), strings.Contains(ev.Err.Error(), "no answer within"), true))
}

// TestWatchHangingEngine: an engine that accepts the event subscription and then says nothing
// (wedged) is found out by Watch's periodic ping and reported as engine-down, naming it.
func TestWatchHangingEngine(t *testing.T) {
	t.Parallel()
	host := dockertest.HangingEngine(t)
	e, err := dockerops.Connect(context.Background(), dockerops.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.SetWatchPingIntervalForTest(time.Second)
	l := watch(t, e)
	wantNoAnswerDown(t, l, host)
}

// TestWatchEngineWedgesMidStream: the engine stops answering while the event stream is open
// and quiet (the stream itself stays open): Watch's periodic ping reports engine-down.
func TestWatchEngineWedgesMidStream(t *testing.T) {
	t.Parallel()
	proxy := dockertest.NewEngineProxy(t, dockertest.Engine(t))
	proxy.Up()
	e := proxy.Engine()
	e.SetWatchPingIntervalForTest(time.Second)
	l := watch(t, e)
	time.Sleep(2 * time.Second) // subscribed, and a ping or two answered
	if _, _, ok := l.find(func(ev dockerops.Event) bool { return ev.Kind == dockerops.EventEngineDown }); ok {
		t.Fatalf("engine-down while the engine answers: %s", l)
	}
	proxy.Freeze()
	wantNoAnswerDown(t, l, proxy.Host())
}
