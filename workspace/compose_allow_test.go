package workspace

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops/compose"
)

// configModel loads the project in root through the real `docker compose config --format json`
// (what compose sees), with HOME set to home for `~`.
func configModel(t *testing.T, root, home string) compose.Model {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "compose", "config", "--format", "json")
	cmd.Dir = root
	// The compose plugin lives in the user's ~/.docker/cli-plugins: keep finding it with HOME moved.
	realHome, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	dockerConfig := os.Getenv("DOCKER_CONFIG")
	if dockerConfig == "" {
		dockerConfig = filepath.Join(realHome, ".docker")
	}
	cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+dockerConfig, "COMPOSE_PROJECT_NAME=allowtest")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("docker compose config in %s: %v\n%s", root, err, ee.Stderr)
		}
		t.Fatalf("docker compose config in %s: %v", root, err)
	}
	m, err := compose.ParseConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// allowFixture is a project folder root (with a compose.yaml of the given text and the other files)
// beside a folder outside it (with its own files) and a home folder.
type allowFixture struct{ root, outside, home string }

func newAllowFixture(t *testing.T, composeYAML string, files, outsideFiles map[string]string, links map[string]string) allowFixture {
	t.Helper()
	base := t.TempDir()
	f := allowFixture{root: filepath.Join(base, "proj"), outside: filepath.Join(base, "outside"), home: filepath.Join(base, "home")}
	for _, d := range []string{f.root, f.outside, f.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(dir string, m map[string]string) {
		for name, text := range m {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(f.root, map[string]string{"compose.yaml": composeYAML})
	write(f.root, files)
	write(f.outside, outsideFiles)
	for name, target := range links {
		if err := os.Symlink(strings.ReplaceAll(target, "OUTSIDE", f.outside), filepath.Join(f.root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// texts are the items' texts with the fixture's folders named ROOT, OUTSIDE and HOME.
func (f allowFixture) texts(items []ConsentItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, f.scrub(it.Text))
	}
	return out
}

func (f allowFixture) scrub(s string) string {
	return strings.NewReplacer(f.root, "ROOT", f.outside, "OUTSIDE", f.home, "HOME").Replace(s)
}

func (f allowFixture) check(t *testing.T, choice ConsentChoice, home string) ([]ConsentItem, error) {
	t.Helper()
	m := configModel(t, f.root, f.home)
	return checkComposeModel(home, f.root, []string{filepath.Join(f.root, "compose.yaml")}, map[string]string{"HOME": f.home}, m, choice)
}

func TestComposeAllowList(t *testing.T) {
	cases := []struct {
		name         string
		compose      string
		files        map[string]string
		outsideFiles map[string]string
		links        map[string]string
		want         []string
		wantErr      string
	}{
		{name: "the template shape stays within the list",
			compose: `services:
  iris:
    build: {context: ., args: {IMAGE: intersystemsdc/iris-community}}
    env_file: .env
    ports: ["1972", "52773"]
    volumes: ["./:/home/irisowner/dev", "data:/durable"]
    restart: always
volumes:
  data: {}
secrets:
  key: {file: ./secrets/key.txt}
`,
			files: map[string]string{".env": "A=1\n", "Dockerfile": "FROM x\n", "secrets/key.txt": "k"},
			want:  []string{}},
		{name: "paths outside the project, also through a link planted in it",
			compose: `include: [../outside/extra.yml]
services:
  iris:
    image: i
    env_file: [../outside/app.env, {path: ./local.env, required: false}]
    extends: {file: ../outside/base.yml, service: base}
    build:
      context: ../outside
      additional_contexts: {shared: ../outside/shared, img: "docker-image://alpine"}
    volumes: ["../outside/data:/data", "./planted:/planted", "./inside:/inside", "nfs:/nfs"]
    secrets: [token]
volumes:
  nfs: {driver_opts: {type: nfs, o: "addr=10.0.0.1", device: ":/x"}}
secrets:
  token: {file: ../outside/token}
`,
			files:        map[string]string{"inside/keep": ""},
			outsideFiles: map[string]string{"app.env": "B=1\n", "base.yml": "services:\n  base:\n    image: b\n", "extra.yml": "services:\n  extra:\n    image: e\n", "data/x": "", "shared/x": "", "token": "t", "Dockerfile": "FROM x\n"},
			links:        map[string]string{"planted": "OUTSIDE/data"},
			want: []string{
				"the compose file includes OUTSIDE/extra.yml (outside the project)",
				"service iris extends a service of OUTSIDE/base.yml (outside the project)",
				"service iris reads the env file OUTSIDE/app.env (outside the project)",
				"service iris builds from OUTSIDE (outside the project)",
				"service iris builds with the additional context shared = OUTSIDE/shared (outside the project)",
				"service iris mounts OUTSIDE/data (outside the project)",
				"service iris mounts ROOT/planted, a link to OUTSIDE/data (outside the project)",
				"volume nfs sets driver options device=:/x, o=addr=10.0.0.1, type=nfs",
				"secret token is the file OUTSIDE/token (outside the project)",
			}},
		{name: "host access",
			compose: `services:
  other: {image: o}
  tools:
    image: t
    privileged: true
    cap_add: [SYS_PTRACE, NET_ADMIN]
    devices: ["/dev/null:/dev/null"]
    security_opt: ["seccomp:unconfined", "no-new-privileges:true"]
    network_mode: host
    pid: host
    ipc: "service:other"
    volumes_from: [other]
    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
`,
			want: []string{
				"service tools mounts the Docker socket /var/run/docker.sock (control of the Docker engine)",
				"service tools runs privileged",
				"service tools uses host devices",
				"service tools adds the capabilities NET_ADMIN, SYS_PTRACE",
				"service tools sets security_opt seccomp:unconfined",
				"service tools uses network_mode host",
				"service tools uses pid host",
				"service tools uses ipc service:other",
				"service tools mounts the volumes of other",
			}},
		{name: "a missing file outside the project is never created",
			compose: "services:\n  iris:\n    image: i\n    volumes: [\"~/iris.key:/usr/irissys/mgr/iris.key\"]\n",
			wantErr: "service iris mounts HOME/iris.key, which does not exist; compose would create it as a folder owned by root: create it, or remove the mount from the compose file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newAllowFixture(t, c.compose, c.files, c.outsideFiles, c.links)
			refs, err := composeFileRefs(f.root, []string{filepath.Join(f.root, "compose.yaml")}, map[string]string{"HOME": f.home})
			if err != nil {
				t.Fatal(err)
			}
			items, err := composeItems(f.root, configModel(t, f.root, f.home), refs)
			if c.wantErr != "" {
				var me *MissingBindSourceError
				if !errors.As(err, &me) || f.scrub(err.Error()) != c.wantErr {
					t.Fatalf("error %v, want %s", err, c.wantErr)
				}
				if _, err := os.Lstat(filepath.Join(f.home, "iris.key")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the missing bind source was created: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.texts(items); !reflect.DeepEqual(got, c.want) {
				t.Errorf("items:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestComposeConsent(t *testing.T) {
	outside := `services:
  iris:
    image: i
    volumes: ["../outside/data:/data"]
    cap_add: [SYS_ADMIN]
`
	f := newAllowFixture(t, outside, nil, map[string]string{"data/x": ""}, nil)
	home := t.TempDir()
	write := func(text string) {
		if err := os.WriteFile(filepath.Join(f.root, "compose.yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// An auto-start (no choice) is refused, naming every item; the error is the user's text.
	_, err := f.check(t, ConsentChoice{}, home)
	var ce *ComposeConsentError
	if !errors.As(err, &ce) {
		t.Fatalf("first check: %v, want *ComposeConsentError", err)
	}
	want := "the compose project of ROOT does what a repository's files may not do on their own:\n" +
		"  - service iris mounts OUTSIDE/data (outside the project)\n" +
		"  - service iris adds the capabilities SYS_ADMIN"
	if got := f.scrub(err.Error()); got != want {
		t.Errorf("error:\n%s\nwant\n%s", got, want)
	}

	// Allowing one item of two is not enough: the other is still asked for, and nothing is kept
	// (consent is kept only for a start that goes ahead).
	_, err = f.check(t, ConsentChoice{IDs: []string{ce.Items[1].ID}}, home)
	if !errors.As(err, &ce) || !reflect.DeepEqual(f.texts(ce.Items), []string{"service iris mounts OUTSIDE/data (outside the project)"}) {
		t.Fatalf("after allowing one item: %v", err)
	}
	if _, err := os.Stat(consentPath(home, f.root)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("consent kept for a refused start: %v", err)
	}

	// An explicit start allows them all; the front end is told which items it allowed now.
	newly, err := f.check(t, ConsentChoice{All: true}, home)
	if err != nil || !reflect.DeepEqual(f.texts(newly), []string{"service iris mounts OUTSIDE/data (outside the project)", "service iris adds the capabilities SYS_ADMIN"}) {
		t.Fatalf("explicit start: %v, %q", err, f.texts(newly))
	}
	fi, err := os.Stat(consentPath(home, f.root))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("consent file: %v, %v", fi, err)
	}

	// Next auto-start: nothing to ask.
	if newly, err := f.check(t, ConsentChoice{}, home); err != nil || len(newly) != 0 {
		t.Fatalf("auto-start after consent: %v, %q", err, f.texts(newly))
	}

	// A new item asks again, for that item only.
	write(outside + "    privileged: true\n")
	_, err = f.check(t, ConsentChoice{}, home)
	if !errors.As(err, &ce) || !reflect.DeepEqual(f.texts(ce.Items), []string{"service iris runs privileged"}) {
		t.Fatalf("after a new item: %v", err)
	}

	// A removed item is dropped from what is kept: putting it back asks again.
	write("services:\n  iris:\n    image: i\n    cap_add: [SYS_ADMIN]\n")
	if _, err := f.check(t, ConsentChoice{}, home); err != nil {
		t.Fatalf("after removing items: %v", err)
	}
	write(outside)
	_, err = f.check(t, ConsentChoice{}, home)
	if !errors.As(err, &ce) || !reflect.DeepEqual(f.texts(ce.Items), []string{"service iris mounts OUTSIDE/data (outside the project)"}) {
		t.Fatalf("after putting a removed item back: %v", err)
	}

	// A model within the list needs no consent and keeps no file.
	write("services:\n  iris:\n    image: i\n")
	if _, err := f.check(t, ConsentChoice{}, home); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(consentPath(home, f.root)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("consent file kept for a model within the list: %v", err)
	}
}

func TestExpandCompose(t *testing.T) {
	env := map[string]string{"A": "a", "E": ""}
	cases := map[string]string{
		"$A/x":         "a/x",
		"${A}/x":       "a/x",
		"${B:-def}/x":  "def/x",
		"${E:-def}":    "def",
		"${E-def}":     "",
		"${B-def}":     "def",
		"${A:+alt}":    "alt",
		"$$A":          "$A",
		"${HOME}/.aws": "/.aws",
	}
	for in, want := range cases {
		if got := expandCompose(in, env); got != want {
			t.Errorf("expandCompose(%q) = %q, want %q", in, got, want)
		}
	}
}
