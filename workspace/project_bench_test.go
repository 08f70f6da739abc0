package workspace

import (
	"context"
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/registry"
)

// Benchmarks of the start/stop story through workspace.Project, against the real engine with the
// stand-in image (zero ready delay). Results: docs/benchmarks.md, "## workspace.Project".

// BenchmarkProjectStatus times Project.Status of a running project (registry read, engine list
// and inspect): what every status notification costs.
func BenchmarkProjectStatus(b *testing.B) {
	f := newFixture(b, 31400)
	ctx := testCtx(b)
	p := f.open(f.projectDir(nil))
	mustStart(b, ctx, p)
	b.ResetTimer()
	for b.Loop() {
		if st := p.Status(ctx); st.State != StateReady {
			b.Fatalf("state %q", st.State)
		}
	}
}

// BenchmarkProjectRestart times Project.Start of a stopped, kept container (lock, assign, touch,
// engine start and readiness, registry update, .env sync) against dockerops Engine.Start of the
// same container, alternating, and reports their ratio.
func BenchmarkProjectRestart(b *testing.B) {
	f := newFixture(b, 31410)
	ctx := testCtx(b)
	p := f.open(f.projectDir(map[string]string{".env": "IRIS_HOST=localhost\nIRIS_PORT=1\nIRIS_WEB_PORT=2\n"}))
	first := mustStart(b, ctx, p)
	spec := p.spec(mustAssignment(b, ctx, p), "")
	var project, engine time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := p.Stop(ctx, StopOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		st := mustStart(b, ctx, p)
		project += time.Since(t0)
		b.StopTimer()
		if st.Container != first.Container {
			b.Fatalf("container recreated: %s", st.Container)
		}
		if _, err := p.Stop(ctx, StopOptions{}); err != nil {
			b.Fatal(err)
		}
		t0 = time.Now()
		if _, err := f.eng.Start(ctx, spec, nil); err != nil {
			b.Fatal(err)
		}
		engine += time.Since(t0)
		b.StartTimer()
	}
	b.ReportMetric(float64(project.Milliseconds())/float64(b.N), "project-ms/op")
	b.ReportMetric(float64(engine.Milliseconds())/float64(b.N), "engine-ms/op")
	b.ReportMetric(float64(project)/float64(engine), "ratio")
}

func mustAssignment(b testing.TB, ctx context.Context, p *Project) registry.Assignment {
	a, ok, err := p.assignment(ctx)
	if err != nil || !ok {
		b.Fatalf("assignment: %v %v", ok, err)
	}
	return a
}

// BenchmarkWatchExternalStop times an external `docker stop` until Watch delivers the stopped
// status (the path of the helper's iris/status notification).
func BenchmarkWatchExternalStop(b *testing.B) {
	f := newFixture(b, 31420)
	ctx := testCtx(b)
	p := f.open(f.projectDir(nil))
	first := mustStart(b, ctx, p)
	states := make(chan Status, 64)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Watch(wctx, func(st Status) { states <- st }, nil) }()
	defer func() { cancel(); <-done }()
	waitState := func(want State) {
		for {
			select {
			case st := <-states:
				if st.State == want {
					return
				}
			case <-time.After(60 * time.Second):
				b.Fatalf("no %s status", want)
			}
		}
	}
	waitState(StateReady)
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		cmd := exec.Command("docker", "stop", "-t", "5", first.Container)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		waitState(StateStopped)
		lat = append(lat, time.Since(t0))
		if err := cmd.Wait(); err != nil {
			b.Fatalf("docker stop: %v", err)
		}
		b.StopTimer()
		mustStart(b, ctx, p)
		waitState(StateReady)
		b.StartTimer()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-from-docker-stop-launch(p50)")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "ms-from-docker-stop-launch(max)")
}

// BenchmarkStatusOfAnotherProcess times Project.Status of a running project in a process that
// did not start it (a fresh Project each time, as `iris-helper status`): with the readiness file
// of the current start (no probe), and without it (one probe of the web port, then recorded).
func BenchmarkStatusOfAnotherProcess(b *testing.B) {
	f := newFixture(b, 31810)
	reg, err := registry.Open(registry.Options{Home: f.home, Superserver: &registry.Range{Lo: 31810, Hi: 31814},
		Web: &registry.Range{Lo: 31860, Hi: 31864}, Ports: f.eng})
	if err != nil {
		b.Fatal(err)
	}
	f.reg = reg
	ctx := testCtx(b)
	dir := f.projectDir(nil)
	mustStart(b, ctx, f.open(dir))
	file := newReadiness(f.home, dir, nil).path()
	for _, recorded := range []bool{true, false} {
		name := map[bool]string{true: "recorded", false: "probe"}[recorded]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if !recorded {
					b.StopTimer()
					if err := os.Remove(file); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if st := f.open(dir).Status(ctx); st.State != StateReady {
					b.Fatalf("state %q (%s)", st.State, st.Message)
				}
			}
		})
	}
}
