package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/sourcegraph/jsonrpc2"

	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace"
)

// Rule 9 of issue 10: the stdio helper survives its client — a client that closes its end of
// the helper's output, stops reading it, floods it with requests, or sends ids the library
// cannot hold.

// TestInFlightLimit: past MaxInFlight running requests, a request is answered at once with
// -32803 while the reader goes on: $/cancelRequest frees a place, and shutdown and exit still work.
func TestInFlightLimit(t *testing.T) {
	fake := newFakeProject(t.TempDir(), true) // its Start blocks until release
	c, code := inProcess(t, fakeOpts(fake, nil))
	p := initParams(fake.root.Dir, map[string]any{"autoStart": false})
	p["capabilities"] = map[string]any{} // no progress tokens to ask for
	c.call("initialize", p)
	starting := func(n int) func(wireMsg) bool {
		return func(wireMsg) bool {
			k := 0
			for _, m := range c.notifications(MethodLogMessage) {
				if decode[ShowMessageParams](t, m.Params).Message == "Starting IRIS" {
					k++
				}
			}
			return k >= n
		}
	}
	var ids []int
	for range MaxInFlight {
		ids = append(ids, c.request(MethodStart, nil))
	}
	c.waitFor("every start running", starting(MaxInFlight))

	const refused = "iris/status refused: too many requests in flight (the helper runs at most 64 at once); send it again once one has been answered"
	for range 3 {
		m := c.response(c.request(MethodStatus, nil))
		if m.Error == nil {
			t.Fatalf("request past the limit answered %s, want %d %q", m.Result, CodeRequestFailed, refused)
		}
		rpctest.Must(t, "request past the limit: error", rpctest.Want("code", m.Error.Code, CodeRequestFailed), rpctest.Want("message", m.Error.Message, refused))
	}
	c.notify(MethodCancelRequest, map[string]any{"id": ids[0]})
	wantError(t, c.response(ids[0]), CodeRequestCancelled, "iris/start cancelled by the client")
	// The cancelled start gives its place back just after its answer is queued (so that answers
	// waiting for a client that does not read still count): a request sent the moment the answer
	// is read may still be refused, and is sent again, as the refusal says. A few tries at most.
	for try := 1; ; try++ {
		m := c.call(MethodStatus, nil)
		if m.Error == nil {
			break
		}
		rpctest.Must(t, fmt.Sprintf("iris/status once a place was free (try %d): error", try), rpctest.Want("code", m.Error.Code, CodeRequestFailed),
			rpctest.Want("message", m.Error.Message, refused))
		if try == 100 {
			t.Fatalf("iris/status once a place was free (try %d): %+v", try, m.Error)
		}
	}
	c.request(MethodStart, nil) // 64 running again
	c.waitFor("the limit reached again", starting(MaxInFlight+1))
	if m := c.call(MethodShutdown, nil); m.Error != nil || string(m.Result) != "null" {
		t.Fatalf("shutdown with %d requests running: %+v %s", MaxInFlight, m.Error, m.Result)
	}
	c.notify(MethodExit, nil)
	if got := <-code; got != ExitOK {
		t.Fatalf("exit code %d, want %d", got, ExitOK)
	}
}

// TestCancelRequestWithUnusualID: a request whose id the library cannot hold can be cancelled by
// that id, and its answer carries it.
func TestCancelRequestWithUnusualID(t *testing.T) {
	for _, id := range []string{"-1", "1.5", "-9223372036854775809", "18446744073709551616", `"s"`} {
		t.Run(id, func(t *testing.T) {
			fake := newFakeProject(t.TempDir(), true)
			c, _ := inProcess(t, fakeOpts(fake, nil))
			p := initParams(fake.root.Dir, map[string]any{"autoStart": false})
			p["capabilities"] = map[string]any{}
			c.call("initialize", p)
			c.sendRaw(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"iris/start"}`, id))
			c.waitFor("the start running", isMethod(MethodLogMessage))
			c.sendRaw(fmt.Sprintf(`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":%s}}`, id))
			m := c.waitFor("the answer to "+id, func(m wireMsg) bool { return m.Method == "" && m.idString() != "1" })
			rpctest.Must(t, "the answer", rpctest.Want("id", m.idString(), id), rpctest.Want("is an error", m.Error != nil, true))
			rpctest.Must(t, "the answer's error", rpctest.Want("code", m.Error.Code, CodeRequestCancelled),
				rpctest.Want("message", m.Error.Message, "iris/start cancelled by the client"))
		})
	}
}

// rawSession runs Serve over pipes whose output the test reads itself (or stops reading).
type rawSession struct {
	toServer *io.PipeWriter
	out      *bufio.Reader
	outR     *io.PipeReader
	code     chan int
}

func startRawSession(t *testing.T, opts Options) *rawSession {
	t.Helper()
	toServerR, toServerW := io.Pipe()
	fromServerR, fromServerW := io.Pipe()
	s := &rawSession{toServer: toServerW, out: bufio.NewReader(fromServerR), outR: fromServerR, code: make(chan int, 1)}
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		c := Serve(ctx, toServerR, fromServerW, opts)
		fromServerW.Close()
		s.code <- c
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		toServerW.Close()
		fromServerR.Close() // releases a write the test left blocked
		select {
		case <-done:
		case <-time.After(waitLong):
			t.Error("Serve did not return at cleanup")
		}
	})
	return s
}

func (s *rawSession) send(t *testing.T, body string) {
	t.Helper()
	if _, err := io.WriteString(s.toServer, frame(body)); err != nil {
		t.Fatalf("write to the helper: %v", err)
	}
}

func (s *rawSession) initialize(t *testing.T, dir string, stopOnExit bool) {
	t.Helper()
	s.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"rootUri":"file://%s","capabilities":{},"initializationOptions":{"autoStart":false,"stopOnExit":%v}}}`, dir, stopOnExit))
	m, err := readWireFrame(s.out)
	if err != nil {
		t.Fatalf("initialize answer: %v", err)
	}
	rpctest.Must(t, "initialize answer", rpctest.Want("id", m.idString(), "1"), rpctest.Want("error", m.Error, (*rpctest.Error)(nil)))
}

func (s *rawSession) wait(t *testing.T) int {
	t.Helper()
	select {
	case got := <-s.code:
		return got
	case <-time.After(waitLong):
		t.Fatal("the helper did not end")
		return -1
	}
}

// TestClientThatDoesNotRead: a client that writes and never reads. The helper keeps reading (so
// exit ends the session), runs at most MaxInFlight requests and drops its answers once the output
// queue is full (no goroutine or buffer per request: the repro grew to 3.4 GB); an output blocked
// for the write timeout ends the session as when the client closes its end, with stopOnExit.
func TestClientThatDoesNotRead(t *testing.T) {
	t.Run("flood, then shutdown and exit", func(t *testing.T) {
		before := runtime.NumGoroutine()
		fake := newFakeProject(t.TempDir(), true)
		opts := fakeOpts(fake, nil)
		opts.OutputQueue = 4096
		opts.WriteTimeout = 10 * waitLong // never, here
		s := startRawSession(t, opts)
		s.initialize(t, fake.root.Dir, false)
		var flood strings.Builder
		for i := range 2000 {
			flood.WriteString(frame(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"iris/status"}`, 10+i)))
			if i%4 == 0 {
				flood.WriteString(frame(`not json`))
			}
		}
		written := make(chan error, 1)
		go func() { _, err := io.WriteString(s.toServer, flood.String()); written <- err }()
		select {
		case err := <-written:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(waitLong):
			t.Fatal("the helper stopped reading its input while its output was blocked")
		}
		// Everything has been read (the pipe returns once it has); what runs is bounded.
		if n := runtime.NumGoroutine() - before; n > MaxInFlight+20 {
			t.Fatalf("%d more goroutines after 2000 unread requests, want at most %d", n, MaxInFlight+20)
		}
		s.send(t, `{"jsonrpc":"2.0","id":5000,"method":"shutdown"}`)
		s.send(t, `{"jsonrpc":"2.0","method":"exit"}`)
		go io.Copy(io.Discard, s.outR) // the client reads at last: what was queued drains
		if got := s.wait(t); got != ExitOK {
			t.Fatalf("exit code %d, want %d", got, ExitOK)
		}
	})
	t.Run("output blocked past the write timeout", func(t *testing.T) {
		fake := newFakeProject(t.TempDir(), true)
		opts := fakeOpts(fake, nil)
		opts.WriteTimeout = 50 * time.Millisecond
		s := startRawSession(t, opts)
		s.initialize(t, fake.root.Dir, true)
		s.send(t, `{"jsonrpc":"2.0","id":2,"method":"iris/status"}`) // its answer is never read
		if got := s.wait(t); got != ExitOK {
			t.Fatalf("exit code %d, want %d", got, ExitOK)
		}
		if _, stops := fake.counts(); stops != 1 {
			t.Fatalf("%d stops, want 1 (stopOnExit)", stops)
		}
	})
}

// TestStreamOutputFailures: a write error or a write blocked past the timeout ends the output
// (Broken, Err) and every later write fails with ErrStreamClosed; answers the reader gives
// without waiting are dropped, never block, while the queue is full.
func TestStreamOutputFailures(t *testing.T) {
	t.Run("write error", func(t *testing.T) {
		epipe := writerFunc(func([]byte) (int, error) { return 0, syscall.EPIPE })
		s := NewStream(strings.NewReader(""), epipe, nil, StreamOptions{})
		if err := s.WriteObject(map[string]int{"a": 1}); err != nil {
			t.Fatalf("first write (queued): %v", err)
		}
		<-s.Broken()
		if err := s.Err(); !errors.Is(err, syscall.EPIPE) {
			t.Fatalf("Err() = %v, want EPIPE", err)
		}
		if err := s.WriteObject(map[string]int{"a": 2}); !errors.Is(err, ErrStreamClosed) || err.Error() != "rpc: stream closed: broken pipe" {
			t.Fatalf("write after EPIPE: %v", err)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		pr, pw := io.Pipe() // nobody reads
		defer pr.Close()
		s := NewStream(strings.NewReader(""), pw, nil, StreamOptions{WriteTimeout: 20 * time.Millisecond, QueueBytes: 100})
		if err := s.WriteObject("x"); err != nil {
			t.Fatal(err)
		}
		for range 1000 { // the queue is full: these never wait
			s.ReplyNow(jsonrpc2.ID{Num: 7}, &jsonrpc2.Error{Code: CodeRequestFailed, Message: "m"})
		}
		<-s.Broken()
		var stalled *StalledError
		if err := s.Err(); !errors.As(err, &stalled) || err.Error() != "the client has not read its output for 20ms" {
			t.Fatalf("Err() = %v, want a StalledError", err)
		}
	})
}

// TestSubprocessSurvivesClosedOutput: the client closes its read end of the helper's stdout
// (repro: the helper died by SIGPIPE, without stopOnExit). The helper's next write fails with
// EPIPE; it logs it, runs stopOnExit and exits with code 0 like at the end of input.
func TestSubprocessSurvivesClosedOutput(t *testing.T) {
	scenarioEnv(t, subprocessBand)
	dir := t.TempDir()
	h := startServeWithOutputPipe(t)
	cmd, stdin, outR, exited := h.cmd, h.stdin, h.out, h.exited
	fmt.Fprint(stdin, frame(fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"rootUri":"file://%s","capabilities":{},"initializationOptions":{"autoStart":false,"stopOnExit":true}}}`, dir)))
	m, err := readWireFrame(bufio.NewReader(outR))
	if err != nil {
		t.Fatalf("initialize answer: %v", err)
	}
	rpctest.Must(t, "initialize answer", rpctest.Want("id", m.idString(), "1"), rpctest.Want("error", m.Error, (*rpctest.Error)(nil)))
	outR.Close() // the client stops reading: the helper's next write meets EPIPE
	fmt.Fprint(stdin, frame(`{"jsonrpc":"2.0","id":2,"method":"iris/status"}`))
	select {
	case <-exited:
	case <-time.After(waitLong):
		t.Fatal("the helper did not end once its output was closed")
	}
	logs := h.stderr.String()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() || cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("the helper ended with %v, want exit code 0\n%s", cmd.ProcessState, logs)
	}
	for _, want := range []string{
		`level=WARN msg="cannot write to the client; ending the session" err="write /dev/stdout: broken pipe"`,
		`msg="helper stopping" reason="client output gone" code=0`,
		`msg="stopOnExit: asking the engine to stop the container" project=` + dir,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
}

// TestSubprocessClosedOutputStopsIRIS: the same against the real engine — the editor closed its
// end of the helper's stdout while IRIS ran with stopOnExit: the helper stops the container.
func TestSubprocessClosedOutputStopsIRIS(t *testing.T) {
	scenarioEnv(t, subprocessBand)
	eng := dockertest.Engine(t)
	image := dockertest.StubImage(t)
	dir := irisFolder(t)
	h := startServeWithOutputPipe(t)
	cmd, stdin, outR, exited := h.cmd, h.stdin, h.out, h.exited
	c := newTestClient(t, outR, stdin)
	if res := c.call("initialize", initParams(dir, map[string]any{"image": image, "stopOnExit": true})); res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	c.notify("initialized", map[string]any{})
	ready := c.waitFor("IRIS ready", statusIs(t, workspace.StateReady))
	name := statusOf(t, ready.Params).Container

	outR.Close() // the editor stops reading
	c.sendRaw(`{"jsonrpc":"2.0","id":99,"method":"iris/status"}`)
	select {
	case <-exited:
	case <-time.After(waitLong):
		t.Fatal("the helper did not end once its output was closed")
	}
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() || cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("the helper ended with %v, want exit code 0", cmd.ProcessState)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	// The helper asked the engine to stop the container; the engine finishes that on its own.
	wait := eng.Client().ContainerWait(ctx, name, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-wait.Result:
	case err := <-wait.Error:
		t.Fatalf("wait for %s to stop: %v", name, err)
	}
	ct, ok, err := eng.Inspect(ctx, dir)
	if err != nil {
		t.Fatalf("container after stopOnExit: %v", err)
	}
	rpctest.Must(t, "container after stopOnExit", rpctest.Want("kept", ok, true), rpctest.Want("state", ct.State, "exited"))
}

// servePipes is a real `iris-helper serve` whose stdout is a pipe the test may close (a client
// that stops reading), in its own process group, killed and waited for at cleanup (its stderr is
// logged when the test failed).
type servePipes struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *os.File // the read end of the helper's stdout
	stderr *rpctest.Buffer
	exited chan struct{}
}

func startServeWithOutputPipe(t *testing.T) *servePipes {
	t.Helper()
	h := &servePipes{cmd: exec.Command(helperBinary(t), "serve", "--stdio", "--log-level", "debug"),
		stderr: &rpctest.Buffer{}, exited: make(chan struct{})}
	stdin, err := h.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.stdin = stdin
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	h.out = outR
	h.cmd.Stdout = outW
	h.cmd.Stderr = h.stderr
	ownProcessGroup(h.cmd)
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	go func() { h.cmd.Wait(); close(h.exited) }()
	t.Cleanup(func() {
		h.stdin.Close()
		killProcessGroup(h.cmd.Process.Pid)
		<-h.exited
		if t.Failed() {
			t.Logf("helper stderr:\n%s", h.stderr.String())
		}
	})
	return h
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
