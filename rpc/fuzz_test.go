package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// FuzzStream feeds arbitrary bytes to a jsonrpc2 connection over Stream. Whatever comes in, the
// connection must end at the end of input without panicking, and everything the server wrote must
// be well-framed JSON-RPC 2.0 that a strict client accepts, with an explicit error code.
// Seeds: f.Add below and rpc/testdata/fuzz/FuzzStream.
func FuzzStream(f *testing.F) {
	for _, seed := range []string{
		frame(`{"jsonrpc":"2.0","id":"fuzz-initialize","method":"initialize","params":{"processId":null,"rootUri":null,"capabilities":{}}}`),
		frame(`{"jsonrpc":"2.0","method":"exit","params":null}`),
		frame(`{"jsonrpc":"2.0","id":1,"method":`) + frame(`{"jsonrpc":"2.0","id":2,"method":"x"}`),
		"garbage\r\n" + frame(`{"jsonrpc":"2.0","id":"a","method":"x"}`),
		"Content-Length: 99999999999\r\n\r\n{}",
		"Content-Length: -1\r\n\r\n",
		"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}}",
		frame(`[{"jsonrpc":"2.0","id":1,"method":"a"}]`),
		frame(`{"jsonrpc":"2.0","id":1.5,"method":"a"}`),
		frame(`{"jsonrpc":"2.0","id":-1,"method":"a"}`),
		frame(`{"jsonrpc":"2.0","id":1,"result":null}`),
		"\r\n\r\n\n",
	} {
		f.Add([]byte(seed))
	}
	allowed := map[int64]bool{CodeParseError: true, CodeInvalidRequest: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _, _ := echoConn(t, bytes.NewReader(data), 4096)
		for _, m := range readFrames(t, out) {
			if m.Error != nil && !allowed[m.Error.Code] {
				t.Fatalf("unexpected error code %d in %+v", m.Error.Code, m)
			}
			if m.Error == nil && m.Result == nil {
				t.Fatalf("response without result or error: %+v", m)
			}
		}
	})
}

// FuzzRequest feeds one arbitrary message body to an initialized server (over a fake project)
// through the library's request decoder and the server's dispatch and params decoding. Whatever
// the body, the server must not panic, must answer a request exactly once with its id, must not
// answer a notification, and every error must carry one of the documented codes.
// Seeds: f.Add below and rpc/testdata/fuzz/FuzzRequest.
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":2,"method":"iris/status"}`,
		`{"jsonrpc":"2.0","id":2,"method":"iris/stop","params":{"remove":true,"purge":true}}`,
		`{"jsonrpc":"2.0","id":2,"method":"iris/stop","params":{"remove":"yes"}}`,
		`{"jsonrpc":"2.0","id":2,"method":"iris/release","params":[1,2]}`,
		`{"jsonrpc":"2.0","id":2,"method":"iris/start","params":{"workDoneToken":"t1"}}`,
		`{"jsonrpc":"2.0","id":"x","method":"workspace/executeCommand","params":{"command":"iris.ports","arguments":[{}]}}`,
		`{"jsonrpc":"2.0","id":2,"method":"workspace/executeCommand","params":{"command":"iris.stop","arguments":[null]}}`,
		`{"jsonrpc":"2.0","id":2,"method":"workspace/executeCommand","params":{"command":null}}`,
		`{"jsonrpc":"2.0","id":2,"method":"initialize","params":{}}`,
		`{"jsonrpc":"2.0","id":2,"method":"shutdown","params":null}`,
		`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":2}}`,
		`{"jsonrpc":"2.0","method":"$/cancelRequest","params":"x"}`,
		`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{}}}`,
		`{"jsonrpc":"2.0","id":2,"method":"textDocument/hover"}`,
		`{"jsonrpc":"2.0","id":2,"method":"iris/ports","params":{"x":1}}`,
	} {
		f.Add([]byte(seed))
	}
	allowed := map[int64]bool{CodeParseError: true, CodeInvalidRequest: true, CodeMethodNotFound: true,
		CodeInvalidParams: true, CodeInternalError: true, CodeServerNotInitialized: true, CodeRequestCancelled: true,
		CodeContainerRunning: true, CodeStartInterrupted: true, CodeStartFailed: true, CodeNoProject: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req jsonrpc2.Request
		if json.Unmarshal(body, &req) != nil {
			return // the stream answers these (FuzzStream)
		}
		fake := newFakeProject("/fuzz/project", true)
		close(fake.release)
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe() // never written: the connection stays open until cancel
		defer pw.Close()
		var out rpctest.Buffer
		s := newServer(ctx, pr, &out, fakeOpts(fake, nil))

		var initReq jsonrpc2.Request
		json.Unmarshal([]byte(`{"jsonrpc":"2.0","id":"fuzz-initialize","method":"initialize","params":{"processId":null,"rootUri":"file:///fuzz/project","capabilities":{},"initializationOptions":{"autoStart":false}}}`), &initReq)
		s.Handle(ctx, s.conn, &initReq)
		waitIdle(t, s)
		s.Handle(ctx, s.conn, &req)
		waitIdle(t, s)
		cancel()
		s.wg.Wait()
		<-s.stream.Drained() // closed with the connection; what was queued is written

		var answers int
		for _, m := range readFrames(t, []byte(out.String())) {
			if m.Method != "" {
				continue // notifications and requests from the server
			}
			if m.idString() == `"fuzz-initialize"` && idJSON(req.ID) != `"fuzz-initialize"` {
				continue // the initialize answer
			}
			answers++
			if !req.Notif && m.idString() != idJSON(req.ID) {
				t.Fatalf("answer with id %s to request id %s", m.idString(), idJSON(req.ID))
			}
			if m.Error != nil && !allowed[m.Error.Code] {
				t.Fatalf("error code %d not documented: %+v", m.Error.Code, m.Error)
			}
			if m.Error == nil && m.Result == nil {
				t.Fatalf("answer without result or error: %+v", m)
			}
		}
		if req.Notif && answers != 0 {
			t.Fatalf("a notification was answered:\n%s", out.String())
		}
		if !req.Notif && answers != 1 {
			t.Fatalf("request answered %d times:\n%s", answers, out.String())
		}
	})
}

func idJSON(id jsonrpc2.ID) string {
	b, _ := json.Marshal(id)
	return string(b)
}

// waitIdle waits until no request is in flight.
func waitIdle(t *testing.T, s *server) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.inflight)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("requests still in flight after 30 s")
}
