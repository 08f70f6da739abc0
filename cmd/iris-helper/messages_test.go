package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// The whole text of the commonest failures as the command line prints them (exit code, both
// streams), produced for real, scrubbed by rpctest's Scrubber and compared with
// testdata/cli/*.golden (the editor's words for the same failures are in testdata/messages,
// written by rpc's tests). `go test ./cmd/iris-helper -run Golden -update` rewrites them.
// Ports: the cmd band's 32600–32609 (superserver) and 32610–32619 (web).

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/cli")

// cliGoldenDir is testdata/cli at the top of the module.
var cliGoldenDir = filepath.Join("..", "..", "testdata", "cli")

// goldenEnv is a registry home with slots slots from 32600 and a scrubber that knows it.
type goldenEnv struct {
	t     *testing.T
	home  string
	scrub *rpctest.Scrubber
	// drop, when set, removes the lines it matches before the comparison: progress lines whose
	// number depends on timing (a start that waits for readiness reports each failed probe).
	drop *regexp.Regexp
}

func newGoldenEnv(t *testing.T, slots int) *goldenEnv {
	t.Helper()
	home := t.TempDir()
	t.Setenv(registry.EnvHome, home)
	t.Setenv(registry.EnvSuperserverRange, fmt.Sprintf("32600-%d", 32600+slots-1))
	t.Setenv(registry.EnvWebRange, fmt.Sprintf("32610-%d", 32610+slots-1))
	// No engine: the commands that can go without one say nothing of it.
	t.Setenv("DOCKER_HOST", "unix://"+dockertest.SocketPath(t))
	e := &goldenEnv{t: t, home: home, scrub: rpctest.NewScrubber().Home(home)}
	for p := 32600; p < 32620; p++ {
		e.scrub.Port(p)
	}
	return e
}

// project is a fresh IRIS project folder, scrubbed as placeholder.
func (e *goldenEnv) project(placeholder string) string {
	e.t.Helper()
	dir := irisProject(e.t)
	e.scrub.Add(dir, placeholder)
	return dir
}

// check runs the CLI and compares the scrubbed run with testdata/cli/name.golden.
func (e *goldenEnv) check(name string, wantCode int, args ...string) {
	e.t.Helper()
	r := cli(e.t, args...)
	if r.code != wantCode {
		e.t.Errorf("exit %d, want %d\n%s", r.code, wantCode, r)
	}
	text := e.scrub.Scrub(r.String() + "\n")
	if e.drop != nil {
		text = e.drop.ReplaceAllString(text, "")
	}
	rpctest.Golden(e.t, filepath.Join(cliGoldenDir, name+".golden"), text, *updateGolden)
}

func TestFailureTextGolden(t *testing.T) {
	t.Run("exhausted", func(t *testing.T) {
		e := newGoldenEnv(t, 1)
		mustRun(t, 0, "ports", "assign", e.project("<other-project>"))
		e.check("exhausted", 1, "ports", "assign", e.project("<project>"))
	})
	t.Run("conflict", func(t *testing.T) {
		e := newGoldenEnv(t, 2)
		mustRun(t, 0, "ports", "assign", e.project("<other-project>"), "--port", "32600")
		e.check("conflict", 1, "ports", "assign", e.project("<project>"), "--port", "32600")
	})
	t.Run("conflict with another program", func(t *testing.T) {
		e := newGoldenEnv(t, 2)
		dockertest.HoldPort(t, 32601)
		e.check("conflict-program", 1, "ports", "assign", e.project("<project>"), "--port", "32601")
	})
	t.Run("lock timeout", func(t *testing.T) {
		e := newGoldenEnv(t, 1)
		f, err := os.OpenFile(filepath.Join(e.home, registry.LockFileName), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		e.check("lock-timeout", 1, "ports", "assign", e.project("<project>"))
	})
	t.Run("corrupt", func(t *testing.T) {
		e := newGoldenEnv(t, 1)
		if err := os.WriteFile(filepath.Join(e.home, registry.FileName), []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
		// Not a failure since every ports verb rebuilds a corrupt registry from container labels
		// (none here: the engine does not answer) and goes on; the warning says what happened.
		e.check("corrupt", 0, "ports", "list")
	})
	t.Run("engine down", func(t *testing.T) {
		e := newGoldenEnv(t, 1)
		sock := dockertest.SocketPath(t)
		t.Setenv("DOCKER_HOST", "unix://"+sock)
		e.scrub.Endpoint("unix://" + sock)
		e.check("engine-down", 1, "start", e.project("<project>"), "--image", "iris-helper/iris-stub:dev")
	})
	t.Run("bad config", func(t *testing.T) {
		e := newGoldenEnv(t, 1)
		dir := e.project("<project>")
		if err := os.WriteFile(filepath.Join(dir, ".iris-helper.json"), []byte(`{"imagee": "x"}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.check("bad-config", 1, "status", dir)
	})
	t.Run("env sync off", func(t *testing.T) {
		e := newGoldenEnv(t, 1)
		dir := e.project("<project>")
		if err := os.WriteFile(filepath.Join(dir, ".iris-helper.json"), []byte(`{"env": {"sync": false}}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.check("env-sync-off", 1, "env", "watch", dir)
	})
	t.Run("permission", func(t *testing.T) {
		e := newGoldenEnv(t, 1)
		if err := os.Chmod(e.home, 0o777); err != nil {
			t.Fatal(err)
		}
		e.check("permission", 1, "ports", "assign", e.project("<project>"))
	})
	t.Run("running", func(t *testing.T) {
		if testing.Short() {
			t.Skip("needs the Docker engine")
		}
		ce := newCLIEnv(t, 32602)
		t.Setenv(registry.EnvSuperserverRange, "32602-32602")
		t.Setenv(registry.EnvWebRange, "32612-32612")
		e := &goldenEnv{t: t, home: ce.home, scrub: rpctest.NewScrubber().Home(ce.home).Project(ce.project).Port(32602, 32612)}
		mustRun(t, 0, "start", ce.project, "--image", ce.img)
		e.check("running", 1, "ports", "release", ce.project)
	})
	// A start that fails in the container: the stand-in image with STUB_FAIL in its own
	// environment (dockertest.FailingStubImage), as the CLI passes no test switches.
	for _, tc := range []struct {
		name, fail string
		port       int
		args       []string
	}{
		{"not-ready", "never-ready", 32603, []string{"--timeout", "3s"}},
		{"exited", "exit", 32604, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ce := newCLIEnv(t, tc.port)
			t.Setenv(registry.EnvSuperserverRange, fmt.Sprintf("%d-%[1]d", tc.port))
			t.Setenv(registry.EnvWebRange, fmt.Sprintf("%d-%[1]d", tc.port+10))
			img := dockertest.FailingStubImage(t, tc.fail)
			e := &goldenEnv{t: t, home: ce.home, scrub: rpctest.NewScrubber().Home(ce.home).Project(ce.project).Port(tc.port, tc.port+10),
				drop: regexp.MustCompile(`(?m)^iris-helper: \[<duration>\] waiting: waiting for IRIS \(<duration>\): .*\n`)}
			e.check(tc.name, 1, append([]string{"start", ce.project, "--image", img}, tc.args...)...)
		})
	}
}

// TestHelpGolden: the --help of every command, whole, in testdata/cli/help/.
func TestHelpGolden(t *testing.T) {
	var paths [][]string
	var walk func(path []string, c *cobra.Command)
	walk = func(path []string, c *cobra.Command) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			walk(append(append([]string(nil), path...), sub.Name()), sub)
		}
	}
	walk(nil, newRootCmd(&app{}))
	for _, path := range paths {
		name := strings.Join(append([]string{"iris-helper"}, path...), "_")
		t.Run(name, func(t *testing.T) {
			r := cli(t, append(append([]string(nil), path...), "--help")...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r)
			}
			rpctest.Golden(t, filepath.Join(cliGoldenDir, "help", name+".golden"), r.stdout+r.stderr, *updateGolden)
		})
	}
}
