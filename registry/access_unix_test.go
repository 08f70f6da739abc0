//go:build unix

package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// Port bases of the access tests (registry band).
const (
	baseAccess     = 20580
	baseHome       = 20620
	baseLockLink   = 20660
	baseLockPerm   = 20680
	baseWritePerm  = 20700
	baseAccessKind = 20720
)

// otherUID is the user the permission tests run the registry as when the tests run as root:
// nobody, so that a file root wrote (after `sudo -E`) really is unreadable for it.
const otherUID = 65534

// sharedDir is a folder other users can traverse (t.TempDir's parents are 0700).
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "registry-access-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// asUser runs one registry operation (childOp) in a child process under uid (root only), with
// IRIS_HELPER_HOME=home and the given band.
func asUser(t *testing.T, uid int, home string, ss, web Range, op string, projects ...string) opResult {
	t.Helper()
	// The test binary lives in a 0700 folder of root's: run a copy other users may execute.
	bin := filepath.Join(sharedDir(t), "registry.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), childEnv+"=op", childOpEnv+"="+op, EnvHome+"="+home,
		EnvSuperserverRange+"="+ss.String(), EnvWebRange+"="+web.String(), EnvExtraRange+"="+childExtra.String(), childProjectsEnv+"="+envList(projects))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child as uid %d: %v\n%s", uid, err, stderr.String())
	}
	var res opResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("child output %q: %v\n%s", out, err, stderr.String())
	}
	return res
}

// snapshot is every file of a folder (name -> mode and content), to show that nothing was moved aside.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		content := ""
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			switch {
			case errors.Is(err, fs.ErrPermission):
				content = "(unreadable)" // its mode and size still show a change
				b = []byte(fmt.Sprint(fi.Size(), fi.ModTime().UnixNano()))
			case err != nil:
				t.Fatal(err)
			}
			content += string(b)
		}
		m[e.Name()] = fmt.Sprintf("%v %q", fi.Mode(), content)
	}
	return m
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("the home changed:\nbefore %v\nafter  %v", before, after)
	}
}

func registryJSON(t *testing.T, dir string, ss, web Range) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"version":1,"assignments":[{"project":%q,"slot":0,"superserverPort":%d,"webPort":%d,"type":"auto","status":"idle","container":"","engine":"","assignedAt":"2026-01-01T00:00:00Z","lastUsedAt":"2026-01-01T00:00:00Z"}]}`,
		dir, ss.Lo, web.Lo)
}

// Rule 6, reproduction: registry.json owned by root with mode 0600 (written under `sudo -E`); a
// plain user's `ports list` moved it aside as corrupt and every project lost its ports. Now the
// read error is reported with the fix and nothing is moved. As root the plain user is a child
// process running as nobody; as a plain user the file is made unreadable with chmod 000.
func TestRootsRegistryFileIsReportedNotMovedAside(t *testing.T) {
	t.Parallel()
	ss, web := band(baseAccess, 3)
	base := sharedDir(t)
	home := filepath.Join(base, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, FileName)
	content := registryJSON(t, filepath.Join(base, "proj"), ss, web)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	writeAs(t, filepath.Join(home, LockFileName), "", 0o600, os.Geteuid()) // as an earlier run left it
	var got opResult
	var want string
	if os.Geteuid() == 0 {
		mustChown(t, home, otherUID)
		mustChown(t, filepath.Join(home, LockFileName), otherUID)
		before := snapshot(t, home)
		for _, op := range []string{"list", "assign"} {
			got = asUser(t, otherUID, home, ss, web, op, filepath.Join(base, "proj"))
			want = fmt.Sprintf("cannot read the port registry %s: permission denied; it was left as it is; "+
				"run 'sudo chown %s %s' and try again", path, nameOr(userName(otherUID), otherUID), path)
			if op == "list" {
				want = "read port registry: " + want
			} else {
				want = fmt.Sprintf("assign ports for %s: %s", filepath.Join(base, "proj"), want)
			}
			if got.Error != want || got.Type != "*registry.AccessError" {
				t.Fatalf("%s as nobody:\n got %q (%s)\nwant %q", op, got.Error, got.Type, want)
			}
		}
		sameSnapshot(t, before, snapshot(t, home))
		return
	}
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, home)
	r, err := Open(Options{Home: home, Superserver: &ss, Web: &web})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.List(ctxT(t))
	want = fmt.Sprintf("read port registry: cannot read the port registry %s: permission denied; it was left as it is; "+
		"run 'chmod u+rw %s' and try again", path, path)
	var ae *AccessError
	if err == nil {
		t.Fatalf("List: no error, want %s", want)
	}
	rpctest.Must(t, "List", rpctest.Want("message", err.Error(), want), rpctest.Want("is an *AccessError", errors.As(err, &ae), true),
		rpctest.Want("is fs.ErrPermission", errors.Is(err, fs.ErrPermission), true))
	sameSnapshot(t, before, snapshot(t, home))
}

// Rule 6 and rule 12: every way registry.json (or registry.lock, or the home) can be unreadable or
// unwritable gets an *AccessError that says what to do, and nothing is moved aside.
func TestAccessProblemsSayWhatToDo(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Log("not root: the cases that need a second user run in TestRootsRegistryFileIsReportedNotMovedAside's chmod form only")
	}
	me := nameOr(userName(otherUID), otherUID)
	cases := []struct {
		name   string
		base   int
		asRoot bool // needs a second user (a child process as nobody)
		// setup prepares home (which exists, 0700, owned by the user that runs the op)
		setup func(t *testing.T, home string, ss, web Range)
		op    string
		want  func(home string) string
	}{
		{name: "registry.json is a directory", base: baseAccessKind, op: "list",
			setup: func(t *testing.T, home string, _, _ Range) { mustMkdir(t, filepath.Join(home, FileName)) },
			want: func(home string) string {
				return "read port registry: cannot read the port registry " + filepath.Join(home, FileName) +
					": it is a directory, not a file; it was left as it is; remove the directory and try again"
			}},
		{name: "registry.json is a FIFO", base: baseAccessKind + 3, op: "list",
			setup: func(t *testing.T, home string, _, _ Range) {
				if err := syscall.Mkfifo(filepath.Join(home, FileName), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: func(home string) string {
				return "read port registry: cannot read the port registry " + filepath.Join(home, FileName) +
					": it is a FIFO (named pipe), not a file; it was left as it is; remove it and try again"
			}},
		{name: "registry.lock is a directory", base: baseAccessKind + 6, op: "assign",
			setup: func(t *testing.T, home string, _, _ Range) { mustMkdir(t, filepath.Join(home, LockFileName)) },
			want: func(home string) string {
				return "assign ports for " + filepath.Join(filepath.Dir(home), "proj") + ": cannot open the registry lock " +
					filepath.Join(home, LockFileName) + ": it is a directory, not a file; remove the directory and try again"
			}},
		{name: "the home root created under sudo is not readable", base: baseAccessKind + 9, op: "list", asRoot: true,
			setup: func(t *testing.T, home string, ss, web Range) {
				writeAs(t, filepath.Join(home, FileName), registryJSON(t, filepath.Join(filepath.Dir(home), "proj"), ss, web), 0o600, 0)
				mustChown(t, home, 0)
			},
			want: func(home string) string {
				return "read port registry: cannot read the port registry " + filepath.Join(home, FileName) +
					": permission denied; it was left as it is; run 'sudo chown -R " + me + " " + home + "' and try again"
			}},
		{name: "registry.lock of root's (rule 12)", base: baseLockPerm, op: "assign", asRoot: true,
			setup: func(t *testing.T, home string, ss, web Range) {
				writeAs(t, filepath.Join(home, FileName), `{"version":1,"assignments":[]}`, 0o644, otherUID)
				writeAs(t, filepath.Join(home, LockFileName), "", 0o600, 0)
			},
			want: func(home string) string {
				return "assign ports for " + filepath.Join(filepath.Dir(home), "proj") + ": cannot open the registry lock " +
					filepath.Join(home, LockFileName) + ": permission denied; run 'sudo chown " + me + " " +
					filepath.Join(home, LockFileName) + "' and try again"
			}},
		{name: "a home of root's that the user may read but not write", base: baseWritePerm, op: "assign", asRoot: true,
			setup: func(t *testing.T, home string, ss, web Range) {
				// registry.json without the project, so that assign must write
				writeAs(t, filepath.Join(home, FileName), `{"version":1,"assignments":[]}`, 0o644, 0)
				writeAs(t, filepath.Join(home, LockFileName), "", 0o644, 0)
				mustChown(t, home, 0)
				if err := os.Chmod(home, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: func(home string) string {
				return "assign ports for " + filepath.Join(filepath.Dir(home), "proj") + ": cannot write the port registry in " +
					home + ": permission denied; run 'sudo chown -R " + me + " " + home + "' and try again"
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.asRoot && os.Geteuid() != 0 {
				return // needs a second user: see the note above
			}
			ss, web := band(tc.base, 3)
			base := sharedDir(t)
			home := filepath.Join(base, "home")
			mustMkdir(t, home)
			proj := filepath.Join(base, "proj")
			mustMkdir(t, proj)
			if tc.asRoot {
				mustChown(t, home, otherUID)
			}
			tc.setup(t, home, ss, web)
			before := snapshot(t, home)
			want := tc.want(home)
			var got, typ string
			if tc.asRoot {
				res := asUser(t, otherUID, home, ss, web, tc.op, proj)
				got, typ = res.Error, res.Type
			} else {
				r, err := Open(Options{Home: home, Superserver: &ss, Web: &web})
				if err != nil {
					t.Fatal(err)
				}
				switch tc.op {
				case "list":
					_, err = r.List(ctxT(t))
				case "assign":
					_, err = r.Assign(ctxT(t), proj, Preferred{})
				}
				if err != nil {
					got, typ = err.Error(), errorType(err)
				}
			}
			if got != want || typ != "*registry.AccessError" {
				t.Fatalf("\n got %q (%s)\nwant %q", got, typ, want)
			}
			sameSnapshot(t, before, snapshot(t, home))
		})
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func mustChown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func writeAs(t *testing.T, path, content string, mode os.FileMode, uid int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	mustChown(t, path, uid)
}

// Rule 7: the registry home must be owned by the effective user or root and not writable by group
// or others; the error gives the exact chmod/chown.
func TestHomeMustBeTheUsers(t *testing.T) {
	t.Parallel()
	euid := os.Geteuid()
	cases := []struct {
		name  string
		mode  os.FileMode
		owner int // -1: the effective user
		want  string
	}{
		{"0700", 0o700, -1, ""},
		{"0755", 0o755, -1, ""},
		{"0750", 0o750, -1, ""},
		{"owned by root", 0o755, 0, ""},
		{"0777", 0o777, -1, "registry home %[1]s is writable by its group and others (mode drwxrwxrwx): another user could plant files in it " +
			"that iris-helper would trust; run 'chmod go-w %[1]s' and try again, or set IRIS_HELPER_HOME to a folder of your own"},
		{"0770", 0o770, -1, "registry home %[1]s is writable by its group (mode drwxrwx---): another user could plant files in it " +
			"that iris-helper would trust; run 'chmod go-w %[1]s' and try again, or set IRIS_HELPER_HOME to a folder of your own"},
		{"0703", 0o703, -1, "registry home %[1]s is writable by others (mode drwx----wx): another user could plant files in it " +
			"that iris-helper would trust; run 'chmod go-w %[1]s' and try again, or set IRIS_HELPER_HOME to a folder of your own"},
		{"1777 like /tmp", 0o777 | os.ModeSticky, -1, "registry home %[1]s is writable by its group and others (mode dtrwxrwxrwx): another user could plant files in it " +
			"that iris-helper would trust; run 'chmod go-w %[1]s' and try again, or set IRIS_HELPER_HOME to a folder of your own"},
	}
	if euid == 0 {
		nobody := nameOr(userName(otherUID), otherUID)
		cases = append(cases,
			struct {
				name  string
				mode  os.FileMode
				owner int
				want  string
			}{"owned by another user", 0o700, otherUID, "registry home %[1]s is owned by " + nobody + " (uid 65534), not by root: " +
				"another user could plant files in it that iris-helper would trust; run iris-helper as " + nobody + " instead (not with sudo -E), " +
				"or run 'chown root %[1]s' and try again, or set IRIS_HELPER_HOME to a folder of your own"},
			struct {
				name  string
				mode  os.FileMode
				owner int
				want  string
			}{"another user's and writable", 0o777, otherUID, "registry home %[1]s is owned by " + nobody + " (uid 65534), not by root " +
				"and is writable by its group and others (mode drwxrwxrwx): another user could plant files in it that iris-helper " +
				"would trust; run iris-helper as " + nobody + " instead (not with sudo -E), or run 'chown root %[1]s' and " +
				"'chmod go-w %[1]s' and try again, or set IRIS_HELPER_HOME to a folder of your own"},
		)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ss, web := band(baseHome+2*i, 2)
			home := filepath.Join(t.TempDir(), "home")
			mustMkdir(t, home)
			if err := os.Chmod(home, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner >= 0 {
				if euid != 0 && tc.owner != euid {
					return // only root can give a folder away; the plain user's messages are in TestHomeErrorText
				}
				mustChown(t, home, tc.owner)
			}
			before := snapshot(t, home)
			_, err := Open(Options{Home: home, Superserver: &ss, Web: &web})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				return
			}
			want := fmt.Sprintf(tc.want, home)
			var he *HomeError
			if err == nil {
				t.Fatalf("Open: no error, want %s", want)
			}
			rpctest.Must(t, "Open", rpctest.Want("message", err.Error(), want), rpctest.Want("is a *HomeError", errors.As(err, &he), true))
			sameSnapshot(t, before, snapshot(t, home))
		})
	}
}

// The HomeError a plain user sees (the effective user is not root).
func TestHomeErrorText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		e    HomeError
		want string
	}{
		{HomeError{Path: "/srv/shared", Mode: fs.ModeDir | 0o700, OwnerUID: 1001, Owner: "bob", UID: 1000, User: "ann"},
			"registry home /srv/shared is owned by bob (uid 1001), not by you (ann) or root: another user could plant files in it " +
				"that iris-helper would trust; run 'sudo chown ann /srv/shared' and try again, or set IRIS_HELPER_HOME to a folder of your own"},
		{HomeError{Path: "/srv/my share", Mode: fs.ModeDir | 0o775, OwnerUID: 1001, UID: 1000},
			"registry home /srv/my share is owned by uid 1001, not by you (1000) or root and is writable by its group (mode drwxrwxr-x): " +
				"another user could plant files in it that iris-helper would trust; run 'sudo chown 1000 '/srv/my share'' and " +
				"'chmod go-w '/srv/my share'' and try again, or set IRIS_HELPER_HOME to a folder of your own"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("\n got %q\nwant %q", got, tc.want)
		}
	}
}

// Rule 7, reproduction: `mkdir -m 0777 shared`; another user plants shared/registry.lock -> /some/path;
// root's `IRIS_HELPER_HOME=shared iris-helper ports assign p` created /some/path. Now the home is
// refused (it is writable by others), and in a home that passes the check a planted link is not
// followed (O_NOFOLLOW). Each defence is tested on its own.
func TestPlantedLockLinkIsNotFollowed(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		name string
		mode os.FileMode
		want string
	}{
		{"shared 0777 home", 0o777, "registry home %[1]s is writable by its group and others (mode drwxrwxrwx): another user could plant " +
			"files in it that iris-helper would trust; run 'chmod go-w %[1]s' and try again, or set IRIS_HELPER_HOME to a folder of your own"},
		{"the user's own home", 0o700, "assign ports for %[2]s: cannot open the registry lock %[1]s/registry.lock: it is a symbolic " +
			"link, which iris-helper does not follow; remove the link and try again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss, web := band(baseLockLink+3*i, 3)
			dir := t.TempDir()
			home := filepath.Join(dir, "shared")
			mustMkdir(t, home)
			if err := os.Chmod(home, tc.mode); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(dir, "some", "path")
			mustMkdir(t, filepath.Dir(target))
			if err := os.Symlink(target, filepath.Join(home, LockFileName)); err != nil {
				t.Fatal(err)
			}
			p := project(t, "p")
			want := fmt.Sprintf(tc.want, home, p)
			r, err := Open(Options{Home: home, Superserver: &ss, Web: &web})
			if err == nil {
				_, err = r.Assign(ctxT(t), p, Preferred{})
			}
			if err == nil || err.Error() != want {
				t.Fatalf("\n got %v\nwant %s", err, want)
			}
			if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("the link's target was created: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(home, FileName)); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("registry.json was written: %v", err)
			}
		})
	}
}

// A home the registry creates is 0700 whatever the umask lets through; an existing one is checked, not changed.
func TestCreatedHomeIs0700(t *testing.T) {
	t.Parallel()
	ss, web := band(baseHome+40, 2)
	home := filepath.Join(t.TempDir(), "a", "b", "home")
	if _, err := Open(Options{Home: home, Superserver: &ss, Web: &web}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(home)
	if err != nil || fi.Mode() != fs.ModeDir|0o700 {
		t.Fatalf("created home: %v, %v", fi.Mode(), err)
	}
	// not a folder
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(Options{Home: file, Superserver: &ss, Web: &web})
	if want := "registry home " + file + " is not a folder; remove it or set IRIS_HELPER_HOME to a folder"; err == nil || err.Error() != want {
		t.Fatalf("\n got %v\nwant %s", err, want)
	}
	if !strings.HasPrefix(home, "/") {
		t.Fatal(home)
	}
}
