package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// Readiness tests use the workspace band's 31440–31449 (superserver) and 31490–31499 (web),
// five slots per test.

// readyFixture is a fixture whose registry hands out ports from the readiness band.
func readyFixture(t *testing.T, lo int) *fixture {
	t.Helper()
	f := newFixture(t, lo)
	reg, err := registry.Open(registry.Options{Home: f.home,
		Superserver: &registry.Range{Lo: lo, Hi: lo + 4}, Web: &registry.Range{Lo: lo + 50, Hi: lo + 54},
		Ports: f.eng, ChangesInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.reg = reg
	return f
}

// probeGate stands between a Project and the real probe of its web port: closed, every probe
// fails at once without asking (IRIS "has not answered"); open, it is the real
// dockerops.ProbeWeb. It counts the probes asked for, so a test sees which looks cost one.
type probeGate struct {
	mu     sync.Mutex
	open   bool
	probes int
}

func (g *probeGate) install(p *Project) *probeGate {
	p.ready.probe = func(ctx context.Context, bind string, web int) error {
		g.mu.Lock()
		g.probes++
		open := g.open
		g.mu.Unlock()
		if !open {
			return errors.New("the test holds the probe back")
		}
		return dockerops.ProbeWeb(ctx, bind, web)
	}
	return g
}

func (g *probeGate) setOpen(open bool) { g.mu.Lock(); g.open = open; g.mu.Unlock() }
func (g *probeGate) count() int        { g.mu.Lock(); defer g.mu.Unlock(); return g.probes }

func startedAt(st Status) time.Time {
	if st.StartedAt == nil {
		return time.Time{}
	}
	return *st.StartedAt
}

// TestExternalRestartIsStartingUntilIRISAnswers: after `docker restart` of a ready project's
// container (outside the helper), the watcher says starting/waiting, for the new start, until
// IRIS answers on the web port, then pushes ready; a process that did not see the answer (a
// second Project on the same home) says the same from the readiness file without a probe, and
// says starting/waiting itself before the answer. The readiness file is 0600 in the home.
func TestExternalRestartIsStartingUntilIRISAnswers(t *testing.T) {
	f := readyFixture(t, 31440)
	ctx := testCtx(t)
	dir := f.projectDir(nil)
	withDelay := func(o *ProjectOptions) { o.ContainerEnv = []string{"STUB_READY_DELAY=2s"} }
	p := f.open(dir, withDelay)
	gate := (&probeGate{}).install(p)
	first := mustStart(t, ctx, p)
	if n := gate.count(); n != 0 {
		t.Errorf("the start's own wait is the proof: %d probes after it, want 0", n)
	}
	file := newReadiness(f.home, dir, nil).path()
	if filepath.Dir(file) != filepath.Join(f.home, "ready") {
		t.Errorf("readiness file %s, want it in %s", file, filepath.Join(f.home, "ready"))
	}
	fi, err := os.Lstat(file)
	if err != nil {
		t.Fatalf("no readiness file after the start: %v", err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("readiness file %s has mode %v, want -rw-------", file, fi.Mode())
	}

	rec := &recorder{}
	wctx, stopWatch := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Watch(wctx, rec.status, rec.message) }()
	defer func() { stopWatch(); <-done }()
	rec.waitStatus(t, "ready", func(s Status) bool { return s.State == StateReady })

	rec.reset()
	if out, err := exec.Command("docker", "restart", "-t", "5", first.Container).CombinedOutput(); err != nil {
		t.Fatalf("docker restart: %v %s", err, out)
	}
	isNewStart := func(s Status) bool { return s.StartedAt != nil && s.StartedAt.After(startedAt(first)) }
	waiting := rec.waitStatus(t, "starting/waiting for the new start", func(s Status) bool { return isNewStart(s) && s.State == StateStarting })
	rpctest.Must(t, "status after the external restart", rpctest.Want("phase", waiting.Phase, dockerops.PhaseWaiting),
		rpctest.Want("container", waiting.Container, first.Container), rpctest.Want("restartNeeded", waiting.RestartNeeded, false),
		rpctest.Want("message", waiting.Message, ""))

	// another process, which never saw IRIS answer since the restart, says so too
	other := f.open(dir, withDelay)
	otherGate := (&probeGate{}).install(other)
	st := other.Status(ctx)
	rpctest.Must(t, "another process's status before IRIS answered", rpctest.Want("state", st.State, StateStarting),
		rpctest.Want("phase", st.Phase, dockerops.PhaseWaiting), rpctest.Want("probes", otherGate.count(), 1))

	gate.setOpen(true) // the watcher's next probes ask the stand-in, which answers after its delay
	ready := rec.waitStatus(t, "ready pushed by the watcher", func(s Status) bool { return isNewStart(s) && s.State == StateReady })
	rpctest.Must(t, "status pushed when IRIS answered", rpctest.Want("phase", ready.Phase, Phase("")),
		rpctest.Want("startedAt", startedAt(ready).Equal(startedAt(waiting)), true))

	// the answer is in the home: the other process agrees without a probe of its own
	st = other.Status(ctx)
	rpctest.Must(t, "another process's status after IRIS answered", rpctest.Want("state", st.State, StateReady),
		rpctest.Want("startedAt", startedAt(st).Equal(startedAt(ready)), true), rpctest.Want("probes", otherGate.count(), 1))
	var proof readyProof
	if err := json.Unmarshal([]byte(readFile(t, file)), &proof); err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "readiness file", rpctest.Want("container", proof.Container, containerID(t, first.Container)),
		rpctest.Want("startedAt", proof.StartedAt.Equal(startedAt(ready)), true))
}

// TestReadinessFileOfAnOlderStartIsIgnored: a readiness file from an earlier start of the
// container (an older startedAt) or of another container proves nothing: the status probes and,
// while IRIS does not answer (the gate held closed), says starting/waiting; the file of the
// current start is believed without a probe.
func TestReadinessFileOfAnOlderStartIsIgnored(t *testing.T) {
	f := readyFixture(t, 31445)
	ctx := testCtx(t)
	dir := f.projectDir(nil)
	p := f.open(dir)
	first := mustStart(t, ctx, p)
	if _, err := p.Stop(ctx, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "start", first.Container).CombinedOutput(); err != nil {
		t.Fatalf("docker start: %v %s", err, out)
	}
	now, ok, err := f.eng.Inspect(ctx, dir)
	if err != nil || !ok || !now.StartedAt.After(startedAt(first)) {
		t.Fatalf("inspect after docker start: %+v %v %v", now, ok, err)
	}
	file := newReadiness(f.home, dir, nil).path()
	for _, tc := range []struct {
		name   string
		proof  *readyProof
		state  State
		phase  Phase
		probes int
	}{
		{"no file", nil, StateStarting, dockerops.PhaseWaiting, 1},
		{"an older start of the container", &readyProof{Container: now.ID, StartedAt: startedAt(first)}, StateStarting, dockerops.PhaseWaiting, 1},
		{"another container", &readyProof{Container: "0123456789ab", StartedAt: now.StartedAt}, StateStarting, dockerops.PhaseWaiting, 1},
		{"the current start", &readyProof{Container: now.ID, StartedAt: now.StartedAt}, StateReady, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(file)
			if tc.proof != nil {
				b, err := json.Marshal(tc.proof)
				if err != nil {
					t.Fatal(err)
				}
				writeTestFile(t, file, b)
			}
			q := f.open(dir) // a process of its own: nothing remembered
			gate := (&probeGate{}).install(q)
			st := q.Status(ctx)
			rpctest.Must(t, "status", rpctest.Want("state", st.State, tc.state), rpctest.Want("phase", st.Phase, tc.phase),
				rpctest.Want("probes", gate.count(), tc.probes))
		})
	}

	// the port listing follows the same rule: an older start's file proves nothing, so it asks
	// the stand-in (which answers) and records the current start
	b, err := json.Marshal(readyProof{Container: now.ID, StartedAt: startedAt(first)})
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, file, b)
	list, err := (&Machine{Reg: f.reg, Eng: f.eng}).ListPorts(ctx)
	entries := list.Assignments
	if err != nil || len(entries) != 1 {
		t.Fatalf("ListPorts: %v %+v", err, entries)
	}
	var proof readyProof
	if err := json.Unmarshal([]byte(readFile(t, file)), &proof); err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "port listing", rpctest.Want("state", entries[0].State, StateReady),
		rpctest.Want("recorded start", proof.StartedAt.Equal(now.StartedAt), true))
}

func writeTestFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
