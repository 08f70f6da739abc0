package rpc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace"
)

// The whole text of the commonest failures as the editor gets them: the error answer (code and
// message) and the window/showMessage that a failed start sends, produced for real, scrubbed by
// rpctest's Scrubber (shared with the CLI's tests) and compared with testdata/messages/*.golden.
// `go test ./rpc -run TestFailureMessagesGolden -update` rewrites them. Ports: 33880–33889
// (superserver) and 33980–33989 (web), a corner of the benchmarks' band (benchmarks run only
// with -bench).

var (
	messagesGoldenDir = filepath.Join("..", "testdata", "messages")
	rebuiltRE         = regexp.MustCompile(`rebuilt \d+ assignment\(s\)`)
)

type messagesEnv struct {
	t     *testing.T
	home  string
	dir   string
	image string
	scrub *rpctest.Scrubber
	opts  Options
}

func newMessagesEnv(t *testing.T, slots int) *messagesEnv {
	t.Helper()
	home := t.TempDir()
	t.Setenv(registry.EnvHome, home)
	t.Setenv(registry.EnvSuperserverRange, fmt.Sprintf("33880-%d", 33880+slots-1))
	t.Setenv(registry.EnvWebRange, fmt.Sprintf("33980-%d", 33980+slots-1))
	t.Setenv(workspace.EnvImage, "")
	e := &messagesEnv{t: t, home: home, dir: irisFolder(t), image: dockertest.StubImage(t), scrub: rpctest.NewScrubber().Home(home),
		opts: Options{Version: "test", Project: workspace.ProjectOptions{ReadyTimeout: 2 * time.Minute}}}
	e.scrub.Project(e.dir)
	for p := 33880; p < 33890; p++ {
		e.scrub.Port(p, p+100)
	}
	return e
}

// other is another project folder holding a registry assignment (preferred ports: pref).
func (e *messagesEnv) other(pref registry.Preferred) {
	e.t.Helper()
	dir := e.t.TempDir()
	e.scrub.Add(dir, "<other-project>")
	r, err := registry.Open(registry.Options{Home: e.home})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := r.Assign(context.Background(), dir, pref); err != nil {
		e.t.Fatal(err)
	}
}

// run initializes (no auto-start; method "initialize": the answer to initialize is the one
// written), calls method and writes its error answer (or "ok" when it succeeds) and, when
// shown is not 0, the window/showMessage of that type the session sent: for an error, the one
// that carries the answer's text.
func (e *messagesEnv) run(name, method string, shown int, before ...func(c *testClient)) {
	e.t.Helper()
	c, _ := inProcess(e.t, e.opts)
	m := c.call("initialize", initParams(e.dir, map[string]any{"image": e.image, "autoStart": false}))
	if method != "initialize" {
		if m.Error != nil {
			e.t.Fatalf("initialize: %+v", m.Error)
		}
		c.notify("initialized", map[string]any{})
		for _, f := range before {
			f(c)
		}
		m = c.call(method, nil)
	}
	text := method + ": ok\n"
	var answer *rpctest.Error
	if m.Error != nil && shown == MessageError {
		answer = m.Error
	}
	if m.Error != nil {
		text = fmt.Sprintf("%s: error %d\n%s\n", method, m.Error.Code, m.Error.Message)
	}
	if shown != 0 {
		// A failed start's own message carries the answer's text; others (the watcher's "engine
		// not reachable") may come before or after it.
		isShown := func(m rpctest.Message) bool {
			if m.Method != MethodShowMessage {
				return false
			}
			p := decode[ShowMessageParams](e.t, m.Params)
			return p.Type == shown && (answer == nil || p.Message == answer.Message)
		}
		c.WaitFor(fmt.Sprintf("window/showMessage of type %d", shown), c.After(0, isShown))
		for _, m := range c.All() {
			if isShown(m) {
				text += fmt.Sprintf("window/showMessage type %d:\n%s\n", shown, decode[ShowMessageParams](e.t, m.Params).Message)
				break
			}
		}
	}
	// how many assignments a rebuild finds depends on the engine's other iris-helper containers
	text = rebuiltRE.ReplaceAllString(e.scrub.Scrub(text), "rebuilt <n> assignment(s)")
	rpctest.Golden(e.t, filepath.Join(messagesGoldenDir, name+".golden"), text, *updateProtocolGolden)
}

func TestFailureMessagesGolden(t *testing.T) {
	dockertest.Engine(t)
	t.Run("exhausted", func(t *testing.T) {
		e := newMessagesEnv(t, 1)
		e.other(registry.Preferred{})
		e.run("exhausted", MethodStart, MessageError)
	})
	t.Run("conflict", func(t *testing.T) {
		e := newMessagesEnv(t, 2)
		e.other(registry.Preferred{Superserver: 33880})
		writeConfig(t, e.dir, `{"ports": {"superserver": 33880}}`)
		e.run("conflict", MethodStart, MessageError)
	})
	t.Run("lock timeout", func(t *testing.T) {
		e := newMessagesEnv(t, 1)
		e.run("lock-timeout", MethodStart, MessageError, func(*testClient) {
			f, err := os.OpenFile(filepath.Join(e.home, registry.LockFileName), os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("engine down", func(t *testing.T) {
		e := newMessagesEnv(t, 1)
		sock := dockertest.SocketPath(t)
		t.Setenv("DOCKER_HOST", "unix://"+sock)
		e.scrub.Endpoint("unix://" + sock)
		e.run("engine-down", MethodStart, MessageError)
	})
	t.Run("corrupt", func(t *testing.T) {
		// Written after the project opened: a registry found corrupt while the session opens
		// the project is not reported to the editor (no watcher is subscribed yet).
		e := newMessagesEnv(t, 1)
		e.run("corrupt", MethodStart, MessageWarning, func(*testClient) {
			if err := os.WriteFile(filepath.Join(e.home, registry.FileName), []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("bad config", func(t *testing.T) {
		e := newMessagesEnv(t, 1)
		writeConfig(t, e.dir, `{"imagee": "x"}`)
		e.run("bad-config", "initialize", 0)
	})
	t.Run("permission", func(t *testing.T) {
		e := newMessagesEnv(t, 1)
		if err := os.Chmod(e.home, 0o777); err != nil {
			t.Fatal(err)
		}
		e.run("permission", "initialize", 0)
	})
	t.Run("not ready", func(t *testing.T) {
		e := newMessagesEnv(t, 1)
		e.opts.Project.ContainerEnv = []string{"STUB_FAIL=never-ready"}
		e.opts.Project.ReadyTimeout = 3 * time.Second
		e.run("not-ready", MethodStart, MessageError)
	})
	t.Run("exited", func(t *testing.T) {
		e := newMessagesEnv(t, 1)
		e.opts.Project.ContainerEnv = []string{"STUB_FAIL=exit"}
		e.run("exited", MethodStart, MessageError)
	})
	t.Run("running", func(t *testing.T) {
		e := newMessagesEnv(t, 1)
		e.run("running", MethodRelease, 0, func(c *testClient) {
			if m := c.call(MethodStart, nil); m.Error != nil {
				t.Fatalf("iris/start: %+v", m.Error)
			}
		})
	})
}

func writeConfig(t *testing.T, dir, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, workspace.ConfigFileName), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
