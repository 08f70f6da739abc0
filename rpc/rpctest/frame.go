package rpctest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// Frame wraps body in the LSP base protocol header.
func Frame(body string) string {
	return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
}

// Message is any JSON-RPC 2.0 message as it appears on the wire. ID is nil when the message has
// no id member (a notification); a response to an unreadable request carries the JSON null.
type Message struct {
	JSONRPC string           `json:"jsonrpc"`
	ID      *json.RawMessage `json:"id,omitempty"`
	Method  string           `json:"method,omitempty"`
	Params  json.RawMessage  `json:"params,omitempty"`
	Result  json.RawMessage  `json:"result,omitempty"`
	Error   *Error           `json:"error,omitempty"`
}

// Error is the error member of a response.
type Error struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// IDString is the id as JSON text ("1", `"sd"`, "null"), or "<absent>".
func (m Message) IDString() string {
	if m.ID == nil {
		return "<absent>"
	}
	return string(*m.ID)
}

// IsNotification says whether m is a notification (a method and no id).
func (m Message) IsNotification() bool { return m.Method != "" && m.ID == nil }

// ReadFrame reads one frame strictly: CRLF header lines, Content-Length only, a body that is a
// JSON-RPC 2.0 message with no member but the standard ones. At a clean end of input it returns
// io.EOF.
func ReadFrame(r *bufio.Reader) (Message, error) {
	var length = -1
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" && length < 0 {
				return Message{}, io.EOF
			}
			return Message{}, fmt.Errorf("read header: %w", err)
		}
		if !strings.HasSuffix(line, "\r\n") {
			return Message{}, fmt.Errorf("header line %q does not end in CRLF", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if line == "" {
			break
		}
		if _, err := fmt.Sscanf(line, "Content-Length: %d", &length); err != nil {
			return Message{}, fmt.Errorf("unexpected header %q", line)
		}
	}
	if length < 0 {
		return Message{}, fmt.Errorf("no Content-Length")
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return Message{}, fmt.Errorf("read body: %w", err)
	}
	var m Message
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("body %q: %w", body, err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return Message{}, err
	}
	if id, ok := probe["id"]; ok {
		m.ID = &id
	}
	if m.JSONRPC != "2.0" {
		return Message{}, fmt.Errorf("body %q: jsonrpc is not 2.0", body)
	}
	return m, nil
}

// ReadFrames parses every frame in out; bad framing fails the test.
func ReadFrames(t testing.TB, out []byte) []Message {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(out))
	var msgs []Message
	for {
		m, err := ReadFrame(r)
		if err == io.EOF {
			return msgs
		}
		if err != nil {
			t.Fatalf("server wrote a bad frame: %v\noutput:\n%q", err, out)
		}
		msgs = append(msgs, m)
	}
}

// Decode unmarshals raw into a new T, failing the test on error.
func Decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}
