package workspace

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
)

// Benchmarks of compose projects (docs/benchmarks.md, "## Compose projects"), on the real engine
// and `docker compose`, in the workspace compose band (35600–35699).

func newComposeBench(b *testing.B, lo int, folder string) (*composeFixture, string) {
	b.Helper()
	f := newComposeFixture(b, lo)
	return f, f.composeDir("pinned", "", folder)
}

// BenchmarkComposeStatus times Project.Status of a running compose project: engine list and
// inspect by label, no compose process.
func BenchmarkComposeStatus(b *testing.B) {
	f, dir := newComposeBench(b, 35600, "benchstatus")
	ctx := testCtx(b)
	p, err := OpenProject(ctx, dir, ProjectOptions{Registry: f.reg, Engine: f.eng, ReadyTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.Start(ctx, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if st := p.Status(ctx); st.State != StateReady || st.Kind != KindCompose {
			b.Fatalf("state %q kind %q", st.State, st.Kind)
		}
	}
}

// BenchmarkComposeStartVsUp times Project.Start of a compose project whose containers are gone
// (image present, model cached as in the editor) to ready, against `docker compose up -d` with the
// same files and override plus the same readiness wait, alternating, and reports their ratio.
func BenchmarkComposeStartVsUp(b *testing.B) {
	f, dir := newComposeBench(b, 35610, "benchup")
	ctx := testCtx(b)
	p, err := OpenProject(ctx, dir, ProjectOptions{Registry: f.reg, Engine: f.eng, ReadyTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	st, err := p.Start(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	override := filepath.Join(composeStateDir(f.reg.Home(), dir), "override.yml")
	down := func() {
		out, err := exec.CommandContext(ctx, "docker", "compose", "-p", st.ComposeProject, "down").CombinedOutput()
		if err != nil {
			b.Fatalf("down: %v\n%s", err, out)
		}
	}
	var project, plain time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		down()
		b.StartTimer()
		t0 := time.Now()
		if _, err := p.Start(ctx, nil); err != nil {
			b.Fatal(err)
		}
		project += time.Since(t0)
		b.StopTimer()
		down()
		b.StartTimer()
		t0 = time.Now()
		cmd := exec.CommandContext(ctx, "docker", "compose", "--project-directory", dir, "-f", filepath.Join(dir, "docker-compose.yml"),
			"-f", override, "-p", st.ComposeProject, "up", "-d")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("up: %v\n%s", err, out)
		}
		cs, err := f.eng.Containers(ctx, dockerops.LabelProject+"="+dir, dockerops.LabelRole+"="+dockerops.RoleIRIS)
		if err != nil || len(cs) != 1 {
			b.Fatalf("containers %v %v", cs, err)
		}
		if err := f.eng.WaitReady(ctx, cs[0], "127.0.0.1", st.WebPort, time.Minute, cs[0].FinishedAt, nil); err != nil {
			b.Fatal(err)
		}
		plain += time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(float64(project.Milliseconds())/float64(b.N), "start-ms")
	b.ReportMetric(float64(plain.Milliseconds())/float64(b.N), "compose-up-ms")
	b.ReportMetric(float64(project)/float64(plain), "ratio")
}

// BenchmarkComposeFirstStartTemplate times the first Project.Start of the template-shaped fixture
// (testdata/compose/template: build from the project's Dockerfile on the stand-in, random ports, the
// project mounted, an extra port) to ready, build included: before each start the project's
// containers, volumes and built image are removed (`docker compose down -v --rmi local`) and so is
// its cached model, and a new Project is opened. BuildKit's cache is left as it is (pruning it
// would touch every other build on the engine). Ports 35680–35689 and 35930–35939.
func BenchmarkComposeFirstStartTemplate(b *testing.B) {
	f := newComposeFixture(b, 35680)
	dir := filepath.Join(b.TempDir(), "benchfirst")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "testdata", "compose", "template"))); err != nil {
		b.Fatal(err)
	}
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := testCtx(b)
	name := normalizeComposeName(filepath.Base(dir))
	b.Cleanup(func() {
		removeComposeProjects(b, f.eng, dir)
		_ = exec.Command("docker", "image", "rm", "-f", name+"-iris").Run()
	})
	reset := func() {
		out, err := exec.CommandContext(ctx, "docker", "compose", "-p", name, "down", "-v", "--rmi", "local").CombinedOutput()
		if err != nil {
			b.Fatalf("down: %v\n%s", err, out)
		}
		_ = exec.CommandContext(ctx, "docker", "image", "rm", "-f", name+"-iris").Run() // a run before this one's (compose's tag)
		if err := os.RemoveAll(composeStateDir(f.reg.Home(), dir)); err != nil {
			b.Fatal(err)
		}
	}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		reset()
		p, err := OpenProject(ctx, dir, ProjectOptions{Registry: f.reg, Engine: f.eng, ReadyTimeout: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		var ph phases
		st, err := p.Start(ctx, ph.add)
		total += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if st.State != StateReady || st.Kind != KindCompose || !ph.built() {
			b.Fatalf("state %q kind %q built %v: %s", st.State, st.Kind, ph.built(), st.Message)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "first-start-ms")
}
