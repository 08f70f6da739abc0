package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// frame wraps a body in LSP framing.
func frame(body string) string { return rpctest.Frame(body) }

// wireMsg is any message as it appears on the wire (rpctest.Message, with the id helper these
// tests use).
type wireMsg rpctest.Message

func (m wireMsg) idString() string { return rpctest.Message(m).IDString() }

// readFrames parses every frame in out; it fails the test on bad framing.
func readFrames(t testing.TB, out []byte) []wireMsg {
	t.Helper()
	return wireMsgs(rpctest.ReadFrames(t, out))
}

// readWireFrame reads one frame strictly (rpctest.ReadFrame).
func readWireFrame(r *bufio.Reader) (wireMsg, error) {
	m, err := rpctest.ReadFrame(r)
	return wireMsg(m), err
}

// echoConn runs a jsonrpc2 connection over a Stream reading input; every request is answered
// with its method name, every notification is recorded. It returns what the server wrote and the
// notifications, after the connection ended.
func echoConn(t testing.TB, input io.Reader, maxBody int64) (out []byte, notes []string, readErr error) {
	t.Helper()
	var buf bytes.Buffer
	s := NewStream(input, &buf, nil, StreamOptions{MaxBody: maxBody})
	var recorded []string
	h := jsonrpc2.HandlerWithError(func(_ context.Context, _ *jsonrpc2.Conn, req *jsonrpc2.Request) (any, error) {
		if req.Notif {
			recorded = append(recorded, req.Method)
		}
		return req.Method, nil
	})
	var onRecvErr error
	conn := jsonrpc2.NewConn(context.Background(), s, h, jsonrpc2.SetLogger(discardLogger{}))
	select {
	case <-conn.DisconnectNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("connection did not end at the end of input")
	}
	<-s.Drained() // the answers queued before the end are written
	return buf.Bytes(), recorded, onRecvErr
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

func TestStreamAnswersBadInputAndResynchronizes(t *testing.T) {
	const lfBody = `{"jsonrpc":"2.0","id":13,"method":"lf"}`
	req := func(id int, method string) string {
		return frame(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q}`, id, method))
	}
	type want struct {
		id     string // raw JSON id
		code   int64  // 0 = a result
		result string // the echoed method
		msg    string // substring of the error message
	}
	tests := []struct {
		name  string
		input string
		want  []want
		notes []string
	}{
		{
			name:  "two good requests",
			input: req(1, "a") + req(2, "b"),
			want:  []want{{id: "1", result: "a"}, {id: "2", result: "b"}},
		},
		{
			name:  "undecodable JSON then a good request",
			input: frame(`{"jsonrpc":"2.0","id":1,"method":`) + req(2, "after"),
			want:  []want{{id: "null", code: CodeParseError, msg: "not valid JSON"}, {id: "2", result: "after"}},
		},
		{
			name:  "not a request object keeps the id",
			input: frame(`{"jsonrpc":"2.0","id":7,"method":5}`) + req(8, "next"),
			want:  []want{{id: "7", code: CodeInvalidRequest, msg: "invalid request"}, {id: "8", result: "next"}},
		},
		{
			name:  "neither request nor response",
			input: frame(`{"jsonrpc":"2.0"}`) + frame(`[]`) + frame(`42`) + req(3, "ok"),
			want: []want{
				{id: "null", code: CodeInvalidRequest}, {id: "null", code: CodeInvalidRequest},
				{id: "null", code: CodeInvalidRequest}, {id: "3", result: "ok"},
			},
		},
		{
			name:  "garbage lines between frames are one error",
			input: "hello there\r\nmore garbage\n{\"x\":1}\r\n" + req(4, "resynced"),
			want:  []want{{id: "null", code: CodeParseError, msg: "expected a Content-Length header"}, {id: "4", result: "resynced"}},
		},
		{
			name:  "header glued to garbage",
			input: `{"half":` + req(5, "glued"),
			want:  []want{{id: "null", code: CodeParseError}, {id: "5", result: "glued"}},
		},
		{
			name:  "bad Content-Length value",
			input: "Content-Length: twelve\r\n\r\n{}\r\n" + req(6, "after"),
			want:  []want{{id: "null", code: CodeParseError, msg: `bad Content-Length "twelve"`}, {id: "6", result: "after"}},
		},
		{
			name:  "headers without Content-Length",
			input: "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" + req(9, "x"),
			want:  []want{{id: "null", code: CodeInvalidRequest, msg: "no Content-Length"}, {id: "9", result: "x"}},
		},
		{
			name:  "empty body",
			input: "Content-Length: 0\r\n\r\n" + req(10, "x"),
			want:  []want{{id: "null", code: CodeParseError, msg: "empty"}, {id: "10", result: "x"}},
		},
		{
			name:  "oversized frame is skipped",
			input: frame(`{"jsonrpc":"2.0","id":11,"method":"`+strings.Repeat("x", 200)+`"}`) + req(12, "small"),
			want:  []want{{id: "null", code: CodeInvalidRequest, msg: "exceeds the 100-byte limit"}, {id: "12", result: "small"}},
		},
		{
			name:  "case-insensitive header, LF line ends, Content-Type accepted",
			input: fmt.Sprintf("content-length: %d\nContent-Type: application/vscode-jsonrpc; charset=utf-8\n\n%s", len(lfBody), lfBody),
			want:  []want{{id: "13", result: "lf"}},
		},
		{
			name:  "notifications and params null are accepted",
			input: frame(`{"jsonrpc":"2.0","method":"exit","params":null}`) + req(14, "x"),
			want:  []want{{id: "14", result: "x"}},
			notes: []string{"exit"},
		},
		{
			name:  "a malformed response is dropped, not answered",
			input: frame(`{"jsonrpc":"2.0","id":1,"error":"nope"}`) + req(15, "x"),
			want:  []want{{id: "15", result: "x"}},
		},
		{
			name:  "string ids are echoed",
			input: frame(`{"jsonrpc":"2.0","id":"abc","method":"s"}`),
			want:  []want{{id: `"abc"`, result: "s"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, notes, _ := echoConn(t, strings.NewReader(tt.input), 100)
			msgs := readFrames(t, out)
			if len(msgs) != len(tt.want) {
				t.Fatalf("got %d messages, want %d:\n%s", len(msgs), len(tt.want), out)
			}
			for i, w := range tt.want {
				m := msgs[i]
				if m.idString() != w.id {
					t.Errorf("message %d: id %s, want %s", i, m.idString(), w.id)
				}
				if w.code == 0 {
					if m.Error != nil || string(m.Result) != fmt.Sprintf("%q", w.result) {
						t.Errorf("message %d: got result %s error %+v, want result %q", i, m.Result, m.Error, w.result)
					}
					continue
				}
				if m.Error == nil {
					t.Errorf("message %d: got result %s, want error %d containing %q", i, m.Result, w.code, w.msg)
					continue
				}
				rpctest.Check(t, fmt.Sprintf("message %d: error", i), rpctest.Want("code", m.Error.Code, w.code))
				if !strings.Contains(m.Error.Message, w.msg) {
					t.Errorf("message %d: got error %+v, want code %d containing %q", i, m.Error, w.code, w.msg)
				}
			}
			if strings.Join(notes, ",") != strings.Join(tt.notes, ",") {
				t.Errorf("notifications %v, want %v", notes, tt.notes)
			}
		})
	}
}

func TestStreamEndOfInput(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  error
	}{
		{"clean EOF between frames", frame(`{"jsonrpc":"2.0","method":"n"}`), io.EOF},
		{"EOF inside the headers", "Content-Length: 10\r\n", io.ErrUnexpectedEOF},
		{"EOF inside the body", "Content-Length: 10\r\n\r\n{\"a\"", io.ErrUnexpectedEOF},
		{"EOF inside an oversized body", "Content-Length: 100000000\r\n\r\n{\"a\"", io.ErrUnexpectedEOF},
		{"EOF after a partial header line", "Content-Len", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := NewStream(strings.NewReader(tt.input), &out, nil, StreamOptions{})
			defer s.Close()
			var err error
			for i := 0; i < 10 && err == nil; i++ {
				var m json.RawMessage
				err = s.ReadObject(&m)
			}
			if err != tt.want {
				t.Fatalf("ReadObject ended with %v, want %v", err, tt.want)
			}
		})
	}
}

// TestStreamHugeContentLengthStreamsNotBuffers checks that a frame announcing more than the cap is
// discarded as it arrives: the reader keeps up with a writer that sends 64 MiB.
func TestStreamHugeContentLength(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		const size = 64 << 20
		fmt.Fprintf(pw, "Content-Length: %d\r\n\r\n", size)
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for i := 0; i < size/len(chunk); i++ {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		io.WriteString(pw, frame(`{"jsonrpc":"2.0","id":1,"method":"after-huge"}`))
		pw.Close()
	}()
	out, _, _ := echoConn(t, pr, 0)
	msgs := readFrames(t, out)
	rpctest.Must(t, fmt.Sprintf("answers %s", out), rpctest.Want("count", len(msgs), 2))
	if msgs[0].Error == nil {
		t.Fatalf("answers %s: the first is not an error", out)
	}
	rpctest.Must(t, fmt.Sprintf("answers %s", out), rpctest.Want("[0].error.code", msgs[0].Error.Code, CodeInvalidRequest),
		rpctest.Want("[1].result", string(msgs[1].Result), `"after-huge"`))
	if !strings.Contains(msgs[0].Error.Message, "exceeds the 16777216-byte limit") {
		t.Fatalf("unexpected answers: %s", out)
	}
}

// TestStreamIDsVersionsAndAbsurdLengths: what the library alone gets wrong, on the real stream.
// Ids it cannot hold (it keeps number ids as uint64) come back as the client wrote them; a null
// id and a "jsonrpc" other than "2.0" are invalid requests; a Content-Length over 1 GiB is
// garbage (answered once) instead of a frame the helper would wait for all session.
func TestStreamIDsVersionsAndAbsurdLengths(t *testing.T) {
	type want struct {
		id     string // raw JSON id
		result string // the echoed method ("" = an error)
		code   int64
		msg    string // the whole error message
	}
	req := func(id, method string) string {
		return frame(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":%q}`, id, method))
	}
	const nullID = `invalid request: "id" is null; give a request a number or string id, or no "id" for a notification`
	tests := []struct {
		name  string
		input string
		want  []want
		notes []string
	}{
		{"negative id", req("-1", "a"), []want{{id: "-1", result: "a"}}, nil},
		{"fractional id", req("1.5", "a"), []want{{id: "1.5", result: "a"}}, nil},
		{"large negative id", req("-9223372036854775809", "a"), []want{{id: "-9223372036854775809", result: "a"}}, nil},
		{"id of 2^63", req("9223372036854775808", "a"), []want{{id: "9223372036854775808", result: "a"}}, nil},
		{"id above uint64", req("184467440737095516160", "a"), []want{{id: "184467440737095516160", result: "a"}}, nil},
		{"id with exponent, minus zero, 1.0", req("1e3", "a") + req("-0", "b") + req("1.0", "c"),
			[]want{{id: "1e3", result: "a"}, {id: "-0", result: "b"}, {id: "1.0", result: "c"}}, nil},
		{"largest id the library holds", req("9223372036854775807", "a"), []want{{id: "9223372036854775807", result: "a"}}, nil},
		{"the same unusual id twice", req("-1", "a") + req("-1", "b"), []want{{id: "-1", result: "a"}, {id: "-1", result: "b"}}, nil},
		{"unusual id on a request the library refuses", frame(`{"jsonrpc":"2.0","id":-7,"method":5}`) + req("8", "next"),
			[]want{{id: "-7", code: CodeInvalidRequest, msg: "invalid request: json: cannot unmarshal number into Go struct field msg.method of type string"}, {id: "8", result: "next"}}, nil},
		{"id null", frame(`{"jsonrpc":"2.0","id":null,"method":"exit"}`) + req("2", "after"),
			[]want{{id: "null", code: CodeInvalidRequest, msg: nullID}, {id: "2", result: "after"}}, nil},
		{"jsonrpc 1.0", frame(`{"jsonrpc":"1.0","id":3,"method":"a"}`) + req("4", "after"),
			[]want{{id: "3", code: CodeInvalidRequest, msg: `invalid request: "jsonrpc" must be "2.0", got "1.0"`}, {id: "4", result: "after"}}, nil},
		{"jsonrpc missing", frame(`{"id":"x","method":"a"}`),
			[]want{{id: `"x"`, code: CodeInvalidRequest, msg: `invalid request: "jsonrpc" must be "2.0", got nothing`}}, nil},
		{"jsonrpc a number, notification", frame(`{"jsonrpc":2,"method":"exit"}`),
			[]want{{id: "null", code: CodeInvalidRequest, msg: `invalid request: "jsonrpc" must be "2.0", got 2`}}, nil},
		{"jsonrpc 1.0 with an unusual id", frame(`{"jsonrpc":"1.0","id":-2.5,"method":"a"}`),
			[]want{{id: "-2.5", code: CodeInvalidRequest, msg: `invalid request: "jsonrpc" must be "2.0", got "1.0"`}}, nil},
		{"Content-Length of 2^63-1", "Content-Length: 9223372036854775807\r\n\r\n" + req("5", "after"),
			[]want{{id: "null", code: CodeParseError, msg: "parse error: Content-Length 9223372036854775807 is over the 1073741824-byte limit of a skipped frame; skipping to the next frame"},
				{id: "5", result: "after"}}, nil},
		{"Content-Length of 1 GiB + 1, body following", "Content-Length: 1073741825\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"lost\"}\r\n" + req("7", "after"),
			[]want{{id: "null", code: CodeParseError, msg: "parse error: Content-Length 1073741825 is over the 1073741824-byte limit of a skipped frame; skipping to the next frame"},
				{id: "7", result: "after"}}, nil},
		{"Content-Length of 1 GiB is skipped as oversized", "Content-Length: 1073741824\r\n\r\n" + req("8", "swallowed"),
			[]want{{id: "null", code: CodeInvalidRequest, msg: "invalid request: message of 1073741824 bytes exceeds the 100-byte limit; skipped"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, notes, _ := echoConn(t, strings.NewReader(tt.input), 100)
			msgs := readFrames(t, out)
			if len(msgs) != len(tt.want) {
				t.Fatalf("got %d messages, want %d:\n%s", len(msgs), len(tt.want), out)
			}
			for i, w := range tt.want {
				m := msgs[i]
				if m.idString() != w.id {
					t.Errorf("message %d: id %s, want %s", i, m.idString(), w.id)
				}
				if w.result != "" {
					if m.Error != nil || string(m.Result) != fmt.Sprintf("%q", w.result) {
						t.Errorf("message %d: got result %s error %+v, want result %q", i, m.Result, m.Error, w.result)
					}
					continue
				}
				if m.Error == nil {
					t.Errorf("message %d: got result %s, want error %d %q", i, m.Result, w.code, w.msg)
					continue
				}
				rpctest.Check(t, fmt.Sprintf("message %d: error", i), rpctest.Want("code", m.Error.Code, w.code), rpctest.Want("message", m.Error.Message, w.msg))
			}
			if strings.Join(notes, ",") != strings.Join(tt.notes, ",") {
				t.Errorf("notifications %v, want %v", notes, tt.notes)
			}
		})
	}
}
