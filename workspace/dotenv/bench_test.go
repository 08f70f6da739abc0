package dotenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/workspace/projfile"
	"github.com/iris-helper/iris-helper/workspace/workspacetest"
)

// bigEnv is a .env of just under projfile.EnvLimit: short realistic lines (export, quotes,
// inline comments), the managed port keys in the middle and at the end.
func bigEnv(superserver, web int) []byte {
	var sb strings.Builder
	sb.Grow(projfile.EnvLimit)
	tail := fmt.Sprintf("IRIS_HOST=localhost\nIRIS_WEB_PORT=%d\n", web)
	for i := 0; ; i++ {
		line := fmt.Sprintf("export APP_SETTING_%07d=\"value %d\" # note\n", i, i)
		if i == 100_000 {
			line = fmt.Sprintf("IRIS_PORT=%d # superserver\n", superserver)
		}
		if sb.Len()+len(line)+len(tail) > projfile.EnvLimit-64 {
			break
		}
		sb.WriteString(line)
	}
	sb.WriteString(tail)
	return []byte(sb.String())
}

// BenchmarkSyncEnv16MiB: the cap-sized .env (rule 4: memory a few times the file). B/op is all
// that one operation allocates, an upper bound of what it holds at once. docs/benchmarks.md.
func BenchmarkSyncEnv16MiB(b *testing.B) {
	stale := bigEnv(1972, 52773)
	dir := workspacetest.TempDir(b)
	path := filepath.Join(dir, ".env")
	scope := Scope{Root: dir}
	b.Run("sync-write", func(b *testing.B) { // each iteration first rewrites the stale input (not timed)
		b.SetBytes(int64(len(stale)))
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			if err := os.WriteFile(path, stale, 0o644); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if res, err := Sync(scope, path, SyncAuto, Names{}, testPorts); err != nil || !res.Written {
				b.Fatal(res.Skipped, err)
			}
		}
	})
	b.Run("sync-up-to-date", func(b *testing.B) {
		b.SetBytes(int64(len(stale)))
		b.ReportAllocs()
		for b.Loop() {
			if res, err := Sync(scope, path, SyncAuto, Names{}, testPorts); err != nil || res.Written {
				b.Fatal(res.Skipped, err)
			}
		}
	})
	b.Run("watcher-reconcile", func(b *testing.B) { // the user's edit (web port set to text) restored
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		edited := bigEnv(testPorts.Superserver, 0)
		w, err := NewWatcher(ctx, WatcherOptions{Path: path, Scope: scope, Mode: SyncAuto, Ports: testPorts,
			OnEvent: func(Event) {}, Debounce: 1 << 40}) // no reconcile from the watcher's own timer
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		b.SetBytes(int64(len(edited)))
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			if err := os.WriteFile(path, edited, 0o644); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if ev := w.reconcile(ctx, true); len(ev) == 0 || ev[len(ev)-1].Kind != EventSynced {
				b.Fatalf("events %+v", ev)
			}
		}
	})
}
