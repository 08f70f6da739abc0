package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// Dockerfile-project tests of the CLI: superserver 36200–36249 and web 36250–36299, five slots per
// test. The project names its kind in .iris-helper.json and builds FROM the stand-in directly (the
// CLI takes no build args; detection by the Dockerfile's ARG IMAGE is workspace's test).

// newDockerfileCLIEnv is a registry home with five slots at lo and a Dockerfile project whose
// containers and images are removed at the end.
func newDockerfileCLIEnv(t *testing.T, lo int, dockerfile string) *cliEnv {
	t.Helper()
	e := &cliEnv{t: t, eng: dockertest.Engine(t), img: dockertest.StubImage(t), home: t.TempDir()}
	t.Setenv(registry.EnvHome, e.home)
	t.Setenv(registry.EnvSuperserverRange, rangeOf(lo))
	t.Setenv(registry.EnvWebRange, rangeOf(lo+50))
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"module.xml":        "<Export/>\n",
		".iris-helper.json": `{"kind": "dockerfile"}`,
		"Dockerfile":        strings.ReplaceAll(dockerfile, "$STUB", e.img),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.project = dir
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := dockertest.RemoveProject(ctx, e.eng.Client(), dir); err != nil {
			t.Errorf("remove containers and images of %s: %v", dir, err)
		}
	})
	return e
}

func rangeOf(lo int) string { return fmt.Sprintf("%d-%d", lo, lo+4) }

// TestStartBuildAndLogsBuild: `start` builds a Dockerfile project's missing image (progress lines
// in the building phase on stderr) and runs it; `logs --build` prints the kept build output; a
// second `start` builds nothing; `start --build` builds again.
func TestStartBuildAndLogsBuild(t *testing.T) {
	e := newDockerfileCLIEnv(t, 36200, "FROM $STUB\nLABEL org.example.fixture=cli\nCOPY module.xml /home/irisowner/module.xml\n")
	tag := dockerops.BuildTag(e.project)
	logPath := filepath.Join(e.home, "builds", dockerops.BuildLogName(e.project))

	r := cli(t, "logs", "--build", e.project)
	rpctest.Check(t, "logs --build before any build", rpctest.Want("exit", r.code, 1), rpctest.Want("stdout", r.stdout, ""),
		rpctest.Want("stderr", r.stderr, "iris-helper: no build output kept for "+e.project+
			": iris-helper has not built this project's image ("+logPath+" does not exist)\n"))

	out, errOut := mustRun(t, 0, "start", "--json", e.project)
	st := statusJSON(t, out)
	rpctest.Check(t, "the first start", rpctest.Want("state", st["state"], "ready"), rpctest.Want("kind", st["kind"], "dockerfile"),
		rpctest.Want("image", st["image"], tag),
		rpctest.Want("building lines", strings.Contains(errOut, "] building: "+tag+" from Dockerfile in "+e.project+"\n"), true))

	logOut, _ := mustRun(t, 0, "logs", "--build", e.project)
	kept, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Check(t, "logs --build", rpctest.Want("stdout", logOut, string(kept)),
		rpctest.Want("first line", strings.SplitN(logOut, "\n", 2)[0], "iris-helper: building "+tag+" from Dockerfile in "+e.project))

	mustRun(t, 0, "stop", e.project)
	_, errOut = mustRun(t, 0, "start", e.project)
	rpctest.Check(t, "a second start", rpctest.Want("built", strings.Contains(errOut, "] building: "), false))

	_, errOut = mustRun(t, 0, "start", "--build", e.project)
	rpctest.Check(t, "start --build", rpctest.Want("built", strings.Contains(errOut, "] building: "+tag+" from Dockerfile in "+e.project+"\n"), true))

	r = cli(t, "logs", "--build", "--follow", e.project)
	rpctest.Check(t, "logs --build --follow", rpctest.Want("exit", r.code, 2),
		rpctest.Want("stderr first line", strings.SplitN(r.stderr, "\n", 2)[0], "iris-helper: --build prints the last build's output as kept; it does not take --follow"))
}

// TestStartBuildFailure: a Dockerfile that does not build fails `start` with the last lines of the
// build output and the remedy naming `logs --build`.
func TestStartBuildFailure(t *testing.T) {
	e := newDockerfileCLIEnv(t, 36205, "FROM $STUB\nCOPY no-such-file.txt /x\n")
	r := cli(t, "start", e.project)
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	var failure string
	for i, l := range lines {
		if strings.HasPrefix(l, "iris-helper: start IRIS for ") {
			failure = strings.Join(lines[i:], "\n")
			break
		}
	}
	rpctest.Check(t, "the failed start", rpctest.Want("exit", r.code, 1),
		rpctest.Want("failure head", strings.HasPrefix(failure, "iris-helper: start IRIS for "+e.project+": build of "+dockerops.BuildTag(e.project)+" failed: docker "), true),
		rpctest.Want("quotes the missing file", strings.Contains(failure, "no-such-file.txt"), true),
		rpctest.Want("remedy", lines[len(lines)-1], "See the whole build output with 'iris-helper logs --build'."))
}

// TestSettingThatDoesNotApplyWarnsOnce: `status` of a Dockerfile project whose .iris-helper.json
// also names an image prints one warning line on stderr saying the setting does not apply, and
// the status' message does not carry it (issue 12 §1).
func TestSettingThatDoesNotApplyWarnsOnce(t *testing.T) {
	e := newDockerfileCLIEnv(t, 36210, "FROM $STUB\n")
	if err := os.WriteFile(filepath.Join(e.project, ".iris-helper.json"), []byte(`{"kind": "dockerfile", "image": "x/iris:1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut := mustRun(t, 0, "status", "--json", e.project)
	st := statusJSON(t, out)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if _, rest, ok := strings.Cut(l, " level="); ok && strings.HasPrefix(l, "time=") {
			l = "level=" + rest // the time varies
		}
		lines = append(lines, l)
	}
	rpctest.Check(t, "status", rpctest.Want("kind", st["kind"], "dockerfile"), rpctest.Want("message", st["message"], ""),
		rpctest.Want("stderr", lines, []string{`level=WARN msg="the image setting (x/iris:1) does not apply to a project built from its Dockerfile: it runs the image it builds, ` +
			dockerops.BuildTag(e.project) + `" project=` + e.project}))
}
