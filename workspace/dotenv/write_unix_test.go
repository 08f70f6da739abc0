//go:build unix

package dotenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/workspace/projfile"
	"github.com/iris-helper/iris-helper/workspace/workspacetest"
)

// TestSyncEnvNotARegularFile: a .env that is a directory or FIFO in the project is named once,
// with what to do, and never replaced (351c042: "read …/.env: read …/.env: is a directory").
func TestSyncEnvNotARegularFile(t *testing.T) {
	dir := workspacetest.TempDir(t)
	path := filepath.Join(dir, ".env")
	tail := ", not a regular file; iris-helper keeps the ports only in a regular file and replaces nothing else " +
		"(move it away, or name another file in .iris-helper.json \"env\": {\"file\"}, or set \"env\": {\"sync\": false})"
	makers := []struct {
		name string
		make func() error
		want string
	}{
		{"directory", func() error { return os.Mkdir(path, 0o755) }, path + " is a directory" + tail},
		{"fifo", func() error { return syscall.Mkfifo(path, 0o644) }, path + " is a FIFO (named pipe)" + tail},
	}
	for _, m := range makers {
		t.Run(m.name, func(t *testing.T) {
			if err := m.make(); err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(path)
			before, _ := os.Lstat(path)
			for _, mode := range []SyncMode{SyncAuto, SyncTrue} {
				_, err := Sync(Scope{Root: dir}, path, mode, Names{}, testPorts)
				if got := errString(err); got != m.want {
					t.Errorf("sync %s:\n got: %s\nwant: %s", mode, got, m.want)
				}
				var nr *projfile.NotRegularError
				if !errors.As(err, &nr) {
					t.Errorf("%v is no *projfile.NotRegularError", err)
				}
			}
			if _, err := Check(Scope{Root: dir}, path, SyncAuto); errString(err) != m.want {
				t.Errorf("Check: %v", err)
			}
			after, _ := os.Lstat(path)
			if after.Mode() != before.Mode() || !os.SameFile(before, after) {
				t.Errorf("replaced: %v → %v", before.Mode(), after.Mode())
			}
		})
	}
}

// TestSyncEnvTooLarge: a .env above projfile.EnvLimit is refused with its size and the limit (rule 4).
func TestSyncEnvTooLarge(t *testing.T) {
	dir := workspacetest.TempDir(t)
	path := filepath.Join(dir, ".env")
	writeTree(t, dir, map[string]string{".env": ""})
	if err := os.Truncate(path, projfile.EnvLimit+1); err != nil {
		t.Fatal(err)
	}
	want := path + " is 16.0 MiB, more than the 16 MiB iris-helper reads"
	if _, err := Sync(Scope{Root: dir}, path, SyncAuto, Names{}, testPorts); errString(err) != want {
		t.Errorf("sync:\n got: %s\nwant: %s", errString(err), want)
	}
	if _, err := Check(Scope{Root: dir}, path, SyncAuto); errString(err) != want {
		t.Errorf("Check:\n got: %s\nwant: %s", errString(err), want)
	}
	// Exactly the limit is read and synced.
	if err := os.Truncate(path, projfile.EnvLimit); err != nil {
		t.Fatal(err)
	}
	if res, err := Sync(Scope{Root: dir}, path, SyncAuto, Names{}, testPorts); err != nil || !res.Written {
		t.Errorf("a file of exactly the limit: %v", err)
	}
}

// TestSyncEnvConfiguredKeyHoldsNoPort: a key named in .iris-helper.json whose value is not a
// port number (nor empty, nor a ${…} reference) is never overwritten (351c042 replaced
// DATABASE_URL's secret by the web port). Default names keep being corrected.
func TestSyncEnvConfiguredKeyHoldsNoPort(t *testing.T) {
	web := func(n string) Names { return Names{WebPort: &n} }
	refusal := func(key, field string, line string) string {
		return key + " (line " + line + ") holds a value that is not a port number; " + field +
			" in .iris-helper.json names it, and iris-helper never overwrites such a value (set " + field +
			" to the key meant for the port, or give " + key + " a port number)"
	}
	tests := []struct {
		name    string
		names   Names
		content string
		want    string // "" = synced; else the error after "<path>: "
	}{
		{"a secret", web("DATABASE_URL"), "A=1\nDATABASE_URL=postgres://app:s3cret@db/app\n", refusal("DATABASE_URL", "env.webPort", "2")},
		{"text with a dollar", web("TOKEN"), "TOKEN=\"p$ss\"\n", refusal("TOKEN", "env.webPort", "1")},
		{"a number out of range", Names{SuperserverPort: ptr("PIN")}, "PIN=123456\n", refusal("PIN", "env.superserverPort", "1")},
		{"the last assignment counts", web("APP_WEB"), "APP_WEB=1\nAPP_WEB=secret\n", refusal("APP_WEB", "env.webPort", "2")},
		{"a port", web("APP_WEB"), "APP_WEB=8080\n", ""},
		{"empty", web("APP_WEB"), "APP_WEB=\n", ""},
		{"empty quotes", web("APP_WEB"), "APP_WEB=''\n", ""},
		{"a reference", web("APP_WEB"), "APP_WEB=${WEB}\n", ""},
		{"a reference with a default", web("APP_WEB"), "APP_WEB=\"${WEB:-52773}\"\n", ""},
		{"a plain reference", web("APP_WEB"), "APP_WEB=$WEB\n", ""},
		{"missing: added", web("APP_WEB"), "A=1\n", ""},
		{"a default name with text is corrected", Names{}, "IRIS_WEB_PORT=eighty\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := workspacetest.TempDir(t)
			path := filepath.Join(dir, ".env")
			writeTree(t, dir, map[string]string{".env": tt.content})
			res, err := Sync(Scope{Root: dir}, path, SyncAuto, tt.names, testPorts)
			got, _ := os.ReadFile(path)
			if tt.want == "" {
				if err != nil || !res.Written {
					t.Fatalf("sync: %+v, %v", res, err)
				}
				return
			}
			if errString(err) != path+": "+tt.want {
				t.Errorf("\n got: %s\nwant: %s", errString(err), path+": "+tt.want)
			}
			var kp *KeyNotPortError
			if !errors.As(err, &kp) {
				t.Errorf("%T is no *KeyNotPortError", err)
			}
			if string(got) != tt.content {
				t.Errorf("the file changed: %q", got)
			}
		})
	}
}

// The watcher leaves such a key alone too, and says so, instead of writing the port back.
func TestEnvWatcherConfiguredKeyHoldsNoPort(t *testing.T) {
	dir := workspacetest.TempDir(t)
	path := filepath.Join(dir, ".env")
	writeTree(t, dir, map[string]string{".env": "APP_WEB=1\n"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan Event, 100)
	name := "APP_WEB"
	w, err := NewWatcher(ctx, WatcherOptions{Path: path, Mode: SyncAuto, Ports: testPorts, Names: Names{WebPort: &name},
		OnEvent: func(e Event) { events <- e }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	waitEvent(t, events, EventSynced)
	content := "APP_WEB=https://example.com/app\nIRIS_PORT=31001\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, events, EventError)
	want := path + ": APP_WEB (line 1) holds a value that is not a port number; env.webPort in .iris-helper.json names it, and iris-helper never overwrites such a value (set env.webPort to the key meant for the port, or give APP_WEB a port number)"
	if e.Message != want {
		t.Errorf("\n got: %s\nwant: %s", e.Message, want)
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Errorf("the file changed: %q", b)
	}
}

func statOwner(t *testing.T, path string) (uid, gid int, nlink uint64) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid), uint64(st.Nlink)
}

// TestSyncEnvKeepsOwnerAndGroup: the replacement has the file's owner and group (as root: a
// file of another user stays that user's; 351c042 gave it to root).
func TestSyncEnvKeepsOwnerAndGroup(t *testing.T) {
	dir := workspacetest.TempDir(t)
	path := filepath.Join(dir, ".env")
	writeTree(t, dir, map[string]string{".env": "IRIS_PORT=1\n"})
	uid, gid := os.Geteuid(), os.Getegid()
	if uid == 0 {
		uid, gid = 4321, 8765 // a user and group that are not the process's
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	res, err := Sync(Scope{Root: dir}, path, SyncAuto, Names{}, testPorts)
	if err != nil || !res.Written {
		t.Fatalf("sync: %+v %v", res, err)
	}
	if gu, gg, _ := statOwner(t, path); gu != uid || gg != gid {
		t.Errorf("owner %d:%d, want %d:%d", gu, gg, uid, gid)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), "IRIS_PORT=31001\n") {
		t.Errorf("content %q", b)
	}
	assertNoTempFiles(t, dir)
}

// A .env with a second hard link is not replaced (that would cut the other name off).
func TestSyncEnvRefusesAHardLinkedFile(t *testing.T) {
	dir := workspacetest.TempDir(t)
	path := filepath.Join(dir, ".env")
	writeTree(t, dir, map[string]string{".env": "IRIS_PORT=1\n"})
	if err := os.Link(path, filepath.Join(dir, "copy.env")); err != nil {
		t.Fatal(err)
	}
	_, err := Sync(Scope{Root: dir}, path, SyncAuto, Names{}, testPorts)
	want := path + " was not updated: " + path + " has 2 hard links, and replacing it would leave the other names with the old content (make it a single file, or set the ports yourself)"
	if errString(err) != want {
		t.Errorf("\n got: %s\nwant: %s", errString(err), want)
	}
	var nr *NotReplacedError
	if !errors.As(err, &nr) {
		t.Errorf("%T is no *NotReplacedError", err)
	}
	if _, _, n := statOwner(t, path); n != 2 {
		t.Errorf("links: %d", n)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "copy.env")); string(b) != "IRIS_PORT=1\n" {
		t.Errorf("content %q", b)
	}
	assertNoTempFiles(t, dir)
}

// TestSyncEnvRemovesStaleTemps: temporary files a killed run left beside .env (regular, older than
// a minute) go at the next write; fresh ones, links and other names stay.
func TestSyncEnvRemovesStaleTemps(t *testing.T) {
	h := newHostile(t)
	dir := h.proj
	path := filepath.Join(dir, ".env")
	old := time.Now().Add(-2 * time.Minute)
	writeTree(t, dir, map[string]string{
		".env":                          "IRIS_PORT=1\n",
		".env.iris-helper-111.tmp":      "stale",
		"..env.iris-helper-222.tmp":     "stale, the older name",
		".env.iris-helper-333.tmp":      "fresh: a run in progress",
		".env.iris-helper-444.tmp.keep": "not ours",
		"other.iris-helper-555.tmp":     "not ours",
	})
	for _, n := range []string{".env.iris-helper-111.tmp", "..env.iris-helper-222.tmp", ".env.iris-helper-444.tmp.keep", "other.iris-helper-555.tmp"} {
		if err := os.Chtimes(filepath.Join(dir, n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, ".env.iris-helper-666.tmp")
	if err := os.Symlink("../sandbox/.profile", link); err != nil {
		t.Fatal(err)
	}
	if res, err := Sync(Scope{Root: dir}, path, SyncAuto, Names{}, testPorts); err != nil || !res.Written {
		t.Fatalf("sync: %+v %v", res, err)
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := ".env .env.iris-helper-333.tmp .env.iris-helper-444.tmp.keep .env.iris-helper-666.tmp other.iris-helper-555.tmp sub"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("left:\n got: %s\nwant: %s", got, want)
	}
	h.snap.AssertUnchanged(t)
}

// TestSyncEnvKeepsASaveThatLandsBeforeTheRename: the user saves (a real write by another
// goroutine, in place or by an editor's rename) after the helper read the file and before it
// renames its version over it; the helper starts over from the user's save instead of losing it.
func TestSyncEnvKeepsASaveThatLandsBeforeTheRename(t *testing.T) {
	for _, how := range []string{"rename", "in place"} {
		t.Run(how, func(t *testing.T) {
			dir := workspacetest.TempDir(t)
			path := filepath.Join(dir, ".env")
			writeTree(t, dir, map[string]string{".env": "IRIS_PORT=1\n"})
			saves := 0
			op := syncOp{path: path, scope: Scope{Root: dir}, mode: SyncAuto, ports: testPorts}
			op.beforeRename = func() {
				if saves > 0 {
					return
				}
				saves++
				saved := make(chan error)
				go func() { // the user's editor
					content := []byte("IRIS_PORT=1\nUSER_LINE=kept\n")
					if how == "in place" {
						saved <- os.WriteFile(path, content, 0o644)
						return
					}
					tmp := filepath.Join(dir, ".env.swp")
					if err := os.WriteFile(tmp, content, 0o644); err != nil {
						saved <- err
						return
					}
					saved <- os.Rename(tmp, path)
				}()
				if err := <-saved; err != nil {
					t.Error(err)
				}
			}
			res, err := op.sync()
			if err != nil || !res.Written {
				t.Fatalf("sync: %+v %v", res, err)
			}
			want := "IRIS_PORT=31001\nUSER_LINE=kept\n" + ManagedComment + "\nIRIS_HOST=localhost\nIRIS_WEB_PORT=31002\n"
			if b, _ := os.ReadFile(path); string(b) != want {
				t.Errorf("content\n%q\nwant\n%q", b, want)
			}
			if saves != 1 {
				t.Errorf("the hook ran %d times", saves)
			}
			assertNoTempFiles(t, dir)
		})
	}
}

// The watcher, too, starts over from a save that lands before its rename.
func TestEnvWatcherKeepsASaveThatLandsBeforeTheRename(t *testing.T) {
	dir := workspacetest.TempDir(t)
	path := filepath.Join(dir, ".env")
	writeTree(t, dir, map[string]string{".env": "IRIS_PORT=31001\nIRIS_WEB_PORT=31002\nIRIS_HOST=localhost\n"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan Event, 100)
	armed := make(chan struct{}, 1)
	w, err := NewWatcher(ctx, WatcherOptions{Path: path, Mode: SyncAuto, Ports: testPorts,
		OnEvent: func(e Event) { events <- e },
		beforeRename: func() {
			select {
			case <-armed:
			default:
				return
			}
			done := make(chan error)
			go func() {
				done <- os.WriteFile(path, []byte("IRIS_PORT=31001\nIRIS_WEB_PORT=${W}\nIRIS_HOST=localhost\nUSER=saved\n"), 0o644)
			}()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	armed <- struct{}{}
	if err := os.WriteFile(path, []byte("IRIS_PORT=31001\nIRIS_WEB_PORT=x\nIRIS_HOST=localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := "IRIS_PORT=31001\nIRIS_WEB_PORT=31002\nIRIS_HOST=localhost\nUSER=saved\n"
	deadline := time.After(watchDeadline)
	for {
		select {
		case e := <-events:
			if e.Kind == EventSynced {
				if b, _ := os.ReadFile(path); string(b) == want {
					return
				}
			}
		case <-deadline:
			b, _ := os.ReadFile(path)
			t.Fatalf("file is %q, want %q", b, want)
		}
	}
}

// TestSyncEnvOfAnotherUsersFileIsRefused: run as another user (a copy of this test binary under
// uid 4321), the sync cannot give a replacement the file's owner (root) and leaves the file
// alone, saying why; 351c042 replaced it by a file of the running user. Needs root to set up
// (make test runs as root in CI); as another user the file cannot be created.
func TestSyncEnvOfAnotherUsersFileIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	dir, err := os.MkdirTemp("", "iris-helper-asuser-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o777); err != nil { // the other user may create its temporary file here
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "workspace.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	proj := filepath.Join(dir, "proj")
	if err := os.Mkdir(proj, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(proj, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	path := filepath.Join(proj, ".env")
	if err := os.WriteFile(path, []byte("IRIS_PORT=1\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Lstat(path)
	cmd := exec.Command(bin, "-test.run=^TestHelperSyncEnvAsUser$")
	cmd.Env = append(os.Environ(), "IRIS_HELPER_TEST_SYNC_AS_USER="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 4321, Gid: 4321}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	want := "error: " + path + " was not updated: " + path + " belongs to user root (uid 0), group root (gid 0), and iris-helper, running as uid 4321, " +
		"cannot give a replacement the same owner and group (operation not permitted); update it as its owner\n"
	if got := strings.TrimSuffix(string(out), "PASS\n"); got != want {
		t.Errorf("\n got: %s\nwant: %s", got, want)
	}
	after, _ := os.Lstat(path)
	if !os.SameFile(before, after) {
		t.Error("the file was replaced")
	}
	if u, g, _ := statOwner(t, path); u != 0 || g != 0 {
		t.Errorf("owner %d:%d", u, g)
	}
	if b, _ := os.ReadFile(path); string(b) != "IRIS_PORT=1\n" {
		t.Errorf("content %q", b)
	}
	assertNoTempFiles(t, proj)
}

// TestHelperSyncEnvAsUser is the process TestSyncEnvOfAnotherUsersFileIsRefused runs as another user.
func TestHelperSyncEnvAsUser(t *testing.T) {
	path := os.Getenv("IRIS_HELPER_TEST_SYNC_AS_USER")
	if path == "" {
		return
	}
	_, err := Sync(Scope{Root: filepath.Dir(path)}, path, SyncAuto, Names{}, testPorts)
	fmt.Printf("error: %v\n", err)
}
