package rpc

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeDocker is a docker CLI (irisHelper.dockerPath) whose compose plugin reports v2.40.3, prints
// a one-service model for config, and for up starts a long sleep (its pid in pidFile) and waits.
const fakeDocker = `#!/bin/sh
case " $* " in
*" version "*) echo 2.40.3 ;;
*" config "*) echo '{"name":"proc","services":{"iris":{"image":"iris-helper/iris-stub:dev","ports":[{"target":52773,"protocol":"tcp"}]}}}' ;;
*" up "*) sleep 300 & echo $! > "$PIDFILE"; wait ;;
*) exit 0 ;;
esac
`

// TestComposeChildrenEndWithTheHelper: a compose child (and its own children) running when the
// helper ends at the end of its input is killed with its process group: nothing is left behind.
func TestComposeChildrenEndWithTheHelper(t *testing.T) {
	scenarioEnv(t, band{ss: "36310-36319", web: "36410-36419"})
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "up.pid")
	docker := filepath.Join(dir, "docker")
	if err := os.WriteFile(docker, []byte(fakeDocker), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PIDFILE", pidFile)
	project := filepath.Join(dir, "proc")
	if err := os.Mkdir(project, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"docker-compose.yml": "services: {iris: {image: x}}\n", "module.xml": "<Export/>\n"} {
		if err := os.WriteFile(filepath.Join(project, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, code := subprocess(t)
	if res := c.call("initialize", initParams(project, map[string]any{"autoStart": true, "dockerPath": docker})); res.Error != nil {
		t.Fatalf("initialize: %+v", res.Error)
	}
	c.notify("initialized", map[string]any{})
	var pid int
	deadline := time.Now().Add(waitLong)
	for pid == 0 { // the auto-start's `up` writes its sleeper's pid
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			t.Fatal("the auto-start ran no docker compose up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.Close() // the end of input ends the session
	<-code
	for deadline = time.Now().Add(waitLong); ; {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) || zombie(pid) {
			return
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the compose child's sleeper %d outlived the helper", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}
