package dotenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/sandboxtest"
	"github.com/iris-helper/iris-helper/workspace/workspacetest"
)

var testPorts = Ports{Host: "localhost", Superserver: 31001, Web: 31002}

func ptr[T any](v T) *T { return &v }

// syncKeys is Sync with already resolved key names.
func syncKeys(path string, mode SyncMode, keys Keys, p Ports) (Result, error) {
	return syncOp{path: path, mode: mode, keys: &keys, ports: p}.sync()
}

func TestResolveEnvKeys(t *testing.T) {
	tests := []struct {
		name    string
		names   Names
		content string
		want    Keys
	}{
		{"defaults for an empty file", Names{}, "", Keys{"IRIS_HOST", "IRIS_PORT", "IRIS_WEB_PORT"}},
		{"aliases in use", Names{}, "IRIS_HOSTNAME=h\nIRIS_SUPER_SERVER_PORT=1\nIRIS_WEBSERVER_PORT=2\n",
			Keys{"IRIS_HOSTNAME", "IRIS_SUPER_SERVER_PORT", "IRIS_WEBSERVER_PORT"}},
		{"the default name beats an alias", Names{}, "IRIS_WEB_SERVER_PORT=1\nIRIS_WEB_PORT=2\n",
			Keys{"IRIS_HOST", "IRIS_PORT", "IRIS_WEB_PORT"}},
		{"an alias only in a comment does not count", Names{}, "# IRIS_SUPERSERVER_PORT=1\n",
			Keys{"IRIS_HOST", "IRIS_PORT", "IRIS_WEB_PORT"}},
		{"configured names win over aliases", Names{SuperserverPort: ptr("DB_PORT")}, "IRIS_SUPERSERVER_PORT=1\n",
			Keys{"IRIS_HOST", "DB_PORT", "IRIS_WEB_PORT"}},
		{"an empty name means not managed", Names{Host: ptr(""), WebPort: ptr("")}, "IRIS_HOST=x\n",
			Keys{"", "IRIS_PORT", ""}},
		{"a default configured for another key is not managed twice", Names{WebPort: ptr("IRIS_PORT")}, "IRIS_PORT=1\n",
			Keys{"IRIS_HOST", "", "IRIS_PORT"}},
		{"an alias configured for another key is skipped", Names{SuperserverPort: ptr("IRIS_HOST")},
			"IRIS_HOST=1\nIRIS_HOSTNAME=h\n", Keys{"IRIS_HOSTNAME", "IRIS_HOST", "IRIS_WEB_PORT"}},
		{"another key's configured name is never the fallback", Names{SuperserverPort: ptr("IRIS_HOST")}, "",
			Keys{"", "IRIS_HOST", "IRIS_WEB_PORT"}},
		{"an alias taken by another key's configured name", Names{WebPort: ptr("IRIS_SUPERSERVER_PORT")},
			"IRIS_SUPERSERVER_PORT=1\nIRIS_SUPER_SERVER_PORT=2\n", Keys{"IRIS_HOST", "IRIS_SUPER_SERVER_PORT", "IRIS_SUPERSERVER_PORT"}},
	}
	for _, tt := range tests {
		if got := ResolveKeys(tt.names, []byte(tt.content)); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseEnvValues(t *testing.T) {
	keys := Keys{"IRIS_HOST", "IRIS_PORT", "IRIS_WEB_PORT"}
	tests := []struct {
		content      string
		ss, web      int
		ssErr, wbErr string
	}{
		{"IRIS_PORT=31001\nIRIS_WEB_PORT=31002\n", 31001, 31002, "", ""},
		{"export IRIS_PORT='31001' # c\r\nIRIS_WEB_PORT=\"31002\"\r\n", 31001, 31002, "", ""},
		{"\ufeffIRIS_PORT=31001\n", 31001, 0, "", ""},
		{"X=5\nIRIS_PORT=${X}\nIRIS_WEB_PORT=$X\n", 0, 0, "variable reference", "variable reference"},
		{"IRIS_PORT=abc\nIRIS_WEB_PORT=70000\n", 0, 0, "not a port number", "out of range"},
		{"IRIS_PORT=\nIRIS_WEB_PORT=-5\n", 0, 0, "empty", "not a port number"},
		{"IRIS_PORT=1\nIRIS_PORT=31009\n", 31009, 0, "", ""},
		{"this line breaks godotenv\nIRIS_PORT=31001\n", 31001, 0, "", ""},
		// the inline comment starts at the first " #" (godotenv alone would read "31001 # see issue")
		{"IRIS_PORT=31001 # see issue #12\nIRIS_WEB_PORT=\"31002\" # a # b\n", 31001, 31002, "", ""},
		{"IRIS_PORT=31001 #\t# x\nIRIS_WEB_PORT=31002 # a #\n", 31001, 31002, "", ""},
		{"IRIS_PORT=\"31001\nIRIS_WEB_PORT=' 31002 '\n", 0, 31002, "not a port number", ""},
	}
	for _, tt := range tests {
		v := ParseValues([]byte(tt.content), keys)
		check := func(name string, got Value, port int, errText string) {
			if got.Port != port {
				t.Errorf("%q: %s port %d, want %d", tt.content, name, got.Port, port)
			}
			switch {
			case errText == "" && got.Err != nil && got.Present:
				t.Errorf("%q: %s unexpected error %v", tt.content, name, got.Err)
			case errText != "" && (got.Err == nil || !strings.Contains(got.Err.Error(), errText)):
				t.Errorf("%q: %s error %v, want one saying %q", tt.content, name, got.Err, errText)
			}
		}
		check("superserver", v.Superserver, tt.ss, tt.ssErr)
		check("web", v.Web, tt.web, tt.wbErr)
	}
}

func TestSyncEnvKeepsModeAndWritesNothingWhenEqual(t *testing.T) {
	dir := workspacetest.TempDir(t)
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("A=1\nIRIS_PORT=1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	res, err := syncKeys(path, SyncAuto, Keys{Superserver: "IRIS_PORT"}, testPorts)
	if err != nil || !res.Written {
		t.Fatalf("sync: %+v %v", res, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); string(b) != "A=1\nIRIS_PORT=31001\n" {
		t.Errorf("content %q", b)
	}
	// Same values again: the file is not replaced (same inode), not even touched.
	res, err = syncKeys(path, SyncAuto, Keys{Superserver: "IRIS_PORT"}, testPorts)
	if err != nil {
		t.Fatalf("second sync: %v", err)
	}
	rpctest.Must(t, "second sync", rpctest.Want("written", res.Written, false), rpctest.Want("skipped", res.Skipped, SkipUpToDate))
	fi2, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(fi, fi2) || !fi.ModTime().Equal(fi2.ModTime()) {
		t.Error("an up-to-date file was rewritten")
	}
	assertNoTempFiles(t, dir)
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".iris-helper-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// A .env link is written through to its target when the target lies in the project (here the
// project is dir, holding proj/ and shared/); outside it, see TestSyncEnvOutsideTheProject.
func TestSyncEnvThroughSymlink(t *testing.T) {
	dir := workspacetest.TempDir(t)
	shared := filepath.Join(dir, "shared")
	proj := filepath.Join(dir, "proj")
	writeTree(t, dir, map[string]string{"shared/real.env": "# shared\nIRIS_PORT=1\n", "proj/": ""})
	link := filepath.Join(proj, ".env")
	if err := os.Symlink(filepath.Join("..", "shared", "real.env"), link); err != nil {
		t.Fatal(err)
	}
	res, err := Sync(Scope{Root: dir}, link, SyncAuto, Names{}, testPorts)
	if err != nil || !res.Written {
		t.Fatalf("sync: %+v, %v", res, err)
	}
	if res.Target != filepath.Join(proj, "..", "shared", "real.env") && res.Target != filepath.Join(shared, "real.env") {
		t.Errorf("target %s", res.Target)
	}
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the .env is no longer a symlink: %v %v", fi.Mode(), err)
	}
	b, err := os.ReadFile(filepath.Join(shared, "real.env"))
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Check(t, fmt.Sprintf("target content %q", b), rpctest.Want("has IRIS_PORT=31001", strings.Contains(string(b), "IRIS_PORT=31001\n"), true),
		rpctest.Want("starts with the comment", strings.HasPrefix(string(b), "# shared\n"), true))
	assertNoTempFiles(t, proj)
	assertNoTempFiles(t, shared)

	// A dangling link under sync true whose target lies in the project: the target is created,
	// the link stays.
	dangling := filepath.Join(proj, "other.env")
	if err := os.Symlink("new.env", dangling); err != nil {
		t.Fatal(err)
	}
	if _, err := Sync(Scope{}, dangling, SyncTrue, Names{}, testPorts); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(dangling); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("dangling link replaced by a file")
	}
	if fi, err := os.Stat(filepath.Join(proj, "new.env")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("link target not created with 0644: %v %v", fi, err)
	}
}

func TestSyncEnvCreatesOnlyUnderTrue(t *testing.T) {
	for _, mode := range []SyncMode{SyncAuto, SyncTrue, SyncFalse} {
		dir := workspacetest.TempDir(t)
		path := filepath.Join(dir, ".env")
		res, err := Sync(Scope{}, path, mode, Names{}, testPorts)
		if err != nil {
			t.Fatal(err)
		}
		_, statErr := os.Stat(path)
		if exists := statErr == nil; exists != (mode == SyncTrue) || res.Created != (mode == SyncTrue) {
			t.Errorf("mode %s: exists %v created %v", mode, exists, res.Created)
		}
		if mode == SyncTrue {
			fi, _ := os.Stat(path)
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("created with %v, want 0644", fi.Mode().Perm())
			}
		}
	}
}

func TestSyncEnvErrors(t *testing.T) {
	dir := workspacetest.TempDir(t)
	if _, err := Sync(Scope{}, dir, SyncAuto, Names{}, testPorts); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("sync of a folder: %v, want an error naming it", err)
	}
	if _, err := Sync(Scope{}, filepath.Join(dir, ".env"), SyncMode("sometimes"), Names{}, testPorts); err == nil {
		t.Error("a bad sync mode is accepted")
	}
	if _, err := Sync(Scope{}, filepath.Join(dir, "missing-folder", ".env"), SyncTrue, Names{}, testPorts); err == nil {
		t.Error("creating a .env in a missing folder reports no error")
	}
}

func TestWriteFileAtomicRefusesWhenTheFileChanged(t *testing.T) {
	dir := workspacetest.TempDir(t)
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("USER_SAVED=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := resolved{path: path, target: path, exists: true}.replace([]byte("IRIS_PORT=1\n"), []byte("USER_SAVED=1\n"), true, nil)
	if !errors.Is(err, errFileMoved) {
		t.Fatalf("err = %v, want errFileMoved", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "USER_SAVED=2\n" {
		t.Errorf("the user's newer content was replaced: %q", b)
	}
	assertNoTempFiles(t, dir)
}

func BenchmarkSyncEnv1000Lines(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 1000; i++ {
		switch {
		case i%10 == 0:
			sb.WriteString("# comment line\n")
		case i == 500:
			sb.WriteString("IRIS_PORT=1972 # superserver\n")
		case i == 900:
			sb.WriteString("export IRIS_WEB_PORT=\"52773\"\n")
		default:
			sb.WriteString("export VAR_" + strings.Repeat("X", i%7) + "=\"some value with spaces\" # note\n")
		}
	}
	content := []byte(sb.String())
	path := filepath.Join(b.TempDir(), ".env")
	b.Run("render", func(b *testing.B) {
		b.SetBytes(int64(len(content)))
		for b.Loop() {
			Render(content, Keys{"IRIS_HOST", "IRIS_PORT", "IRIS_WEB_PORT"}, testPorts)
		}
	})
	b.Run("sync-write", func(b *testing.B) { // every iteration rewrites the file on disk
		for i := 0; b.Loop(); i++ {
			if err := os.WriteFile(path, content, 0o644); err != nil {
				b.Fatal(err)
			}
			if res, err := Sync(Scope{}, path, SyncAuto, Names{}, testPorts); err != nil || !res.Written {
				b.Fatal(res, err)
			}
		}
	})
	b.Run("sync-up-to-date", func(b *testing.B) { // read, compare, no write
		for b.Loop() {
			if res, err := Sync(Scope{}, path, SyncAuto, Names{}, testPorts); err != nil || res.Written {
				b.Fatal(res, err)
			}
		}
	})
}

// writeTree creates files and folders under dir (sandboxtest.WriteTree).
var writeTree = sandboxtest.WriteTree

// TestRenderExtraKeys: the extra keys of a kind (Ports.Extra) are written like the port keys:
// set in place keeping their quotes, left alone when equal (quoted or not), added under the
// helper's comment in key order; a key that is not a shell name, a value that would need
// quoting and a key that is one of the managed three are not written.
func TestRenderExtraKeys(t *testing.T) {
	keys := Keys{Host: "IRIS_HOST", Superserver: "IRIS_PORT", Web: "IRIS_WEB_PORT"}
	for _, tc := range []struct {
		name, in string
		extra    map[string]string
		want     string
	}{
		{"set in place, quotes kept", "NAME='old'\nIRIS_HOST=h\nIRIS_PORT=1\nIRIS_WEB_PORT=2\n", map[string]string{"NAME": "shop"},
			"NAME='shop'\nIRIS_HOST=h\nIRIS_PORT=1\nIRIS_WEB_PORT=2\n"},
		{"equal in quotes", "NAME=\"shop\"\nIRIS_HOST=h\nIRIS_PORT=1\nIRIS_WEB_PORT=2\n", map[string]string{"NAME": "shop"},
			"NAME=\"shop\"\nIRIS_HOST=h\nIRIS_PORT=1\nIRIS_WEB_PORT=2\n"},
		{"added in key order", "IRIS_HOST=h\nIRIS_PORT=1\nIRIS_WEB_PORT=2\n", map[string]string{"ZED": "z", "ALPHA": "a"},
			"IRIS_HOST=h\nIRIS_PORT=1\nIRIS_WEB_PORT=2\n" + ManagedComment + "\nALPHA=a\nZED=z\n"},
		{"not written", "IRIS_HOST=h\nIRIS_PORT=1\nIRIS_WEB_PORT=2\n",
			map[string]string{"1BAD": "x", "SPACE": "a b", "IRIS_PORT": "9", "": "x"},
			"IRIS_HOST=h\nIRIS_PORT=1\nIRIS_WEB_PORT=2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := Render([]byte(tc.in), keys, Ports{Host: "h", Superserver: 1, Web: 2, Extra: tc.extra})
			if string(out) != tc.want {
				t.Errorf("Render:\n got %q\nwant %q", out, tc.want)
			}
		})
	}
}

func TestExtraKeys(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/.env"
	ports := Ports{Host: "localhost", Superserver: 35501, Web: 35502, Extra: map[string]string{"COMPOSE_PROJECT_NAME": "app-1a2b3c4d"}}
	res, err := Sync(Scope{Root: dir}, path, SyncAuto, Names{}, ports)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	rpctest.Must(t, "auto creates a file with the extra key alone", rpctest.Want("written", res.Written, true),
		rpctest.Want("content", string(got), ManagedComment+"\nCOMPOSE_PROJECT_NAME=app-1a2b3c4d\n"))
	res, err = Sync(Scope{Root: dir}, path, SyncAuto, Names{}, ports)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	rpctest.Must(t, "then the file exists and gets the ports beside it", rpctest.Want("written", res.Written, true),
		rpctest.Want("content", string(got), ManagedComment+"\nCOMPOSE_PROJECT_NAME=app-1a2b3c4d\nIRIS_HOST=localhost\nIRIS_PORT=35501\nIRIS_WEB_PORT=35502\n"))
	res, err = Sync(Scope{Root: dir}, path, SyncAuto, Names{}, ports)
	rpctest.Must(t, "up to date", rpctest.Want("err", err, nil), rpctest.Want("written", res.Written, false))
}
