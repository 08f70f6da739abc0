package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/dotenv"
)

func ptr[T any](v T) *T { return &v }

func TestLoadConfigMissingFileIsZero(t *testing.T) {
	cfg, err := LoadConfig(tempDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Config{}) {
		t.Errorf("missing file gave %+v, want zero Config", cfg)
	}
	rpctest.Check(t, "defaults", rpctest.Want("envFile", cfg.EnvFile(), ".env"), rpctest.Want("durable", cfg.DurableOrDefault(), true),
		rpctest.Want("namespace", cfg.Namespace(), "USER"), rpctest.Want("username", cfg.Username(), "_SYSTEM"),
		rpctest.Want("unexpirePasswords", cfg.UnexpirePasswordsOrDefault(), true))
	if m, err := cfg.EnvSync("", ""); err != nil || m != dotenv.SyncAuto {
		t.Errorf("EnvSync default = %q, %v; want auto", m, err)
	}
}

func TestLoadConfigFullExample(t *testing.T) {
	dir := tempDir(t)
	// The example of docs/config.md, with a BOM and CRLF line endings as Windows editors write it.
	content := "\ufeff{\r\n" + `"image": "intersystemsdc/iris-community:latest", "ports": {"superserver": 1980, "web": 52781},
	"bindAddress": "127.0.0.1", "durable": false,
	"env": {"file": "config/.env", "sync": "auto", "host": "IRIS_HOST", "superserverPort": "IRIS_PORT", "webPort": ""},
	"iris": {"namespace": "DEMO", "username": "SuperUser", "unexpirePasswords": false}}` + "\r\n"
	writeTree(t, dir, map[string]string{ConfigFileName: content})
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Image: "intersystemsdc/iris-community:latest", Ports: PortsConfig{1980, 52781},
		BindAddress: "127.0.0.1", Durable: ptr(false),
		Env:  EnvConfig{File: "config/.env", Sync: "auto", Names: dotenv.Names{Host: ptr("IRIS_HOST"), SuperserverPort: ptr("IRIS_PORT"), WebPort: ptr("")}},
		Iris: IrisConfig{Namespace: "DEMO", Username: "SuperUser", UnexpirePasswords: ptr(false)},
		Path: filepath.Join(dir, ConfigFileName),
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	rpctest.Check(t, "accessors", rpctest.Want("durable", cfg.DurableOrDefault(), false),
		rpctest.Want("unexpirePasswords", cfg.UnexpirePasswordsOrDefault(), false),
		rpctest.Want("namespace", cfg.Namespace(), "DEMO"), rpctest.Want("username", cfg.Username(), "SuperUser"))
	if got := cfg.EnvPath(dir); got != filepath.Join(dir, "config", ".env") {
		t.Errorf("EnvPath = %s", got)
	}
}

func TestParseConfigSyncValues(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"env":{"sync":"auto"}}`, "auto"},
		{`{"env":{"sync":"true"}}`, "true"},
		{`{"env":{"sync":"FALSE"}}`, "false"},
		{`{"env":{"sync":true}}`, "true"},
		{`{"env":{"sync":false}}`, "false"},
		{`{"env":{"sync":null}}`, ""},
		{`{"env":{}}`, ""},
		{`{"env":null}`, ""},
		{``, ""},
		{"  \n", ""},
	}
	for _, tt := range tests {
		cfg, err := ParseConfig([]byte(tt.in), "x.json")
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if cfg.Env.Sync != tt.want {
			t.Errorf("%s: sync %q, want %q", tt.in, cfg.Env.Sync, tt.want)
		}
	}
}

func TestEnvSyncPrecedence(t *testing.T) {
	file := Config{Env: EnvConfig{Sync: "false"}}
	tests := []struct {
		cfg          Config
		flag, editor string
		want         dotenv.SyncMode
	}{
		{Config{}, "", "", dotenv.SyncAuto},
		{Config{}, "", "true", dotenv.SyncTrue},
		{file, "", "true", dotenv.SyncFalse},
		{file, "true", "auto", dotenv.SyncTrue},
		{Config{}, "auto", "false", dotenv.SyncAuto},
	}
	for _, tt := range tests {
		got, err := tt.cfg.EnvSync(tt.flag, tt.editor)
		if err != nil || got != tt.want {
			t.Errorf("EnvSync(flag %q, file %q, editor %q) = %q, %v; want %q", tt.flag, tt.cfg.Env.Sync, tt.editor, got, err, tt.want)
		}
	}
	if _, err := (Config{}).EnvSync("", "sometimes"); err == nil {
		t.Error("an invalid editor setting is accepted")
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, content string
		field         string   // ConfigError.Field
		wantInMsg     []string // substrings of the message
	}{
		{"unknown top-level field", `{"image":"x","imgae":"y"}`, "imgae", []string{`unknown field "imgae"`, "image"}},
		{"unknown nested field", `{"env":{"fiel":".env"}}`, "env.fiel", []string{`"env.fiel"`, "did you mean \"file\"", "superserverPort"}},
		{"field with the wrong case", `{"Image":"x"}`, "Image", []string{`did you mean "image"`}},
		{"unknown field in iris", `{"iris":{"password":"SYS"}}`, "iris.password", []string{"namespace, username, unexpirePasswords"}},
		{"port too big", `{"ports":{"superserver":70000}}`, "ports.superserver", []string{"70000", "1-65535"}},
		{"negative port", `{"ports":{"web":-1}}`, "ports.web", []string{"-1"}},
		{"same port twice", `{"ports":{"superserver":1980,"web":1980}}`, "ports", []string{"must differ"}},
		{"port as string", `{"ports":{"web":"52773"}}`, "ports.web", []string{"must be a number"}},
		{"bad sync string", `{"env":{"sync":"yes"}}`, "env.sync", []string{`"yes"`, "auto", "true", "false"}},
		{"bad sync type", `{"env":{"sync":1}}`, "env.sync", []string{"auto"}},
		{"bad bind address", `{"bindAddress":"localhost"}`, "bindAddress", []string{"not an IP address", "127.0.0.1"}},
		{"bad env key name", `{"env":{"superserverPort":"IRIS PORT"}}`, "env.superserverPort", []string{"environment variable name"}},
		{"duplicate env key names", `{"env":{"superserverPort":"P","webPort":"P"}}`, "env.webPort", []string{"already the name of env.superserverPort"}},
		{"durable not a bool", `{"durable":"yes"}`, "durable", []string{"true or false"}},
		{"env not an object", `{"env":".env"}`, "env", []string{"must be an object"}},
		{"syntax error with position", "{\n  \"image\": \"x\",\n  oops\n}", "", []string{"line 3"}},
		{"truncated", `{"image": "x"`, "", []string{"ends too early"}},
		{"trailing data", `{} {}`, "", []string{"after the settings object"}},
		{"array instead of object", `[1]`, "", []string{"JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tempDir(t)
			writeTree(t, dir, map[string]string{ConfigFileName: tt.content})
			_, err := LoadConfig(dir)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConfigError", err)
			}
			if ce.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", ce.Field, tt.field, err)
			}
			msg := err.Error()
			for _, s := range append(tt.wantInMsg, filepath.Join(dir, ConfigFileName)) {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not mention %q", msg, s)
				}
			}
		})
	}
}

func TestLoadConfigUnreadable(t *testing.T) {
	dir := tempDir(t)
	if err := os.Mkdir(filepath.Join(dir, ConfigFileName), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(dir); err == nil {
		t.Fatal("a folder named .iris-helper.json loads without error")
	}
}

func TestConfigKindAndCompose(t *testing.T) {
	cases := []struct {
		name, json, wantErr string
		want                Config
	}{
		{name: "compose", json: `{"kind": "compose", "compose": {"files": ["docker-compose.yml", "docker/dev.yml"], "service": "iris"}}`,
			want: Config{Kind: KindCompose, Compose: ComposeConfig{Files: []string{"docker-compose.yml", "docker/dev.yml"}, Service: "iris"}}},
		{name: "dockerfile", json: `{"kind": "dockerfile"}`, want: Config{Kind: KindDockerfile}},
		{name: "unknown kind", json: `{"kind": "podman"}`,
			wantErr: `/p/.iris-helper.json: kind: "podman" is not a kind of project: use "image", "compose" or "dockerfile", or leave it out (fix the file or remove the setting; see docs/config.md)`},
		{name: "file outside", json: `{"compose": {"files": ["../other/docker-compose.yml"]}}`,
			wantErr: `/p/.iris-helper.json: compose.files: "../other/docker-compose.yml" must be a path inside the project folder, relative to it (fix the file or remove the setting; see docs/config.md)`},
		{name: "absolute file", json: `{"compose": {"files": ["/etc/compose.yml"]}}`,
			wantErr: `/p/.iris-helper.json: compose.files: "/etc/compose.yml" must be a path inside the project folder, relative to it (fix the file or remove the setting; see docs/config.md)`},
	}
	for _, c := range cases {
		got, err := ParseConfig([]byte(c.json), "/p/.iris-helper.json")
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("%s: error %v, want %s", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: ParseConfig = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}
