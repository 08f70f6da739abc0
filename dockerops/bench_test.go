package dockerops_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
)

// Benchmarks use ports 30900–30999. Run them with (see docs/benchmarks.md "## Docker"):
//
//	go test -run '^$' -bench . -benchtime 10x ./dockerops/

// BenchmarkStartToReady compares, in the same run and alternating, Start of a fresh project
// (create + start + readiness, zero ready delay, no durable volume, no unexpire exec) with
// `docker run -d` of the same image and bindings followed by the same readiness wait.
func BenchmarkStartToReady(b *testing.B) {
	if _, err := exec.LookPath("docker"); err != nil {
		dockertest.Missing(b, "docker CLI not on PATH")
	}
	e := dockertest.Engine(b)
	img := dockertest.StubImage(b)
	ctx := context.Background()
	var ours, cli time.Duration
	for i := 0; b.Loop(); i++ {
		p := fmt.Sprintf("/bench/start-%d-%d", time.Now().UnixNano(), i)
		s := dockerops.Spec{Project: p, Image: img, Superserver: 30900, Web: 30901, ReadyTimeout: time.Minute}

		t0 := time.Now()
		if _, err := e.Start(ctx, s, nil); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(t0)
		b.StopTimer()
		cleanupBench(b, e, p)

		name := fmt.Sprintf("iris-helper-bench-%d", time.Now().UnixNano())
		t1 := time.Now()
		out, err := exec.Command("docker", "run", "-d", "--name", name, "--label", dockerops.LabelProject+"="+p,
			"-p", "127.0.0.1:30900:1972", "-p", "127.0.0.1:30901:52773", img, "--check-caps", "false").CombinedOutput()
		if err != nil {
			b.Fatalf("docker run: %v\n%s", err, out)
		}
		if err := e.WaitReadyForTest(ctx, strings.TrimSpace(string(out)), s); err != nil {
			b.Fatal(err)
		}
		cli += time.Since(t1)
		cleanupBench(b, e, p)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Milliseconds())/n, "start-ms/op")
	b.ReportMetric(float64(cli.Milliseconds())/n, "dockerrun-ms/op")
	b.ReportMetric(ours.Seconds()/cli.Seconds(), "ratio")
}

// BenchmarkStop measures an orderly Stop of a running stand-in container (kept, not removed).
func BenchmarkStop(b *testing.B) {
	e := dockertest.Engine(b)
	img := dockertest.StubImage(b)
	ctx := context.Background()
	p := fmt.Sprintf("/bench/stop-%d", time.Now().UnixNano())
	defer cleanupBench(b, e, p)
	s := dockerops.Spec{Project: p, Image: img, Superserver: 30910, Web: 30911, ReadyTimeout: time.Minute}
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		if _, err := e.Start(ctx, s, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if err := e.Stop(ctx, p, false, false); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "stop-ms/op")
}

// BenchmarkWatchLatency measures how long after an external `docker stop` the watcher's
// callback sees the container's die event: from the engine's event timestamp
// (event-to-callback) and from launching the CLI command (stopcmd-to-callback).
func BenchmarkWatchLatency(b *testing.B) {
	if _, err := exec.LookPath("docker"); err != nil {
		dockertest.Missing(b, "docker CLI not on PATH")
	}
	e := dockertest.Engine(b)
	img := dockertest.StubImage(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := fmt.Sprintf("/bench/watch-%d", time.Now().UnixNano())
	defer cleanupBench(b, e, p)
	type seen struct {
		id       string
		at, when time.Time
	}
	dies := make(chan seen, 16)
	go func() {
		_ = e.Watch(ctx, func(ev dockerops.Event) {
			if ev.Kind == dockerops.EventDie && ev.Project == p {
				dies <- seen{ev.ID, time.Now(), ev.Time}
			}
		})
	}()
	s := dockerops.Spec{Project: p, Image: img, Superserver: 30920, Web: 30921, ReadyTimeout: time.Minute}
	var fromEvent, fromCmd time.Duration
	for b.Loop() {
		b.StopTimer()
		c, err := e.Start(ctx, s, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if out, err := exec.Command("docker", "stop", c.Name).CombinedOutput(); err != nil {
			b.Fatalf("docker stop: %v\n%s", err, out)
		}
		select {
		case d := <-dies:
			fromEvent += d.at.Sub(d.when)
			fromCmd += d.at.Sub(t0)
		case <-time.After(30 * time.Second):
			b.Fatal("no die event within 30s")
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(fromEvent.Microseconds())/n/1000, "event-to-callback-ms/op")
	b.ReportMetric(float64(fromCmd.Microseconds())/n/1000, "stopcmd-to-callback-ms/op")
}

func cleanupBench(b *testing.B, e *dockerops.Engine, project string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dockertest.RemoveProject(ctx, e.Client(), project); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStartFreshDurable: Start of a fresh project as the helper runs it by default
// (durable volume created and prepared for UID 51773, unexpire exec after readiness).
func BenchmarkStartFreshDurable(b *testing.B) {
	e := dockertest.Engine(b)
	img := dockertest.StubImage(b)
	ctx := context.Background()
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		p := fmt.Sprintf("/bench/durable-%d-%d", time.Now().UnixNano(), i)
		s := dockerops.Spec{Project: p, Image: img, Superserver: 30930, Web: 30931, ReadyTimeout: time.Minute,
			Durable: true, UnexpirePasswords: true}
		t0 := time.Now()
		if _, err := e.Start(ctx, s, nil); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
		b.StopTimer()
		cleanupBench(b, e, p)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "start-ms/op")
}

// BenchmarkRestartToReady: Start of a stopped, kept container (the everyday `start`).
func BenchmarkRestartToReady(b *testing.B) {
	e := dockertest.Engine(b)
	img := dockertest.StubImage(b)
	ctx := context.Background()
	p := fmt.Sprintf("/bench/restart-%d", time.Now().UnixNano())
	defer cleanupBench(b, e, p)
	s := dockerops.Spec{Project: p, Image: img, Superserver: 30940, Web: 30941, ReadyTimeout: time.Minute,
		Durable: true, UnexpirePasswords: true}
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		if _, err := e.Start(ctx, s, nil); err != nil {
			b.Fatal(err)
		}
		if err := e.Stop(ctx, p, false, false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if _, err := e.Start(ctx, s, nil); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "start-ms/op")
}

// BenchmarkHostPortsInUse: one call as the registry makes it when assigning ports.
func BenchmarkHostPortsInUse(b *testing.B) {
	e := dockertest.Engine(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.HostPortsInUse(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
