//go:build unix

package workspace

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of rule 3 (no open of a project file blocks or follows a planted link) and rule 8 (root
// detection stops at the repository) of issue 10, with real FIFOs, sockets, devices and links.

// fifoDeadline is how long a call that must not block gets before the test fails. It is no timed
// assertion: the calls take microseconds, and a regression blocks forever.
const fifoDeadline = 20 * time.Second

// noHangOnFIFO runs fn and fails the test when it has not returned by fifoDeadline. The FIFOs are
// then opened for writing and closed, again until fn returns (it may move on to the next FIFO),
// so that a reader blocked in open(2) gets EOF and the goroutine ends.
func noHangOnFIFO(t *testing.T, fifos []string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
		return
	case <-time.After(fifoDeadline):
	}
	for {
		for _, f := range fifos {
			if w, err := os.OpenFile(f, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		}
		select {
		case <-done:
			t.Fatalf("blocked for %v on a FIFO (released it to end the test)", fifoDeadline)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// specialKind is a kind of file that is not a regular one, as a repository or a planted link can hold.
type specialKind string

const (
	fifoFile     specialKind = "FIFO"
	socketFile   specialKind = "socket"
	folderFile   specialKind = "directory"
	linkToZero   specialKind = "link to dev-zero"
	linkToNull   specialKind = "link to dev-null"
	linkToFIFO   specialKind = "link to a FIFO outside"
	linkToFolder specialKind = "link to a folder"
)

var specialKinds = []specialKind{fifoFile, socketFile, folderFile, linkToZero, linkToNull, linkToFIFO, linkToFolder}

// plantSpecial creates path as kind and returns the FIFOs a blocked reader would wait on.
func plantSpecial(t *testing.T, path string, kind specialKind) []string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	link := func(target string) {
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
	switch kind {
	case fifoFile:
		if err := syscall.Mkfifo(path, 0o644); err != nil {
			t.Fatal(err)
		}
		return []string{path}
	case socketFile:
		// A socket's path is limited to ~100 bytes: bind it in a short folder, then move it.
		short, err := os.MkdirTemp("", "s")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(short) })
		l, err := net.Listen("unix", filepath.Join(short, "s"))
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		t.Cleanup(func() { l.Close() })
		if err := os.Rename(filepath.Join(short, "s"), path); err != nil {
			t.Fatal(err)
		}
	case folderFile:
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
	case linkToZero:
		link("/dev/zero")
	case linkToNull:
		link("/dev/null")
	case linkToFIFO:
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Fatal(err)
		}
		link(fifo)
		return []string{fifo}
	case linkToFolder:
		link(t.TempDir())
	}
	return nil
}

// detectionMarkers are every file root detection reads or looks for.
var detectionMarkers = []string{ConfigFileName, "docker-compose.yml", "docker-compose.yaml", "compose.yaml",
	"compose.yml", "Dockerfile", ".env", "module.xml", "iris.script"}

// TestFindRootSpecialFileIsNoMarker: a FIFO, socket, device or directory named like a marker, in
// the project, in a folder between it and the start, or above the repository, is no marker and
// is never waited on. (Issue 10: a FIFO docker-compose.yml, compose.yaml, Dockerfile or .env in the
// project or any ancestor made every command and `initialize` hang.)
func TestFindRootSpecialFileIsNoMarker(t *testing.T) {
	places := []struct {
		name    string
		file    string // where the specialKind file goes, relative to the tree
		start   string
		wantDir string
	}{
		{"in the project", "NAME", ".", "."},
		{"in a folder above the start", "NAME", "app/src", "."},
		{"above the repository", "NAME", "repo/src", "repo"},
	}
	for _, name := range detectionMarkers {
		for _, kind := range specialKinds {
			for _, pl := range places {
				t.Run(name+"/"+string(kind)+"/"+pl.name, func(t *testing.T) {
					base := tempDir(t)
					t.Setenv("HOME", filepath.Join(base, "home"))
					tree := filepath.Join(base, "t")
					gitAt := "."
					if pl.wantDir != "." {
						gitAt = pl.wantDir
					}
					writeTree(t, tree, map[string]string{gitAt + "/.git/": "", pl.start + "/": ""})
					fifos := plantSpecial(t, filepath.Join(tree, strings.Replace(pl.file, "NAME", name, 1)), kind)
					var got Root
					var err error
					noHangOnFIFO(t, fifos, func() { got, err = FindRoot(filepath.Join(tree, pl.start)) })
					if err != nil {
						t.Fatalf("FindRoot: %v", err)
					}
					want := Root{Dir: filepath.Join(tree, pl.wantDir), Marker: ".git"}
					if got != want {
						t.Errorf("FindRoot\n got %+v\nwant %+v", got, want)
					}
				})
			}
		}
	}
}

// TestFindRootSourceScanSkipsSpecialFiles: the ObjectScript source scan neither waits on a FIFO
// nor reads a device named like a source file.
func TestFindRootSourceScanSkipsSpecialFiles(t *testing.T) {
	for _, kind := range specialKinds {
		t.Run(string(kind), func(t *testing.T) {
			base := tempDir(t)
			t.Setenv("HOME", filepath.Join(base, "home"))
			tree := filepath.Join(base, "t")
			writeTree(t, tree, map[string]string{".git/": ""})
			fifos := plantSpecial(t, filepath.Join(tree, "src", "Demo", "App.cls"), kind)
			var got Root
			var err error
			noHangOnFIFO(t, fifos, func() { got, err = FindRoot(tree) })
			if want := (Root{Dir: tree, Marker: ".git"}); err != nil || got != want {
				t.Errorf("FindRoot = %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

// TestFindRootFollowsLinksToRegularMarkers: a marker that is a link to a regular file (a
// repository's docker-compose.yml -> docker/compose.dev.yml) still counts.
func TestFindRootFollowsLinksToRegularMarkers(t *testing.T) {
	for _, name := range detectionMarkers {
		t.Run(name, func(t *testing.T) {
			base := tempDir(t)
			t.Setenv("HOME", filepath.Join(base, "home"))
			tree := filepath.Join(base, "t")
			content := map[string]string{ConfigFileName: "{}", ".env": "IRIS_PORT=1972\n", "module.xml": "<Export/>", "iris.script": "halt\n"}[name]
			if content == "" {
				content = "services:\n  iris:\n    image: intersystemsdc/iris-community\n"
			}
			writeTree(t, tree, map[string]string{".git/": "", "sub/": "", "config/real": content})
			if err := os.Symlink(filepath.Join("config", "real"), filepath.Join(tree, name)); err != nil {
				t.Fatal(err)
			}
			got, err := FindRoot(filepath.Join(tree, "sub"))
			if want := (Root{Dir: tree, Marker: name, IsIrisProject: true}); err != nil || got != want {
				t.Errorf("FindRoot = %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

// foreignUID is a user id that owns no test folder.
const foreignUID = 65534

// TestFindRootStopsAtTheRepository: the walk goes up from the start and stops before the first of:
// a folder above the nearest .git, $HOME, a folder not owned by the user (or root) or writable by
// others, the filesystem root. The start itself is always looked at. (Issue 10: ~/.env holding
// IRIS_PASSWORD=x made every git repository under ~ resolve to ~.)
func TestFindRootStopsAtTheRepository(t *testing.T) {
	root := os.Geteuid() == 0
	tests := []struct {
		name     string
		files    map[string]string // relative to base; $HOME is base/home
		modes    map[string]os.FileMode
		foreign  string // a folder owned by another user (needs root to chown; see below)
		homeLink bool   // $HOME is base/home-link -> base/home
		start    string
		wantDir  string
		marker   string
		wantIris bool
	}{
		{
			name:  "~/.env with IRIS_PASSWORD does not make a repository under ~ resolve to ~",
			files: map[string]string{"home/.env": "IRIS_PASSWORD=x\n", "home/src/app/.git/": "", "home/src/app/pkg/": ""},
			start: "home/src/app/pkg", wantDir: "home/src/app", marker: ".git",
		},
		{
			name:  "~/.env does not capture a plain folder under ~",
			files: map[string]string{"home/.env": "IRIS_PASSWORD=x\n", "home/notes/": ""},
			start: "home/notes", wantDir: "home/notes",
		},
		{
			name:  "~/.iris-helper.json is not reached from below",
			files: map[string]string{"home/.iris-helper.json": "{}", "home/a/b/": ""},
			start: "home/a/b", wantDir: "home/a/b",
		},
		{
			name:     "a $HOME given through a link stops the walk too",
			files:    map[string]string{"home/.env": "IRIS_PASSWORD=x\n", "home/notes/": ""},
			homeLink: true,
			start:    "home/notes", wantDir: "home/notes",
		},
		{
			name:  "$HOME named itself is the project",
			files: map[string]string{"home/.env": "IRIS_PASSWORD=x\n"},
			start: "home", wantDir: "home", marker: ".env", wantIris: true,
		},
		{
			name:  "a folder holding $HOME is not reached from $HOME",
			files: map[string]string{"module.xml": "<Export/>", "home/": ""},
			start: "home", wantDir: "home",
		},
		{
			name:  "a marker above the repository does not count",
			files: map[string]string{"w/docker-compose.yml": "image: intersystemsdc/iris-community\n", "w/repo/.git/": "", "w/repo/src/": ""},
			start: "w/repo/src", wantDir: "w/repo", marker: ".git",
		},
		{
			name:  ".iris-helper.json above a worktree's .git file does not count",
			files: map[string]string{"w/.iris-helper.json": "{}", "w/wt/.git": "gitdir: ../main/.git/worktrees/wt\n"},
			start: "w/wt", wantDir: "w/wt", marker: ".git",
		},
		{
			name:  "a marker between the start and the repository counts",
			files: map[string]string{"repo/.git/": "", "repo/svc/module.xml": "<Export/>", "repo/svc/src/": ""},
			start: "repo/svc/src", wantDir: "repo/svc", marker: "module.xml", wantIris: true,
		},
		{
			name:  "a marker beside .git counts",
			files: map[string]string{"repo/.git/": "", "repo/iris.script": "halt\n", "repo/a/b/": ""},
			start: "repo/a/b", wantDir: "repo", marker: "iris.script", wantIris: true,
		},
		{
			name:  "a FIFO named .git is no repository",
			files: map[string]string{"w/module.xml": "<Export/>", "w/p/": ""},
			start: "w/p", wantDir: "w", marker: "module.xml", wantIris: true,
		},
		{
			name:  "a folder writable by others is not entered",
			files: map[string]string{"shared/module.xml": "<Export/>", "shared/proj/": ""},
			modes: map[string]os.FileMode{"shared": 0o777},
			start: "shared/proj", wantDir: "shared/proj",
		},
		{
			name:  "a sticky folder writable by others (such as /tmp) is not entered",
			files: map[string]string{"tmp/.env": "IRIS_PORT=1972\n", "tmp/proj/": ""},
			modes: map[string]os.FileMode{"tmp": 0o777 | os.ModeSticky},
			start: "tmp/proj", wantDir: "tmp/proj",
		},
		{
			name:  "a folder writable by others named itself is the project",
			files: map[string]string{"shared/module.xml": "<Export/>"},
			modes: map[string]os.FileMode{"shared": 0o777},
			start: "shared", wantDir: "shared", marker: "module.xml", wantIris: true,
		},
		{
			name:  "a group-writable folder is entered (umask 002 with per-user groups)",
			files: map[string]string{"team/module.xml": "<Export/>", "team/proj/": ""},
			modes: map[string]os.FileMode{"team": 0o775},
			start: "team/proj", wantDir: "team", marker: "module.xml", wantIris: true,
		},
		{
			name:    "a folder owned by another user is not entered",
			files:   map[string]string{"other/module.xml": "<Export/>", "other/proj/": ""},
			foreign: "other",
			start:   "other/proj", wantDir: "other/proj",
		},
		{
			name:    "a folder owned by another user named itself is the project",
			files:   map[string]string{"other/module.xml": "<Export/>"},
			foreign: "other",
			start:   "other", wantDir: "other", marker: "module.xml", wantIris: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tempDir(t)
			writeTree(t, base, tt.files)
			if strings.Contains(tt.name, "FIFO named .git") {
				plantSpecial(t, filepath.Join(base, "w", "p", ".git"), fifoFile)
			}
			home := filepath.Join(base, "home")
			if err := os.MkdirAll(home, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.homeLink {
				if err := os.Symlink(home, filepath.Join(base, "home-link")); err != nil {
					t.Fatal(err)
				}
				home = filepath.Join(base, "home-link")
			}
			t.Setenv("HOME", home)
			for dir, mode := range tt.modes {
				if err := os.Chmod(filepath.Join(base, dir), mode); err != nil {
					t.Fatal(err)
				}
			}
			lim := currentLimits()
			if tt.foreign != "" {
				if root {
					// As root (how the README runs the tests): give the folder to another user.
					if err := os.Chown(filepath.Join(base, tt.foreign), foreignUID, foreignUID); err != nil {
						t.Fatal(err)
					}
				} else {
					// Without root no folder can be given away: walk as another (non-root) user,
					// to whom every test folder, the foreign one included, belongs to someone else.
					lim.uid = os.Geteuid() + 1
				}
			}
			var got Root
			var err error
			noHangOnFIFO(t, nil, func() { got, err = findRoot(filepath.Join(base, tt.start), lim, true) })
			if err != nil {
				t.Fatalf("FindRoot: %v", err)
			}
			want := Root{Dir: filepath.Join(base, tt.wantDir), Marker: tt.marker, IsIrisProject: tt.wantIris}
			if got != want {
				t.Errorf("FindRoot(%s)\n got %+v\nwant %+v", tt.start, got, want)
			}
		})
	}
}

// TestWalkStop: why the walk does not enter a folder, for each reason.
func TestWalkStop(t *testing.T) {
	base := tempDir(t)
	home := filepath.Join(base, "home")
	writeTree(t, base, map[string]string{"home/": "", "mine/": "", "open/": "", "sticky/": "", "team/": "", "other/": ""})
	t.Setenv("HOME", home)
	for dir, mode := range map[string]os.FileMode{"open": 0o777, "sticky": 0o1777, "team": 0o770} {
		if err := os.Chmod(filepath.Join(base, dir), mode); err != nil {
			t.Fatal(err)
		}
	}
	otherWant := StopNotOwned
	if os.Geteuid() == 0 {
		if err := os.Chown(filepath.Join(base, "other"), foreignUID, foreignUID); err != nil {
			t.Fatal(err)
		}
	} else {
		otherWant = StopNone // cannot be given away without root; folderStop is checked below
	}
	tests := []struct {
		dir  string
		want WalkStop
	}{
		{"/", StopFilesystemRoot},
		{home, StopHome},
		{base, StopHome}, // holds $HOME
		{filepath.Join(base, "mine"), StopNone},
		{filepath.Join(base, "team"), StopNone},
		{filepath.Join(base, "open"), StopWritableByOthers},
		{filepath.Join(base, "sticky"), StopWritableByOthers},
		{filepath.Join(base, "other"), otherWant},
		{filepath.Join(base, "missing"), StopUnreadable},
	}
	for _, tt := range tests {
		if got := walkStopOf(tt.dir); got != tt.want {
			t.Errorf("walkStopOf(%s) = %q, want %q", tt.dir, got, tt.want)
		}
	}
	// Owners: a folder of another (non-root) user stops the walk, one of root does not.
	mine := filepath.Join(base, "mine")
	if got := folderStop(mine, os.Geteuid()); got != StopNone {
		t.Errorf("folderStop(own folder) = %q, want none", got)
	}
	if os.Geteuid() == 0 {
		if got := folderStop(mine, 1000); got != StopNone {
			t.Errorf("folderStop(root's folder, as user 1000) = %q, want none (root's folders are trusted)", got)
		}
	} else if got := folderStop(mine, os.Geteuid()+1); got != StopNotOwned {
		t.Errorf("folderStop(another user's folder) = %q, want %q", got, StopNotOwned)
	}
}

// TestCheckProjectKey: a registry key the walk no longer reaches is reported, with why.
func TestCheckProjectKey(t *testing.T) {
	base := tempDir(t)
	home := filepath.Join(base, "home")
	writeTree(t, base, map[string]string{
		"home/.env": "IRIS_PASSWORD=x\n", "home/src/app/.git/": "",
		"shared/module.xml": "<Export/>", "other/": "",
		"mono/.iris-helper.json": "{}", "mono/svc/": "",
		"plain/.git/": "", "plain/module.xml": "<Export/>",
	})
	t.Setenv("HOME", home)
	if err := os.Chmod(filepath.Join(base, "shared"), 0o777); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key    string
		want   KeyNote
		wantOK bool
	}{
		{home, KeyNote{Project: home, Stop: StopHome}, true},
		{filepath.Join(base, "shared"), KeyNote{Project: filepath.Join(base, "shared"), Stop: StopWritableByOthers}, true},
		{"/", KeyNote{Project: "/", Stop: StopFilesystemRoot}, true},
		{filepath.Join(base, "mono", "svc"), KeyNote{Project: filepath.Join(base, "mono", "svc"), ResolvesTo: filepath.Join(base, "mono")}, true},
		{filepath.Join(home, "src", "app"), KeyNote{}, false},
		{filepath.Join(base, "plain"), KeyNote{}, false},
		{filepath.Join(base, "gone"), KeyNote{}, false}, // stale: the registry says so
		{"relative/key", KeyNote{}, false},
	}
	if os.Geteuid() == 0 {
		other := filepath.Join(base, "other")
		if err := os.Chown(other, foreignUID, foreignUID); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct {
			key    string
			want   KeyNote
			wantOK bool
		}{other, KeyNote{Project: other, Stop: StopNotOwned}, true})
	}
	for _, tt := range tests {
		got, ok := CheckProjectKey(tt.key)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("CheckProjectKey(%s) = %+v, %v; want %+v, %v", tt.key, got, ok, tt.want, tt.wantOK)
		}
	}
}
