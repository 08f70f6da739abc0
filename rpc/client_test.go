package rpc

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// waitLong is the generous deadline of every wait in these tests (the CI box is slow and busy).
const waitLong = 90 * time.Second

// testClient is the fake editor of rpc/rpctest (shared with cmd/iris-helper's serve tests) under
// the names these tests use: it writes frames to the helper and records everything the helper
// sends, answering the helper's own requests (window/workDoneProgress/create) with null.
type testClient struct {
	*rpctest.Editor
	t    testing.TB
	w    io.WriteCloser // the helper's input
	proc *os.Process    // the helper process of subprocess(); nil in-process
}

func newTestClient(t testing.TB, fromServer io.Reader, toServer io.WriteCloser) *testClient {
	return wrapEditor(t, rpctest.NewEditor(t, fromServer, toServer))
}

func wrapEditor(t testing.TB, e *rpctest.Editor) *testClient {
	e.Timeout = waitLong
	return &testClient{Editor: e, t: t, w: e.Input()}
}

// sendRaw writes one frame with body as is.
func (c *testClient) sendRaw(body string) { c.SendRaw(body) }

// request sends a request and returns its id.
func (c *testClient) request(method string, params any) int { return c.Request(method, params) }

func (c *testClient) notify(method string, params any) { c.Notify(method, params) }

// call sends a request and waits for its response.
func (c *testClient) call(method string, params any) wireMsg {
	c.t.Helper()
	return wireMsg(c.Call(method, params))
}

// response waits for the response to request id.
func (c *testClient) response(id int) wireMsg {
	c.t.Helper()
	return wireMsg(c.Response(id))
}

// waitFor waits until a received message satisfies pred and returns the first such message.
func (c *testClient) waitFor(what string, pred func(wireMsg) bool) wireMsg {
	c.t.Helper()
	return wireMsg(c.WaitFor(what, func(m rpctest.Message) bool { return pred(wireMsg(m)) }))
}

func (c *testClient) waitForWithin(d time.Duration, pred func(wireMsg) bool) (wireMsg, bool) {
	m, ok := c.WaitForWithin(d, func(m rpctest.Message) bool { return pred(wireMsg(m)) })
	return wireMsg(m), ok
}

// waitEnd waits until the helper closes its output.
func (c *testClient) waitEnd() error {
	c.t.Helper()
	return c.WaitEnd()
}

// notifications returns the received notifications of method, in order.
func (c *testClient) notifications(method string) []wireMsg { return wireMsgs(c.Notifications(method)) }

func (c *testClient) all() []wireMsg { return wireMsgs(c.All()) }

func (c *testClient) dump() string { return c.Dump() }

func wireMsgs(ms []rpctest.Message) []wireMsg {
	out := make([]wireMsg, len(ms))
	for i, m := range ms {
		out[i] = wireMsg(m)
	}
	return out
}

// inProcess runs Serve over pipes and returns the client and a channel with Serve's exit code.
func inProcess(t testing.TB, opts Options) (*testClient, <-chan int) {
	t.Helper()
	e, code := rpctest.InProcess(t, func(ctx context.Context, in io.Reader, out io.Writer) int {
		return Serve(ctx, in, out, opts)
	})
	return wrapEditor(t, e), code
}

// decode unmarshals raw into a new T, failing the test on error.
func decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	return rpctest.Decode[T](t, raw)
}

func isMethod(method string) func(wireMsg) bool {
	return func(m wireMsg) bool { return m.Method == method }
}
