package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/registry"
)

func serveFrame(body string) string {
	return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
}

// serveFrames parses stdout strictly as LSP frames: anything else on stdout fails the test.
func serveFrames(t *testing.T, out string) []map[string]json.RawMessage {
	t.Helper()
	r := bufio.NewReader(strings.NewReader(out))
	var msgs []map[string]json.RawMessage
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF && line == "" {
			return msgs
		}
		var n int
		if _, serr := fmt.Sscanf(line, "Content-Length: %d\r\n", &n); serr != nil {
			t.Fatalf("stdout holds something else than a frame at %q\nstdout:\n%s", line, out)
		}
		if blank, _ := r.ReadString('\n'); blank != "\r\n" {
			t.Fatalf("no blank line after the header: %q", blank)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatalf("short body: %v", err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("frame body %q: %v", body, err)
		}
		msgs = append(msgs, m)
	}
}

// serveStep is one frame the scripted client sends, and the response id it then waits for (0: none).
type serveStep struct {
	body   string
	waitID int
}

// serveBuffer is a stdout that the test can read while run writes to it.
type serveBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *serveBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *serveBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runServe runs `iris-helper serve ARGS` in-process; the client sends steps one by one (waiting
// for the responses named) and then closes stdin unless the last step ended the session.
func runServe(t *testing.T, steps []serveStep, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv(registry.EnvHome, t.TempDir())
	t.Setenv(registry.EnvSuperserverRange, "32900-32949")
	t.Setenv(registry.EnvWebRange, "32950-32999")
	return serveSession(t, steps, args...)
}

// serveSession is runServe in the test's current environment (registry home, ranges, DOCKER_HOST).
func serveSession(t *testing.T, steps []serveStep, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb serveBuffer
	pr, pw := io.Pipe()
	go func() {
		defer pw.Close()
		for _, st := range steps {
			if _, err := io.WriteString(pw, st.body); err != nil {
				return
			}
			if st.waitID == 0 {
				continue
			}
			want := fmt.Sprintf(`"id":%d,`, st.waitID)
			deadline := time.Now().Add(60 * time.Second)
			for !strings.Contains(out.String(), want) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		time.Sleep(50 * time.Millisecond) // let an exit notification end the session first
	}()
	code = run(context.Background(), append([]string{"serve"}, args...), pr, &out, &errb)
	pr.Close()
	return code, out.String(), errb.String()
}

func TestServeSession(t *testing.T) {
	dir := t.TempDir() // not an IRIS project: nothing starts
	init := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"rootUri":"file://%s","capabilities":{},"initializationOptions":{"autoStart":false}}}`, dir)
	tests := []struct {
		name     string
		steps    []serveStep
		args     []string
		code     int
		messages int
		stderr   string
	}{
		{"initialize shutdown exit", []serveStep{{serveFrame(init), 1}, {serveFrame(`{"jsonrpc":"2.0","method":"initialized","params":{}}`), 0},
			{serveFrame(`{"jsonrpc":"2.0","id":2,"method":"shutdown","params":null}`), 2}, {serveFrame(`{"jsonrpc":"2.0","method":"exit","params":null}`), 0}},
			[]string{"--stdio"}, 0, 2, ""},
		{"exit without shutdown", []serveStep{{serveFrame(init), 1}, {serveFrame(`{"jsonrpc":"2.0","method":"exit"}`), 0}}, nil, 1, 1, "exit without shutdown"},
		{"end of input", []serveStep{{serveFrame(init), 1}}, []string{"--log-level", "debug"}, 0, 1, "end of input"},
		{"garbage then end of input", []serveStep{{"hello\r\n", 0}}, nil, 0, 1, "bad frame"},
		{"empty input", nil, nil, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runServe(t, tt.steps, tt.args...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			msgs := serveFrames(t, stdout)
			responses := 0
			for _, m := range msgs {
				if _, ok := m["method"]; !ok {
					responses++
				}
			}
			if responses != tt.messages {
				t.Fatalf("%d responses, want %d:\n%s", responses, tt.messages, stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("stderr lacks %q:\n%s", tt.stderr, stderr)
			}
		})
	}
}

func TestServeNeverPrintsToStdout(t *testing.T) {
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--help"}, 0, "Usage:"},
		{[]string{"--log-level", "loud"}, 2, "--log-level must be debug, info, warn or error"},
		{[]string{"--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"extra-arg"}, 2, "unknown command"},
		{[]string{"--log-file", "/nonexistent-dir/x.log"}, 1, "open --log-file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runServe(t, nil, tt.args...)
			if code != tt.code || stdout != "" || !strings.Contains(stderr, tt.err) {
				t.Fatalf("code %d stdout %q stderr %q; want code %d, empty stdout, stderr with %q", code, stdout, stderr, tt.code, tt.err)
			}
		})
	}
}

func TestServeLogFile(t *testing.T) {
	logFile := t.TempDir() + "/helper.log"
	code, stdout, stderr := runServe(t, nil, "--log-file", logFile, "--log-level", "debug")
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("code %d stdout %q stderr %q", code, stdout, stderr)
	}
	if data, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(data), "end of input") {
		t.Fatalf("log file: %v %q", err, data)
	}
}
