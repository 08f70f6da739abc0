// Package rpctest is a fake editor for tests of iris-helper's editor protocol (docs/protocol.md),
// in the spirit of gopls' integration `fake` package: it speaks the LSP framing on a pair of
// streams, initializes, records every message the helper sends (iris/status, window/showMessage,
// $/progress, ...), answers the helper's own requests, and waits for expectations (a predicate on
// the messages received) instead of sleeping. It also holds Buffer, the thread-safe output sink.
//
// It imports nothing of the module, so that any package's tests can use it, rpc's own included:
//
//	ed, code := rpctest.InProcess(t, func(ctx context.Context, in io.Reader, out io.Writer) int {
//		return rpc.Serve(ctx, in, out, opts)
//	})
//	ed.Initialize(rpctest.InitParams(dir, map[string]any{"autoStart": false}))
//	ed.WaitFor("ready", rpctest.Status("ready"))
//	ed.Shutdown()
package rpctest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultTimeout bounds every wait of an Editor unless its Timeout says otherwise: generous, as
// the test machine is slow and busy; a wait is a guard against a hang, not a timed assertion.
const DefaultTimeout = 90 * time.Second

// Editor is a scripted client. Its methods may be called from any goroutine; the predicates given
// to the waits may call back into it.
type Editor struct {
	t testing.TB
	w io.WriteCloser

	// Timeout bounds each wait (DefaultTimeout when zero).
	Timeout time.Duration
	// Stderr, when set, is the helper's log, printed with the messages when a wait fails.
	Stderr fmt.Stringer

	mu      sync.Mutex
	msgs    []Message     // everything received, in order
	changed chan struct{} // closed and replaced on every new message and at the end
	ended   bool
	endErr  error
	nextID  int
}

// NewEditor starts reading the helper's output fromServer and writes to the helper on
// toServer. Requests from the helper (window/workDoneProgress/create) are answered with null.
// When the output ends, or holds anything but frames, the Editor stops reading (WaitEnd says
// why).
func NewEditor(t testing.TB, fromServer io.Reader, toServer io.WriteCloser) *Editor {
	e := &Editor{t: t, w: toServer, changed: make(chan struct{})}
	go e.read(bufio.NewReader(fromServer))
	return e
}

// InProcess runs serve (rpc.Serve, or the CLI's `serve` command) over pipes in this process and
// returns an Editor on them and a channel with serve's result. At cleanup the editor's input to
// the helper is closed and serve's context cancelled, and serve must return.
func InProcess(t testing.TB, serve func(ctx context.Context, in io.Reader, out io.Writer) int) (*Editor, <-chan int) {
	t.Helper()
	toServerR, toServerW := io.Pipe()
	fromServerR, fromServerW := io.Pipe()
	code := make(chan int, 1)
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		c := serve(ctx, toServerR, fromServerW)
		toServerR.Close()
		fromServerW.Close()
		code <- c
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		toServerW.Close()
		select {
		case <-done:
		case <-time.After(DefaultTimeout):
			t.Error("the helper did not return at cleanup")
		}
	})
	return NewEditor(t, fromServerR, toServerW), code
}

func (e *Editor) read(r *bufio.Reader) {
	for {
		m, err := ReadFrame(r)
		e.mu.Lock()
		if err != nil {
			e.ended, e.endErr = true, err
			e.mu.Unlock()
			e.signal()
			return
		}
		e.msgs = append(e.msgs, m)
		e.mu.Unlock()
		if m.Method != "" && m.ID != nil { // a request from the helper
			e.SendRaw(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":null}`, *m.ID))
		}
		e.signal()
	}
}

func (e *Editor) signal() {
	e.mu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

func (e *Editor) timeout() time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return DefaultTimeout
}

// WriteRaw writes s to the helper as it is, framed or not.
func (e *Editor) WriteRaw(s string) {
	if _, err := io.WriteString(e.w, s); err != nil {
		e.t.Logf("editor write: %v", err)
	}
}

// SendRaw writes one frame with body as it is.
func (e *Editor) SendRaw(body string) { e.WriteRaw(Frame(body)) }

// Input is the helper's input, for a test that writes what no editor would (half a frame).
func (e *Editor) Input() io.WriteCloser { return e.w }

// Close closes the editor's output (the helper's input): the end of input.
func (e *Editor) Close() { e.w.Close() }

// Request sends a request and returns its id (1, 2, ... in order).
func (e *Editor) Request(method string, params any) int {
	e.mu.Lock()
	e.nextID++
	id := e.nextID
	e.mu.Unlock()
	e.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": method}, params)
	return id
}

// Notify sends a notification.
func (e *Editor) Notify(method string, params any) {
	e.send(map[string]any{"jsonrpc": "2.0", "method": method}, params)
}

// send writes body, with params when not nil, as one frame.
func (e *Editor) send(body map[string]any, params any) {
	if params != nil {
		body["params"] = params
	}
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.SendRaw(string(b))
}

// Call sends a request and waits for its response.
func (e *Editor) Call(method string, params any) Message {
	e.t.Helper()
	return e.Response(e.Request(method, params))
}

// Response waits for the response to request id.
func (e *Editor) Response(id int) Message {
	e.t.Helper()
	return e.WaitFor(fmt.Sprintf("response to request %d", id), ResponseTo(id))
}

// InitParams are the initialize parameters of a VS Code-like editor on folder dir, with
// initializationOptions opts when not nil.
func InitParams(dir string, opts map[string]any) map[string]any {
	p := map[string]any{
		"processId":    nil,
		"rootUri":      "file://" + filepath.ToSlash(dir),
		"capabilities": map[string]any{"window": map[string]any{"workDoneProgress": true}},
		"clientInfo":   map[string]any{"name": "scripted", "version": "1"},
	}
	if opts != nil {
		p["initializationOptions"] = opts
	}
	return p
}

// Initialize sends initialize with params, fails the test when it is answered with an error,
// sends initialized and returns the initialize response.
func (e *Editor) Initialize(params any) Message {
	e.t.Helper()
	res := e.Call("initialize", params)
	if res.Error != nil {
		e.t.Fatalf("initialize: %d %s%s", res.Error.Code, res.Error.Message, e.report())
	}
	e.Notify("initialized", map[string]any{})
	return res
}

// Shutdown sends shutdown, fails the test when it is answered with an error, and sends exit.
func (e *Editor) Shutdown() {
	e.t.Helper()
	if res := e.Call("shutdown", nil); res.Error != nil {
		e.t.Fatalf("shutdown: %d %s%s", res.Error.Code, res.Error.Message, e.report())
	}
	e.Notify("exit", nil)
}

// WaitFor waits until a received message satisfies pred and returns the first such message; it
// fails the test, naming what and showing every message received, when none does within the
// Timeout or before the helper's output ends.
func (e *Editor) WaitFor(what string, pred func(Message) bool) Message {
	e.t.Helper()
	m, ok := e.WaitForWithin(e.timeout(), pred)
	if !ok {
		e.t.Fatalf("gave up waiting for %s%s", what, e.report())
	}
	return m
}

// WaitForWithin is WaitFor that says false instead of failing.
func (e *Editor) WaitForWithin(d time.Duration, pred func(Message) bool) (Message, bool) {
	deadline := time.After(d)
	for {
		e.mu.Lock()
		msgs := append([]Message(nil), e.msgs...)
		ended, changed := e.ended, e.changed
		e.mu.Unlock()
		for _, m := range msgs { // pred may call back into e
			if pred(m) {
				return m, true
			}
		}
		if ended {
			return Message{}, false
		}
		select {
		case <-changed:
		case <-deadline:
			return Message{}, false
		}
	}
}

// Mark is a position in the messages received; After matches only messages that came after it.
type Mark int

// Mark returns the position after the last message received so far.
func (e *Editor) Mark() Mark {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Mark(len(e.msgs))
}

// After returns pred restricted to the messages received after mark.
func (e *Editor) After(mark Mark, pred func(Message) bool) func(Message) bool {
	return func(Message) bool {
		for _, m := range e.All()[mark:] {
			if pred(m) {
				return true
			}
		}
		return false
	}
}

// WaitEnd waits until the helper's output ends and returns why: io.EOF for a clean end after
// whole frames, another error when the output held anything else.
func (e *Editor) WaitEnd() error {
	e.t.Helper()
	deadline := time.After(e.timeout())
	for {
		ended, changed, err := e.state()
		if ended {
			return err
		}
		select {
		case <-changed:
		case <-deadline:
			e.t.Fatalf("the helper's output did not end%s", e.report())
		}
	}
}

// WaitEndQuiet waits, without a deadline, until the helper's output ends, and returns why.
func (e *Editor) WaitEndQuiet() error {
	for {
		ended, changed, err := e.state()
		if ended {
			return err
		}
		<-changed
	}
}

// state says whether the output ended, why, and the channel closed at the next change.
func (e *Editor) state() (ended bool, changed chan struct{}, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ended, e.changed, e.endErr
}

// Notifications returns the received notifications of method, in order.
func (e *Editor) Notifications(method string) []Message {
	var out []Message
	for _, m := range e.All() {
		if m.Method == method && m.ID == nil {
			out = append(out, m)
		}
	}
	return out
}

// All returns every message received, in order.
func (e *Editor) All() []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Message(nil), e.msgs...)
}

// Dump is every message received, one JSON line each.
func (e *Editor) Dump() string {
	var b strings.Builder
	for _, m := range e.All() {
		j, _ := json.Marshal(m)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// report is what a failed wait shows: the messages, the end of the output, the helper's log.
func (e *Editor) report() string {
	var b strings.Builder
	b.WriteString("; received:\n" + e.Dump())
	if ended, _, err := e.state(); ended {
		fmt.Fprintf(&b, "(output ended: %v)\n", err)
	}
	if e.Stderr != nil {
		b.WriteString("helper stderr:\n" + e.Stderr.String())
	}
	return b.String()
}

// ResponseTo matches the response to the request with id.
func ResponseTo(id int) func(Message) bool {
	want := fmt.Sprint(id)
	return func(m Message) bool { return m.Method == "" && m.ID != nil && string(*m.ID) == want }
}

// IsResponse matches every response (a message with no method).
func IsResponse(m Message) bool { return m.Method == "" }

// IsMethod matches the messages (requests or notifications) of method.
func IsMethod(method string) func(Message) bool {
	return func(m Message) bool { return m.Method == method }
}

// Status matches the iris/status notifications whose state is state.
func Status(state string) func(Message) bool {
	return func(m Message) bool {
		if m.Method != "iris/status" || m.ID != nil {
			return false
		}
		var st struct {
			State string `json:"state"`
		}
		return json.Unmarshal(m.Params, &st) == nil && st.State == state
	}
}

// ShowMessage matches the window/showMessage notifications of type typ (1 error, 2 warning,
// 3 info, 4 log) whose message contains text.
func ShowMessage(typ int, text string) func(Message) bool {
	return func(m Message) bool {
		if m.Method != "window/showMessage" || m.ID != nil {
			return false
		}
		var p struct {
			Type    int    `json:"type"`
			Message string `json:"message"`
		}
		return json.Unmarshal(m.Params, &p) == nil && p.Type == typ && strings.Contains(p.Message, text)
	}
}

// Progress matches the $/progress notifications whose value has kind ("begin", "report", "end").
func Progress(kind string) func(Message) bool {
	return func(m Message) bool {
		if m.Method != "$/progress" || m.ID != nil {
			return false
		}
		var p struct {
			Value struct {
				Kind string `json:"kind"`
			} `json:"value"`
		}
		return json.Unmarshal(m.Params, &p) == nil && p.Value.Kind == kind
	}
}
