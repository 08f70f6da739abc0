package dockerops_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// TestBuildCancelKillsItsProcessGroup: a build whose context ends is killed with everything it
// started (a docker CLI that runs a plugin, which runs a builder): nothing is left running.
func TestBuildCancelKillsItsProcessGroup(t *testing.T) {
	eng := dockertest.Engine(t)
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	// A stand-in docker CLI: starts a grandchild, records both PIDs, says so, and waits.
	fake := filepath.Join(dir, "docker")
	script := "#!/bin/sh\nsleep 600 &\necho \"$$ $!\" > " + pids + "\necho started\nwait\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	started := make(chan struct{})
	var once bool
	_, err := eng.Build(ctx, dockerops.BuildSpec{Project: dir, Context: dir, Docker: fake}, func(p dockerops.Progress) {
		if strings.Contains(p.Message, "started") && !once {
			once = true
			close(started)
			cancel()
		}
	})
	<-started
	var be *dockerops.BuildError
	if !errors.As(err, &be) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v (%T), want a *dockerops.BuildError wrapping context.Canceled", err, err)
	}
	data, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(data)) {
		pid, _ := strconv.Atoi(f)
		if alive(pid) {
			t.Errorf("process %d of the cancelled build still runs", pid)
		}
	}
}

// alive: pid exists, is not a zombie (a killed grandchild waits for init to reap it) and has no
// SIGKILL pending (one still on its way out).
func alive(pid int) bool {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "State":
			if strings.HasPrefix(v, "Z") || strings.HasPrefix(v, "X") {
				return false
			}
		case "SigPnd", "ShdPnd":
			if mask, err := strconv.ParseUint(v, 16, 64); err == nil && mask&(1<<(9-1)) != 0 {
				return false
			}
		}
	}
	return true
}

// TestBuildThroughComposeWithoutBuildKit: a docker CLI that refuses BuildKit (23+ without the buildx
// plugin) builds through `docker compose build`, and the log says so.
func TestBuildThroughComposeWithoutBuildKit(t *testing.T) {
	eng, img, project := setup(t)
	real, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	fake := filepath.Join(bin, "docker")
	script := "#!/bin/sh\nif [ \"$1\" = build ]; then\n" +
		"  echo 'ERROR: BuildKit is enabled but the buildx component is missing or broken.' >&2\n" +
		"  echo '       Install the buildx component to build images with BuildKit:' >&2\n  exit 1\nfi\n" +
		"exec " + real + " \"$@\"\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, project, map[string]string{"Dockerfile": buildDockerfile, "hello.txt": "hello\n"})
	logPath := filepath.Join(t.TempDir(), dockerops.BuildLogName(project))
	id, err := eng.Build(testCtx(t), dockerops.BuildSpec{Project: project, Context: project, Docker: fake,
		Args: map[string]string{"IMAGE": img}, Log: logPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logText, _ := os.ReadFile(logPath)
	ins, err := eng.Client().ImageInspect(testCtx(t), dockerops.BuildTag(project))
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Check(t, "the build through compose", rpctest.Want("image id", ins.ID, id),
		rpctest.Want("project label", ins.Config.Labels[dockerops.LabelProject], project),
		rpctest.Want("log says so", strings.Contains(string(logText),
			"\niris-helper: this docker CLI has no BuildKit (no buildx plugin); building through docker compose instead\n"), true),
		rpctest.Want("no build file left", leftovers(t, filepath.Dir(logPath)), []string{dockerops.BuildLogName(project)}))
}

func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
