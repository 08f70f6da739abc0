package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/workspacetest"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Dockerfile-kind tests run on the real engine; their ports are 35700–35724 (superserver) and
// 35930–35954 (web), clear of the compose tests' 35500–35679 and 35750–35929: each test takes
// five slots at its own base below.

// noShellDockerfile is testdata/dockerfile-project's Dockerfile without the steps that need a shell
// in the base image (RUN) or a named user (COPY --chown), which the stand-in image (FROM scratch)
// does not have yet. With the stand-in that carries busybox, an `iris` command and irisowner,
// TestDockerfileProjectBuildsOnceAndRebuilds builds the fixture's own Dockerfile (its RUN iris
// session step) instead.
const noShellDockerfile = "ARG IMAGE=intersystemsdc/iris-community:latest\nARG IMAGE=intersystemsdc/iris-community\nFROM $IMAGE\n" +
	"WORKDIR /home/irisowner/dev\nLABEL org.example.fixture=\"dockerfile-project\"\nENV FIXTURE_STEP=copied\n" +
	"COPY src src\nCOPY iris.script iris.script\n"

// newDockerfileFixture is a fixture whose registry hands out five slots at lo (web: lo+230).
func newDockerfileFixture(t *testing.T, lo int) *fixture {
	t.Helper()
	f := &fixture{t: t, eng: dockertest.Engine(t), img: dockertest.StubImage(t), home: t.TempDir(), lo: lo}
	t.Setenv(registry.EnvHome, f.home)
	reg, err := registry.Open(registry.Options{Home: f.home,
		Superserver: &registry.Range{Lo: lo, Hi: lo + 4}, Web: &registry.Range{Lo: lo + 230, Hi: lo + 234},
		Ports: f.eng, ChangesInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.reg = reg
	return f
}

// dockerfileProject copies testdata/dockerfile-project into a fresh folder dir/<name> (its
// containers and images removed at the end), with the Dockerfile the stand-in can build.
func (f *fixture) dockerfileProject(parent, name string) string {
	f.t.Helper()
	dir := filepath.Join(parent, name)
	src := filepath.Join("..", "testdata", "dockerfile-project")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, DockerfileName), []byte(noShellDockerfile), 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		if err := dockertest.RemoveProject(testCtx(f.t), f.eng.Client(), dir); err != nil {
			f.t.Errorf("remove containers and images of %s: %v", dir, err)
		}
	})
	return dir
}

// openDockerfile opens dir with the stand-in as the Dockerfile's base image.
func (f *fixture) openDockerfile(dir string) *Project {
	return f.open(dir, func(o *ProjectOptions) {
		o.FlagImage = ""
		o.BuildArgs = map[string]string{"IMAGE": f.img}
	})
}

// phases records the phases and messages of a start's progress.
type phases struct {
	mu   sync.Mutex
	seen []dockerops.Progress
}

func (ph *phases) add(p dockerops.Progress) {
	ph.mu.Lock()
	ph.seen = append(ph.seen, p)
	ph.mu.Unlock()
}

func (ph *phases) built() bool {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return slices.ContainsFunc(ph.seen, func(p dockerops.Progress) bool { return p.Phase == dockerops.PhaseBuilding })
}

func (ph *phases) reset() { ph.mu.Lock(); ph.seen = nil; ph.mu.Unlock() }

func (f *fixture) imageID(ref string) string {
	f.t.Helper()
	ins, err := f.eng.Client().ImageInspect(testCtx(f.t), ref)
	if err != nil {
		f.t.Fatal(err)
	}
	return ins.ID
}

// TestDockerfileProjectBuildsOnceAndRebuilds: a Dockerfile-only project is built into its own tag
// and runs ready on its loopback ports; a second start reuses the image; a rebuild builds again and
// the running container then reports the restart it needs; the restart (confirmed: durable is off
// for this kind) runs the new build.
func TestDockerfileProjectBuildsOnceAndRebuilds(t *testing.T) {
	f := newDockerfileFixture(t, 35700)
	ctx := testCtx(t)
	dir := f.dockerfileProject(workspacetest.TempDir(t), "orders")
	p := f.openDockerfile(dir)
	tag := dockerops.BuildTag(dir)

	before := p.Status(ctx)
	rpctest.Check(t, "the status before the first start", rpctest.Want("kind", before.Kind, KindDockerfile),
		rpctest.Want("image", before.Image, tag), rpctest.Want("state", before.State, StateNotCreated))

	var ph phases
	st, err := p.Start(ctx, ph.add)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	portal(t, "127.0.0.1", st.WebPort)
	first := f.imageID(tag)
	logText := readFile(t, p.BuildLogPath())
	fi, err := os.Stat(p.BuildLogPath())
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Check(t, "the first start", rpctest.Want("state", st.State, StateReady), rpctest.Want("kind", st.Kind, KindDockerfile),
		rpctest.Want("image", st.Image, tag), rpctest.Want("built", ph.built(), true),
		rpctest.Want("ports", [2]int{st.SuperserverPort, st.WebPort}, [2]int{35700, 35930}),
		rpctest.Want("bindings", bindings(t, st.Container), map[string]string{"1972/tcp": "127.0.0.1:35700", "52773/tcp": "127.0.0.1:35930"}),
		rpctest.Want("no durable volume", bindingsHaveVolume(t, f, st.Container), false),
		rpctest.Want("build log names the tag", strings.Contains(logText, tag), true),
		rpctest.Want("build log mode", fi.Mode().Perm(), os.FileMode(0o600)),
		rpctest.Want("restart needed", st.RestartNeeded, false))

	// A second start (stopped container, image there) builds nothing.
	if _, err := p.Stop(ctx, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	ph.reset()
	st = mustStart(t, ctx, p)
	rpctest.Check(t, "the second start", rpctest.Want("built", ph.built(), false), rpctest.Want("image id", f.imageID(tag), first),
		rpctest.Want("restart needed", st.RestartNeeded, false))

	// A rebuild after a change builds a new image; the running container is kept and needs a restart.
	if err := os.WriteFile(filepath.Join(dir, "src", "Hello.cls"), []byte("Class dc.Hello { }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ph.reset()
	st, err = p.StartWith(ctx, StartOptions{Build: true}, ph.add)
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	second := f.imageID(tag)
	rpctest.Check(t, "the rebuild", rpctest.Want("built", ph.built(), true), rpctest.Want("new image", second != first, true),
		rpctest.Want("state", st.State, StateReady), rpctest.Want("restart needed", st.RestartNeeded, true),
		rpctest.Want("message", st.Message, "the container still runs with an older build of image "+tag+"; restart to apply the project's settings"))

	// The restart recreates the container, whose data is not on a volume: it asks first.
	_, err = p.Restart(ctx, nil)
	var confirm *ConfirmRequiredError
	if !errors.As(err, &confirm) {
		t.Fatalf("restart without confirmation: %v, want *ConfirmRequiredError", err)
	}
	rpctest.Check(t, "the confirmation asked", rpctest.Want("message", err.Error(),
		"restarting "+dir+" would remove container "+st.Container+" and the data inside it, which is not on the durable volume (it was created with durable off): "+
			"it was created with an older build of image "+tag+"; confirm the restart to recreate it"))
	st, err = p.RestartWith(ctx, RestartOptions{Confirm: confirm.Container}, nil)
	if err != nil {
		t.Fatalf("confirmed restart: %v", err)
	}
	res, err := f.eng.Client().ContainerInspect(ctx, st.Container, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ins := res.Container
	rpctest.Check(t, "after the restart", rpctest.Want("state", st.State, StateReady), rpctest.Want("restart needed", st.RestartNeeded, false),
		rpctest.Want("container image", ins.Image, second))
	portal(t, "127.0.0.1", st.WebPort)
}

// bindingsHaveVolume: the container mounts a named volume (the durable one).
func bindingsHaveVolume(t *testing.T, f *fixture, name string) bool {
	t.Helper()
	res, err := f.eng.Client().ContainerInspect(testCtx(t), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(res.Container.Mounts, func(m container.MountPoint) bool { return m.Type == "volume" })
}

// TestDockerfileClonesGetOwnTags: two clones in folders of the same name get their own images and
// run side by side, each on its own ports.
func TestDockerfileClonesGetOwnTags(t *testing.T) {
	f := newDockerfileFixture(t, 35705)
	ctx := testCtx(t)
	a := f.openDockerfile(f.dockerfileProject(workspacetest.TempDir(t), "template"))
	b := f.openDockerfile(f.dockerfileProject(workspacetest.TempDir(t), "template"))
	var wg sync.WaitGroup
	sts := make([]Status, 2)
	errs := make([]error, 2)
	for i, p := range []*Project{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sts[i], errs[i] = p.Start(ctx, nil)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		portal(t, "127.0.0.1", st.WebPort)
	}
	rpctest.Check(t, "the two clones",
		rpctest.Want("a's image", sts[0].Image, dockerops.BuildTag(a.Root().Dir)),
		rpctest.Want("b's image", sts[1].Image, dockerops.BuildTag(b.Root().Dir)),
		rpctest.Want("different tags", sts[0].Image != sts[1].Image, true),
		rpctest.Want("different ports", sts[0].WebPort != sts[1].WebPort && sts[0].SuperserverPort != sts[1].SuperserverPort, true),
		rpctest.Want("both ready", [2]State{sts[0].State, sts[1].State}, [2]State{StateReady, StateReady}))
}

// TestDockerfileBuildFailure: a broken Dockerfile fails the start with the last lines of the build
// output; the whole output is in the build log; no container is created.
func TestDockerfileBuildFailure(t *testing.T) {
	f := newDockerfileFixture(t, 35710)
	ctx := testCtx(t)
	dir := f.dockerfileProject(workspacetest.TempDir(t), "broken")
	if err := os.WriteFile(filepath.Join(dir, DockerfileName), []byte(noShellDockerfile+"COPY no-such-file.txt /x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := f.openDockerfile(dir)
	st, err := p.Start(ctx, nil)
	var be *dockerops.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("start: %v (%T), want *dockerops.BuildError", err, err)
	}
	head, quoted, _ := strings.Cut(err.Error(), "; last lines of the build output:\n  ")
	var whole strings.Builder
	if err := p.BuildLog(&whole); err != nil {
		t.Fatal(err)
	}
	last := be.LastLines[len(be.LastLines)-1]
	after := p.Status(ctx)
	rpctest.Check(t, "the failed build",
		rpctest.Want("message head", strings.HasPrefix(head, "start IRIS for "+dir+": build of "+dockerops.BuildTag(dir)+" failed: docker "), true),
		rpctest.Want("quoted lines", quoted, strings.Join(be.LastLines, "\n  ")),
		rpctest.Want("names the missing file", strings.Contains(quoted, "no-such-file.txt"), true),
		rpctest.Want("log path", be.Log, p.BuildLogPath()),
		rpctest.Want("log holds the last line", strings.Contains(whole.String(), last), true),
		rpctest.Want("remedy", RemedyFor(err), Remedy{Kind: RemedyShowBuildLog, Path: p.BuildLogPath()}),
		rpctest.Want("state", st.State, StateError),
		rpctest.Want("status message", after.Message, err.Error()),
		rpctest.Want("container", after.Container, ""))
}

// TestDockerfileKindWithoutDockerfile: kind "dockerfile" in .iris-helper.json without a Dockerfile
// fails the start naming the missing file, and builds nothing.
func TestDockerfileKindWithoutDockerfile(t *testing.T) {
	f := newDockerfileFixture(t, 35715)
	dir := f.projectDir(map[string]string{ConfigFileName: `{"kind": "dockerfile"}`})
	p := f.openDockerfile(dir)
	_, err := p.Start(testCtx(t), nil)
	want := "start IRIS for " + dir + ": build the project's image: no Dockerfile at " + filepath.Join(dir, DockerfileName) +
		" (the project's kind is \"dockerfile\"); add one, or set another kind in .iris-helper.json"
	var nd *NoDockerfileError
	if !errors.As(err, &nd) || err.Error() != want {
		t.Errorf("start: %v\nwant %s", err, want)
	}
}

// TestDockerfileExistingUsersKeepImageKind (issue 12 §1 "Existing users"): a Dockerfile project
// that already has an image-kind container or durable volume keeps the image kind, and the status
// says why and how to switch, until .iris-helper.json says "kind": "dockerfile"; the Dockerfile
// kind's own container (an image-kind container of the built tag) and, once it built its tag, its
// durable volume keep the Dockerfile kind.
func TestDockerfileExistingUsersKeepImageKind(t *testing.T) {
	f := newDockerfileFixture(t, 35720)
	ctx := testCtx(t)
	writeConfig := func(t *testing.T, dir, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, ConfigFileName), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const keeps = "the project keeps the image kind: %s from before its Dockerfile was used exists (set \"kind\": \"dockerfile\" in .iris-helper.json to build and run the Dockerfile; `iris-helper stop --purge` removes the old one)"
	cases := []struct {
		name          string
		before, after string // .iris-helper.json of the run before the upgrade, and after it (no kind)
		imageKind     bool   // the run before is of the image kind (the stand-in)
		remove        bool   // its container was removed (stop --remove), its volume kept
		kind          Kind
		image         string // "" = the built tag
		message       string // %s: the container's name, %v: the volume's
	}{
		{name: "an image-kind container", before: `{"kind": "image", "durable": false}`, after: `{"durable": false}`, imageKind: true,
			kind: KindImage, image: "stub", message: fmt.Sprintf(keeps, "its container %s")},
		{name: "an image-kind durable volume", before: `{"kind": "image"}`, after: `{}`, imageKind: true, remove: true,
			kind: KindImage, image: "stub", message: fmt.Sprintf(keeps, "its durable volume %v")},
		{name: "the Dockerfile kind's own container", before: `{}`, after: `{}`, kind: KindDockerfile},
		{name: "the Dockerfile kind's durable volume", before: `{"durable": true}`, after: `{"durable": true}`, remove: true, kind: KindDockerfile},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := f.dockerfileProject(workspacetest.TempDir(t), "upgrade")
			writeConfig(t, dir, c.before)
			before := f.openDockerfile(dir)
			if c.imageKind {
				before = f.open(dir) // the stand-in as the image
			}
			if _, err := before.Start(ctx, nil); err != nil {
				t.Fatal(err)
			}
			var name string
			if c.remove {
				if _, err := before.Stop(ctx, StopOptions{Remove: true}); err != nil {
					t.Fatal(err)
				}
			} else {
				name = before.Status(ctx).Container
			}
			writeConfig(t, dir, c.after) // the upgrade: no kind in the file
			p := f.openDockerfile(dir)
			if c.imageKind {
				p = f.open(dir) // the same image as before (an editor's or the environment's)
			}
			st := p.Status(ctx)
			wantImage, want := c.image, ""
			switch wantImage {
			case "":
				wantImage = dockerops.BuildTag(dir)
			case "stub":
				wantImage = f.img
			}
			if c.message != "" {
				want = strings.NewReplacer("%s", name, "%v", dockerops.VolumeName(dir)).Replace(c.message)
			}
			rpctest.Must(t, "status after the upgrade", rpctest.Want("kind", st.Kind, c.kind),
				rpctest.Want("image", st.Image, wantImage), rpctest.Want("message", st.Message, want))
			if c.kind != KindImage {
				return
			}
			writeConfig(t, dir, `{"kind": "dockerfile"}`) // the user switches
			p = f.openDockerfile(dir)
			rpctest.Must(t, "after the switch", rpctest.Want("kind", p.Status(ctx).Kind, KindDockerfile), rpctest.Want("image", p.Image(), dockerops.BuildTag(dir)))
		})
	}
}
