package rpc

import (
	"fmt"

	"github.com/sourcegraph/jsonrpc2"
)

// lifeState is where a connection is in the LSP lifecycle (docs/protocol.md "Lifecycle"):
//
//	created ──initialize──▶ initializing ──answered──▶ initialized ──shutdown──▶ shut down ──exit──▶ exited
//	   ▲                        │  │                                                ▲
//	   └──initialize failed─────┘  └──shutdown (waits for the answer)───────────────┘
//
// exit from any state ends in exited (code 0 only from shut down).
type lifeState int

const (
	stateCreated      lifeState = iota // nothing received yet, or initialize failed
	stateInitializing                  // initialize received, not answered yet
	stateInitialized                   // initialize answered with a result
	stateShutDown                      // shutdown received: only exit (and shutdown again) is taken
	stateExited                        // exit received: the session is ending
)

var lifeStateNames = [...]string{"created", "initializing", "initialized", "shut down", "exited"}

func (st lifeState) String() string {
	if st < 0 || int(st) >= len(lifeStateNames) {
		return fmt.Sprintf("lifeState(%d)", int(st))
	}
	return lifeStateNames[st]
}

// stateSet is a set of lifeStates: the states in which a request is taken.
type stateSet uint8

func states(sts ...lifeState) stateSet {
	var set stateSet
	for _, st := range sts {
		set |= 1 << st
	}
	return set
}

func (set stateSet) has(st lifeState) bool { return set&(1<<st) != 0 }

// Where requests are taken (methods.go gives each method its set).
var (
	// initializeStates: initialize is taken once per connection, or again after it failed.
	initializeStates = states(stateCreated)
	// shutdownStates: shutdown is taken once initialize was received (it waits for the answer),
	// and again after shutdown.
	shutdownStates = states(stateInitializing, stateInitialized, stateShutDown)
	// requestStates: every other request (an unknown method too, answered "method not found") is
	// taken from initialize on (it waits for the answer) until shutdown.
	requestStates = states(stateInitializing, stateInitialized)
)

// initAttempt is one initialize request: done is closed when it has been answered, and ok then
// says whether with a result. The requests that arrived while it was answered wait for done.
type initAttempt struct {
	done chan struct{}
	ok   bool // written before done is closed
}

// lifecycle is a connection's lifecycle: its state and every transition (the server holds it
// under its mutex). Only the reader calls request, initializedNotification and exit, in the
// order the client sent them; initialize's handler calls initializeAnswered.
type lifecycle struct {
	state lifeState
	// notified: the initialized notification of this initialize was taken (its work, watching
	// and the auto-start, runs once).
	notified bool
	// exitCode is Serve's code once exited: ExitOK after shutdown, else ExitNoShutdown.
	exitCode int
	// attempt is the latest initialize; nil before the first.
	attempt *initAttempt
}

// request is the reader receiving a request for method, which is taken in the states allowed.
// It answers the refusal the client gets, or nil when the request is taken; moved says the
// request changed the state (initialize, the first shutdown): such a request is never refused
// for the in-flight limit.
func (l *lifecycle) request(method string, allowed stateSet) (moved bool, refusal *jsonrpc2.Error) {
	if !allowed.has(l.state) {
		return false, refusalIn(l.state, method)
	}
	switch {
	case method == MethodInitialize && l.state == stateCreated:
		l.state = stateInitializing
		l.notified = false
		l.attempt = &initAttempt{done: make(chan struct{})}
		return true, nil
	case method == MethodShutdown && l.state != stateShutDown:
		l.state = stateShutDown
		return true, nil
	}
	return false, nil
}

// refusalIn is the answer to a request for method that is not taken in state st.
func refusalIn(st lifeState, method string) *jsonrpc2.Error {
	switch {
	case st == stateCreated:
		return &jsonrpc2.Error{Code: CodeServerNotInitialized,
			Message: fmt.Sprintf("%s before initialize: send initialize first", method)}
	case st == stateExited:
		return &jsonrpc2.Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("%s after exit: the helper is ending", method)}
	case method == MethodInitialize:
		return &jsonrpc2.Error{Code: CodeInvalidRequest, Message: "initialize was already received; send it once per connection"}
	default:
		return &jsonrpc2.Error{Code: CodeInvalidRequest,
			Message: fmt.Sprintf("%s after shutdown: the helper is shutting down; only exit is accepted", method)}
	}
}

// initializeFailedError answers a request that waited for an initialize that failed.
func initializeFailedError(method string) *jsonrpc2.Error {
	return &jsonrpc2.Error{Code: CodeServerNotInitialized, Message: fmt.Sprintf("%s: initialize failed; send initialize again", method)}
}

// initializeAnswered is initialize's answer going out: with a result (ok) or an error. A failed
// initialize returns the connection to created (initialize may be sent again); a shutdown
// received meanwhile stays, unless initialize failed (the waiting shutdown is then refused).
func (l *lifecycle) initializeAnswered(a *initAttempt, ok bool) {
	a.ok = ok
	close(a.done)
	if a != l.attempt {
		return
	}
	switch {
	case l.state == stateInitializing && ok:
		l.state = stateInitialized
	case (l.state == stateInitializing || l.state == stateShutDown) && !ok:
		l.state = stateCreated
		l.notified = false
	}
}

// initializedNotification is the reader receiving the initialized notification. first says it
// is the first since initialize was received: its work runs (once initialize is answered, and
// only when that succeeded). Before initialize and after shutdown it is ignored.
func (l *lifecycle) initializedNotification() (first bool) {
	if l.notified || (l.state != stateInitializing && l.state != stateInitialized) {
		return false
	}
	l.notified = true
	return true
}

// exit is the reader receiving the exit notification: the code Serve returns, and whether this
// is the first exit (a second one is ignored).
func (l *lifecycle) exit() (code int, first bool) {
	if l.state == stateExited {
		return l.exitCode, false
	}
	l.exitCode = ExitNoShutdown
	if l.state == stateShutDown {
		l.exitCode = ExitOK
	}
	l.state = stateExited
	return l.exitCode, true
}

// shutDown reports whether shutdown was received (and so did its cleanup), also once exited.
func (l *lifecycle) shutDown() bool {
	return l.state == stateShutDown || (l.state == stateExited && l.exitCode == ExitOK)
}
