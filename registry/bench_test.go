package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Benchmarks use a wide range (2,000 slots from 22000, web 27000) so every project is distinct.
// Run: go test -run '^$' -bench . -benchtime 5x ./registry

func benchRegistry(b *testing.B, base, n int) (*Registry, Range, Range) {
	b.Helper()
	ss, web := band(base, n)
	r, err := Open(Options{Home: filepath.Join(b.TempDir(), "home"), Superserver: &ss, Web: &web})
	if err != nil {
		b.Fatal(err)
	}
	return r, ss, web
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// BenchmarkAssignSequential200 assigns 200 distinct projects one after the other into a fresh
// registry (durable writes: fsync file + folder). One op = 200 assigns; reports the median.
func BenchmarkAssignSequential200(b *testing.B) {
	ctx := context.Background()
	var all []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r, _, _ := benchRegistry(b, baseBenchSeq, 2000)
		root := b.TempDir()
		b.StartTimer()
		for j := 0; j < 200; j++ {
			start := time.Now()
			if _, err := r.Assign(ctx, filepath.Join(root, fmt.Sprintf("p%03d", j)), Preferred{}); err != nil {
				b.Fatal(err)
			}
			all = append(all, time.Since(start))
		}
	}
	slices.Sort(all)
	b.ReportMetric(float64(percentile(all, 0.5).Microseconds()), "median-µs/assign")
	b.ReportMetric(float64(percentile(all, 0.99).Microseconds()), "p99-µs/assign")
}

// BenchmarkAssignIdempotent re-assigns a project that already has its slot (no lock, no probe, no write).
func BenchmarkAssignIdempotent(b *testing.B) {
	ctx := context.Background()
	r, _, _ := benchRegistry(b, baseBenchSeq, 2000)
	root := b.TempDir()
	for j := 0; j < 50; j++ { // a realistic registry of 50 projects
		if _, err := r.Assign(ctx, filepath.Join(root, fmt.Sprintf("p%03d", j)), Preferred{}); err != nil {
			b.Fatal(err)
		}
	}
	target := filepath.Join(root, "p025")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Assign(ctx, target, Preferred{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList1000 lists a registry of 1,000 assignments (read, parse, stale check, sort).
func BenchmarkList1000(b *testing.B) {
	ctx := context.Background()
	r, ss, web := benchRegistry(b, baseBenchSeq, 2000)
	root := b.TempDir()
	st := &state{version: SupportedVersion}
	t := now()
	for j := 0; j < 1000; j++ {
		slot := j
		dir := filepath.Join(root, fmt.Sprintf("p%04d", j))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		st.records = append(st.records, record{Assignment: Assignment{Project: dir, Slot: &slot,
			SuperserverPort: ss.Lo + j, WebPort: web.Lo + j, Type: TypeAuto, Status: StatusIdle, AssignedAt: t, LastUsedAt: t}})
	}
	if err := r.write(st); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		list, err := r.List(ctx)
		if err != nil || len(list) != 1000 {
			b.Fatalf("List: %d entries, %v", len(list), err)
		}
	}
}

// BenchmarkAssignMultiProcess64x10 starts 64 processes that each assign 10 projects at the same
// moment into one fresh registry (default 5 s lock timeout). Reports p50/p99 of one assign as the
// children measured it, and the number of lock timeouts. One op = the whole 640-assign burst.
func BenchmarkAssignMultiProcess64x10(b *testing.B) {
	const procs, perProc = 64, 10
	ss, web := band(baseBenchMulti, procs*perProc)
	var lat []time.Duration
	timeouts, failures := 0, 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		home := filepath.Join(b.TempDir(), "home")
		root := b.TempDir()
		b.StartTimer()
		children := runChildren(b, home, ss, web, procs, func(c int) []string {
			var ps []string
			for j := 0; j < perProc; j++ {
				ps = append(ps, filepath.Join(root, fmt.Sprintf("c%02d-p%d", c, j)))
			}
			return ps
		})
		b.StopTimer()
		for _, c := range children {
			switch c.cmd.ProcessState.ExitCode() {
			case childOK:
			case childLockTimeout:
				timeouts++
			default:
				failures++
				b.Logf("child failed: %s", c.stderr.String())
			}
			for _, res := range c.results(b) {
				lat = append(lat, time.Duration(res.Micros)*time.Microsecond)
			}
		}
		if f := readFile(b, filepath.Join(home, FileName)); len(f.Assignments) != procs*perProc-0 && timeouts == 0 && failures == 0 {
			b.Fatalf("file holds %d assignments, want %d", len(f.Assignments), procs*perProc)
		}
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds()), "p50-µs/assign")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs/assign")
	b.ReportMetric(float64(timeouts), "timeouts")
	if failures > 0 {
		b.Fatalf("%d children failed", failures)
	}
}

// BenchmarkEnsureIdempotent re-ensures a compose project's pair and three extra ports (one with a
// soft preference it holds) in a registry of 50 such projects: no lock, no probe, no write.
func BenchmarkEnsureIdempotent(b *testing.B) {
	ctx := context.Background()
	ss, web := band(baseBenchSeq, 2000)
	extra := Range{Lo: 26700, Hi: 26999}
	r, err := Open(Options{Home: filepath.Join(b.TempDir(), "home"), Superserver: &ss, Web: &web, Extra: &extra})
	if err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	req := func(j int) EnsureRequest {
		return EnsureRequest{Extra: []ExtraRequest{{Key: "iris/53773/tcp"}, {Key: "web/80/tcp", Preferred: 26900 + j}, {Key: "db/5432/tcp"}}}
	}
	for j := 0; j < 50; j++ {
		if _, err := r.Ensure(ctx, filepath.Join(root, fmt.Sprintf("p%03d", j)), req(j)); err != nil {
			b.Fatal(err)
		}
	}
	target, want := filepath.Join(root, "p025"), req(25)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Ensure(ctx, target, want); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnsureNew200 ensures 200 new compose projects (pair + three extra ports each, one soft
// preference) one after the other into a fresh registry: one durable write each, a host probe of
// every new port. One op = 200 ensures; reports the median.
func BenchmarkEnsureNew200(b *testing.B) {
	ctx := context.Background()
	var all []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ss, web := band(baseBenchSeq, 2000)
		extra := Range{Lo: 26000, Hi: 26999}
		r, err := Open(Options{Home: filepath.Join(b.TempDir(), "home"), Superserver: &ss, Web: &web, Extra: &extra})
		if err != nil {
			b.Fatal(err)
		}
		root := b.TempDir()
		b.StartTimer()
		for j := 0; j < 200; j++ {
			start := time.Now()
			_, err := r.Ensure(ctx, filepath.Join(root, fmt.Sprintf("p%03d", j)), EnsureRequest{Extra: []ExtraRequest{
				{Key: "iris/53773/tcp"}, {Key: "web/80/tcp", Preferred: 26900}, {Key: "db/5432/tcp"}}})
			if err != nil {
				b.Fatal(err)
			}
			all = append(all, time.Since(start))
		}
	}
	slices.Sort(all)
	b.ReportMetric(float64(percentile(all, 0.5).Microseconds()), "median-µs/ensure")
	b.ReportMetric(float64(percentile(all, 0.99).Microseconds()), "p99-µs/ensure")
}
