package workspace

import (
	"context"
	"errors"
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
	"github.com/iris-helper/iris-helper/workspace/dotenv"
)

// Compose projects on the real engine and the real `docker compose` (v2). Port band: 35500–35999;
// each test takes ten superserver slots from lo, the extra range lo+10–lo+19, ten web slots from
// lo+250, and lo+260 and lo+261 as the host ports the fixtures pin for 1972 and 52773
// (IRIS_TEST_SUPERSERVER_PIN, IRIS_TEST_WEB_PIN: a soft preference is honoured when free).

// composeFixture is one test's engine, stand-in image, registry and compose projects (removed with
// `docker compose down -v` by project name at cleanup, found by iris-helper's and compose's labels).
type composeFixture struct {
	*fixture
}

func newComposeFixture(t testing.TB, lo int) *composeFixture {
	t.Helper()
	f := &fixture{t: t, eng: dockertest.Engine(t), img: dockertest.StubImage(t), home: t.TempDir(), lo: lo}
	t.Setenv(registry.EnvHome, f.home)
	t.Setenv("IRIS_TEST_IMAGE", f.img)
	t.Setenv("IRIS_TEST_SUPERSERVER_PIN", strconv.Itoa(lo+260))
	t.Setenv("IRIS_TEST_WEB_PIN", strconv.Itoa(lo+261))
	reg, err := registry.Open(registry.Options{Home: f.home,
		Superserver: &registry.Range{Lo: lo, Hi: lo + 9}, Web: &registry.Range{Lo: lo + 250, Hi: lo + 259},
		Extra: &registry.Range{Lo: lo + 10, Hi: lo + 19},
		Ports: f.eng, ChangesInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.reg = reg
	return &composeFixture{f}
}

// composeDir copies testdata/compose/<name> into parent/folder (a new temp folder when parent is
// "") and returns its canonical path; its compose projects are removed at cleanup.
func (f *composeFixture) composeDir(name, parent, folder string) string {
	f.t.Helper()
	if parent == "" {
		parent = f.t.TempDir()
	}
	dir := filepath.Join(parent, folder)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "compose", name))); err != nil {
		f.t.Fatal(err)
	}
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { removeComposeProjects(f.t, f.eng, dir) })
	return dir
}

// removeComposeProjects runs `docker compose -p NAME down -v` for every compose project with a
// container of dir, then removes what is left by iris-helper's label.
func removeComposeProjects(t testing.TB, eng *dockerops.Engine, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	names := map[string]bool{}
	for _, l := range []string{dockerops.LabelProject + "=" + dir, dockerops.LabelComposeWorkingDir + "=" + dir} {
		cs, err := eng.Containers(ctx, l)
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, c := range cs {
			names[c.Labels[dockerops.LabelComposeProject]] = true
		}
	}
	names[normalizeComposeName(filepath.Base(dir))] = true // its volumes outlive its containers (an external down)
	for n := range names {
		if n == "" {
			continue
		}
		if out, err := exec.CommandContext(ctx, "docker", "compose", "-p", n, "down", "-v", "--remove-orphans").CombinedOutput(); err != nil {
			t.Errorf("cleanup: docker compose -p %s down -v: %v\n%s", n, err, out)
		}
	}
	if err := dockertest.RemoveProject(ctx, eng.Client(), dir); err != nil {
		t.Errorf("cleanup of %s: %v", dir, err)
	}
}

func (f *composeFixture) openCompose(dir string) *Project {
	f.t.Helper()
	p, err := OpenProject(context.Background(), dir, ProjectOptions{Registry: f.reg, Engine: f.eng, ReadyTimeout: 30 * time.Second})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// terminalCompose runs docker compose in dir as a user would in a terminal.
func terminalCompose(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", append([]string{"compose"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker compose %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

func startOK(t *testing.T, p *Project) Status {
	t.Helper()
	st, err := p.Start(testCtx(t), nil)
	if err != nil {
		t.Fatalf("start %s: %v\nstatus: %+v", p.Root().Dir, err, st)
	}
	return st
}

// Two projects that both pin 52773:52773 run side by side, each on its own loopback ports: the
// first gets the pinned port (a soft preference), the second a slot, and its status says why; each
// one's 53773 is on a port of the extra range.
func TestComposePinnedSideBySide(t *testing.T) {
	f := newComposeFixture(t, 35500)
	a := f.openCompose(f.composeDir("pinned", "", "alpha"))
	b := f.openCompose(f.composeDir("pinned", "", "beta"))
	sa, sb := startOK(t, a), startOK(t, b)
	rpctest.Must(t, "the pin honoured for the first, a slot for the second", rpctest.Want("alpha web", sa.WebPort, 35761),
		rpctest.Want("alpha message", sa.Message, ""), rpctest.Want("beta web", sb.WebPort, 35751),
		rpctest.Want("beta message", sb.Message, "the compose files pin host port 35761 for iris/52773/tcp; it is on 35751 instead: port 35761 is held by project "+sa.Project),
		rpctest.Want("alpha 53773", sa.Ports[2].HostPort, 35510), rpctest.Want("beta 53773", sb.Ports[2].HostPort, 35511))
	for _, st := range []Status{sa, sb} {
		rpctest.Must(t, "status of "+st.Project, rpctest.Want("state", st.State, StateReady), rpctest.Want("kind", st.Kind, KindCompose),
			rpctest.Want("irisService", st.IrisService, "iris"), rpctest.Want("bindAddress", st.BindAddress, "127.0.0.1"),
			rpctest.Want("ports", len(st.Ports), 3))
		want := []PublishedPort{
			{Service: "iris", ContainerPort: 1972, Protocol: "tcp", HostPort: st.SuperserverPort, HostIP: "127.0.0.1", State: "running"},
			{Service: "iris", ContainerPort: 52773, Protocol: "tcp", HostPort: st.WebPort, HostIP: "127.0.0.1", PinnedHostPort: 35761, State: "running"},
		}
		rpctest.Must(t, "IRIS pair", rpctest.Want("superserver", st.Ports[0], want[0]), rpctest.Want("web", st.Ports[1], want[1]))
		extra := st.Ports[2]
		rpctest.Must(t, "53773 on loopback on its extra port", rpctest.Want("service", extra.Service, "iris"),
			rpctest.Want("containerPort", extra.ContainerPort, 53773), rpctest.Want("hostIP", extra.HostIP, "127.0.0.1"),
			rpctest.Want("published", extra.HostPort != 0, true), rpctest.Want("state", extra.State, "running"))
		portal(t, "127.0.0.1", st.WebPort)
	}
	rpctest.Must(t, "names", rpctest.Want("alpha", sa.ComposeProject, "alpha"), rpctest.Want("beta", sb.ComposeProject, "beta"),
		rpctest.Want("different web ports", sa.WebPort != sb.WebPort, true))
	if _, err := os.Stat(filepath.Join(sa.Project, "docker-compose.override.yml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an override file was written into the project: %v", err)
	}
}

// Two clones of one fixture, in folders with the same name and no .env, run side by side; in
// each folder a terminal's compose finds its own containers on the registry's web port.
func TestComposeClonesSameFolderName(t *testing.T) {
	f := newComposeFixture(t, 35520)
	d1 := f.composeDir("twoservices", "", "app")
	d2 := f.composeDir("twoservices", "", "app")
	p1, p2 := f.openCompose(d1), f.openCompose(d2)
	s1, s2 := startOK(t, p1), startOK(t, p2)
	rpctest.Must(t, "the first keeps compose's name; the second gets a unique one written into .env",
		rpctest.Want("first", s1.ComposeProject, "app"), rpctest.Want("second", s2.ComposeProject, "app-"+dockerops.ProjectHash(d2)))
	env2, err := os.ReadFile(filepath.Join(d2, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(env2), "COMPOSE_PROJECT_NAME=app-"+dockerops.ProjectHash(d2)+"\n") {
		t.Errorf(".env of the second clone:\n%s", env2)
	}
	for _, c := range []struct {
		dir string
		st  Status
	}{{d1, s1}, {d2, s2}} {
		got := terminalCompose(t, c.dir, "-f", "docker-compose.yml", "port", "iris", "52773")
		rpctest.Must(t, "docker compose port iris 52773 in "+c.dir, rpctest.Want("output", got, fmt.Sprintf("127.0.0.1:%d", c.st.WebPort)))
		var web *PublishedPort
		for i := range c.st.Ports {
			if c.st.Ports[i].Service == "web" {
				web = &c.st.Ports[i]
			}
		}
		if web == nil || web.HostIP != "127.0.0.1" || web.HostPort == 0 || web.ContainerPort != 80 {
			t.Errorf("the web service's port 80 in %+v", c.st.Ports)
		}
	}
}

// A clone whose twin is registered but has no containers now (down) still gets a name of its own,
// so the twin's next start finds its name free; the twin keeps compose's.
func TestComposeCloneOfARegisteredProjectGetsItsOwnName(t *testing.T) {
	f := newComposeFixture(t, 35600) // the status benchmark's base too: benchmarks run apart from the tests
	d1 := f.composeDir("pinned", "", "twin")
	d2 := f.composeDir("pinned", "", "twin")
	p1 := f.openCompose(d1)
	if s1 := startOK(t, p1); s1.ComposeProject != "twin" {
		t.Fatalf("first clone: composeProject %q", s1.ComposeProject)
	}
	if _, err := p1.Stop(testCtx(t), StopOptions{Remove: true}); err != nil {
		t.Fatal(err)
	}
	s2 := startOK(t, f.openCompose(d2))
	s1 := startOK(t, p1)
	rpctest.Must(t, "a registered twin's name is not taken", rpctest.Want("second", s2.ComposeProject, "twin-"+dockerops.ProjectHash(d2)),
		rpctest.Want("first again", s1.ComposeProject, "twin"))
}

// A `docker compose down` run in a terminal is noticed; the ports are the same after stop/start and
// after a recreate; a second start of a running project whose compose file changed recreates
// nothing and reports the drift.
func TestComposeLifecycle(t *testing.T) {
	f := newComposeFixture(t, 35540)
	dir := f.composeDir("pinned", "", "life")
	p := f.openCompose(dir)
	first := startOK(t, p)

	// a second start after an edit: nothing recreated, the drift reported
	compose := filepath.Join(dir, "docker-compose.yml")
	body, _ := os.ReadFile(compose)
	edited := strings.Replace(string(body), "    restart: always\n", "    restart: always\n    environment:\n      EDITED: \"1\"\n", 1)
	if err := os.WriteFile(compose, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	p2 := f.openCompose(dir) // a new process: the model is read again
	second := startOK(t, p2)
	rpctest.Must(t, "second start after an edit", rpctest.Want("container", second.Container, first.Container),
		rpctest.Want("startedAt", second.StartedAt.Equal(*first.StartedAt), true), rpctest.Want("restartNeeded", second.RestartNeeded, true),
		rpctest.Want("message", second.Message, "the container still runs with an older version of the compose files; restart to apply the project's settings"))

	// a restart recreates it with the edit, on the same ports
	restarted, err := p2.Restart(testCtx(t), nil)
	if err != nil {
		out, _ := exec.Command("sh", "-c", "docker ps -a --filter label=com.docker.compose.project=life --format '{{.Names}} {{.Status}} {{.Ports}} {{.CreatedAt}}'; docker logs -t life-iris-1 2>&1 | tail -20").CombinedOutput()
		t.Fatalf("%v\n%s", err, out)
	}
	rpctest.Must(t, "after a restart", rpctest.Want("state", restarted.State, StateReady), rpctest.Want("restartNeeded", restarted.RestartNeeded, false),
		rpctest.Want("superserver", restarted.SuperserverPort, first.SuperserverPort), rpctest.Want("web", restarted.WebPort, first.WebPort),
		rpctest.Want("web port published", restarted.Ports[1].HostPort, first.WebPort))

	// stop, start: same ports
	st, err := p2.Stop(testCtx(t), StopOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "after stop", rpctest.Want("state", st.State, StateStopped), rpctest.Want("container kept", st.Container, restarted.Container))
	again := startOK(t, p2)
	rpctest.Must(t, "after stop and start", rpctest.Want("web", again.Ports[1].HostPort, first.WebPort),
		rpctest.Want("superserver", again.Ports[0].HostPort, first.SuperserverPort))

	// an external docker compose down is noticed by a watch
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	statuses := make(chan Status, 64)
	go func() { _ = p2.Watch(ctx, func(s Status) { statuses <- s }, nil) }()
	for s := range statuses {
		if s.State == StateReady {
			break
		}
	}
	terminalCompose(t, dir, "down")
	for {
		select {
		case s := <-statuses:
			if s.State == StateNotCreated {
				rpctest.Must(t, "after an external down", rpctest.Want("container", s.Container, ""),
					rpctest.Want("web port", s.Ports[1].State, PortStateMissing))
				return
			}
		case <-ctx.Done():
			t.Fatal("the external docker compose down was not noticed")
		}
	}
}

// The kind a project gets from its files and the engine, and an edit of the compose file shown in
// the status without a start.
func TestComposeKindAndModelWatch(t *testing.T) {
	f := newComposeFixture(t, 35560)
	ctx := testCtx(t)

	t.Run("no IRIS service leaves the image kind", func(t *testing.T) {
		dir := f.composeDir("pinned", "", "noiris")
		if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte("services:\n  db:\n    image: postgres:16\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := f.openCompose(dir)
		if err := p.rt.(*kindRuntime).resolve(ctx); err != nil {
			t.Fatal(err)
		}
		st := p.Status(ctx)
		rpctest.Must(t, "status", rpctest.Want("kind", st.Kind, KindImage), rpctest.Want("message", st.Message,
			"the compose project of "+dir+" ("+dir+"/docker-compose.yml) has no IRIS service: no service runs an IRIS image, exposes 52773 or 1972, or is named iris (services: db); the project runs on the image kind (name the IRIS service with \"compose\": {\"service\": …} in .iris-helper.json)"))
	})

	t.Run("an image-kind container keeps the image kind", func(t *testing.T) {
		dir := f.composeDir("pinned", "", "upgraded")
		cfg := filepath.Join(dir, ConfigFileName)
		if err := os.WriteFile(cfg, []byte(`{"kind": "image", "durable": false}`), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := OpenProject(ctx, dir, ProjectOptions{Registry: f.reg, Engine: f.eng, FlagImage: f.img, ReadyTimeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		st := startOK(t, p)
		if err := os.WriteFile(cfg, []byte(`{"durable": false}`), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err = OpenProject(ctx, dir, ProjectOptions{Registry: f.reg, Engine: f.eng, FlagImage: f.img})
		if err != nil {
			t.Fatal(err)
		}
		st = p.Status(ctx)
		rpctest.Must(t, "status after the upgrade", rpctest.Want("kind", st.Kind, KindImage), rpctest.Want("state", st.State, StateReady),
			rpctest.Want("message", st.Message, "the project keeps the image kind: its container "+st.Container+" from before its compose file was used exists (set \"kind\": \"compose\" in .iris-helper.json to run the compose file; `iris-helper stop --purge` removes the old one)"))
	})

	t.Run("a managed key used as a container port is not written", func(t *testing.T) {
		dir := f.composeDir("pinned", "", "webkey")
		body := "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE}\n    ports: [\"1972\", \"${IRIS_TEST_WEB_PIN}:${IRIS_WEB_PORT:-52773}\"]\n"
		if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("APP=1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		st := startOK(t, f.openCompose(dir))
		env, _ := os.ReadFile(filepath.Join(dir, ".env"))
		rpctest.Must(t, "after the start", rpctest.Want("state", st.State, StateReady),
			rpctest.Want(".env", string(env), fmt.Sprintf("APP=1\n%s\nIRIS_HOST=localhost\nIRIS_PORT=%d\n", dotenv.ManagedComment, st.SuperserverPort)),
			rpctest.Want("message", st.Message, "the compose files use IRIS_WEB_PORT as a container port, so iris-helper does not write the host port into it in .env"))
	})

	t.Run("an edit of the compose file shows in the status", func(t *testing.T) {
		dir := f.composeDir("pinned", "", "edited")
		p := f.openCompose(dir)
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		statuses := make(chan Status, 64)
		go func() { _ = p.Watch(wctx, func(s Status) { statuses <- s }, nil) }()
		waitStatus(t, statuses, "the model loaded", func(s Status) bool { return s.IrisService == "iris" && s.Message == "" })
		edited := "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE}\n    ports: [\"52773\"]\n  iris2:\n    image: ${IRIS_TEST_IMAGE}\n    expose: [\"1972\"]\n"
		if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		s := waitStatus(t, statuses, "the edit", func(s Status) bool { return s.Message != "" })
		rpctest.Must(t, "status after the edit", rpctest.Want("irisService", s.IrisService, "iris"), rpctest.Want("message", s.Message,
			"services iris, iris2 look like IRIS; iris-helper uses iris (set \"compose\": {\"service\": \"iris2\"} in .iris-helper.json to use another)"))
	})
}

func waitStatus(t *testing.T, ch <-chan Status, what string, ok func(Status) bool) Status {
	t.Helper()
	deadline := time.After(time.Minute)
	var last Status
	for {
		select {
		case s := <-ch:
			if ok(s) {
				return s
			}
			last = s
		case <-deadline:
			t.Fatalf("%s: not seen; last status %+v", what, last)
		}
	}
}

// A build failure: the error ends with the last lines of the build, the whole is the build log.
func TestComposeBuildFailure(t *testing.T) {
	f := newComposeFixture(t, 35580)
	dir := f.composeDir("buildfail", "", "broken")
	p := f.openCompose(dir)
	st, err := p.Start(testCtx(t), nil)
	var be *dockerops.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("start: %v (%T), want a *dockerops.BuildError", err, err)
	}
	last := be.LastLines[len(be.LastLines)-1]
	rpctest.Must(t, "build failure", rpctest.Want("state", st.State, StateError), rpctest.Want("kind", st.Kind, KindCompose),
		rpctest.Want("log", be.Log, p.BuildLogPath()), rpctest.Want("last line", strings.HasPrefix(last, "failed to solve: "), true))
	log, err := os.ReadFile(p.BuildLogPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "RUN echo step-one && exit 3") {
		t.Errorf("build log:\n%s", log)
	}
}

// A host port of the IRIS pair taken by another program between assignment and start: the start
// moves the project to the next slot, as for the image kind. The file pins the port it already has
// (a soft preference the registry does not probe again), so compose is the one to find it taken.
func TestComposePortTaken(t *testing.T) {
	f := newComposeFixture(t, 35620)
	t.Setenv("IRIS_TEST_WEB_PIN", "35870")
	dir := f.composeDir("pinned", "", "taken")
	if _, err := f.reg.Assign(testCtx(t), dir, registry.Preferred{}); err != nil {
		t.Fatal(err)
	}
	dockertest.HoldPort(t, 35870) // the assigned web port (lo+250)
	st := startOK(t, f.openCompose(dir))
	rpctest.Must(t, "after the move", rpctest.Want("state", st.State, StateReady), rpctest.Want("superserver", st.SuperserverPort, 35621),
		rpctest.Want("web", st.WebPort, 35871), rpctest.Want("published web", st.Ports[1].HostPort, 35871),
		rpctest.Want("message", st.Message, "port 35870 was taken by another program between assignment and start; moved the project from 35620/35870 to 35621/35871"))
	portal(t, "127.0.0.1", st.WebPort)
}
