package registry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// runChildren starts n assign children on one home (each assigning the projects perChild returns),
// releases them at once through a start file, and waits for all of them.
func runChildren(t testing.TB, home string, ss, web Range, n int, perChild func(i int) []string, extraEnv ...string) []*child {
	t.Helper()
	start := filepath.Join(filepath.Dir(home), fmt.Sprintf("start-%d", time.Now().UnixNano()))
	children := make([]*child, n)
	for i := range children {
		env := append([]string{childProjectsEnv + "=" + envList(perChild(i)), childStartEnv + "=" + start}, extraEnv...)
		children[i] = startChild(t, "assign", home, ss, web, env...)
	}
	if err := os.WriteFile(start, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range children {
		_ = c.cmd.Wait()
	}
	return children
}

func TestColdStartManyProcessesAssignUniquePorts(t *testing.T) {
	t.Parallel()
	const procs, perProc = 16, 2
	rounds := 8
	if testing.Short() {
		rounds = 2
	}
	ss, web := band(baseColdStart, procs*perProc)
	for round := 0; round < rounds; round++ {
		home := filepath.Join(t.TempDir(), "home") // no registry yet: cold start
		root := t.TempDir()
		children := runChildren(t, home, ss, web, procs, func(i int) []string {
			var ps []string
			for j := 0; j < perProc; j++ {
				d := filepath.Join(root, fmt.Sprintf("proc%d-project%d", i, j))
				os.MkdirAll(d, 0o755)
				ps = append(ps, d)
			}
			return ps
		})
		var got []Assignment
		for i, c := range children {
			if code := c.cmd.ProcessState.ExitCode(); code != childOK {
				t.Fatalf("round %d: child %d exited %d: %s", round, i, code, c.stderr.String())
			}
			for _, res := range c.results(t) {
				got = append(got, res.Assignment)
			}
		}
		if len(got) != procs*perProc {
			t.Fatalf("round %d: children reported %d assignments, want %d", round, len(got), procs*perProc)
		}
		checkUnique(t, got)
		file := readFile(t, filepath.Join(home, FileName))
		if len(file.Assignments) != procs*perProc {
			t.Fatalf("round %d: file holds %d assignments, want %d (lost updates)", round, len(file.Assignments), procs*perProc)
		}
		checkUnique(t, file.Assignments)
		inFile := map[string]Assignment{}
		for _, a := range file.Assignments {
			inFile[a.Project] = a
		}
		for _, a := range got {
			f, ok := inFile[a.Project]
			rpctest.Must(t, fmt.Sprintf("round %d: %s's entry in the file", round, a.Project), rpctest.Want("present", ok, true),
				rpctest.Want("superserverPort", f.SuperserverPort, a.SuperserverPort), rpctest.Want("webPort", f.WebPort, a.WebPort))
		}
		if t.Failed() {
			return
		}
	}
}

func TestReadersNeverFailWhileWritersWrite(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 8, 5
	ss, web := band(baseReaders, writers*perWriter)
	home := filepath.Join(t.TempDir(), "home")
	r, err := Open(Options{Home: home, Superserver: &ss, Web: &web})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var readErrs []error
	reads := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				var err error
				if g%2 == 0 {
					_, err = r.List(ctx)
				} else if data, rerr := os.ReadFile(r.Path()); rerr == nil {
					_, err = decode(r.Path(), data) // a raw reader, as another tool would read it
				} else if !errors.Is(rerr, os.ErrNotExist) {
					err = rerr
				}
				mu.Lock()
				reads++
				if err != nil {
					readErrs = append(readErrs, err)
				}
				mu.Unlock()
			}
		}()
	}
	root := t.TempDir()
	children := runChildren(t, home, ss, web, writers, func(i int) []string {
		var ps []string
		for j := 0; j < perWriter; j++ {
			ps = append(ps, filepath.Join(root, fmt.Sprintf("w%d-%d", i, j)))
		}
		return ps
	})
	close(done)
	wg.Wait()
	for i, c := range children {
		if code := c.cmd.ProcessState.ExitCode(); code != childOK {
			t.Fatalf("writer %d exited %d: %s", i, code, c.stderr.String())
		}
	}
	if len(readErrs) > 0 {
		t.Fatalf("%d of %d reads failed while writers wrote; first: %v", len(readErrs), reads, readErrs[0])
	}
	if list, _ := r.List(ctx); len(list) != writers*perWriter {
		t.Fatalf("registry holds %d assignments, want %d", len(list), writers*perWriter)
	}
	t.Logf("%d reads during %d writes, all complete", reads, writers*perWriter)
}

func TestSIGKILLDuringAssignNeverCorruptsOrLosesEntries(t *testing.T) {
	t.Parallel()
	iterations := 20
	if testing.Short() {
		iterations = 5
	}
	ss, web := band(baseKill, 500)
	home := filepath.Join(t.TempDir(), "home")
	root := t.TempDir()
	committed := map[string]Assignment{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for it := 0; it < iterations; it++ {
		var kids []*child
		for k := 0; k < 2; k++ {
			prefix := filepath.Join(root, fmt.Sprintf("it%d-child%d", it, k))
			kids = append(kids, startChild(t, "assign-loop", home, ss, web, childProjectsEnv+"="+prefix))
		}
		// Kill each child at a random moment: after it committed 0-4 assignments, plus 0-3 ms.
		for _, c := range kids {
			want := rng.IntN(5)
			deadline := time.Now().Add(time.Minute)
			for strings.Count(c.stdout.String(), "\n") < want && time.Now().Before(deadline) {
				time.Sleep(200 * time.Microsecond)
			}
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
			_ = c.cmd.Process.Kill()
		}
		for _, c := range kids {
			_ = c.cmd.Wait()
			if st, ok := c.cmd.ProcessState.Sys().(interface{ Signaled() bool }); ok && !st.Signaled() {
				t.Fatalf("child ended on its own: %s", c.stderr.String())
			}
			for _, res := range c.results(t) {
				committed[res.Project] = res.Assignment
			}
		}
		if _, err := os.Stat(filepath.Join(home, FileName)); errors.Is(err, os.ErrNotExist) && len(committed) == 0 {
			continue
		}
		file := readFile(t, filepath.Join(home, FileName)) // fails on a torn or invalid file
		data, _ := os.ReadFile(filepath.Join(home, FileName))
		if _, err := decode(filepath.Join(home, FileName), data); err != nil {
			t.Fatalf("iteration %d: registry invalid after SIGKILL: %v", it, err)
		}
		checkUnique(t, file.Assignments)
		inFile := map[string]Assignment{}
		for _, a := range file.Assignments {
			inFile[a.Project] = a
		}
		for p, a := range committed {
			if f, ok := inFile[p]; !ok || f.SuperserverPort != a.SuperserverPort {
				t.Fatalf("iteration %d: committed assignment of %s (%d) lost after SIGKILL; file has %+v", it, p, a.SuperserverPort, f)
			}
		}
	}
	if len(committed) == 0 {
		t.Fatal("no child ever committed an assignment: the test proved nothing")
	}
	// The registry still works after all the kills.
	r, err := Open(Options{Home: home, Superserver: &ss, Web: &web})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Assign(context.Background(), project(t, "after"), Preferred{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Cleanup(context.Background(), true, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d committed assignments survived %d kill rounds", len(committed), iterations)
}
