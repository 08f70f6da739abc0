package dockerops_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
)

// BenchmarkBuild compares, in the same run and alternating, Engine.Build of a small Dockerfile
// project (FROM the stand-in, a COPY of a file that changes every time: the base is cached, the
// step is not) with the docker command it comes down to, run by hand: `DOCKER_BUILDKIT=1 docker
// build` when the CLI has buildx, else `docker compose build` of the same one-service file (then
// Engine.Build also pays for the refused `docker build` first).
func BenchmarkBuild(b *testing.B) {
	if _, err := exec.LookPath("docker"); err != nil {
		dockertest.Missing(b, "docker CLI not on PATH")
	}
	e := dockertest.Engine(b)
	img := dockertest.StubImage(b)
	dir := b.TempDir()
	project := filepath.Join(dir, "bench-build")
	if err := os.MkdirAll(project, 0o755); err != nil {
		b.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(project, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write("Dockerfile", "ARG IMAGE=intersystemsdc/iris-community\nFROM $IMAGE\nCOPY hello.txt /hello.txt\n")
	tag := dockerops.BuildTag(project)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = dockertest.RemoveProject(ctx, e.Client(), project)
		_ = exec.CommandContext(ctx, "docker", "rmi", "-f", tag).Run()
	})
	hasBuildx := exec.Command("docker", "buildx", "version").Run() == nil
	composeFile := filepath.Join(dir, "build.json")
	if err := os.WriteFile(composeFile, []byte(fmt.Sprintf(`{"services": {"iris": {"image": %q, "build": {"context": %q, "args": {"IMAGE": %q}}}}}`,
		tag, project, img)), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var ours, cli time.Duration
	for i := 0; b.Loop(); i++ {
		write("hello.txt", fmt.Sprintf("ours %d %d\n", i, time.Now().UnixNano()))
		t0 := time.Now()
		if _, err := e.Build(ctx, dockerops.BuildSpec{Project: project, Context: project, Args: map[string]string{"IMAGE": img},
			Log: filepath.Join(dir, "build.log")}, nil); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(t0)

		b.StopTimer()
		write("hello.txt", fmt.Sprintf("cli %d %d\n", i, time.Now().UnixNano()))
		b.StartTimer()
		cmd := exec.Command("docker", "compose", "--file", composeFile, "--project-name", "iris-helper-bench-build", "--progress=plain", "build")
		cmd.Env = append(os.Environ(), "COMPOSE_BAKE=false")
		if hasBuildx {
			cmd = exec.Command("docker", "build", "--progress=plain", "--tag", tag, "--build-arg", "IMAGE="+img, project)
			cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=1")
		}
		t1 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		cli += time.Since(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Milliseconds())/n, "build-ms/op")
	b.ReportMetric(float64(cli.Milliseconds())/n, "cli-ms/op")
	b.ReportMetric(ours.Seconds()/cli.Seconds(), "ratio")
}
