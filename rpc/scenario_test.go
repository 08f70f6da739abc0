package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace"
)

// Port bands of this package's tests (docs/architecture.md gives rpc 33000–33999): the
// in-process scenarios use 33000–33399, the subprocess scenarios 33400–33799.
var (
	inProcessBand  = band{ss: "33000-33199", web: "33200-33399"}
	subprocessBand = band{ss: "33400-33599", web: "33600-33799"}
)

type band struct{ ss, web string }

func (b band) contains(ss, web int) bool {
	in := func(p int, r string) bool {
		lo, hi, _ := strings.Cut(r, "-")
		l, _ := strconv.Atoi(lo)
		h, _ := strconv.Atoi(hi)
		return p >= l && p <= h
	}
	return in(ss, b.ss) && in(web, b.web)
}

// scenarioEnv gives the test its own registry home and port band.
func scenarioEnv(t *testing.T, b band) {
	t.Setenv(registry.EnvHome, t.TempDir())
	t.Setenv(registry.EnvSuperserverRange, b.ss)
	t.Setenv(registry.EnvWebRange, b.web)
	t.Setenv(workspace.EnvImage, "")
}

// irisFolder makes an IRIS project folder (a .env marker) whose containers are removed at cleanup.
func irisFolder(t *testing.T) string {
	dir := dockertest.Project(t)
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("# my app\nAPP_NAME=orders\nIRIS_NAMESPACE=USER\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// helper binary, built once per test run
var (
	buildOnce sync.Once
	binPath   string
	binErr    error
)

func helperBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "iris-helper-rpc-test-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "iris-helper")
		if runtime.GOOS == "windows" {
			binPath += ".exe"
		}
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/iris-helper").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// sleepChildEnv makes the test binary a stand-in client process that lives until the test kills it
// (at most 10 minutes), so that it is alive for sure when initialize names it, however slow the
// machine.
const sleepChildEnv = "IRIS_HELPER_RPC_TEST_SLEEP_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(sleepChildEnv) == "1" {
		time.Sleep(10 * time.Minute)
		os.Exit(0)
	}
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// subprocess runs `iris-helper serve --stdio` and returns a client on its stdio and a channel
// with its exit code. stderr (the logs) is shown when the test fails.
func subprocess(t *testing.T, extraArgs ...string) (*testClient, <-chan int) {
	t.Helper()
	cmd := exec.Command(helperBinary(t), append([]string{"serve", "--stdio", "--log-level", "debug"}, extraArgs...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &rpctest.Buffer{}
	cmd.Stderr = stderr
	ownProcessGroup(cmd) // to find any process it leaves behind
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code := make(chan int, 1)
	done := make(chan struct{})
	var leftover []int
	c := newTestClient(t, stdout, stdin)
	c.proc = cmd.Process
	c.Stderr = stderr
	go func() {
		_ = c.WaitEndQuiet()
		err := cmd.Wait()
		if err != nil && cmd.ProcessState == nil {
			t.Logf("wait: %v", err)
		}
		leftover = processGroupMembers(cmd.Process.Pid)
		code <- cmd.ProcessState.ExitCode()
		close(done)
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-done:
		case <-time.After(waitLong):
			cmd.Process.Kill()
			t.Error("helper process did not end at cleanup; killed")
			<-done
		}
		if len(leftover) > 0 {
			t.Errorf("the helper left processes behind: %v", leftover)
			killProcessGroup(cmd.Process.Pid)
		}
		if endErr := c.WaitEndQuiet(); endErr != io.EOF {
			t.Errorf("stdout carried something other than frames: %v", endErr)
		}
		if t.Failed() {
			t.Logf("helper stderr:\n%s", stderr.String())
		}
	})
	return c, code
}

func statusOf(t testing.TB, raw json.RawMessage) workspace.Status {
	return decode[workspace.Status](t, raw)
}

func statusIs(t testing.TB, state workspace.State) func(wireMsg) bool {
	return func(m wireMsg) bool {
		return m.Method == MethodStatus && m.ID == nil && statusOf(t, m.Params).State == state
	}
}

// TestScenarioInProcess and TestScenarioSubprocess run the same scripted editor session against
// the real Project, the real engine and the stand-in image: initialize → initialized →
// auto-start → progress → ready → iris.ports → external docker stop → iris/start → iris/stop →
// shutdown → exit.
func TestScenarioInProcess(t *testing.T) {
	scenarioEnv(t, inProcessBand)
	eng := dockertest.Engine(t)
	image := dockertest.StubImage(t)
	c, code := inProcess(t, Options{Version: "test", Project: workspace.ProjectOptions{ReadyTimeout: 2 * time.Minute}})
	runScenario(t, c, code, eng, image, inProcessBand)
}

func TestScenarioSubprocess(t *testing.T) {
	scenarioEnv(t, subprocessBand)
	eng := dockertest.Engine(t)
	image := dockertest.StubImage(t)
	c, code := subprocess(t)
	runScenario(t, c, code, eng, image, subprocessBand)
}

func runScenario(t *testing.T, c *testClient, code <-chan int, eng *dockerops.Engine, image string, b band) {
	dir := irisFolder(t)

	// initialize: capabilities, serverInfo and the first status; nothing starts yet
	params := initParams(dir, map[string]any{"image": image, "syncEnv": "true"})
	params["processId"] = os.Getpid()
	res := c.call("initialize", params)
	if res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	ir := decode[struct {
		Capabilities json.RawMessage  `json:"capabilities"`
		ServerInfo   ServerInfo       `json:"serverInfo"`
		Status       workspace.Status `json:"status"`
	}](t, res.Result)
	wantCaps := `{"executeCommandProvider":{"commands":["iris.start","iris.stop","iris.restart","iris.status","iris.ports","iris.release"]},"experimental":{"irisStatus":true}}`
	if string(ir.Capabilities) != wantCaps {
		t.Errorf("capabilities %s, want %s", ir.Capabilities, wantCaps)
	}
	if ir.ServerInfo.Name != "iris-helper" || ir.ServerInfo.Version == "" {
		t.Errorf("serverInfo %+v", ir.ServerInfo)
	}
	st := ir.Status
	rpctest.Check(t, "first status", rpctest.Want("project", st.Project, dir), rpctest.Want("isIrisProject", st.IsIrisProject, true),
		rpctest.Want("state", st.State, workspace.StateNotCreated), rpctest.Want("image", st.Image, image))
	time.Sleep(300 * time.Millisecond) // give a wrong early start the chance to show
	for _, m := range c.all() {
		if m.Method != "" && m.Method != MethodLogMessage {
			t.Fatalf("%s sent before initialized: %s", m.Method, c.dump())
		}
	}

	// initialized → auto-start with progress
	c.notify("initialized", map[string]any{})
	create := c.waitFor("window/workDoneProgress/create", isMethod(MethodProgressCreate))
	token := string(decode[map[string]json.RawMessage](t, create.Params)["token"])
	ready := c.waitFor("iris/status ready", statusIs(t, workspace.StateReady))
	st = statusOf(t, ready.Params)
	rpctest.Check(t, "ready status", rpctest.Want(fmt.Sprintf("ports %d/%d in the band %+v", st.SuperserverPort, st.WebPort, b), b.contains(st.SuperserverPort, st.WebPort), true),
		rpctest.Want("container set", st.Container != "", true), rpctest.Want("startedAt set", st.StartedAt != nil, true),
		rpctest.Want("bindAddress", st.BindAddress, "127.0.0.1"))
	if out, err := exec.Command("docker", "inspect", "-f", `{{index .Config.Labels "dev.iris-helper.version"}}`, st.Container).Output(); err != nil || strings.TrimSpace(string(out)) != ir.ServerInfo.Version {
		t.Errorf("container version label %q (%v), want the helper's version %q", out, err, ir.ServerInfo.Version)
	}
	if _, ok := c.waitForWithin(time.Nanosecond, statusIs(t, workspace.StateStarting)); !ok {
		t.Errorf("no iris/status starting before ready: %s", c.dump())
	}
	end := c.waitFor("$/progress end", func(m wireMsg) bool {
		return m.Method == MethodProgress && strings.Contains(string(m.Params), `"kind":"end"`)
	})
	var kinds []string
	var phases []string
	for _, m := range c.notifications(MethodProgress) {
		p := decode[ProgressParams](t, m.Params)
		if string(p.Token) != token {
			t.Errorf("$/progress with token %s, want %s", p.Token, token)
		}
		if len(kinds) == 0 || kinds[len(kinds)-1] != p.Value.Kind {
			kinds = append(kinds, p.Value.Kind)
		}
		if p.Value.Kind == "report" {
			phases = append(phases, strings.SplitN(p.Value.Message, ":", 2)[0])
		}
	}
	if strings.Join(kinds, ",") != "begin,report,end" {
		t.Errorf("$/progress kinds %v, want begin, reports, end", kinds)
	}
	if !strings.Contains(strings.Join(phases, ","), "waiting") {
		t.Errorf("progress phases %v lack waiting", phases)
	}
	if !strings.Contains(string(end.Params), "ready") {
		t.Errorf("progress end %s", end.Params)
	}
	if logs := c.notifications(MethodLogMessage); len(logs) < 2 {
		t.Errorf("want progress lines as window/logMessage, got %v", logs)
	}
	env, err := os.ReadFile(filepath.Join(dir, ".env"))
	if err != nil {
		t.Errorf(".env: %v", err)
	}
	rpctest.Check(t, fmt.Sprintf(".env %q", env), rpctest.Want("holds the superserver port", strings.Contains(string(env), strconv.Itoa(st.SuperserverPort)), true),
		rpctest.Want("keeps APP_NAME=orders", strings.Contains(string(env), "APP_NAME=orders"), true))

	// a .env edit reaches the client: the user deletes the port line, the helper writes it back
	// and says so in window/logMessage
	envPath := filepath.Join(dir, ".env")
	var kept []string
	for _, line := range strings.Split(string(env), "\n") {
		if !strings.Contains(line, strconv.Itoa(st.SuperserverPort)) {
			kept = append(kept, line)
		}
	}
	logsBefore := len(c.notifications(MethodLogMessage))
	if err := os.WriteFile(envPath, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	c.waitFor("window/logMessage about the .env edit", func(wireMsg) bool {
		for _, m := range c.notifications(MethodLogMessage)[logsBefore:] {
			if strings.Contains(string(m.Params), "updated "+envPath) {
				return true
			}
		}
		return false
	})
	if env, err := os.ReadFile(envPath); err != nil || !strings.Contains(string(env), strconv.Itoa(st.SuperserverPort)) {
		t.Errorf("the deleted port line was not written back (%v):\n%s", err, env)
	}

	// iris.ports through workspace/executeCommand
	ports := c.call(MethodExecuteCommand, map[string]any{"command": "iris.ports"})
	if ports.Error != nil {
		t.Fatalf("iris.ports: %+v", ports.Error)
	}
	pr := decode[struct {
		Assignments []map[string]any `json:"assignments"`
	}](t, ports.Result)
	if len(pr.Assignments) != 1 {
		t.Errorf("iris.ports: %d assignments, want 1: %s", len(pr.Assignments), ports.Result)
	} else {
		a := pr.Assignments[0]
		rpctest.Check(t, "iris.ports entry", rpctest.Want("project", a["project"], dir), rpctest.Want("state", a["state"], "ready"),
			rpctest.Want("superserverPort", a["superserverPort"], float64(st.SuperserverPort)))
	}
	if got := c.call(MethodStatus, nil); got.Error != nil || statusOf(t, got.Result).State != workspace.StateReady {
		t.Errorf("iris/status = %+v", got)
	}

	// the container stopped outside the helper reaches the client
	before := len(c.notifications(MethodStatus))
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if _, err := eng.Client().ContainerStop(ctx, st.Container, client.ContainerStopOptions{}); err != nil {
		t.Fatalf("docker stop: %v", err)
	}
	c.waitFor("iris/status stopped after docker stop", func(m wireMsg) bool {
		return statusIs(t, workspace.StateStopped)(m) && len(c.notifications(MethodStatus)) > before
	})
	// and so does the container removed outside the helper (docker rm)
	before = len(c.notifications(MethodStatus))
	if _, err := eng.Client().ContainerRemove(ctx, st.Container, client.ContainerRemoveOptions{}); err != nil {
		t.Fatalf("docker rm: %v", err)
	}
	c.waitFor("iris/status not-created after docker rm", func(wireMsg) bool {
		for _, m := range c.notifications(MethodStatus)[before:] {
			if statusOf(t, m.Params).State == workspace.StateNotCreated {
				return true
			}
		}
		return false
	})

	// start again through iris/start, then stop through iris/stop
	again := c.call(MethodStart, map[string]any{})
	if again.Error != nil || statusOf(t, again.Result).State != workspace.StateReady {
		t.Fatalf("iris/start: %+v", again)
	}
	stop := c.call(MethodStop, map[string]any{"remove": false})
	if stop.Error != nil || statusOf(t, stop.Result).State != workspace.StateStopped {
		t.Fatalf("iris/stop: %+v", stop)
	}
	n := len(c.notifications(MethodStatus))
	if last := statusOf(t, c.notifications(MethodStatus)[n-1].Params); last.State != workspace.StateStopped && last.State != workspace.StateStopping {
		t.Errorf("last iris/status %s after stop", last.State)
	}
	c.waitFor("iris/status stopped after iris/stop", func(m wireMsg) bool {
		ns := c.notifications(MethodStatus)
		return statusOf(t, ns[len(ns)-1].Params).State == workspace.StateStopped
	})

	// iris.restart through workspace/executeCommand: ready again on the same ports
	rs := c.call(MethodExecuteCommand, map[string]any{"command": "iris.restart"})
	if rs.Error != nil {
		t.Fatalf("iris.restart: %+v", rs.Error)
	}
	if got := statusOf(t, rs.Result); got.State != workspace.StateReady || got.SuperserverPort != st.SuperserverPort {
		t.Fatalf("iris.restart answered %+v", got)
	}
	// iris.release after a stop gives the ports back: iris/ports lists nothing
	if stop := c.call(MethodStop, map[string]any{"remove": true}); stop.Error != nil {
		t.Fatalf("iris/stop remove: %+v", stop.Error)
	}
	rel := c.call(MethodExecuteCommand, map[string]any{"command": "iris.release"})
	if rel.Error != nil {
		t.Fatalf("iris.release: %+v", rel.Error)
	}
	got := decode[ReleaseResult](t, rel.Result).Released
	rpctest.Check(t, "iris.release released", rpctest.Want("project", got.Project, dir),
		rpctest.Want("superserverPort", got.SuperserverPort, st.SuperserverPort), rpctest.Want("webPort", got.WebPort, st.WebPort))
	if left := c.call(MethodPorts, nil); left.Error != nil || !strings.Contains(string(left.Result), `"assignments":[]`) {
		t.Errorf("iris/ports after release: %s %+v", left.Result, left.Error)
	}

	// shutdown → exit → code 0
	if sd := c.call("shutdown", nil); sd.Error != nil || string(sd.Result) != "null" {
		t.Fatalf("shutdown: %+v", sd)
	}
	c.notify("exit", nil)
	select {
	case got := <-code:
		if got != 0 {
			t.Fatalf("exit code %d", got)
		}
	case <-time.After(waitLong):
		t.Fatal("helper did not exit")
	}
	for _, m := range c.all() {
		if m.Error != nil {
			t.Errorf("unexpected error: %+v", m.Error)
		}
		if m.Method == MethodShowMessage && strings.Contains(string(m.Params), `"type":1`) {
			t.Errorf("unexpected error message: %s", m.Params)
		}
	}
}

// TestNonIrisFolderDoesNotAutoStart: autoStart is on by default, but a folder without IRIS
// markers is not started.
func TestNonIrisFolderDoesNotAutoStart(t *testing.T) {
	scenarioEnv(t, inProcessBand)
	dockertest.Engine(t)
	dir := dockertest.Project(t)
	c, _ := inProcess(t, Options{Version: "test"})
	res := c.call("initialize", initParams(dir, nil))
	if res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	if st := statusOf(t, decode[map[string]json.RawMessage](t, res.Result)["status"]); st.IsIrisProject || st.State != workspace.StateNotCreated {
		t.Fatalf("first status %+v", st)
	}
	c.notify("initialized", map[string]any{})
	first := c.waitFor("first iris/status", isMethod(MethodStatus))
	if st := statusOf(t, first.Params); st.State != workspace.StateNotCreated || st.IsIrisProject {
		t.Fatalf("iris/status %+v", st)
	}
	if m, ok := c.waitForWithin(3*time.Second, func(m wireMsg) bool {
		return m.Method == MethodProgressCreate || m.Method == MethodProgress || statusIs(t, workspace.StateStarting)(m)
	}); ok {
		t.Fatalf("a non-IRIS folder was started: %+v", m)
	}
	if st := c.call(MethodStatus, nil); statusOf(t, st.Result).State != workspace.StateNotCreated || statusOf(t, st.Result).SuperserverPort != 0 {
		t.Fatalf("iris/status %s", st.Result)
	}

	// another process assigns the project ports: the registry change reaches the client
	reg, err := registry.Open(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := reg.Assign(context.Background(), dir, registry.Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	c.waitFor("iris/status with the ports assigned elsewhere", func(m wireMsg) bool {
		return m.Method == MethodStatus && statusOf(t, m.Params).SuperserverPort == a.SuperserverPort
	})
}

// TestCancelAndStopDuringStart, against the real Project: of two iris/start requests sharing one
// start, the cancelled one answers -32800 while the other gets ready; a stop during a start
// cancels it (-32018) and wins.
func TestCancelAndStopDuringStart(t *testing.T) {
	scenarioEnv(t, inProcessBand)
	dockertest.Engine(t)
	image := dockertest.StubImage(t)
	dir := irisFolder(t)
	c, _ := inProcess(t, Options{Version: "test"})
	if res := c.call("initialize", initParams(dir, map[string]any{"image": image, "autoStart": false})); res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	c.notify("initialized", map[string]any{})

	a := c.request(MethodStart, nil)
	b := c.request(MethodExecuteCommand, map[string]any{"command": "iris.start"})
	c.waitFor("both requests began their progress", func(wireMsg) bool {
		begins := 0
		for _, m := range c.notifications(MethodProgress) {
			if strings.Contains(string(m.Params), `"kind":"begin"`) {
				begins++
			}
		}
		return begins == 2
	})
	time.Sleep(200 * time.Millisecond) // both requests have joined the start (which takes > 0.5 s)
	c.notify("$/cancelRequest", map[string]any{"id": a})
	wantError(t, c.response(a), CodeRequestCancelled, "cancelled by the client")
	rb := c.response(b)
	if rb.Error != nil || statusOf(t, rb.Result).State != workspace.StateReady {
		t.Fatalf("the joined start: %+v %+v", rb, rb.Error)
	}
	if stop := c.call(MethodStop, map[string]any{"remove": true}); stop.Error != nil {
		t.Fatalf("iris/stop: %+v", stop.Error)
	}

	seen := len(c.all())
	start := c.request(MethodStart, nil)
	c.waitFor("a new start in progress", func(m wireMsg) bool {
		all := c.all()
		for _, m := range all[seen:] {
			if statusIs(t, workspace.StateStarting)(m) {
				return true
			}
		}
		return false
	})
	stop := c.call(MethodStop, nil)
	if stop.Error != nil {
		t.Fatalf("iris/stop during start: %+v", stop.Error)
	}
	if st := statusOf(t, stop.Result).State; st != workspace.StateStopped && st != workspace.StateNotCreated {
		t.Fatalf("state after stop during start: %s", st)
	}
	rs := c.response(start)
	if rs.Error == nil {
		t.Fatalf("start survived a stop: %s", rs.Result)
	}
	if rs.Error.Code != CodeStartInterrupted {
		t.Fatalf("start cancelled by a stop answered %+v, want %d", rs.Error, CodeStartInterrupted)
	}
}

// TestSubprocessEndsWhenClientDies: the helper process ends on its own when the process named in
// initialize.processId exits; and at the end of its input.
func TestSubprocessEndsWhenClientDies(t *testing.T) {
	scenarioEnv(t, subprocessBand)
	dir := t.TempDir()

	client := exec.Command(os.Args[0], "-test.run=^$") // a client process that lives until killed (TestMain)
	client.Env = append(os.Environ(), sleepChildEnv+"=1")
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Process.Kill() })
	c, code := subprocess(t)
	p := initParams(dir, map[string]any{"autoStart": false})
	p["processId"] = client.Process.Pid
	if res := c.call("initialize", p); res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	c.notify("initialized", map[string]any{})
	if err := client.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	client.Wait()
	select {
	case got := <-code:
		if got != 0 {
			t.Fatalf("exit code %d", got)
		}
	case <-time.After(waitLong):
		t.Fatal("helper did not end after its client died")
	}

	t.Run("end of input mid-frame", func(t *testing.T) {
		c, code := subprocess(t)
		if res := c.call("initialize", initParams(dir, map[string]any{"autoStart": false})); res.Error != nil {
			t.Fatalf("initialize: %+v", res.Error)
		}
		fmt.Fprint(c.w, "Content-Length: 500\r\n\r\n{\"jsonrpc\":\"2.0\",")
		c.w.Close()
		if got := <-code; got != 0 {
			t.Fatalf("exit code %d", got)
		}
	})
	t.Run("garbage then shutdown and exit with params null", func(t *testing.T) {
		c, code := subprocess(t)
		if res := c.call("initialize", initParams(dir, map[string]any{"autoStart": false})); res.Error != nil {
			t.Fatalf("initialize: %+v", res.Error)
		}
		fmt.Fprint(c.w, "garbage\r\nContent-Length: lots\r\n\r\n")
		c.sendRaw(`not json`)
		c.sendRaw(`{"jsonrpc":"2.0","method":"textDocument/didChange","params":null}`)
		c.sendRaw(`{"jsonrpc":"2.0","id":7,"method":"shutdown","params":null}`)
		if sd := c.response(7); sd.Error != nil || string(sd.Result) != "null" {
			t.Fatalf("shutdown: %+v", sd)
		}
		c.sendRaw(`{"jsonrpc":"2.0","method":"exit","params":null}`)
		if got := <-code; got != 0 {
			t.Fatalf("exit code %d, want 0", got)
		}
		var codes []int64
		for _, m := range c.all() {
			if m.Error != nil {
				codes = append(codes, m.Error.Code)
			}
		}
		if fmt.Sprint(codes) != "[-32700 -32700 -32700]" {
			t.Fatalf("error codes %v, want -32700 for the garbage, the bad length and the non-JSON body:\n%s", codes, c.dump())
		}
	})
	t.Run("exit without shutdown", func(t *testing.T) {
		c, code := subprocess(t)
		c.call("initialize", initParams(dir, map[string]any{"autoStart": false}))
		c.notify("exit", nil)
		if got := <-code; got != 1 {
			t.Fatalf("exit code %d, want 1", got)
		}
	})
}

// TestEngineDownThenBack: the helper starts while the engine does not answer (DOCKER_HOST names a
// socket nobody listens on): it stays up, reports docker-unavailable, answers iris/start with
// -32010, tells the user once; when the engine answers (a proxy to the real socket appears on that
// path) it reports the real state and the auto-start that failed runs after all. Later the engine
// goes away again (every connection cut) and comes back: docker-unavailable, then ready again.
func TestEngineDownThenBack(t *testing.T) {
	scenarioEnv(t, inProcessBand)
	eng := dockertest.Engine(t)
	image := dockertest.StubImage(t)
	proxy := dockertest.NewEngineProxy(t, eng) // not listening yet
	sock := proxy.Path()
	dir := irisFolder(t) // (its cleanup uses the real engine)
	t.Setenv("DOCKER_HOST", proxy.Host())

	c, _ := inProcess(t, Options{Version: "test"})
	res := c.call("initialize", initParams(dir, map[string]any{"image": image}))
	if res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	first := statusOf(t, decode[map[string]json.RawMessage](t, res.Result)["status"])
	if first.State != workspace.StateDockerUnavailable || !strings.Contains(first.Message, sock) {
		t.Fatalf("first status %+v", first)
	}
	c.notify("initialized", map[string]any{})
	c.waitFor("showMessage about the engine", func(m wireMsg) bool {
		return m.Method == MethodShowMessage && strings.Contains(string(m.Params), `"type":1`) && strings.Contains(string(m.Params), "not reachable")
	})
	start := c.call(MethodStart, nil)
	wantError(t, start, CodeDockerUnavailable, "not reachable")
	if !strings.Contains(string(start.Error.Data), `"state":"docker-unavailable"`) {
		t.Errorf("error.data %s", start.Error.Data)
	}

	// the engine comes back
	proxy.Up()
	c.waitFor("info: the engine answers again", func(m wireMsg) bool {
		return m.Method == MethodLogMessage && strings.Contains(string(m.Params), "answers again")
	})
	ready := c.waitFor("auto-start after recovery: ready", statusIs(t, workspace.StateReady))
	if st := statusOf(t, ready.Params); st.Container == "" || !inProcessBand.contains(st.SuperserverPort, st.WebPort) {
		t.Errorf("ready status %+v", st)
	}

	// the engine goes away later (every connection cut), then answers again: the helper reports
	// docker-unavailable, stays up, and reports the running container once more
	seen := len(c.all())
	after := func(pred func(wireMsg) bool) func(wireMsg) bool {
		return func(wireMsg) bool {
			for _, m := range c.all()[seen:] {
				if pred(m) {
					return true
				}
			}
			return false
		}
	}
	proxy.Down()
	c.waitFor("iris/status docker-unavailable after the engine went away", after(statusIs(t, workspace.StateDockerUnavailable)))
	if st := c.call(MethodStatus, nil); st.Error != nil || statusOf(t, st.Result).State != workspace.StateDockerUnavailable {
		t.Fatalf("iris/status while the engine is away: %+v", st)
	}
	seen = len(c.all())
	proxy.Up()
	c.waitFor("iris/status ready once the engine is back", after(statusIs(t, workspace.StateReady)))
	if stop := c.call(MethodStop, map[string]any{"remove": true}); stop.Error != nil {
		t.Fatalf("iris/stop: %+v", stop.Error)
	}
}

// TestPortsExhaustedIsShown, against the real Project: when the auto-start finds no free port
// (the one-port range is held by another program), the user is told with window/showMessage
// (error) and iris/start answers -32012 with the status in error.data; the helper stays up.
func TestPortsExhaustedIsShown(t *testing.T) {
	scenarioEnv(t, inProcessBand)
	t.Setenv(registry.EnvSuperserverRange, "33190-33190")
	t.Setenv(registry.EnvWebRange, "33390-33390")
	dockertest.Engine(t)
	image := dockertest.StubImage(t)
	l, err := net.Listen("tcp4", "127.0.0.1:33190")
	if err != nil {
		t.Fatalf("hold the only superserver port: %v", err)
	}
	defer l.Close()
	dir := irisFolder(t)
	c, _ := inProcess(t, Options{Version: "test"})
	if res := c.call("initialize", initParams(dir, map[string]any{"image": image})); res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	c.notify("initialized", map[string]any{})
	shown := c.waitFor("window/showMessage error about the ports", func(m wireMsg) bool {
		return m.Method == MethodShowMessage && strings.Contains(string(m.Params), `"type":1`)
	})
	if p := decode[ShowMessageParams](t, shown.Params); !strings.Contains(p.Message, "33190") {
		t.Errorf("the message does not name the busy range: %q", p.Message)
	}
	m := c.call(MethodStart, nil)
	wantError(t, m, CodePortsExhausted, "")
	if st := decode[ErrorData](t, m.Error.Data).Status; st == nil {
		t.Errorf("error.data %s: no status", m.Error.Data)
	} else {
		rpctest.Check(t, fmt.Sprintf("error.data %s: status", m.Error.Data), rpctest.Want("project", st.Project, dir), rpctest.Want("running", st.Running(), false))
	}
	if st := c.call(MethodStatus, nil); st.Error != nil || statusOf(t, st.Result).Project != dir {
		t.Fatalf("iris/status after the failure: %+v", st)
	}
}
