package rpc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace"
)

// Benchmarks of the helper as editors see it: a real `iris-helper serve` process (built from this
// tree), a real engine. Figures and commands: docs/benchmarks.md "## JSON-RPC helper".
// Port band: 33800–33999.

func benchEnv(b *testing.B) {
	b.Setenv(registry.EnvHome, b.TempDir())
	b.Setenv(registry.EnvSuperserverRange, "33800-33899")
	b.Setenv(registry.EnvWebRange, "33900-33999")
	b.Setenv(workspace.EnvImage, "")
}

// benchSpawn starts the helper as a subprocess wired to a test client.
func benchSpawn(b *testing.B, bin string) (*testClient, *exec.Cmd) {
	cmd := exec.Command(bin, "serve", "--stdio", "--log-level", "warn")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return newTestClient(b, stdout, stdin), cmd
}

func benchEnd(b *testing.B, c *testClient, cmd *exec.Cmd) {
	c.call("shutdown", nil)
	c.notify("exit", nil)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("helper exit: %v", err)
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkSpawnToInitialize: process start → initialize result, 25 spawns per iteration; reports
// the median and the slowest (target: median < 20 ms).
func BenchmarkSpawnToInitialize(b *testing.B) {
	benchEnv(b)
	bin := helperBinary(b)
	dir := b.TempDir()
	params := initParams(dir, map[string]any{"autoStart": false})
	var all []time.Duration
	for i := 0; i < b.N; i++ {
		for j := 0; j < 25; j++ {
			t0 := time.Now()
			c, cmd := benchSpawn(b, bin)
			res := c.call("initialize", params)
			all = append(all, time.Since(t0))
			if res.Error != nil {
				b.Fatalf("initialize: %+v", res.Error)
			}
			benchEnd(b, c, cmd)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(median(all).Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIdle: a helper attached to a folder (initialized, watching the engine, the registry and
// .env) left alone for IRIS_HELPER_BENCH_IDLE (default 30s): resident memory and CPU used
// (targets: < 20 MB, < 0.1%). Linux only (/proc).
func BenchmarkIdle(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	idle := 30 * time.Second
	if v := os.Getenv("IRIS_HELPER_BENCH_IDLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		idle = d
	}
	benchEnv(b)
	bin := helperBinary(b)
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("IRIS_NAMESPACE=USER\n"), 0o600) // an IRIS project, not started
	for i := 0; i < b.N; i++ {
		c, cmd := benchSpawn(b, bin)
		if res := c.call("initialize", initParams(dir, map[string]any{"autoStart": false})); res.Error != nil {
			b.Fatalf("initialize: %+v", res.Error)
		}
		c.notify("initialized", map[string]any{})
		c.waitFor("first iris/status", isMethod(MethodStatus))
		time.Sleep(2 * time.Second) // settle
		pid := cmd.Process.Pid
		cpu0 := cpuNanos(b, pid)
		time.Sleep(idle)
		cpu1 := cpuNanos(b, pid)
		rss := rssKB(b, pid)
		pct := float64(cpu1-cpu0) / float64(idle.Nanoseconds()) * 100
		b.ReportMetric(float64(rss)/1024, "rss-MB")
		b.ReportMetric(pct, "cpu-%")
		b.ReportMetric(float64(cpu1-cpu0)/1e6, "cpu-ms")
		b.ReportMetric(idle.Seconds(), "idle-s")
		b.ReportMetric(0, "ns/op")
		benchEnd(b, c, cmd)
	}
}

// cpuNanos is the CPU time used so far by every thread of process pid (schedstat: nanoseconds).
func cpuNanos(b *testing.B, pid int) int64 {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		b.Fatalf("no schedstat for %d: %v", pid, err)
	}
	var sum int64
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that just ended
		}
		n, _ := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
		sum += n
	}
	return sum
}

func rssKB(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// BenchmarkExternalStopToNotification: a running project's container is stopped with the engine
// API (like `docker stop`); measured from the moment the stop returns (the container has exited)
// to the helper's iris/status "stopped" notification, and from the stop call (target < 1 s).
func BenchmarkExternalStopToNotification(b *testing.B) {
	benchEnv(b)
	eng := dockertest.Engine(b)
	image := dockertest.StubImage(b)
	bin := helperBinary(b)
	dir := dockertest.Project(b)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("IRIS_NAMESPACE=USER\n"), 0o600)
	c, cmd := benchSpawn(b, bin)
	if res := c.call("initialize", initParams(dir, map[string]any{"image": image})); res.Error != nil {
		b.Fatalf("initialize: %+v", res.Error)
	}
	c.notify("initialized", map[string]any{})
	ready := c.waitFor("ready", statusIs(b, workspace.StateReady))
	name := statusOf(b, ready.Params).Container
	var afterStop, fromCall []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seen := len(c.notifications(MethodStatus))
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		t0 := time.Now()
		if _, err := eng.Client().ContainerStop(ctx, name, client.ContainerStopOptions{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		c.waitFor("stopped", func(m wireMsg) bool {
			ns := c.notifications(MethodStatus)
			return len(ns) > seen && statusOf(b, ns[len(ns)-1].Params).State == workspace.StateStopped
		})
		t2 := time.Now()
		afterStop = append(afterStop, t2.Sub(t1))
		fromCall = append(fromCall, t2.Sub(t0))
		b.StopTimer()
		if res := c.call(MethodStart, nil); res.Error != nil { // running again for the next round
			b.Fatalf("iris/start: %+v", res.Error)
		}
		cancel()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(median(afterStop).Microseconds())/1000, "after-stop-ms")
	b.ReportMetric(float64(median(fromCall).Microseconds())/1000, "from-call-ms")
	b.ReportMetric(0, "ns/op")
	c.call(MethodStop, nil)
	benchEnd(b, c, cmd)
}

// BenchmarkNonReadingClient: a client that initializes, then writes IRIS_HELPER_BENCH_FLOOD
// (default 240,000) iris/status requests, with a garbage frame after every tenth, and never reads
// an answer (the repro: 3.4 GB in 30 s). Reported: the helper's peak resident memory (VmHWM),
// its resident memory once everything is written (VmRSS), and how long the writes took (the
// helper reads on whatever it runs or answers). Linux only (/proc).
func BenchmarkNonReadingClient(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	n := 240000
	if v := os.Getenv("IRIS_HELPER_BENCH_FLOOD"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	benchEnv(b)
	bin := helperBinary(b)
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bin, "serve", "--stdio", "--log-level", "error")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		outR, outW, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stdout = outW
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		outW.Close()
		fmt.Fprint(stdin, frame(fmt.Sprintf(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"processId":null,"rootUri":"file://%s","capabilities":{},"initializationOptions":{"autoStart":false}}}`, dir)))
		if m, err := readWireFrame(bufio.NewReader(outR)); err != nil || m.Error != nil {
			b.Fatalf("initialize: %+v %v", m, err)
		}
		pid := cmd.Process.Pid
		rss0 := procStatusKB(b, pid, "VmRSS")
		t0 := time.Now()
		var batch strings.Builder
		sent := 0
		for sent < n {
			batch.Reset()
			for j := 0; j < 1000 && sent < n; j++ {
				sent++
				fmt.Fprintf(&batch, "Content-Length: %d\r\n\r\n", len(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"iris/status"}`, sent)))
				fmt.Fprintf(&batch, `{"jsonrpc":"2.0","id":%d,"method":"iris/status"}`, sent)
				if sent%10 == 0 {
					batch.WriteString("Content-Length: 8\r\n\r\nnot json")
				}
			}
			if _, err := io.WriteString(stdin, batch.String()); err != nil {
				b.Fatalf("the helper stopped reading after %d requests: %v", sent, err)
			}
		}
		elapsed := time.Since(t0)
		peak, rss := procStatusKB(b, pid, "VmHWM"), procStatusKB(b, pid, "VmRSS")
		stdin.Close() // the end of input ends the session; its unread answers are given up
		if err := cmd.Wait(); err != nil {
			b.Fatalf("helper exit: %v", err)
		}
		outR.Close()
		b.ReportMetric(float64(peak)/1024, "peak-rss-MB")
		b.ReportMetric(float64(rss)/1024, "rss-MB")
		b.ReportMetric(float64(rss0)/1024, "rss-before-MB")
		b.ReportMetric(float64(sent), "requests")
		b.ReportMetric(elapsed.Seconds(), "write-s")
		b.ReportMetric(0, "ns/op")
	}
}

// procStatusKB reads a "kB" field of /proc/PID/status (VmRSS, VmHWM).
func procStatusKB(b *testing.B, pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
