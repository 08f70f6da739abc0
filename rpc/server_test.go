package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace"
)

// fakeProject stands in for workspace.Project in the framing and lifecycle tests, where what is
// checked is the protocol, not Docker: its Start blocks until release is closed or ctx ends.
// The scenario tests (scenario_test.go) run the real Project against the real engine.
type fakeProject struct {
	root      workspace.Root
	release   chan struct{}
	stopBlock chan struct{} // non-nil: Stop waits until it is closed or its ctx ends (a slow engine)

	mu        sync.Mutex
	state     workspace.State
	restart   bool
	starts    int
	startOpts []workspace.StartOptions
	stops     []workspace.StopOptions
	onStatus  func(workspace.Status)
}

func newFakeProject(dir string, iris bool) *fakeProject {
	return &fakeProject{root: workspace.Root{Dir: dir, Marker: "module.xml", IsIrisProject: iris},
		release: make(chan struct{}), state: workspace.StateNotCreated}
}

func (f *fakeProject) Root() workspace.Root { return f.root }

func (f *fakeProject) Status(context.Context) workspace.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := workspace.Status{Project: f.root.Dir, IsIrisProject: f.root.IsIrisProject, State: f.state,
		SuperserverPort: 33001, WebPort: 33501, BindAddress: "127.0.0.1", Image: "stub", RestartNeeded: f.restart}
	if f.restart {
		st.Message = "the container still uses 33000/33500; restart to use 33001/33501"
	}
	return st
}

func (f *fakeProject) setState(s workspace.State) {
	f.mu.Lock()
	f.state = s
	cb := f.onStatus
	f.mu.Unlock()
	if cb != nil {
		cb(f.Status(context.Background()))
	}
}

func (f *fakeProject) StartWith(ctx context.Context, opts workspace.StartOptions, progress func(dockerops.Progress)) (workspace.Status, error) {
	f.mu.Lock()
	f.starts++
	f.startOpts = append(f.startOpts, opts)
	f.mu.Unlock()
	f.setState(workspace.StateStarting)
	progress(dockerops.Progress{Phase: dockerops.PhaseCreating, Message: "creating container"})
	select {
	case <-f.release:
	case <-ctx.Done():
		return f.Status(ctx), fmt.Errorf("start %s: %w", f.root.Dir, ctx.Err())
	}
	progress(dockerops.Progress{Phase: dockerops.PhaseWaiting, Message: "waiting for IRIS"})
	f.setState(workspace.StateReady)
	return f.Status(ctx), nil
}

func (f *fakeProject) Stop(ctx context.Context, opts workspace.StopOptions) (workspace.Status, error) {
	f.mu.Lock()
	f.stops = append(f.stops, opts)
	f.mu.Unlock()
	if f.stopBlock != nil {
		select {
		case <-f.stopBlock:
		case <-ctx.Done():
			return f.Status(ctx), ctx.Err()
		}
	}
	f.setState(workspace.StateStopped)
	return f.Status(context.Background()), nil
}

func (f *fakeProject) StopVolumes(ctx context.Context, opts workspace.StopOptions) (workspace.Status, []string, error) {
	st, err := f.Stop(ctx, opts)
	return st, nil, err
}

func (f *fakeProject) Restart(ctx context.Context, progress func(dockerops.Progress)) (workspace.Status, error) {
	f.Stop(ctx, workspace.StopOptions{})
	return f.StartWith(ctx, workspace.StartOptions{}, progress)
}

func (f *fakeProject) Release(context.Context, workspace.ReleaseOptions) (registry.Assignment, error) {
	if f.Status(context.Background()).Running() {
		return registry.Assignment{}, &workspace.RunningError{Project: f.root.Dir, Container: "iris_x_1"}
	}
	return registry.Assignment{Project: f.root.Dir, SuperserverPort: 33001, WebPort: 33501}, nil
}

func (f *fakeProject) Ports(context.Context) (workspace.PortList, error) {
	return workspace.PortList{}, nil
}

func (f *fakeProject) CheckAutoStart(context.Context) error { return nil }

func (f *fakeProject) Watch(ctx context.Context, onStatus func(workspace.Status), _ func(workspace.Message)) error {
	f.mu.Lock()
	f.onStatus = onStatus
	f.mu.Unlock()
	onStatus(f.Status(ctx))
	<-ctx.Done()
	return nil
}

func (f *fakeProject) counts() (starts, stops int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts, len(f.stops)
}

// fakeOpts serves fake; opened records the folder the helper was asked to open.
func fakeOpts(fake *fakeProject, opened *string) Options {
	return Options{Version: "test", ParentCheck: 50 * time.Millisecond,
		Open: func(_ context.Context, dir string, _ workspace.ProjectOptions) (Project, error) {
			if opened != nil {
				*opened = dir
			}
			return fake, nil
		}}
}

func initParams(dir string, opts map[string]any) map[string]any { return rpctest.InitParams(dir, opts) }

func wantError(t *testing.T, m wireMsg, code int64, contains string) {
	t.Helper()
	if m.Error == nil {
		t.Fatalf("want error %d, got result %s", code, m.Result)
	}
	if m.Error.Code != code || !strings.Contains(m.Error.Message, contains) {
		t.Fatalf("want error %d containing %q, got %d %q", code, contains, m.Error.Code, m.Error.Message)
	}
}

func TestRequestsBeforeInitialize(t *testing.T) {
	fake := newFakeProject(t.TempDir(), true)
	c, _ := inProcess(t, fakeOpts(fake, nil))
	wantError(t, c.call("iris/status", nil), CodeServerNotInitialized, "before initialize")
	wantError(t, c.call("shutdown", nil), CodeServerNotInitialized, "before initialize")
	c.notify("initialized", map[string]any{}) // ignored before initialize: no auto-start
	res := c.call("initialize", initParams(fake.root.Dir, map[string]any{"autoStart": false}))
	if res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	if starts, _ := fake.counts(); starts != 0 {
		t.Fatalf("started %d times; want no start", starts)
	}
	wantError(t, c.call("initialize", initParams(fake.root.Dir, nil)), CodeInvalidRequest, "already received")
}

func TestInitializeResult(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		params   map[string]any
		commands bool
	}{
		{"default options", initParams(dir, nil), true},
		{"commandProvider false", initParams(dir, map[string]any{"commandProvider": false, "autoStart": false}), false},
		{"initializationOptions null", initParams(dir, nil), true},
	}
	tests[2].params["initializationOptions"] = nil
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeProject(dir, false)
			var opened string
			c, _ := inProcess(t, fakeOpts(fake, &opened))
			res := c.call("initialize", tt.params)
			if res.Error != nil {
				t.Fatalf("initialize: %+v", res.Error)
			}
			if opened != dir {
				t.Errorf("opened %q, want %q", opened, dir)
			}
			var got map[string]json.RawMessage
			json.Unmarshal(res.Result, &got)
			caps := decode[map[string]json.RawMessage](t, got["capabilities"])
			if string(caps["experimental"]) != `{"irisStatus":true}` {
				t.Errorf("experimental = %s", caps["experimental"])
			}
			if tt.commands {
				want := `{"commands":["iris.start","iris.stop","iris.restart","iris.status","iris.ports","iris.release"]}`
				if string(caps["executeCommandProvider"]) != want {
					t.Errorf("executeCommandProvider = %s, want %s", caps["executeCommandProvider"], want)
				}
			} else if _, ok := caps["executeCommandProvider"]; ok {
				t.Errorf("executeCommandProvider present with commandProvider false: %s", got["capabilities"])
			}
			if len(caps) != map[bool]int{true: 2, false: 1}[tt.commands] {
				t.Errorf("unexpected capabilities (text-document features?): %s", got["capabilities"])
			}
			if string(got["serverInfo"]) != `{"name":"iris-helper","version":"test"}` {
				t.Errorf("serverInfo = %s", got["serverInfo"])
			}
			st := decode[workspace.Status](t, got["status"])
			if st.Project != dir || st.State != workspace.StateNotCreated {
				t.Errorf("status = %+v", st)
			}
		})
	}
}

func TestInitializeFolderChoice(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	tests := []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"workspaceFolders first", map[string]any{"rootUri": "file://" + b, "workspaceFolders": []any{
			map[string]any{"uri": "file://" + a, "name": "a"}, map[string]any{"uri": "file://" + c, "name": "c"}}}, a},
		{"rootUri", map[string]any{"rootUri": "file://" + b, "workspaceFolders": nil}, b},
		{"rootPath fallback", map[string]any{"rootUri": nil, "rootPath": c}, c},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opened string
			cl, _ := inProcess(t, fakeOpts(newFakeProject(tt.want, false), &opened))
			tt.params["capabilities"] = map[string]any{}
			if res := cl.call("initialize", tt.params); res.Error != nil {
				t.Fatalf("initialize: %+v", res.Error)
			}
			if opened != tt.want {
				t.Fatalf("opened %q, want %q", opened, tt.want)
			}
		})
	}
	t.Run("no folder", func(t *testing.T) {
		opened := "unset"
		cl, _ := inProcess(t, fakeOpts(newFakeProject(a, true), &opened))
		res := cl.call("initialize", map[string]any{"processId": nil, "rootUri": nil, "capabilities": map[string]any{}})
		if res.Error != nil || opened != "unset" {
			t.Fatalf("initialize: %+v, opened %q", res.Error, opened)
		}
		if got := decode[map[string]json.RawMessage](t, res.Result)["status"]; string(got) != "null" {
			t.Fatalf("status = %s, want null", got)
		}
		cl.notify("initialized", map[string]any{})
		wantError(t, cl.call("iris/status", nil), CodeNoProject, "no workspace folder")
	})
}

func TestErrorsHaveExplicitCodes(t *testing.T) {
	fake := newFakeProject(t.TempDir(), false)
	c, _ := inProcess(t, fakeOpts(fake, nil))
	c.call("initialize", initParams(fake.root.Dir, map[string]any{"autoStart": false}))
	c.notify("initialized", map[string]any{})

	tests := []struct {
		method   string
		params   any
		code     int64
		contains string
	}{
		{"textDocument/hover", map[string]any{}, CodeMethodNotFound, "method not found: textDocument/hover"},
		{"iris/nothing", nil, CodeMethodNotFound, "iris/nothing"},
		{"iris/stop", map[string]any{"remove": "yes"}, CodeInvalidParams, "params.remove: expected a boolean"},
		{"iris/stop", map[string]any{"purge": true}, CodeInvalidParams, "params.purge"},
		{"iris/restart", map[string]any{"build": true}, CodeInvalidParams, "params.build: build is a param of iris/start (a rebuild), not of iris/restart"},
		{"iris/start", map[string]any{"build": "yes"}, CodeInvalidParams, "params.build: expected a boolean"},
		{"iris/release", []any{true}, CodeInvalidParams, "params: expected an object, got an array"},
		{"iris/release", map[string]any{"force": 1}, CodeInvalidParams, "params.force"},
		{"workspace/executeCommand", map[string]any{"command": "iris.nope"}, CodeInvalidParams, `params.command: unknown command "iris.nope"`},
		{"workspace/executeCommand", map[string]any{"command": 7}, CodeInvalidParams, "params.command: expected a string"},
		{"workspace/executeCommand", map[string]any{"command": "iris.stop", "arguments": []any{map[string]any{"remove": 3}}}, CodeInvalidParams, "params.arguments[0].remove"},
		{"workspace/executeCommand", map[string]any{"command": "iris.stop", "arguments": []any{"x"}}, CodeInvalidParams, "params.arguments[0]: expected an object, got a string"},
		{"workspace/executeCommand", map[string]any{"command": "iris.stop", "arguments": []any{map[string]any{}, map[string]any{}}}, CodeInvalidParams, "at most one argument"},
	}
	for _, tt := range tests {
		b, _ := json.Marshal(tt.params)
		t.Run(tt.method+" "+string(b), func(t *testing.T) {
			wantError(t, c.call(tt.method, tt.params), tt.code, tt.contains)
		})
	}
	fake.setState(workspace.StateReady)
	m := c.call("iris/release", nil)
	wantError(t, m, CodeContainerRunning, "is running")
	if !strings.Contains(string(m.Error.Data), `"state":"ready"`) {
		t.Errorf("error.data lacks the status: %+v", m.Error)
	}
	if starts, stops := fake.counts(); starts != 0 || stops != 0 {
		t.Fatalf("bad requests reached the project: %d starts, %d stops", starts, stops)
	}
	if _, ok := c.waitForWithin(time.Second, func(m wireMsg) bool { return m.Method == "" && m.Error != nil && m.Error.Code == 0 }); ok {
		t.Fatal("an error with code 0 was sent")
	}
}

func TestGarbageOnTheServerStream(t *testing.T) {
	fake := newFakeProject(t.TempDir(), false)
	c, code := inProcess(t, fakeOpts(fake, nil))
	c.call("initialize", initParams(fake.root.Dir, map[string]any{"autoStart": false}))
	c.sendRaw(`{"jsonrpc":"2.0","id":99,"method":`) // undecodable
	c.waitFor("-32700", func(m wireMsg) bool { return m.Error != nil && m.Error.Code == CodeParseError })
	c.sendRaw(`{"jsonrpc":"2.0","id":98,"method":5}`) // not a request
	m := c.waitFor("-32600", func(m wireMsg) bool { return m.Error != nil && m.Error.Code == CodeInvalidRequest })
	if m.idString() != "98" {
		t.Errorf("-32600 carries id %s, want 98", m.idString())
	}
	io := c.w
	fmt.Fprintf(io, "this is not a header\r\n\r\n")
	fmt.Fprintf(io, "Content-Length: %d\r\n\r\n", MaxBodySize+1)
	c.waitFor("oversize answer", func(m wireMsg) bool {
		return m.Error != nil && strings.Contains(m.Error.Message, "exceeds the 16777216-byte limit")
	})
	chunk := strings.Repeat(" ", 1<<20)
	for sent := 0; sent < MaxBodySize+1; sent += len(chunk) {
		n := min(len(chunk), MaxBodySize+1-sent)
		fmt.Fprint(io, chunk[:n])
	}
	// after all that, the connection still works
	st := c.call("iris/status", nil)
	if st.Error != nil || decode[workspace.Status](t, st.Result).Project != fake.root.Dir {
		t.Fatalf("iris/status after garbage: %+v", st)
	}
	c.call("shutdown", nil)
	c.notify("exit", nil)
	if got := <-code; got != ExitOK {
		t.Fatalf("exit code %d", got)
	}
}

func TestLifecycleExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		script func(c *testClient)
		want   int
	}{
		{"shutdown then exit", func(c *testClient) {
			if m := c.call("shutdown", nil); m.Error != nil || string(m.Result) != "null" {
				t.Errorf("shutdown answered %+v", m)
			}
			wantError(t, c.call("iris/status", nil), CodeInvalidRequest, "after shutdown")
			c.sendRaw(`{"jsonrpc":"2.0","method":"exit","params":null}`)
		}, ExitOK},
		{"exit without shutdown", func(c *testClient) { c.notify("exit", nil) }, ExitNoShutdown},
		{"end of input", func(c *testClient) { c.w.Close() }, ExitOK},
		{"end of input inside a frame", func(c *testClient) {
			io := c.w
			fmt.Fprint(io, "Content-Length: 100\r\n\r\n{\"jsonrpc\":")
			io.Close()
		}, ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeProject(dir, false)
			c, code := inProcess(t, fakeOpts(fake, nil))
			c.call("initialize", initParams(dir, map[string]any{"autoStart": false}))
			c.notify("initialized", map[string]any{})
			// what generic clients send must be accepted silently
			c.sendRaw(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///x.cls","languageId":"objectscript","version":1,"text":"x"}}}`)
			c.sendRaw(`{"jsonrpc":"2.0","method":"workspace/didChangeConfiguration","params":{"settings":{}}}`)
			c.sendRaw(`{"jsonrpc":"2.0","method":"$/setTrace","params":{"value":"off"}}`)
			c.sendRaw(`{"jsonrpc":"2.0","method":"something/unknown"}`)
			if m := c.call("iris/status", nil); m.Error != nil {
				t.Fatalf("iris/status: %+v", m.Error)
			}
			tt.script(c)
			select {
			case got := <-code:
				if got != tt.want {
					t.Fatalf("exit code %d, want %d", got, tt.want)
				}
			case <-time.After(waitLong):
				t.Fatal("helper did not end")
			}
			for _, m := range c.all() {
				if m.Method == "" && m.Error != nil && !strings.Contains(m.Error.Message, "after shutdown") {
					t.Errorf("unexpected error answer: %+v", m.Error)
				}
			}
		})
	}
}

func TestCancelRequest(t *testing.T) {
	fake := newFakeProject(t.TempDir(), true)
	c, _ := inProcess(t, fakeOpts(fake, nil))
	c.call("initialize", initParams(fake.root.Dir, map[string]any{"autoStart": false}))
	c.notify("initialized", map[string]any{})
	id := c.request("iris/start", nil)
	c.waitFor("progress report", func(m wireMsg) bool {
		return m.Method == "$/progress" && strings.Contains(string(m.Params), "creating")
	})
	c.notify("$/cancelRequest", map[string]any{"id": id})
	wantError(t, c.response(id), CodeRequestCancelled, "cancelled")
	// cancelling an unknown or finished request is harmless
	c.notify("$/cancelRequest", map[string]any{"id": 12345})
	c.notify("$/cancelRequest", map[string]any{"id": id})
	if m := c.call("iris/status", nil); m.Error != nil {
		t.Fatalf("iris/status after cancel: %+v", m.Error)
	}
}

func TestStopDuringStartAndProgress(t *testing.T) {
	fake := newFakeProject(t.TempDir(), true)
	c, _ := inProcess(t, fakeOpts(fake, nil))
	c.call("initialize", initParams(fake.root.Dir, nil)) // autoStart defaults to true
	if starts, _ := fake.counts(); starts != 0 {
		t.Fatal("started before initialized")
	}
	c.notify("initialized", map[string]any{})
	create := c.waitFor("workDoneProgress/create", isMethod("window/workDoneProgress/create"))
	token := decode[map[string]json.RawMessage](t, create.Params)["token"]
	c.waitFor("progress begin", func(m wireMsg) bool {
		return m.Method == "$/progress" && strings.Contains(string(m.Params), `"kind":"begin"`) && strings.Contains(string(m.Params), string(token))
	})
	c.waitFor("starting status", func(m wireMsg) bool {
		return m.Method == "iris/status" && decode[workspace.Status](t, m.Params).State == workspace.StateStarting
	})
	// a stop while the auto-start waits is answered at once (the real Project cancels the start;
	// see the scenario tests); then the start ends and the progress ends.
	stopID := c.request("iris/stop", map[string]any{"remove": false})
	stop := c.response(stopID)
	if stop.Error != nil || decode[workspace.Status](t, stop.Result).State != workspace.StateStopped {
		t.Fatalf("stop: %+v", stop)
	}
	close(fake.release)
	c.waitFor("progress end", func(m wireMsg) bool {
		return m.Method == "$/progress" && strings.Contains(string(m.Params), `"kind":"end"`)
	})
	logs := c.notifications("window/logMessage")
	if len(logs) == 0 || !strings.Contains(string(logs[0].Params), "Starting IRIS") {
		t.Fatalf("no progress log lines: %v", logs)
	}
}

func TestClientProcessDies(t *testing.T) {
	client := exec.Command(os.Args[0], "-test.run=^$") // a client process that lives until killed (TestMain)
	client.Env = append(os.Environ(), sleepChildEnv+"=1")
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Process.Kill() })
	pid := client.Process.Pid
	fake := newFakeProject(t.TempDir(), false)
	c, code := inProcess(t, fakeOpts(fake, nil))
	p := initParams(fake.root.Dir, map[string]any{"autoStart": false})
	p["processId"] = pid
	c.call("initialize", p)
	c.notify("initialized", map[string]any{})
	// Killed but not reaped yet: a zombie counts as gone.
	if err := client.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-code:
		if got != ExitOK {
			t.Fatalf("exit code %d", got)
		}
	case <-time.After(waitLong):
		t.Fatal("helper did not notice the client process was gone")
	}
	client.Wait()
	if err := c.waitEnd(); err == nil {
		t.Fatal("output ended without EOF")
	}
}

func TestStopOnExit(t *testing.T) {
	tests := []struct {
		name       string
		stopOnExit bool
		slowStop   bool // the engine does not finish the stop: shutdown must answer anyway
		script     func(c *testClient)
		stops      int
	}{
		{"at shutdown", true, false, func(c *testClient) { c.call("shutdown", nil); c.notify("exit", nil) }, 1},
		{"at shutdown, engine slow to stop", true, true, func(c *testClient) {
			if m := c.call("shutdown", nil); m.Error != nil || string(m.Result) != "null" {
				t.Errorf("shutdown answered %+v", m)
			}
			c.notify("exit", nil)
		}, 1},
		{"editor vanished without shutdown", true, false, func(c *testClient) { c.w.Close() }, 1},
		{"off by default", false, false, func(c *testClient) { c.call("shutdown", nil); c.notify("exit", nil) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeProject(t.TempDir(), true)
			if tt.slowStop {
				fake.stopBlock = make(chan struct{})
				t.Cleanup(func() { close(fake.stopBlock) })
			}
			c, code := inProcess(t, fakeOpts(fake, nil))
			opts := map[string]any{"autoStart": false}
			if tt.stopOnExit {
				opts["stopOnExit"] = true
			}
			c.call("initialize", initParams(fake.root.Dir, opts))
			c.notify("initialized", map[string]any{})
			tt.script(c)
			select {
			case got := <-code:
				if got != ExitOK {
					t.Fatalf("exit code %d", got)
				}
			case <-time.After(waitLong):
				t.Fatal("helper did not end")
			}
			if _, stops := fake.counts(); stops != tt.stops {
				t.Fatalf("%d stops, want %d", stops, tt.stops)
			}
		})
	}
}

func TestRestartNeededIsShown(t *testing.T) {
	fake := newFakeProject(t.TempDir(), true)
	fake.state = workspace.StateReady
	c, _ := inProcess(t, fakeOpts(fake, nil))
	c.call("initialize", initParams(fake.root.Dir, map[string]any{"autoStart": false}))
	c.notify("initialized", map[string]any{})
	c.waitFor("first iris/status", isMethod(MethodStatus))
	fake.mu.Lock()
	fake.restart = true
	fake.mu.Unlock()
	fake.setState(workspace.StateReady)
	m := c.waitFor("showMessage restart needed", isMethod(MethodShowMessage))
	p := decode[ShowMessageParams](t, m.Params)
	want := "IRIS for " + fake.root.Dir + " needs a restart: the container still uses 33000/33500; restart to use 33001/33501. Run \"IRIS: Restart\"."
	if p.Type != MessageWarning || p.Message != want {
		t.Fatalf("showMessage %+v\nwant %q", p, want)
	}
	fake.setState(workspace.StateReady) // still needed: not shown twice
	c.call(MethodStatus, nil)
	if n := len(c.notifications(MethodShowMessage)); n != 1 {
		t.Fatalf("%d showMessage, want 1", n)
	}
}

// A processId that names no process here (a client in another PID namespace) is not watched.
func TestUnknownClientProcessIsNotWatched(t *testing.T) {
	fake := newFakeProject(t.TempDir(), false)
	c, code := inProcess(t, fakeOpts(fake, nil)) // checks every 50 ms
	p := initParams(fake.root.Dir, map[string]any{"autoStart": false})
	p["processId"] = 1 << 30 // above any pid_max
	c.call("initialize", p)
	c.notify("initialized", map[string]any{})
	select {
	case got := <-code:
		t.Fatalf("helper ended (code %d) because of a process it cannot see", got)
	case <-time.After(500 * time.Millisecond):
	}
	if m := c.call("iris/status", nil); m.Error != nil {
		t.Fatalf("iris/status: %+v", m.Error)
	}
}

// A workDoneToken given by the client is used as is: no window/workDoneProgress/create.
func TestClientWorkDoneToken(t *testing.T) {
	fake := newFakeProject(t.TempDir(), true)
	close(fake.release)
	c, _ := inProcess(t, fakeOpts(fake, nil))
	c.call("initialize", initParams(fake.root.Dir, map[string]any{"autoStart": false}))
	c.notify("initialized", map[string]any{})
	res := c.call("iris/start", map[string]any{"workDoneToken": "my-token"})
	if res.Error != nil || statusOf(t, res.Result).State != workspace.StateReady {
		t.Fatalf("iris/start: %+v", res)
	}
	c.waitFor("progress end", func(m wireMsg) bool {
		return m.Method == MethodProgress && strings.Contains(string(m.Params), `"kind":"end"`)
	})
	for _, m := range c.notifications(MethodProgress) {
		if tok := string(decode[ProgressParams](t, m.Params).Token); tok != `"my-token"` {
			t.Errorf("$/progress token %s, want the client's", tok)
		}
	}
	for _, m := range c.all() {
		if m.Method == MethodProgressCreate {
			t.Error("window/workDoneProgress/create sent although the client gave a token")
		}
	}
}

// TestStartBuildParam: iris/start {"build": true} asks the project for a rebuild (Rebuild); without
// it, and from the iris.start command, a plain start.
func TestStartBuildParam(t *testing.T) {
	fake := newFakeProject(t.TempDir(), true)
	close(fake.release)
	c, _ := inProcess(t, fakeOpts(fake, nil))
	c.call("initialize", initParams(fake.root.Dir, map[string]any{"autoStart": false}))
	c.notify("initialized", map[string]any{})
	for _, req := range []struct {
		method string
		params any
	}{
		{"iris/start", map[string]any{"build": true}},
		{"iris/start", nil},
		{"workspace/executeCommand", map[string]any{"command": "iris.start", "arguments": []any{map[string]any{"build": true}}}},
	} {
		if res := c.call(req.method, req.params); res.Error != nil {
			t.Fatalf("%s: %+v", req.method, res.Error)
		}
	}
	fake.mu.Lock()
	got := fake.startOpts
	fake.mu.Unlock()
	want := []workspace.StartOptions{{Build: true}, {}, {Build: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("start options = %+v, want %+v", got, want)
	}
}

// TestGenericClientTraffic: what generic LSP clients send although the helper declares no
// text-document sync (didOpen, didChange, didSave, didClose, didChangeConfiguration, with params,
// without, or null) is accepted silently, and shutdown and exit with "params": null end the
// session with code 0.
func TestGenericClientTraffic(t *testing.T) {
	fake := newFakeProject(t.TempDir(), false)
	c, code := inProcess(t, fakeOpts(fake, nil))
	c.call("initialize", initParams(fake.root.Dir, map[string]any{"autoStart": false}))
	c.sendRaw(`{"jsonrpc":"2.0","method":"initialized","params":null}`)
	for _, method := range []string{"textDocument/didOpen", "textDocument/didChange", "textDocument/didSave",
		"textDocument/didClose", "workspace/didChangeConfiguration", "workspace/didChangeWatchedFiles"} {
		c.sendRaw(`{"jsonrpc":"2.0","method":"` + method + `"}`)
		c.sendRaw(`{"jsonrpc":"2.0","method":"` + method + `","params":null}`)
	}
	c.sendRaw(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///x.cls","languageId":"objectscript","version":1,"text":"x"}}}`)
	c.sendRaw(`{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///x.cls","version":2},"contentChanges":[{"text":"y"}]}}`)
	c.sendRaw(`{"jsonrpc":"2.0","method":"workspace/didChangeConfiguration","params":{"settings":null}}`)
	if m := c.call("iris/status", nil); m.Error != nil {
		t.Fatalf("iris/status after the notifications: %+v", m.Error)
	}
	c.sendRaw(`{"jsonrpc":"2.0","id":"sd","method":"shutdown","params":null}`)
	sd := c.waitFor("shutdown answer", func(m wireMsg) bool { return m.Method == "" && m.idString() == `"sd"` })
	if sd.Error != nil || string(sd.Result) != "null" {
		t.Fatalf("shutdown with params null answered %+v", sd)
	}
	c.sendRaw(`{"jsonrpc":"2.0","method":"exit","params":null}`)
	select {
	case got := <-code:
		if got != ExitOK {
			t.Fatalf("exit code %d, want %d", got, ExitOK)
		}
	case <-time.After(waitLong):
		t.Fatal("helper did not end on exit")
	}
	for _, m := range c.all() {
		if m.Method == "" && m.Error != nil {
			t.Errorf("a notification or request was answered with an error: %+v", m.Error)
		}
		if m.Method == MethodShowMessage {
			t.Errorf("unexpected window/showMessage: %s", m.Params)
		}
	}
	if n := len(c.all()) - len(c.notifications(MethodStatus)) - len(c.notifications(MethodLogMessage)); n != 3 {
		t.Errorf("%d messages besides iris/status and logMessage, want 3 responses (initialize, iris/status, shutdown):\n%s", n, c.dump())
	}
}

// A client that does not declare window.workDoneProgress gets no window/workDoneProgress/create
// and no $/progress: the start's steps reach it as window/logMessage only.
func TestNoWorkDoneProgressCapability(t *testing.T) {
	fake := newFakeProject(t.TempDir(), true)
	close(fake.release)
	c, _ := inProcess(t, fakeOpts(fake, nil))
	p := initParams(fake.root.Dir, map[string]any{"autoStart": false})
	p["capabilities"] = map[string]any{}
	c.call("initialize", p)
	c.notify("initialized", map[string]any{})
	res := c.call("iris/start", nil)
	if res.Error != nil || statusOf(t, res.Result).State != workspace.StateReady {
		t.Fatalf("iris/start: %+v", res)
	}
	var lines []string
	for _, m := range c.all() {
		switch m.Method {
		case MethodProgressCreate, MethodProgress:
			t.Errorf("%s sent to a client without window.workDoneProgress: %s", m.Method, m.Params)
		case MethodLogMessage:
			lines = append(lines, decode[ShowMessageParams](t, m.Params).Message)
		}
	}
	if all := strings.Join(lines, "\n"); !strings.Contains(all, "creating") || !strings.Contains(all, "waiting") {
		t.Errorf("the start's steps are not in window/logMessage:\n%s", all)
	}
}

// TestRestartText: the restart warning says why from the status (ports, settings, or both) and
// names the command by its title. (Before, it claimed other ports when only settings differed and
// ended with the command id "iris.restart".)
func TestRestartText(t *testing.T) {
	tests := []struct{ message, want string }{
		{"the container still runs with another container environment (STUB_READY_DELAY); restart to apply the project's settings",
			"IRIS for /p needs a restart: the container still runs with another container environment (STUB_READY_DELAY); " +
				"restart to apply the project's settings. Run \"IRIS: Restart\"."},
		{"the container still uses 1972/52773; restart to use 1973/52774",
			"IRIS for /p needs a restart: the container still uses 1972/52773; restart to use 1973/52774. Run \"IRIS: Restart\"."},
		{"", "IRIS for /p needs a restart: the container does not run with the project's current ports and settings. Run \"IRIS: Restart\"."},
	}
	for _, tc := range tests {
		st := workspace.Status{Project: "/p", SuperserverPort: 1973, WebPort: 52774, RestartNeeded: true, Message: tc.message}
		if got := restartText(st); got != tc.want {
			t.Errorf("restartText(%q)\n= %q\nwant %q", tc.message, got, tc.want)
		}
	}
}
