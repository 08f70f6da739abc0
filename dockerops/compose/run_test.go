package compose

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
)

// Ports of these tests: 35000–35099 (the dockerops/compose band is 35000–35499).

func findCLI(t *testing.T) *CLI {
	t.Helper()
	c, err := Find(context.Background(), "")
	if err != nil {
		t.Fatalf("Docker Compose v2 is needed: %v", err)
	}
	return c
}

// fixture copies testdata/name into a new folder and returns the project on it, named name
// (unique per test), removed with `down -v` at cleanup.
func fixture(t *testing.T, c *CLI, name string) Project {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", name))); err != nil {
		t.Fatal(err)
	}
	files, err := DefaultFiles(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	p := Project{Dir: dir, Files: files, Name: "ihc" + strings.ToLower(strconv.FormatInt(time.Now().UnixNano(), 36)),
		Env: append(os.Environ(), "IRIS_TEST_IMAGE="+dockertest.StubTag)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		q := p
		q.Override = ""
		if _, err := c.Down(ctx, q, true, nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return p
}

func TestConfig(t *testing.T) {
	c := findCLI(t)
	ctx := context.Background()
	p := fixture(t, c, "pinned")
	m, err := c.Config(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	iris := m.Services["iris"]
	if m.Name != p.Name || iris.Image != dockertest.StubTag || iris.Restart != "always" || len(iris.Ports) != 2 {
		t.Errorf("model = %+v", m)
	}
	if iris.Ports[0].PublishedPort() != 52773 || iris.Ports[1].PublishedPort() != 0 {
		t.Errorf("ports = %+v", iris.Ports)
	}

	dir, _ := filepath.Abs(filepath.Join("testdata", "broken"))
	broken := Project{Dir: dir, Files: []string{filepath.Join(dir, "docker-compose.yml")}}
	_, err = c.Config(ctx, broken)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("broken file: %v (%T)", err, err)
	}
	want := c.String() + " config of " + dir + "/docker-compose.yml failed (exit status 1): yaml: line 4: did not find expected node content"
	if err.Error() != want {
		t.Errorf("broken file:\n got %s\nwant %s", err, want)
	}
}

func TestUpStopDown(t *testing.T) {
	c := findCLI(t)
	eng := dockertest.Engine(t)
	dockertest.StubImage(t)
	ctx := context.Background()
	p := fixture(t, c, "pinned")
	p.Override = filepath.Join(t.TempDir(), "override.yml")
	o := Override{"iris": {
		Ports:  []Binding{{HostIP: "127.0.0.1", HostPort: 35001, ContainerPort: 1972}, {HostIP: "127.0.0.1", HostPort: 35002, ContainerPort: 52773}},
		Labels: map[string]string{dockerops.LabelProject: p.Dir}, Restart: "unless-stopped",
	}}
	if err := os.WriteFile(p.Override, o.YAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	var lines []string
	if err := c.Up(ctx, p, UpOptions{}, func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Error("Up reported no output")
	}
	cs, err := eng.Containers(ctx, dockerops.LabelProject+"="+p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 {
		t.Fatalf("containers: %+v", cs)
	}
	got := cs[0]
	wantPorts := []dockerops.PortBinding{{ContainerPort: 1972, Protocol: "tcp", HostIP: "127.0.0.1", HostPort: 35001},
		{ContainerPort: 52773, Protocol: "tcp", HostIP: "127.0.0.1", HostPort: 35002}}
	if got.State != "running" || got.Labels["com.docker.compose.project"] != p.Name || got.Labels["com.docker.compose.service"] != "iris" ||
		!equalPorts(got.Ports, wantPorts) || got.Restart != "unless-stopped" {
		t.Errorf("container = %+v ports %+v restart %q", got, got.Ports, got.Restart)
	}

	if err := c.Stop(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	cs, _ = eng.Containers(ctx, dockerops.LabelProject+"="+p.Dir)
	if len(cs) != 1 || cs[0].State != "exited" {
		t.Errorf("after stop: %+v", cs)
	}
	removed, err := c.Down(ctx, p, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(removed, ",") != p.Name+"_data" {
		t.Errorf("down -v removed %v, want %s_data", removed, p.Name)
	}
	cs, _ = eng.Containers(ctx, dockerops.LabelProject+"="+p.Dir)
	if len(cs) != 0 {
		t.Errorf("after down: %+v", cs)
	}
}

func equalPorts(a, b []dockerops.PortBinding) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A cancelled compose command is killed with its whole process group: nothing is left behind.
func TestCancelKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	script := "#!/bin/sh\nsleep 300 &\necho $! > " + pidFile + "\necho started\nwait\n"
	fake := filepath.Join(dir, "docker-compose")
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &CLI{Path: fake, Version: "2.40.3"}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.Up(ctx, Project{Dir: dir}, UpOptions{}, func(l string) {
			if l == "started" {
				close(started)
			}
		})
	}()
	<-started
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	cancel()
	err = <-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Up after cancel: %v", err)
	}
	// The grandchild was killed with the group: reap-free check, it is gone or a zombie of init.
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		out, _ := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
		if strings.HasPrefix(strings.TrimSpace(string(out)), "Z") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}
