//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/sandboxtest"
)

// cliHostile is a project next to a sandbox standing for the rest of the machine, with
// IRIS_HELPER_HOME inside the sandbox. Ports 32210-32219 / 32260-32269.
type cliHostile struct {
	proj, sandbox, home string
	reg                 *registry.Registry
}

func newCLIHostile(t *testing.T) *cliHostile {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := &cliHostile{proj: filepath.Join(base, "proj"), sandbox: filepath.Join(base, "sandbox")}
	h.home = filepath.Join(h.sandbox, "home")
	for name, content := range map[string]string{
		"proj/module.xml":     "<Export/>",
		"sandbox/outside.env": "SECRET=s3cret\nIRIS_PORT=1\n",
		"sandbox/.profile":    "export PATH=$HOME/bin:$PATH\n",
		"sandbox/single.env":  "IRIS_PORT=1\n",
	} {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(h.sandbox, "outside.env"), filepath.Join(h.sandbox, "outside-hardlink.env")); err != nil {
		t.Fatal(err)
	}
	t.Setenv(registry.EnvHome, h.home)
	t.Setenv(registry.EnvSuperserverRange, "32210-32219")
	t.Setenv(registry.EnvWebRange, "32260-32269")
	t.Setenv("IRIS_HELPER_ALLOW_ENV_OUTSIDE_PROJECT", "")
	if h.reg, err = registry.Open(registry.Options{}); err != nil { // creates the home and registry.json
		t.Fatal(err)
	}
	return h
}

func (h *cliHostile) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.proj, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (h *cliHostile) assertNoPorts(t *testing.T) {
	t.Helper()
	if a, ok, err := h.reg.Get(context.Background(), h.proj); err != nil || ok {
		t.Errorf("ports assigned before the .env was refused: %+v %v", a, err)
	}
}

// TestEnvCommandsRefuseAFileOutsideTheProject: `env sync`, `env sync --dry-run` and `env watch`
// exit 1 for a .env outside the project or in IRIS_HELPER_HOME, name the resolved path and the
// knob, say how to allow it, assign no ports and change nothing outside (351c042 rewrote
// ../outside.env and ~/.profile, broke the hard link and corrupted registry.json).
func TestEnvCommandsRefuseAFileOutsideTheProject(t *testing.T) {
	remedy := func(home string) string {
		return "To allow it, pass --allow-env-outside-project, or set IRIS_HELPER_ALLOW_ENV_OUTSIDE_PROJECT=1, or put \"allowEnvFileOutsideProject\": true in " +
			filepath.Join(home, "config.json") + ".\n"
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, h *cliHostile) (resolved string, inHome bool)
	}{
		{"env.file ../outside.env", func(t *testing.T, h *cliHostile) (string, bool) {
			h.write(t, ".iris-helper.json", `{"env": {"file": "../sandbox/outside.env", "sync": true}}`)
			return filepath.Join(h.sandbox, "outside.env"), false
		}},
		{"absolute env.file ~/.profile", func(t *testing.T, h *cliHostile) (string, bool) {
			h.write(t, ".iris-helper.json", `{"env": {"file": "`+filepath.Join(h.sandbox, ".profile")+`"}}`)
			return filepath.Join(h.sandbox, ".profile"), false
		}},
		{"env.file names the registry", func(t *testing.T, h *cliHostile) (string, bool) {
			h.write(t, ".iris-helper.json", `{"env": {"file": "`+filepath.Join(h.home, "registry.json")+`"}}`)
			return filepath.Join(h.home, "registry.json"), true
		}},
		{".env links to ~/.profile", func(t *testing.T, h *cliHostile) (string, bool) {
			if err := os.Symlink("../sandbox/.profile", filepath.Join(h.proj, ".env")); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(h.sandbox, ".profile"), false
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newCLIHostile(t)
			resolved, inHome := tt.setup(t, h)
			path := filepath.Join(h.proj, ".env")
			if _, err := os.Lstat(path); err != nil {
				path = resolved // env.file names the file itself
			}
			snap := sandboxtest.Take(t, h.sandbox)
			where := path + " leads to " + resolved + ","
			if path == resolved {
				where = path + " is"
			}
			place := "outside the project folder " + h.proj
			if inHome {
				place = "inside IRIS_HELPER_HOME (" + h.home + ")"
			}
			want := "iris-helper: " + where + " " + place + ": iris-helper writes a .env there only when the user allows it (allowEnvFileOutsideProject)\n" + remedy(h.home)
			for _, args := range [][]string{{"env", "sync", h.proj}, {"env", "sync", "--dry-run", h.proj}, {"env", "sync", "--json", h.proj}, {"env", "watch", h.proj}} {
				r := cli(t, args...)
				rpctest.Check(t, strings.Join(args, " "), rpctest.Want("exit", r.code, 1), rpctest.Want("stdout", r.stdout, ""), rpctest.Want("stderr", r.stderr, want))
			}
			h.assertNoPorts(t)
			snap.AssertUnchanged(t)
		})
	}
}

// The user's own choice lifts the refusal: the flag, the environment variable or config.json.
func TestEnvSyncOutsideTheProjectWhenTheUserAllowsIt(t *testing.T) {
	for _, how := range []string{"flag", "environment", "config.json", "not .iris-helper.json"} {
		t.Run(how, func(t *testing.T) {
			h := newCLIHostile(t)
			h.write(t, ".iris-helper.json", `{"env": {"file": "../sandbox/single.env"}}`)
			args := []string{"env", "sync", h.proj}
			switch how {
			case "flag":
				args = append(args, "--allow-env-outside-project")
			case "environment":
				t.Setenv("IRIS_HELPER_ALLOW_ENV_OUTSIDE_PROJECT", "1")
			case "config.json":
				if err := os.WriteFile(filepath.Join(h.home, "config.json"), []byte(`{"allowEnvFileOutsideProject": true}`), 0o644); err != nil {
					t.Fatal(err)
				}
			case "not .iris-helper.json": // a project file never allows it
				h.write(t, ".iris-helper.json", `{"env": {"file": "../sandbox/single.env"}, "allowEnvFileOutsideProject": true}`)
			}
			code, stdout, stderr := runCLI(t, args...)
			b, _ := os.ReadFile(filepath.Join(h.sandbox, "single.env"))
			if how == "not .iris-helper.json" {
				if code != 1 || string(b) != "IRIS_PORT=1\n" {
					t.Errorf("exit %d, %q: %s", code, b, stderr)
				}
				return
			}
			rpctest.Check(t, fmt.Sprintf("stdout %q, stderr %q", stdout, stderr), rpctest.Want("exit", code, 0))
			if !strings.HasPrefix(stdout, "updated "+filepath.Join(h.sandbox, "single.env")) || !strings.Contains(string(b), "IRIS_PORT=322") {
				t.Errorf("exit %d, stdout %q, stderr %q, file %q", code, stdout, stderr, b)
			}
		})
	}
}

// TestEnvSyncOfADirectory: a .env that is a directory is named once, with what to do, before any
// port is assigned (351c042: ports assigned, then "read …/.env: read …/.env: is a directory").
func TestEnvSyncOfADirectory(t *testing.T) {
	h := newCLIHostile(t)
	path := filepath.Join(h.proj, ".env")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	want := "iris-helper: " + path + " is a directory, not a regular file; iris-helper keeps the ports only in a regular file and replaces nothing else " +
		"(move it away, or name another file in .iris-helper.json \"env\": {\"file\"}, or set \"env\": {\"sync\": false})\n"
	for _, args := range [][]string{{"env", "sync", h.proj}, {"env", "sync", "--sync", "true", h.proj}, {"env", "watch", h.proj}} {
		r := cli(t, args...)
		rpctest.Check(t, strings.Join(args, " "), rpctest.Want("exit", r.code, 1), rpctest.Want("stdout", r.stdout, ""), rpctest.Want("stderr", r.stderr, want))
	}
	h.assertNoPorts(t)
}

// TestEnvSyncNeverOverwritesASecret: {"env": {"webPort": "DATABASE_URL"}} leaves the user's
// DATABASE_URL alone and exits 1 naming key and file (351c042 wrote the web port over it).
func TestEnvSyncNeverOverwritesASecret(t *testing.T) {
	h := newCLIHostile(t)
	h.write(t, ".iris-helper.json", `{"env": {"webPort": "DATABASE_URL"}}`)
	content := "DATABASE_URL=postgres://app:s3cret@db/app\nIRIS_PORT=1\n"
	h.write(t, ".env", content)
	path := filepath.Join(h.proj, ".env")
	code, stdout, stderr := runCLI(t, "env", "sync", h.proj)
	want := "iris-helper: " + path + ": DATABASE_URL (line 1) holds a value that is not a port number; env.webPort in .iris-helper.json names it, and iris-helper never overwrites such a value (set env.webPort to the key meant for the port, or give DATABASE_URL a port number)\n"
	rpctest.Check(t, "env sync", rpctest.Want("exit", code, 1), rpctest.Want("stdout", stdout, ""))
	if !strings.HasSuffix(stderr, want) {
		t.Errorf("exit %d, stdout %q, stderr\n got: %s\nwant: …%s", code, stdout, stderr, want)
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Errorf("the .env changed: %q", b)
	}
}

// TestEnvSyncTooLarge: a .env above 16 MiB is refused before any port is assigned.
func TestEnvSyncTooLarge(t *testing.T) {
	h := newCLIHostile(t)
	h.write(t, ".env", "")
	path := filepath.Join(h.proj, ".env")
	if err := os.Truncate(path, 200_000_000); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "env", "sync", h.proj)
	if want := "iris-helper: " + path + " is 190.7 MiB, more than the 16 MiB iris-helper reads\n"; code != 1 || stderr != want {
		t.Errorf("exit %d, stderr\n got: %s\nwant: %s", code, stderr, want)
	}
	h.assertNoPorts(t)
}
