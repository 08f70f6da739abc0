package rpc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace"
)

// lifeEvent is one thing that happens to a connection's lifecycle.
type lifeEvent string

const (
	evInitialize      lifeEvent = "request initialize"
	evShutdown        lifeEvent = "request shutdown"
	evRequest         lifeEvent = "request iris/status"
	evUnknown         lifeEvent = "request iris/frobnicate" // a method the table does not name
	evInitOK          lifeEvent = "initialize answered"
	evInitFailed      lifeEvent = "initialize failed"
	evInitializedNote lifeEvent = "notification initialized"
	evExit            lifeEvent = "notification exit"
)

var lifeEvents = []lifeEvent{evInitialize, evShutdown, evRequest, evUnknown, evInitOK, evInitFailed, evInitializedNote, evExit}

// apply makes ev happen to l the way the server does (Handle, initialize's handler,
// handleNotification) and describes the outcome: the state after it, and what the client gets
// or what follows.
func apply(l *lifecycle, ev lifeEvent) string {
	detail := ""
	switch ev {
	case evInitialize, evShutdown, evRequest, evUnknown:
		name := map[lifeEvent]string{evInitialize: MethodInitialize, evShutdown: MethodShutdown, evRequest: MethodStatus, evUnknown: "iris/frobnicate"}[ev]
		moved, refusal := l.request(name, lookupMethod(name).states)
		switch {
		case refusal != nil:
			detail = fmt.Sprintf("%d %s", refusal.Code, refusal.Message)
		case moved:
			detail = "taken, moves"
		default:
			detail = "taken"
		}
	case evInitOK, evInitFailed:
		a := l.attempt
		if a == nil || isClosed(a.done) {
			// No initialize is being answered: a stale answer changes nothing.
			a = &initAttempt{done: make(chan struct{})}
			detail = "no initialize pending"
		}
		l.initializeAnswered(a, ev == evInitOK)
	case evInitializedNote:
		detail = "ignored"
		if l.initializedNotification() {
			detail = "its work runs once initialize succeeded"
		}
	case evExit:
		code, first := l.exit()
		detail = fmt.Sprintf("exit code %d", code)
		if !first {
			detail = "ignored"
		}
	}
	if detail == "" {
		return l.state.String()
	}
	return l.state.String() + "; " + detail
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestLifecycleTransitions: every state × every event → the next state, or the error the
// client gets (docs/protocol.md "Lifecycle").
func TestLifecycleTransitions(t *testing.T) {
	const (
		notInit  = "-32002 iris/status before initialize: send initialize first"
		again    = "-32600 initialize was already received; send it once per connection"
		afterSD  = "-32600 iris/status after shutdown: the helper is shutting down; only exit is accepted"
		unknownC = "-32002 iris/frobnicate before initialize: send initialize first"
	)
	// A failed initialize returns to created, and an exit ends in exited whatever came before:
	// the same state answers the same.
	created := map[lifeEvent]string{
		evInitialize:      "initializing; taken, moves",
		evShutdown:        "created; -32002 shutdown before initialize: send initialize first",
		evRequest:         "created; " + notInit,
		evUnknown:         "created; " + unknownC,
		evInitOK:          "created; no initialize pending",
		evInitFailed:      "created; no initialize pending",
		evInitializedNote: "created; ignored",
		evExit:            "exited; exit code 1",
	}
	exited := map[lifeEvent]string{
		evInitialize:      "exited; -32600 initialize after exit: the helper is ending",
		evShutdown:        "exited; -32600 shutdown after exit: the helper is ending",
		evRequest:         "exited; -32600 iris/status after exit: the helper is ending",
		evUnknown:         "exited; -32600 iris/frobnicate after exit: the helper is ending",
		evInitOK:          "exited; no initialize pending",
		evInitFailed:      "exited; no initialize pending",
		evInitializedNote: "exited; ignored",
		evExit:            "exited; ignored",
	}
	initialized := map[lifeEvent]string{
		evInitialize:      "initialized; " + again,
		evShutdown:        "shut down; taken, moves",
		evRequest:         "initialized; taken",
		evUnknown:         "initialized; taken",
		evInitOK:          "initialized; no initialize pending",
		evInitFailed:      "initialized; no initialize pending",
		evInitializedNote: "initialized; its work runs once initialize succeeded",
		evExit:            "exited; exit code 1",
	}
	shutDown := map[lifeEvent]string{
		evInitialize:      "shut down; " + again,
		evShutdown:        "shut down; taken",
		evRequest:         "shut down; " + afterSD,
		evUnknown:         "shut down; -32600 iris/frobnicate after shutdown: the helper is shutting down; only exit is accepted",
		evInitOK:          "shut down; no initialize pending",
		evInitFailed:      "shut down; no initialize pending",
		evInitializedNote: "shut down; ignored",
		evExit:            "exited; exit code 0",
	}
	tests := []struct {
		from string      // how the state was reached
		path []lifeEvent // from a new connection
		want map[lifeEvent]string
	}{
		{"created", nil, created},
		{"initializing", []lifeEvent{evInitialize}, map[lifeEvent]string{
			evInitialize:      "initializing; " + again,
			evShutdown:        "shut down; taken, moves",
			evRequest:         "initializing; taken",
			evUnknown:         "initializing; taken",
			evInitOK:          "initialized",
			evInitFailed:      "created",
			evInitializedNote: "initializing; its work runs once initialize succeeded",
			evExit:            "exited; exit code 1",
		}},
		{"initialized", []lifeEvent{evInitialize, evInitOK}, initialized},
		{"initialized, initialized notification taken", []lifeEvent{evInitialize, evInitializedNote, evInitOK},
			with(initialized, map[lifeEvent]string{evInitializedNote: "initialized; ignored"})},
		{"shut down", []lifeEvent{evInitialize, evInitOK, evShutdown}, shutDown},
		{"shut down while initialize is answered", []lifeEvent{evInitialize, evShutdown}, with(shutDown, map[lifeEvent]string{
			evInitOK:     "shut down",
			evInitFailed: "created", // the waiting shutdown is answered -32002 "initialize failed"
		})},
		{"created after initialize failed", []lifeEvent{evInitialize, evInitializedNote, evInitFailed}, created},
		{"exited after shutdown", []lifeEvent{evInitialize, evInitOK, evShutdown, evExit}, exited},
		{"exited without shutdown", []lifeEvent{evInitialize, evInitOK, evExit}, exited},
	}
	for _, tc := range tests {
		for _, ev := range lifeEvents {
			want, ok := tc.want[ev]
			if !ok {
				t.Errorf("%s: no expectation for %q", tc.from, ev)
				continue
			}
			var l lifecycle
			for _, step := range tc.path {
				apply(&l, step)
			}
			if got := apply(&l, ev); got != want {
				t.Errorf("%s, %s:\n got %s\nwant %s", tc.from, ev, got, want)
			}
		}
	}
}

// with is base with the outcomes of some events changed.
func with(base, changed map[lifeEvent]string) map[lifeEvent]string {
	out := maps.Clone(base)
	maps.Copy(out, changed)
	return out
}

// TestLifecycleShutDown: Serve honours stopOnExit unless shutdown did its cleanup.
func TestLifecycleShutDown(t *testing.T) {
	tests := []struct {
		path []lifeEvent
		want bool
	}{
		{nil, false},
		{[]lifeEvent{evInitialize, evInitOK}, false},
		{[]lifeEvent{evInitialize, evShutdown}, true},
		{[]lifeEvent{evInitialize, evInitOK, evShutdown}, true},
		{[]lifeEvent{evInitialize, evInitOK, evShutdown, evExit}, true},
		{[]lifeEvent{evInitialize, evInitOK, evExit}, false},
	}
	for _, tc := range tests {
		var l lifecycle
		for _, step := range tc.path {
			apply(&l, step)
		}
		if got := l.shutDown(); got != tc.want {
			t.Errorf("after %v: shutDown() = %v, want %v", tc.path, got, tc.want)
		}
	}
}

// TestInitializeAnsweredReleasesWaiters: the requests that wait for an initialize learn its
// outcome from its attempt, also when a later initialize replaced it.
func TestInitializeAnsweredReleasesWaiters(t *testing.T) {
	var l lifecycle
	l.request(MethodInitialize, initializeStates)
	first := l.attempt
	l.initializeAnswered(first, false)
	if !isClosed(first.done) || first.ok {
		t.Fatalf("failed attempt: closed %v, ok %v; want closed, not ok", isClosed(first.done), first.ok)
	}
	l.request(MethodInitialize, initializeStates)
	second := l.attempt
	if second == first || isClosed(second.done) {
		t.Fatal("a new initialize must get its own pending attempt")
	}
	l.initializeAnswered(second, true)
	rpctest.Must(t, "after the second initialize's answer", rpctest.Want("second ok", second.ok, true), rpctest.Want("first ok", first.ok, false),
		rpctest.Want("state", l.state, stateInitialized))
}

// TestRequestsWaitingForAFailedInitialize: a request taken while initialize is answered waits
// for it and, when initialize fails, is answered -32002; initialize may then be sent again.
func TestRequestsWaitingForAFailedInitialize(t *testing.T) {
	fake := newFakeProject(t.TempDir(), false)
	release := make(chan error)
	opens := 0
	opts := fakeOpts(fake, nil)
	opts.Open = func(context.Context, string, workspace.ProjectOptions) (Project, error) {
		opens++
		if opens == 1 {
			if err := <-release; err != nil {
				return nil, err
			}
		}
		return fake, nil
	}
	c, _ := inProcess(t, opts)
	initID := c.request(MethodInitialize, initParams(fake.root.Dir, map[string]any{"autoStart": false}))
	statusID := c.request(MethodStatus, nil)
	// Refused at once by the reader, which so has taken iris/status before it.
	wantWhole(t, c.call(MethodInitialize, initParams(fake.root.Dir, nil)), CodeInvalidRequest, "initialize was already received; send it once per connection")
	release <- errors.New("/p/.iris-helper.json: image: expected a string")
	wantWhole(t, c.response(initID), CodeOpenProject, "/p/.iris-helper.json: image: expected a string; fix it and restart the helper")
	wantWhole(t, c.response(statusID), CodeServerNotInitialized, "iris/status: initialize failed; send initialize again")
	wantWhole(t, c.call(MethodShutdown, nil), CodeServerNotInitialized, "shutdown before initialize: send initialize first")
	if m := c.call(MethodInitialize, initParams(fake.root.Dir, map[string]any{"autoStart": false})); m.Error != nil {
		t.Fatalf("initialize again: %+v", m.Error)
	}
	if m := c.call(MethodStatus, nil); m.Error != nil {
		t.Fatalf("iris/status after initialize: %+v", m.Error)
	}
}

// wantWhole fails unless m is the error code with exactly the message.
func wantWhole(t *testing.T, m wireMsg, code int64, message string) {
	t.Helper()
	if m.Error == nil {
		t.Fatalf("want error %d %q, got result %s", code, message, m.Result)
	}
	if m.Error.Code != code || m.Error.Message != message {
		t.Fatalf("error:\n got %d %s\nwant %d %s", m.Error.Code, m.Error.Message, code, message)
	}
}
