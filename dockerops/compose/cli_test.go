package compose

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCompose writes an executable script named name into a new folder that prints version.
func fakeCompose(t *testing.T, name, version string) string {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\necho " + version + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestFind(t *testing.T) {
	ctx := context.Background()
	t.Run("the docker CLI's compose plugin", func(t *testing.T) {
		c, err := Find(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Prefix) != 1 || c.Prefix[0] != "compose" || !versionAtLeast(c.Version, MinVersion) {
			t.Errorf("Find = %+v", c)
		}
	})
	tests := []struct {
		name, docker, composeName, version, want string
	}{
		{"standalone v1 is refused", "/nonexistent/docker", "docker-compose", "1.29.2",
			"DIR/docker-compose is Docker Compose 1.29.2 (v1), which iris-helper does not run; it needs Docker Compose v2 (2.24.0 or later): " + InstallHint()},
		{"v2 older than 2.24 is refused", "/nonexistent/docker", "docker-compose", "v2.20.2",
			"DIR/docker-compose is Docker Compose 2.20.2; iris-helper needs 2.24.0 or later (the !override and !reset merge tags): " + InstallHint()},
		{"nothing found names the PATH", "", "", "",
			"Docker Compose v2 not found; searched PATH DIR; " + InstallHint()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.composeName != "" {
				dir = fakeCompose(t, tt.composeName, tt.version)
			}
			t.Setenv("PATH", dir)
			_, err := Find(ctx, tt.docker)
			if err == nil {
				t.Fatal("Find: no error")
			}
			got := strings.ReplaceAll(err.Error(), dir, "DIR")
			if got != tt.want {
				t.Errorf("Find error:\n got %s\nwant %s", got, tt.want)
			}
			var ve *VersionError
			var nf *NotFoundError
			if !errors.As(err, &ve) && !errors.As(err, &nf) {
				t.Errorf("Find error is %T", err)
			}
		})
	}
	t.Run("a configured docker path that is not there", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("PATH", dir)
		_, err := Find(ctx, "/nonexistent/docker")
		want := "Docker Compose v2 not found (docker CLI /nonexistent/docker: /nonexistent/docker compose version: fork/exec /nonexistent/docker: no such file or directory); searched PATH " + dir + "; " + InstallHint()
		if err == nil || err.Error() != want {
			t.Errorf("Find error:\n got %v\nwant %s", err, want)
		}
	})
}

func TestDefaultFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := DefaultFiles(dir, "", ""); !errors.Is(err, ErrNoFile) {
		t.Errorf("empty folder: %v", err)
	}
	for _, n := range []string{"docker-compose.yml", "docker-compose.override.yml", "compose.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("services: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, composeFile, sep string
		want                   []string
	}{
		{"compose.yaml comes first", "", "", []string{"compose.yaml"}},
		{"COMPOSE_FILE wins", "docker-compose.yml:extra.yml", "", []string{"docker-compose.yml", "extra.yml"}},
		{"COMPOSE_PATH_SEPARATOR", "a.yml;b.yml", ";", []string{"a.yml", "b.yml"}},
	}
	for _, tt := range tests {
		got, err := DefaultFiles(dir, tt.composeFile, tt.sep)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i] = strings.TrimPrefix(got[i], dir+"/")
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	os.Remove(filepath.Join(dir, "compose.yaml"))
	got, _ := DefaultFiles(dir, "", "")
	if len(got) != 2 || filepath.Base(got[1]) != "docker-compose.override.yml" {
		t.Errorf("with the override file: %v", got)
	}
}

func TestOverrideYAML(t *testing.T) {
	o := Override{
		"iris": {Ports: []Binding{{HostIP: "127.0.0.1", HostPort: 35001, ContainerPort: 1972, Protocol: "tcp"},
			{HostIP: "127.0.0.1", HostPort: 35002, ContainerPort: 52773}},
			Labels: map[string]string{"dev.iris-helper.project": "/p"}, Restart: "unless-stopped", ResetContainerName: true},
		"web": {Ports: []Binding{{HostIP: "::1", ContainerPort: 80, Protocol: "udp"}}},
	}
	want := `# Written by iris-helper for this project; do not edit (it is rewritten on every start).
services:
  "iris":
    ports: !override
      - "127.0.0.1:35001:1972/tcp"
      - "127.0.0.1:35002:52773/tcp"
    labels:
      "dev.iris-helper.project": "/p"
    restart: "unless-stopped"
    container_name: !reset null
  "web":
    ports: !override
      - "[::1]::80/udp"
`
	if got := string(o.YAML()); got != want {
		t.Errorf("YAML:\n%s\nwant\n%s", got, want)
	}
}
