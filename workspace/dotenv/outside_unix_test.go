//go:build unix

package dotenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/projfile"
	"github.com/iris-helper/iris-helper/workspace/sandboxtest"
	"github.com/iris-helper/iris-helper/workspace/workspacetest"
)

// hostile is a project folder next to a sandbox that stands for everything outside it: the
// user's files (.profile, a hard-linked env file), IRIS_HELPER_HOME and a device node. Every
// hostile case must leave the sandbox byte for byte as it was (issue 10, rule 1).
type hostile struct {
	proj, sandbox, home string
	device              string // a character device (root) or a FIFO (otherwise): not a regular file
	snap                sandboxtest.Snapshot
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	base := workspacetest.TempDir(t)
	h := &hostile{proj: filepath.Join(base, "proj"), sandbox: filepath.Join(base, "sandbox")}
	h.home = filepath.Join(h.sandbox, "home")
	writeTree(t, base, map[string]string{
		"proj/":                      "",
		"proj/sub/":                  "",
		"sandbox/outside.env":        "SECRET=s3cret\nIRIS_PORT=1\n",
		"sandbox/.profile":           "export PATH=$HOME/bin:$PATH\n",
		"sandbox/single.env":         "IRIS_PORT=1\n",
		"sandbox/home/registry.json": "{\"version\": 1, \"assignments\": []}\n",
		"sandbox/newdir/":            "",
	})
	if err := os.Link(filepath.Join(h.sandbox, "outside.env"), filepath.Join(h.sandbox, "outside-hardlink.env")); err != nil {
		t.Fatal(err)
	}
	h.device = filepath.Join(h.sandbox, "null")
	// A copy of /dev/null (major 1, minor 3) when allowed to make one; a FIFO is not a regular file either.
	if err := syscall.Mknod(h.device, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		if err := syscall.Mkfifo(h.device, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	h.snap = sandboxtest.Take(t, h.sandbox)
	return h
}

func (h *hostile) link(t *testing.T, name, target string) string {
	t.Helper()
	p := filepath.Join(h.proj, name)
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// hostileCase is one way a project may point its .env outside itself.
type hostileCase struct {
	name string
	// setup returns the .env path (as cfg.EnvPath gives it) and the message of the refusal.
	setup func(t *testing.T, h *hostile) (path, want string)
}

// envPathIn is the .env path that env.file names in project folder proj.
func envPathIn(proj, file string) string {
	if filepath.IsAbs(file) {
		return filepath.Clean(file)
	}
	return filepath.Join(proj, file)
}

func outsideMsg(path, resolved, root string) string {
	where := path + " leads to " + resolved + ","
	if path == resolved {
		where = path + " is"
	}
	return where + " outside the project folder " + root + ": iris-helper writes a .env there only when the user allows it"
}

func danglingMsg(path, resolved, root string) string {
	return path + " leads to " + resolved + ", which does not exist and lies outside the project folder " + root +
		"; iris-helper never creates a file outside the project through a link (create the file yourself, or remove the link)"
}

var hostileCases = []hostileCase{
	{"env.file ../outside.env", func(t *testing.T, h *hostile) (string, string) {
		p := envPathIn(h.proj, "../sandbox/outside.env")
		return p, outsideMsg(p, p, h.proj)
	}},
	{"absolute env.file ~/.profile", func(t *testing.T, h *hostile) (string, string) {
		p := envPathIn(h.proj, filepath.Join(h.sandbox, ".profile"))
		return p, outsideMsg(p, p, h.proj)
	}},
	{".env links to ~/.profile", func(t *testing.T, h *hostile) (string, string) {
		p := h.link(t, ".env", "../sandbox/.profile")
		return p, outsideMsg(p, filepath.Join(h.sandbox, ".profile"), h.proj)
	}},
	{".env links through a link in the project", func(t *testing.T, h *hostile) (string, string) {
		h.link(t, "sub/inner", "../../sandbox/outside.env")
		p := h.link(t, ".env", "sub/inner")
		return p, outsideMsg(p, filepath.Join(h.sandbox, "outside.env"), h.proj)
	}},
	{"env.file through a folder link", func(t *testing.T, h *hostile) (string, string) {
		h.link(t, "conf", "../sandbox")
		p := envPathIn(h.proj, "conf/single.env")
		return p, outsideMsg(p, filepath.Join(h.sandbox, "single.env"), h.proj)
	}},
	{"env.file names IRIS_HELPER_HOME/registry.json", func(t *testing.T, h *hostile) (string, string) {
		p := envPathIn(h.proj, filepath.Join(h.home, "registry.json"))
		return p, p + " is inside IRIS_HELPER_HOME (" + h.home + "): iris-helper writes a .env there only when the user allows it"
	}},
	{".env links to a device (/dev/null)", func(t *testing.T, h *hostile) (string, string) {
		p := h.link(t, ".env", h.device)
		return p, outsideMsg(p, h.device, h.proj)
	}},
	{"env.file names a device", func(t *testing.T, h *hostile) (string, string) {
		p := envPathIn(h.proj, h.device)
		return p, outsideMsg(p, p, h.proj)
	}},
	{"dangling .env link out of the project", func(t *testing.T, h *hostile) (string, string) {
		p := h.link(t, ".env", "../sandbox/newdir/new.env")
		return p, danglingMsg(p, filepath.Join(h.sandbox, "newdir", "new.env"), h.proj)
	}},
}

// TestSyncEnvOutsideTheProject: a .env that resolves outside the project, or into
// IRIS_HELPER_HOME, is refused with the resolved path and the knob; nothing outside changes.
// (On 351c042 env sync rewrote ~/.profile, broke a hard link, corrupted the registry and
// replaced /dev/null by a regular file.)
func TestSyncEnvOutsideTheProject(t *testing.T) {
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostile(t)
			path, want := tc.setup(t, h)
			scope := Scope{Root: h.proj, Home: h.home}
			if _, err := Check(scope, path, SyncTrue); errString(err) != want {
				t.Errorf("Check:\n got: %s\nwant: %s", errString(err), want)
			}
			for _, mode := range []SyncMode{SyncTrue, SyncAuto} {
				res, err := Sync(scope, path, mode, Names{}, testPorts)
				var out *OutsideProjectError
				if !errors.As(err, &out) {
					t.Fatalf("sync %s: %+v, %v; want *OutsideProjectError", mode, res, err)
				}
				if mode == SyncTrue {
					if errString(err) != want {
						t.Errorf("sync true:\n got: %s\nwant: %s", errString(err), want)
					}
					if out.Allowable() == out.Dangling {
						t.Errorf("Allowable() = %v for a dangling link %v: the user may allow any file but a dangling link's target", out.Allowable(), out.Dangling)
					}
				}
				if _, err := Plan(scope, path, mode, Names{}, testPorts); !errors.As(err, &out) {
					t.Errorf("dry run %s: %v, want the refusal", mode, err)
				}
			}
			h.snap.AssertUnchanged(t)
		})
	}
}

// With the user's knob the file outside is written, except what is never written: a dangling
// link's target outside, a device, a file with other hard links.
func TestSyncEnvOutsideTheProjectAllowed(t *testing.T) {
	h := newHostile(t)
	allow := Scope{Root: h.proj, Home: h.home, AllowOutside: true}
	fi, err := os.Lstat(h.device)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, target string
		want         func(p string) string
	}{
		{"a device is never replaced", h.device, func(p string) string {
			return p + " leads to " + h.device + ", " + projfile.Describe(fi.Mode().Type()) + ", not a regular file; iris-helper keeps the ports only in a regular file and replaces nothing else " +
				"(move it away, or name another file in .iris-helper.json \"env\": {\"file\"}, or set \"env\": {\"sync\": false})"
		}},
		{"another hard link is never broken", filepath.Join(h.sandbox, "outside.env"), func(p string) string {
			return p + " was not updated: " + filepath.Join(h.sandbox, "outside.env") +
				" has 2 hard links, and replacing it would leave the other names with the old content (make it a single file, or set the ports yourself)"
		}},
		{"a dangling link is never followed out", filepath.Join(h.sandbox, "newdir", "new.env"), func(p string) string {
			return danglingMsg(p, filepath.Join(h.sandbox, "newdir", "new.env"), h.proj)
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := h.link(t, fmt.Sprintf("link%d.env", i), tc.target)
			_, err := Sync(allow, p, SyncTrue, Names{}, testPorts)
			if got := errString(err); got != tc.want(p) {
				t.Errorf("\n got: %s\nwant: %s", got, tc.want(p))
			}
			h.snap.AssertUnchanged(t)
		})
	}
	// The knob allows what it names: a single regular file outside is updated in place.
	p := h.link(t, ".env", "../sandbox/single.env")
	res, err := Sync(allow, p, SyncAuto, Names{}, testPorts)
	if err != nil {
		t.Fatalf("allowed sync: %v", err)
	}
	rpctest.Must(t, "allowed sync", rpctest.Want("written", res.Written, true), rpctest.Want("target", res.Target, filepath.Join(h.sandbox, "single.env")))
	if b, _ := os.ReadFile(filepath.Join(h.sandbox, "single.env")); !strings.HasPrefix(string(b), "IRIS_PORT=31001\n") {
		t.Errorf("allowed target: %q", b)
	}
}

// The watcher refuses the same files at start (nothing is watched) and when the link is turned
// outside while it runs; the sandbox stays as it was.
func TestEnvWatcherOutsideTheProject(t *testing.T) {
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostile(t)
			path, want := tc.setup(t, h)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w, err := NewWatcher(ctx, WatcherOptions{Path: path, Mode: SyncTrue, Ports: testPorts,
				Scope: Scope{Root: h.proj, Home: h.home}})
			if err == nil {
				w.Close()
			}
			if errString(err) != want {
				t.Errorf("NewWatcher:\n got: %s\nwant: %s", errString(err), want)
			}
			h.snap.AssertUnchanged(t)
		})
	}
	t.Run("link turned outside while watching", func(t *testing.T) {
		h := newHostile(t)
		path := filepath.Join(h.proj, ".env")
		writeTree(t, h.proj, map[string]string{".env": "IRIS_PORT=1\n"})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events := make(chan Event, 100)
		w, err := NewWatcher(ctx, WatcherOptions{Path: path, Mode: SyncTrue, Ports: testPorts,
			Scope: Scope{Root: h.proj, Home: h.home}, OnEvent: func(e Event) { events <- e }})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if e := <-events; e.Kind != EventSynced {
			t.Fatalf("first event %+v", e)
		}
		tmp := filepath.Join(h.proj, "tmp-link")
		if err := os.Symlink("../sandbox/.profile", tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil { // an atomic swap, as a save would
			t.Fatal(err)
		}
		e := waitEvent(t, events, EventError)
		if want := outsideMsg(path, filepath.Join(h.sandbox, ".profile"), h.proj); e.Message != want {
			t.Errorf("event:\n got: %s\nwant: %s", e.Message, want)
		}
		h.snap.AssertUnchanged(t)
	})
}

func waitEvent(t *testing.T, events <-chan Event, kind EventKind) Event {
	t.Helper()
	timeout := time.After(watchDeadline)
	for {
		select {
		case e := <-events:
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event within %v", kind, watchDeadline)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
