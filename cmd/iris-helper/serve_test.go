package main

import (
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// serveEnv gives the test its own registry home and the serve tests' ports (32900-32999).
func serveEnv(t *testing.T) {
	t.Helper()
	t.Setenv(registry.EnvHome, t.TempDir())
	t.Setenv(registry.EnvSuperserverRange, "32900-32949")
	t.Setenv(registry.EnvWebRange, "32950-32999")
}

// serveEditor runs `iris-helper serve ARGS` in-process (through run, as main does) in the test's
// current environment, with the fake editor of rpc/rpctest on its stdin and stdout. It returns
// the editor, a channel with the exit code and the helper's stderr (shown by every failed wait).
func serveEditor(t *testing.T, args ...string) (*rpctest.Editor, <-chan int, *rpctest.Buffer) {
	t.Helper()
	stderr := &rpctest.Buffer{}
	ed, code := rpctest.InProcess(t, func(ctx context.Context, in io.Reader, out io.Writer) int {
		return run(ctx, append([]string{"serve"}, args...), in, out, stderr)
	})
	ed.Stderr = stderr
	return ed, code, stderr
}

// serveEnd waits for the end of the helper's stdout, which must hold frames only, and returns
// its exit code.
func serveEnd(t *testing.T, ed *rpctest.Editor, code <-chan int) int {
	t.Helper()
	if err := ed.WaitEnd(); err != io.EOF {
		t.Fatalf("stdout holds something else than frames: %v\nframes:\n%s", err, ed.Dump())
	}
	return <-code
}

func TestServeSession(t *testing.T) {
	dir := t.TempDir() // not an IRIS project: nothing starts
	init := rpctest.InitParams(dir, map[string]any{"autoStart": false})
	tests := []struct {
		name      string
		session   func(ed *rpctest.Editor)
		args      []string
		code      int
		responses int
		stderr    string
	}{
		{"initialize shutdown exit", func(ed *rpctest.Editor) { ed.Initialize(init); ed.Shutdown() }, []string{"--stdio"}, 0, 2, ""},
		{"exit without shutdown", func(ed *rpctest.Editor) { ed.Call("initialize", init); ed.Notify("exit", nil) }, nil, 1, 1, "exit without shutdown"},
		{"end of input", func(ed *rpctest.Editor) { ed.Call("initialize", init); ed.Close() }, []string{"--log-level", "debug"}, 0, 1, "end of input"},
		{"garbage then end of input", func(ed *rpctest.Editor) { ed.WriteRaw("hello\r\n"); ed.Close() }, nil, 0, 1, "bad frame"},
		{"empty input", func(ed *rpctest.Editor) { ed.Close() }, nil, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serveEnv(t)
			ed, codec, stderr := serveEditor(t, tt.args...)
			tt.session(ed)
			code := serveEnd(t, ed, codec)
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			if got := len(slices.DeleteFunc(ed.All(), func(m rpctest.Message) bool { return !rpctest.IsResponse(m) })); got != tt.responses {
				t.Errorf("%d responses, want %d", got, tt.responses)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q", tt.stderr)
			}
			if t.Failed() {
				t.Logf("frames:\n%sstderr:\n%s", ed.Dump(), stderr)
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
			serveEnv(t)
			r := cli(t, append([]string{"serve"}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d", r.code, tt.code)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want none", r.stdout)
			}
			if !strings.Contains(r.stderr, tt.err) {
				t.Errorf("stderr lacks %q", tt.err)
			}
			if t.Failed() {
				t.Logf("%s", r)
			}
		})
	}
}

func TestServeLogFile(t *testing.T) {
	serveEnv(t)
	logFile := t.TempDir() + "/helper.log"
	r := cli(t, "serve", "--log-file", logFile, "--log-level", "debug")
	if !rpctest.Check(t, "serve", rpctest.Want("exit", r.code, 0), rpctest.Want("stdout", r.stdout, ""), rpctest.Want("stderr", r.stderr, "")) {
		t.Fatalf("want exit 0 and nothing on stdout or stderr:\n%s", r)
	}
	if data, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(data), "end of input") {
		t.Fatalf("log file: %v %q", err, data)
	}
}
