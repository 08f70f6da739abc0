package dockerops_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// The stand-in image has no shell yet (FROM scratch), so these Dockerfiles use only steps that run
// none (ARG, FROM, WORKDIR, LABEL, ENV, COPY). With the stand-in that carries busybox and an `iris`
// command, TestBuild gets the fixture's `RUN iris start … iris session … iris stop` step.
const buildDockerfile = "ARG IMAGE=intersystemsdc/iris-community\nFROM $IMAGE\nWORKDIR /home/irisowner/dev\n" +
	"LABEL org.example.fixture=build\nENV FIXTURE_STEP=copied\nCOPY hello.txt hello.txt\n"

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBuild: a Dockerfile-only project is built into its own tag, labelled with the project; the
// whole output is in the build log, the progress is the build's lines in the building phase.
func TestBuild(t *testing.T) {
	eng, img, project := setup(t)
	writeFiles(t, project, map[string]string{"Dockerfile": buildDockerfile, "hello.txt": "hello\n"})
	logPath := filepath.Join(t.TempDir(), "builds", dockerops.BuildLogName(project))
	var mu sync.Mutex
	var phases []dockerops.Phase
	id, err := eng.Build(testCtx(t), dockerops.BuildSpec{Project: project, Context: project,
		Args: map[string]string{"IMAGE": img}, Log: logPath}, func(p dockerops.Progress) {
		mu.Lock()
		defer mu.Unlock()
		phases = append(phases, p.Phase)
	})
	if err != nil {
		t.Fatal(err)
	}
	tag := dockerops.BuildTag(project)
	ins, err := eng.Client().ImageInspect(testCtx(t), tag)
	if err != nil {
		t.Fatal(err)
	}
	logText, _ := os.ReadFile(logPath)
	first, _, _ := strings.Cut(string(logText), "\n")
	mu.Lock()
	onlyBuilding := len(phases) > 0
	for _, ph := range phases {
		onlyBuilding = onlyBuilding && ph == dockerops.PhaseBuilding
	}
	mu.Unlock()
	rpctest.Check(t, "the build",
		rpctest.Want("image id", ins.ID, id),
		rpctest.Want("tag", strings.HasPrefix(tag, "iris-helper/") && strings.HasSuffix(tag, ":local") && len(tag) == len("iris-helper/01234567:local"), true),
		rpctest.Want("project label", ins.Config.Labels[dockerops.LabelProject], project),
		rpctest.Want("fixture label", ins.Config.Labels["org.example.fixture"], "build"),
		rpctest.Want("log's first line", first, "iris-helper: building "+tag+" from Dockerfile in "+project+" with build args IMAGE"),
		rpctest.Want("log names the image", strings.Contains(string(logText), tag), true),
		rpctest.Want("progress: building lines", onlyBuilding, true),
	)
}

// TestBuildFailure: a broken Dockerfile is a *BuildError that quotes the last lines of the output
// (BuildKit's ERROR line among them); the whole output is in the log.
func TestBuildFailure(t *testing.T) {
	eng, img, project := setup(t)
	writeFiles(t, project, map[string]string{"Dockerfile": "ARG IMAGE=intersystemsdc/iris-community\nFROM $IMAGE\nCOPY missing.txt /missing.txt\n"})
	logPath := filepath.Join(t.TempDir(), dockerops.BuildLogName(project))
	_, err := eng.Build(testCtx(t), dockerops.BuildSpec{Project: project, Context: project,
		Args: map[string]string{"IMAGE": img}, Log: logPath}, nil)
	var be *dockerops.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("error = %v (%T), want *dockerops.BuildError", err, err)
	}
	logText, _ := os.ReadFile(logPath)
	t.Logf("the error:\n%v\nthe log:\n%s", err, logText)
	quoted := strings.Join(be.LastLines, "\n")
	rpctest.Check(t, "the failure",
		rpctest.Want("image", be.Image, dockerops.BuildTag(project)),
		rpctest.Want("log", be.Log, logPath),
		rpctest.Want("last lines name the missing file", strings.Contains(quoted, "missing.txt"), true),
		rpctest.Want("last lines within the log", strings.Contains(string(logText), be.LastLines[len(be.LastLines)-1]), true),
		rpctest.Want("message quotes the last line", strings.HasSuffix(err.Error(), "\n  "+be.LastLines[len(be.LastLines)-1]), true),
	)
}

// TestBuildWithoutDockerCLI: a docker CLI that is not on PATH is named, with the PATH searched.
func TestBuildWithoutDockerCLI(t *testing.T) {
	eng := dockertest.Engine(t)
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	_, err := eng.Build(testCtx(t), dockerops.BuildSpec{Project: dir, Context: dir, Docker: "docker"}, nil)
	var te *dockerops.BuildToolError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v (%T), want *dockerops.BuildToolError", err, err)
	}
	rpctest.Must(t, "the failure", rpctest.Want("message", err.Error(),
		"cannot build the project's image: the docker CLI (docker) was not found on PATH ("+dir+
			"); install the Docker CLI (Docker Desktop, or the docker-ce-cli/docker.io package)"))
}
