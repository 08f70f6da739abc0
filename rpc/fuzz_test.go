package rpc

import (
	"bytes"
	"testing"
)

// FuzzStream feeds arbitrary bytes to a jsonrpc2 connection over Stream. Whatever comes in, the
// connection must end at the end of input without panicking, and everything the server wrote must
// be well-framed JSON-RPC 2.0 that a strict client accepts, with an explicit error code.
// Seeds: f.Add below and rpc/testdata/fuzz/FuzzStream.
func FuzzStream(f *testing.F) {
	for _, seed := range []string{
		frame(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"rootUri":null,"capabilities":{}}}`),
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
