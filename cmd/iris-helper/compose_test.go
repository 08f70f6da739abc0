package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// CLI tests of compose projects, on the real engine and the real `docker compose`, in the cmd
// compose band 36000–36299: ten superserver slots from lo, the extra range lo+10–lo+19, ten web
// slots from lo+150.

// composeFile is a compose project of the shape of 6 real ones: an image, the web port pinned
// (52773:52773; the tests pin the web slot's port, IRIS_TEST_WEB_PIN, which the registry honours as
// a soft preference), a random superserver port, a named volume.
const composeFile = `services:
  iris:
    image: ${IRIS_TEST_IMAGE:-intersystemsdc/iris-community}
    ports: ["${IRIS_TEST_WEB_PIN:-52773}:52773", "1972"]
    restart: always
    volumes: ["data:/data"]
volumes:
  data: {}
`

func newComposeCLIEnv(t *testing.T, lo int, folder string) (dir string) {
	t.Helper()
	eng, img := dockertest.Engine(t), dockertest.StubImage(t)
	t.Setenv(registry.EnvHome, t.TempDir())
	t.Setenv(registry.EnvSuperserverRange, fmt.Sprintf("%d-%d", lo, lo+9))
	t.Setenv(registry.EnvWebRange, fmt.Sprintf("%d-%d", lo+150, lo+159))
	t.Setenv(registry.EnvExtraRange, fmt.Sprintf("%d-%d", lo+10, lo+19))
	t.Setenv("IRIS_TEST_IMAGE", img)
	t.Setenv("IRIS_TEST_WEB_PIN", strconv.Itoa(lo+150))
	parent, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(parent, folder)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(composeFile), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		names := map[string]bool{}
		for _, l := range []string{dockerops.LabelProject + "=" + dir, dockerops.LabelComposeWorkingDir + "=" + dir} {
			cs, _ := eng.Containers(ctx, l)
			for _, c := range cs {
				names[c.Labels[dockerops.LabelComposeProject]] = true
			}
		}
		names[folder] = true // its volume outlives its containers
		for n := range names {
			if n != "" {
				if out, err := exec.CommandContext(ctx, "docker", "compose", "-p", n, "down", "-v").CombinedOutput(); err != nil {
					t.Errorf("cleanup: docker compose -p %s down -v: %v\n%s", n, err, out)
				}
			}
		}
	})
	return dir
}

// start, logs --build, stop --remove --purge: refused without a terminal unless --yes, which
// names the volumes deleted.
func TestCLIComposeStartPurge(t *testing.T) {
	dir := newComposeCLIEnv(t, 36000, "cliapp")
	out, _ := mustRun(t, 0, "start", dir, "--json")
	st := statusJSON(t, out)
	rpctest.Must(t, "start --json of a compose project", rpctest.Want("state", st["state"], "ready"), rpctest.Want("kind", st["kind"], "compose"),
		rpctest.Want("composeProject", st["composeProject"], "cliapp"), rpctest.Want("irisService", st["irisService"], "iris"),
		rpctest.Want("container", st["container"], "cliapp-iris-1"), rpctest.Want("webPort", st["webPort"], float64(36150)),
		rpctest.Want("ports", st["ports"], []any{
			map[string]any{"service": "iris", "containerPort": float64(1972), "protocol": "tcp", "hostPort": float64(36000), "hostIP": "127.0.0.1", "pinnedHostPort": float64(0), "state": "running"},
			map[string]any{"service": "iris", "containerPort": float64(52773), "protocol": "tcp", "hostPort": float64(36150), "hostIP": "127.0.0.1", "pinnedHostPort": float64(36150), "state": "running"},
		}))

	// another process: the model the start's load kept serves the status, with no compose child
	out, _ = mustRun(t, 0, "status", dir, "--json")
	st = statusJSON(t, out)
	rpctest.Must(t, "status --json in another process", rpctest.Want("kind", st["kind"], "compose"),
		rpctest.Want("irisService", st["irisService"], "iris"), rpctest.Want("restartNeeded", st["restartNeeded"], false),
		rpctest.Want("pinned web port", st["ports"].([]any)[1].(map[string]any)["pinnedHostPort"], float64(36150)))

	logs, _ := mustRun(t, 0, "logs", "--build", dir)
	if !strings.Contains(logs, "Container cliapp-iris-1  Started") {
		t.Errorf("logs --build:\n%s", logs)
	}

	r := cli(t, "stop", dir, "--remove", "--purge").must(t, 1)
	rpctest.Must(t, "stop --remove --purge without a terminal", rpctest.Want("stdout", r.stdout, ""),
		rpctest.Want("stderr", r.stderr, "iris-helper: --purge deletes the volumes of "+dir+": cliapp_data; pass --yes to delete them without a terminal to ask on\n"))

	out, _ = mustRun(t, 0, "stop", dir, "--remove", "--purge", "--yes")
	rpctest.Must(t, "stop --remove --purge --yes", rpctest.Want("stdout", out, "removed the containers of "+dir+" and its volumes: cliapp_data\n"))
	out, _ = mustRun(t, 0, "status", dir, "--json")
	st = statusJSON(t, out)
	rpctest.Must(t, "status after the purge", rpctest.Want("state", st["state"], "not-created"), rpctest.Want("kind", st["kind"], "compose"))
}

// A compose project's other published ports in `ports list` and `ports inspect PORT` (an extra
// port names its project and key), and in the entry of `ports list --json`.
func TestCLIComposeExtraPorts(t *testing.T) {
	dir := newComposeCLIEnv(t, 36020, "cliextra")
	body := strings.Replace(composeFile, `ports: ["${IRIS_TEST_WEB_PIN:-52773}:52773", "1972"]`, `ports: ["${IRIS_TEST_WEB_PIN:-52773}:52773", "1972", "53773"]`, 1)
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := mustRun(t, 0, "start", dir, "--json")
	st := statusJSON(t, out)
	rpctest.Must(t, "start --json", rpctest.Want("state", st["state"], "ready"), rpctest.Want("extra port", st["ports"].([]any)[2],
		map[string]any{"service": "iris", "containerPort": float64(53773), "protocol": "tcp", "hostPort": float64(36030), "hostIP": "127.0.0.1", "pinnedHostPort": float64(0), "state": "running"}))

	out, _ = mustRun(t, 0, "ports", "inspect", "36030", "--json")
	var e struct {
		registry.Assignment
		Ports []map[string]any `json:"ports"`
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rpctest.Must(t, "ports inspect 36030 --json", rpctest.Want("project", e.Project, dir), rpctest.Want("ports", len(e.Ports), 3),
		rpctest.Want("extra", e.Ports[2]["hostPort"], float64(36030)), rpctest.Want("extraPorts", len(e.Extra), 1))

	out, _ = mustRun(t, 0, "ports", "inspect", "36030")
	rpctest.Must(t, "ports inspect 36030", rpctest.Want("stdout", out, fmt.Sprintf(`port         36030 (iris/53773/tcp)
project      %s
superserver  36020
web          36170
slot         0
type         auto
status       active
container    cliextra-iris-1
engine       %s
assigned     %s
last used    %s
extra        36030 (iris/53773/tcp)
`, dir, e.Engine, showTime(e.AssignedAt), showTime(e.LastUsedAt))))

	out, _ = mustRun(t, 0, "ports", "list")
	want := fmt.Sprintf("%-*s  SUPERSERVER  WEB    TYPE  STATUS  LAST USED\n%s  36020        36170  auto  active  %s\n\nExtra ports:\n  %-*s  KEY             PORT\n  %s  iris/53773/tcp  36030\n",
		len(dir), "PROJECT", dir, showTime(e.LastUsedAt), len(dir), "PROJECT", dir)
	rpctest.Must(t, "ports list", rpctest.Want("stdout", out, want))
}
