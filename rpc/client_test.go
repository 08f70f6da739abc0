package rpc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitLong is the generous deadline of every wait in these tests (the CI box is slow and busy).
const waitLong = 90 * time.Second

// testClient is a scripted LSP client: it writes frames to the helper and records everything the
// helper sends, answering the helper's own requests (window/workDoneProgress/create) with null.
type testClient struct {
	t    testing.TB
	w    io.WriteCloser
	proc *os.Process // the helper process of subprocess(); nil in-process

	mu      sync.Mutex
	msgs    []wireMsg     // everything received, in order
	changed chan struct{} // closed and replaced on every new message and at the end
	ended   bool
	endErr  error
	nextID  int
}

func newTestClient(t testing.TB, fromServer io.Reader, toServer io.WriteCloser) *testClient {
	c := &testClient{t: t, w: toServer, changed: make(chan struct{})}
	go c.read(bufio.NewReader(fromServer))
	return c
}

func (c *testClient) read(r *bufio.Reader) {
	for {
		m, err := readWireFrame(r)
		c.mu.Lock()
		if err != nil {
			c.ended, c.endErr = true, err
			c.mu.Unlock()
			c.signal()
			return
		}
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
		if m.Method != "" && m.ID != nil { // a request from the helper
			c.sendRaw(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":null}`, *m.ID))
		}
		c.signal()
	}
}

func (c *testClient) signal() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// sendRaw writes one frame with body as is.
func (c *testClient) sendRaw(body string) {
	if _, err := io.WriteString(c.w, frame(body)); err != nil {
		c.t.Logf("client write: %v", err)
	}
}

// request sends a request and returns its id.
func (c *testClient) request(method string, params any) int {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.mu.Unlock()
	body := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		body["params"] = params
	}
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
	return id
}

func (c *testClient) notify(method string, params any) {
	body := map[string]any{"jsonrpc": "2.0", "method": method}
	if params != nil {
		body["params"] = params
	}
	b, _ := json.Marshal(body)
	c.sendRaw(string(b))
}

// call sends a request and waits for its response.
func (c *testClient) call(method string, params any) wireMsg {
	c.t.Helper()
	return c.response(c.request(method, params))
}

// response waits for the response to request id.
func (c *testClient) response(id int) wireMsg {
	c.t.Helper()
	want := fmt.Sprint(id)
	return c.waitFor(fmt.Sprintf("response to request %d", id), func(m wireMsg) bool {
		return m.Method == "" && m.ID != nil && string(*m.ID) == want
	})
}

// waitFor waits until a received message satisfies pred and returns the first such message.
func (c *testClient) waitFor(what string, pred func(wireMsg) bool) wireMsg {
	c.t.Helper()
	m, ok := c.waitForWithin(waitLong, pred)
	if !ok {
		c.t.Fatalf("timed out waiting for %s; received:\n%s", what, c.dump())
	}
	return m
}

func (c *testClient) waitForWithin(d time.Duration, pred func(wireMsg) bool) (wireMsg, bool) {
	deadline := time.After(d)
	for {
		c.mu.Lock()
		msgs := append([]wireMsg(nil), c.msgs...)
		ended, changed := c.ended, c.changed
		c.mu.Unlock()
		for _, m := range msgs { // pred may call back into c
			if pred(m) {
				return m, true
			}
		}
		if ended {
			return wireMsg{}, false
		}
		select {
		case <-changed:
		case <-deadline:
			return wireMsg{}, false
		}
	}
}

// waitEnd waits until the helper closes its output.
func (c *testClient) waitEnd() error {
	c.t.Helper()
	deadline := time.After(waitLong)
	for {
		c.mu.Lock()
		ended, err, changed := c.ended, c.endErr, c.changed
		c.mu.Unlock()
		if ended {
			return err
		}
		select {
		case <-changed:
		case <-deadline:
			c.t.Fatalf("helper output did not end; received:\n%s", c.dump())
		}
	}
}

// notifications returns the received notifications of method, in order.
func (c *testClient) notifications(method string) []wireMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wireMsg
	for _, m := range c.msgs {
		if m.Method == method && m.ID == nil {
			out = append(out, m)
		}
	}
	return out
}

func (c *testClient) all() []wireMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]wireMsg(nil), c.msgs...)
}

func (c *testClient) dump() string {
	var b strings.Builder
	for _, m := range c.all() {
		j, _ := json.Marshal(m)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// inProcess runs Serve over pipes and returns the client and a channel with Serve's exit code.
func inProcess(t testing.TB, opts Options) (*testClient, <-chan int) {
	t.Helper()
	toServerR, toServerW := io.Pipe()
	fromServerR, fromServerW := io.Pipe()
	code := make(chan int, 1)
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		c := Serve(ctx, toServerR, fromServerW, opts)
		fromServerW.Close()
		code <- c
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		toServerW.Close()
		select {
		case <-done:
		case <-time.After(waitLong):
			t.Error("Serve did not return at cleanup")
		}
	})
	return newTestClient(t, fromServerR, toServerW), code
}

// decode unmarshals raw into a new T, failing the test on error.
func decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

func isMethod(method string) func(wireMsg) bool {
	return func(m wireMsg) bool { return m.Method == method }
}
