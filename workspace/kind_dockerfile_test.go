package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/workspacetest"
)

// templateDockerfile is the community templates' shape: several ARG IMAGE lines kept as history
// (the last before FROM wins), FROM $IMAGE, a RUN step.
const templateDockerfile = "ARG IMAGE=intersystemsdc/iris-community:2023.1\nARG IMAGE=intersystemsdc/iris-community\nFROM $IMAGE\n" +
	"WORKDIR /home/irisowner/dev\nRUN --mount=type=bind,src=.,dst=. iris start IRIS && iris session IRIS < iris.script && iris stop IRIS quietly\n"

// TestDockerfileKind: which root folders are Dockerfile projects, and the reason the status can give.
func TestDockerfileKind(t *testing.T) {
	for _, tc := range []struct {
		name   string
		files  map[string]string
		ok     bool
		reason string
	}{
		{"template shape", map[string]string{"Dockerfile": templateDockerfile}, true, "the Dockerfile builds FROM intersystemsdc/iris-community"},
		{"final stage of a multi-stage build", map[string]string{"Dockerfile": "FROM node:20 AS web\nRUN npm ci\nFROM containers.intersystems.com/intersystems/iris-community:2024.1 AS final\nCOPY --from=web /out /app\n"},
			true, "the Dockerfile builds FROM containers.intersystems.com/intersystems/iris-community:2024.1"},
		{"no Dockerfile", map[string]string{"module.xml": "<Export/>"}, false, "no Dockerfile at the project root"},
		{"not an IRIS base", map[string]string{"Dockerfile": "FROM python:3.12\n"}, false, "the Dockerfile builds FROM python:3.12, not an InterSystems IRIS image"},
		{"IRIS only in an earlier stage", map[string]string{"Dockerfile": "FROM intersystemsdc/iris-community AS build\nFROM alpine:3\n"},
			false, "the Dockerfile builds FROM alpine:3, not an InterSystems IRIS image"},
		{"no FROM", map[string]string{"Dockerfile": "# nothing yet\n"}, false, "the Dockerfile has no FROM line"},
		{"a compose file beside it", map[string]string{"Dockerfile": templateDockerfile, "docker-compose.yml": "services: {}\n"},
			false, "a compose file (docker-compose.yml) is at the project root"},
		{"compose.yaml beside it", map[string]string{"Dockerfile": templateDockerfile, "compose.yaml": "services: {}\n"},
			false, "a compose file (compose.yaml) is at the project root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := workspacetest.TempDir(t)
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ok, reason, err := dockerfileKind(dir)
			rpctest.Check(t, "the kind", rpctest.Want("err", err, nil), rpctest.Want("ok", ok, tc.ok), rpctest.Want("reason", reason, tc.reason))
		})
	}
}

// TestChooseDockerfileKind: .iris-helper.json's kind decides; image or ports there without a kind
// keep the image kind; else the files do. The Dockerfile kind runs the project's own tag, durable
// off unless the file says durable: true.
func TestChooseDockerfileKind(t *testing.T) {
	t.Setenv(registry.EnvHome, t.TempDir())
	for _, tc := range []struct {
		name    string
		files   map[string]string
		kind    Kind
		durable bool
	}{
		{"a Dockerfile project", map[string]string{"Dockerfile": templateDockerfile}, KindDockerfile, false},
		{"durable asked for", map[string]string{"Dockerfile": templateDockerfile, ConfigFileName: `{"durable": true}`}, KindDockerfile, true},
		{"image in the settings keeps the image kind", map[string]string{"Dockerfile": templateDockerfile, ConfigFileName: `{"image": "x/iris:1"}`}, KindImage, true},
		{"ports in the settings keep the image kind", map[string]string{"Dockerfile": templateDockerfile, ConfigFileName: `{"ports": {"web": 52999}}`}, KindImage, true},
		{"kind image", map[string]string{"Dockerfile": templateDockerfile, ConfigFileName: `{"kind": "image"}`}, KindImage, true},
		{"kind dockerfile forces it", map[string]string{"Dockerfile": "FROM python:3.12\n", ConfigFileName: `{"kind": "dockerfile", "image": "ignored/iris:1"}`}, KindDockerfile, false},
		{"kind dockerfile without a Dockerfile", map[string]string{ConfigFileName: `{"kind": "dockerfile"}`}, KindDockerfile, false},
		{"no Dockerfile", map[string]string{"module.xml": "<Export/>"}, KindImage, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := workspacetest.TempDir(t)
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p, err := OpenProject(context.Background(), dir, ProjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			spec := p.spec(registry.Assignment{SuperserverPort: 1, WebPort: 2}, "")
			wantImage := DefaultImage
			switch {
			case tc.kind == KindDockerfile:
				wantImage = dockerops.BuildTag(dir)
			case p.Config().Image != "":
				wantImage = p.Config().Image
			}
			st := p.Status(context.Background())
			rpctest.Check(t, "the project", rpctest.Want("kind", p.rt.Kind(), tc.kind), rpctest.Want("status kind", st.Kind, tc.kind),
				rpctest.Want("Image()", p.Image(), wantImage), rpctest.Want("status image", st.Image, wantImage),
				rpctest.Want("spec.image", spec.Image, wantImage), rpctest.Want("spec.durable", spec.Durable, tc.durable))
		})
	}
}

// TestBuildLogMissing: `logs --build` of a project never built says so, naming the file it looked for.
func TestBuildLogMissing(t *testing.T) {
	t.Setenv(registry.EnvHome, t.TempDir())
	dir := workspacetest.TempDir(t)
	if err := os.WriteFile(filepath.Join(dir, DockerfileName), []byte(templateDockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := OpenProject(context.Background(), dir, ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = p.BuildLog(&strings.Builder{})
	var nb *NoBuildLogError
	path := filepath.Join(p.Registry().Home(), "builds", dockerops.BuildLogName(dir))
	if !errors.As(err, &nb) || err.Error() != "no build output kept for "+dir+": iris-helper has not built this project's image ("+path+" does not exist)" {
		t.Errorf("BuildLog = %v", err)
	}
}
