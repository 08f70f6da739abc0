package dockertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// composeTimeout bounds one `docker compose` run of these tests (a build of a fixture on the
// stand-in takes seconds; a cold BuildKit on a busy machine, well under a minute).
const composeTimeout = 3 * time.Minute

// fixturesDir is testdata/compose of this module.
func fixturesDir(t *testing.T) string {
	t.Helper()
	src, err := stubSourceDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(filepath.Dir(src), "compose")
}

// compose runs `docker compose ARGS` in dir with env added, in its own process group, killed with
// it at the deadline; it returns the standard output, and fails the test with both outputs.
func compose(t *testing.T, dir string, env []string, stdin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), composeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"compose"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker compose %s in %s: %v\n%s%s", strings.Join(args, " "), dir, err, out, stderr.String())
	}
	return out
}

// needCompose skips (fails under CI=true) when `docker compose` does not run.
func needCompose(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "compose", "version").CombinedOutput(); err != nil {
		Missing(t, "docker compose: %v %s (run scripts/ensure-compose.sh)", err, out)
	}
}

// composeModel is the part of `docker compose config --format json` the fixtures are checked on.
type composeModel struct {
	Name     string `json:"name"`
	Services map[string]struct {
		Image       string                            `json:"image"`
		Build       *struct{ Args map[string]string } `json:"build"`
		Command     []string                          `json:"command"`
		Container   string                            `json:"container_name"`
		NetworkMode string                            `json:"network_mode"`
		Privileged  bool                              `json:"privileged"`
		Profiles    []string                          `json:"profiles"`
		Restart     string                            `json:"restart"`
		Environment map[string]string                 `json:"environment"`
		Ports       []struct {
			Target    int    `json:"target"`
			Published string `json:"published"`
		} `json:"ports"`
		Volumes []struct {
			Source string `json:"source"`
			Target string `json:"target"`
		} `json:"volumes"`
	} `json:"services"`
}

// summary is one line per service of what these tests check: the image (or the build's IMAGE
// argument), the published ports (host:container, host empty when random), the bind mounts
// (folder of the fixture as ".", HOME as "~") and the settings that matter.
func (m composeModel) summary(fixture, home string) []string {
	var lines []string
	for name, s := range m.Services {
		img := s.Image
		if s.Build != nil {
			img = "build IMAGE=" + s.Build.Args["IMAGE"]
		}
		var ports, vols []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", p.Published, p.Target))
		}
		for _, v := range s.Volumes {
			src := v.Source
			if inside(filepath.Dir(fixture), src) {
				rel, _ := filepath.Rel(fixture, src)
				src = filepath.ToSlash(rel)
			}
			if inside(home, v.Source) {
				rel, _ := filepath.Rel(home, v.Source)
				src = "~/" + filepath.ToSlash(rel)
			}
			vols = append(vols, src+":"+v.Target)
		}
		line := fmt.Sprintf("%s: %s ports [%s] volumes [%s]", name, img, strings.Join(ports, " "), strings.Join(vols, " "))
		for _, kv := range [][2]string{{"container_name", s.Container}, {"network_mode", s.NetworkMode},
			{"restart", s.Restart}, {"profiles", strings.Join(s.Profiles, ",")}, {"command", strings.Join(s.Command, " ")}} {
			if kv[1] != "" {
				line += " " + kv[0] + "=" + kv[1]
			}
		}
		if s.Privileged {
			line += " privileged"
		}
		var env []string
		for k, v := range s.Environment {
			env = append(env, k+"="+v)
		}
		slices.Sort(env)
		if len(env) > 0 {
			line += " env [" + strings.Join(env, " ") + "]"
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return lines
}

// inside reports whether path is dir or under it.
func inside(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// TestFixturesConfig: every compose fixture under testdata/compose is a valid project for Docker
// Compose, read as a user would run it (in its folder, .env included), and says what its README
// says; the default image stays InterSystems' name and IRIS_TEST_IMAGE replaces it.
func TestFixturesConfig(t *testing.T) {
	t.Parallel()
	needCompose(t)
	dir := fixturesDir(t)
	const img = "iris-helper/iris-stub:dev"
	for _, tc := range []struct {
		fixture string
		args    []string // before config
		name    string   // project name
		want    []string
	}{
		{fixture: "template", name: "template", want: []string{
			"iris: build IMAGE=" + img + " ports [:1972 :52773 :53773] volumes [.:/home/irisowner/dev] restart=always command=--check-caps false --ISCAgent false"}},
		{fixture: "pinned", name: "pinned", want: []string{
			"iris: " + img + " ports [1972:1972 52773:52773 :53773] volumes [.:/irisdev/app] restart=always command=--check-caps false"}},
		{fixture: "pinned2", name: "pinned2", want: []string{
			"iris: " + img + " ports [:1972 52773:52773] volumes [] restart=unless-stopped command=--check-caps false"}},
		{fixture: "twoservices", name: "twoservices", want: []string{
			"iris: " + img + " ports [:1972 :52773] volumes [] restart=always command=--check-caps false",
			"web: " + img + " ports [:80] volumes [] env [IRIS_URL=http://iris:52773/api/atelier/]"}},
		{fixture: "containername", name: "containername", want: []string{
			"iris: " + img + " ports [:1972 :52773] volumes [] container_name=myiris restart=always command=--check-caps false"}},
		{fixture: "varports", name: "varports", want: []string{
			"iris: " + img + " ports [51795:1972 52796:52773] volumes [] restart=always command=--check-caps false"}},
		{fixture: "composefile-env", name: "docker", want: []string{
			"iris: " + img + " ports [:1972 :52773] volumes [.:/home/irisowner/dev] restart=always command=--check-caps false"}},
		{fixture: "profiles", name: "profiles", want: []string{
			"iris: " + img + " ports [:1972 :52773] volumes [] restart=always command=--check-caps false"}},
		{fixture: "profiles", args: []string{"--profile", "debug"}, name: "profiles", want: []string{
			"iris: " + img + " ports [:1972 :52773] volumes [] restart=always command=--check-caps false",
			"shell: " + img + " ports [] volumes [] profiles=debug"}},
		{fixture: "twoiris", name: "twoiris", want: []string{
			"iris-test: " + img + " ports [:1972 :52773] volumes [] command=--check-caps false",
			"iris: " + img + " ports [:1972 :52773] volumes [] restart=always command=--check-caps false"}},
		{fixture: "mount-outside", name: "mount-outside", want: []string{
			"iris: " + img + " ports [:1972 :52773] volumes [~/iris.key:/usr/irissys/mgr/iris.key ../shared:/shared] restart=always command=--check-caps false --key /usr/irissys/mgr/iris.key env [ISC_DATA_DIRECTORY=/shared/durable]"}},
		{fixture: "hostnet", name: "hostnet", want: []string{
			"iris: " + img + " ports [1972:1972 52773:52773] volumes [] network_mode=host command=--check-caps false"}},
		{fixture: "privileged", name: "privileged", want: []string{
			"agent: " + img + " ports [] volumes [/var/run/docker.sock:/var/run/docker.sock] privileged",
			"iris: " + img + " ports [:1972 :52773] volumes [] restart=always command=--check-caps false"}},
	} {
		t.Run(strings.Join(append([]string{tc.fixture}, tc.args...), " "), func(t *testing.T) {
			t.Parallel()
			fdir := filepath.Join(dir, tc.fixture)
			// the user's HOME, not a temp one: the docker CLI finds the compose plugin under it
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatal(err)
			}
			for _, image := range []string{img, "intersystemsdc/iris-community"} {
				env := []string{"IRIS_TEST_IMAGE=" + image}
				if image != img {
					env = []string{"IRIS_TEST_IMAGE="}
				}
				out := compose(t, fdir, env, "", append(tc.args, "config", "--format", "json")...)
				var m composeModel
				if err := json.Unmarshal(out, &m); err != nil {
					t.Fatalf("config --format json: %v\n%s", err, out)
				}
				want := slices.Clone(tc.want)
				for i := range want {
					want[i] = strings.ReplaceAll(want[i], img, image)
				}
				if got := m.summary(fdir, home); m.Name != tc.name || !slices.Equal(got, want) {
					t.Errorf("IRIS_TEST_IMAGE=%s: project %q:\n%s\nwant project %q:\n%s", image, m.Name,
						strings.Join(got, "\n"), tc.name, strings.Join(want, "\n"))
				}
			}
		})
	}
	// every fixture folder is checked above, or is the Dockerfile-only one (no compose file)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		switch e.Name() {
		case "template", "pinned", "pinned2", "twoservices", "containername", "varports", "composefile-env",
			"profiles", "twoiris", "mount-outside", "hostnet", "privileged":
		case "dockerfile-only":
			for _, f := range []string{"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"} {
				if _, err := os.Stat(filepath.Join(dir, e.Name(), f)); err == nil {
					t.Errorf("dockerfile-only has %s", f)
				}
			}
		default:
			t.Errorf("fixture %s is not checked by TestFixturesConfig", e.Name())
		}
	}
}

// TestFixturesBuild builds the template fixture (`docker compose build`) and the Dockerfile-only
// one (through a compose file on stdin: the docker CLI here has no buildx, so compose's builder is
// the way to BuildKit) on the stand-in, for real: ARG IMAGE/FROM $IMAGE, USER root and
// ${ISC_PACKAGE_MGRUSER}, RUN --mount=type=bind, iris start/session/stop. The image then holds
// what `iris session` ran from iris.script.
func TestFixturesBuild(t *testing.T) {
	t.Parallel()
	needCompose(t)
	e := Engine(t)
	stub := StubImage(t)
	dir := fixturesDir(t)
	for _, tc := range []struct {
		fixture  string
		wantUser string
		wantLog  string
	}{
		{fixture: "template", wantUser: "irisowner", wantLog: "USER zn \"USER\"\n" +
			"USER do $SYSTEM.OBJ.LoadDir(\"/home/irisowner/dev/src\", \"ck\", , 1)\n" +
			"USER zn \"%SYS\"\n" +
			"%SYS do ##class(Security.Users).UnExpireUserPasswords(\"*\")\n" +
			"%SYS halt\n"},
		{fixture: "dockerfile-only", wantUser: "", wantLog: "USER do $SYSTEM.OBJ.LoadDir(\"/home/irisowner/dev/src\", \"ck\", , 1)\n" +
			"USER halt\n"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			fdir := filepath.Join(dir, tc.fixture)
			project := fmt.Sprintf("iris-helper-fixture-%d-%s", os.Getpid(), tc.fixture)
			image := project + "-iris"
			ctx, cancel := context.WithTimeout(context.Background(), composeTimeout)
			defer cancel()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_, _ = e.Client().ContainerRemove(ctx, project, client.ContainerRemoveOptions{Force: true})
				if _, err := e.Client().ImageRemove(ctx, image, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
					t.Logf("remove %s: %v", image, err)
				}
			})
			env := []string{"IRIS_TEST_IMAGE=" + stub}
			if tc.fixture == "dockerfile-only" {
				file := fmt.Sprintf("services:\n  iris:\n    build:\n      context: .\n      args:\n        IMAGE: %q\n    image: %s\n", stub, image)
				compose(t, fdir, env, file, "-p", project, "-f", "-", "--project-directory", ".", "--progress", "plain", "build")
			} else {
				compose(t, fdir, env, "", "-p", project, "--progress", "plain", "build")
			}
			ins, err := e.Client().ImageInspect(ctx, image)
			if err != nil {
				t.Fatal(err)
			}
			if ins.Config.User != tc.wantUser || !slices.Equal(ins.Config.Entrypoint, []string{"/usr/irissys/bin/iris-stub"}) {
				t.Errorf("image %s: user %q entrypoint %q, want user %q and the stand-in's entrypoint", image, ins.Config.User, ins.Config.Entrypoint, tc.wantUser)
			}
			runCtx, runCancel := context.WithTimeout(ctx, time.Minute)
			defer runCancel()
			cmd := exec.CommandContext(runCtx, "docker", "run", "--rm", "--name", project, "--entrypoint", "iris-stub", image, "cat", "/tmp/iris-session.log")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != tc.wantLog {
				t.Errorf("session log in %s: %v\n%s\nwant:\n%s", image, err, out, tc.wantLog)
			}
		})
	}
}
