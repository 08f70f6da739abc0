package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// The one in-process CLI harness of these tests: `iris-helper ARGS` through run, as main calls
// it, with its streams captured. Every failure it reports shows the command, the exit code and
// both streams (cliRun.String).

// cliTimeout bounds one in-process run (a guard against a hang, not a timed assertion).
const cliTimeout = 4 * time.Minute

// cliRun is what one run of the CLI did.
type cliRun struct {
	args           []string
	code           int
	stdout, stderr string
}

// String is the whole story of the run, for failure messages.
func (r cliRun) String() string {
	return fmt.Sprintf("$ iris-helper %s\nexit %d\n--- stdout:\n%s--- stderr:\n%s---", strings.Join(r.args, " "), r.code,
		withNewline(r.stdout), withNewline(r.stderr))
}

func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// cli runs `iris-helper ARGS` with an empty stdin and returns what it did.
func cli(t testing.TB, args ...string) cliRun {
	t.Helper()
	return cliWithInput(t, strings.NewReader(""), args...)
}

// cliWithInput is cli with stdin.
func cliWithInput(t testing.TB, stdin io.Reader, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	var out, errb rpctest.Buffer
	code := run(ctx, args, stdin, &out, &errb)
	return cliRun{args: args, code: code, stdout: out.String(), stderr: errb.String()}
}

// must fails the test, showing the whole run, unless it exited with code.
func (r cliRun) must(t testing.TB, code int) cliRun {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d:\n%s", r.code, code, r)
	}
	return r
}

// runCLI is cli with its result spread out: exit code, stdout, stderr.
func runCLI(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r := cli(t, args...)
	return r.code, r.stdout, r.stderr
}

// mustRun runs the command and fails, showing the whole run, unless it exits with want.
func mustRun(t testing.TB, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	r := cli(t, args...).must(t, want)
	return r.stdout, r.stderr
}

// cliProc is a run of the CLI in the background (env watch, logs --follow) that lasts until it
// is interrupted; its streams can be read while it runs.
type cliProc struct {
	args           []string
	stdout, stderr rpctest.Buffer
	cancel         context.CancelFunc
	done           chan int
}

// startCLI starts `iris-helper ARGS` in the background with an empty stdin. At the end of the
// test it is interrupted, if it still runs.
func startCLI(t testing.TB, args ...string) *cliProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	p := &cliProc{args: args, cancel: cancel, done: make(chan int, 1)}
	go func() { p.done <- run(ctx, args, strings.NewReader(""), &p.stdout, &p.stderr) }()
	t.Cleanup(cancel)
	return p
}

// String is the story of the run so far, for failure messages.
func (p *cliProc) String() string {
	return cliRun{args: p.args, code: -1, stdout: p.stdout.String(), stderr: p.stderr.String()}.String()
}

// waitUntil waits until cond holds, failing the test (showing the run so far) when it does not
// within a minute or the command ends first.
func (p *cliProc) waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		select {
		case code := <-p.done:
			p.done <- code
			t.Fatalf("iris-helper ended (exit %d) before %s:\n%s", code, what, p)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s:\n%s", what, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// interrupt is Ctrl-C: it ends the command's context and returns what the run did; the command
// must end within 15 s.
func (p *cliProc) interrupt(t testing.TB) cliRun {
	t.Helper()
	p.cancel()
	select {
	case code := <-p.done:
		p.done <- code
		return cliRun{args: p.args, code: code, stdout: p.stdout.String(), stderr: p.stderr.String()}
	case <-time.After(15 * time.Second):
		t.Fatalf("did not end when interrupted:\n%s", p)
		return cliRun{}
	}
}
