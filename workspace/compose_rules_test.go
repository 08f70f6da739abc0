package workspace

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops/compose"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

func TestChooseIRISService(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "ARG IMAGE=intersystemsdc/irishealth-community\nARG IMAGE=intersystemsdc/iris-community\nFROM $IMAGE\nRUN iris start IRIS\n")
	write("web.Dockerfile", "FROM nginx\n")
	stub := "iris-helper/iris-stub:dev"
	tests := []struct {
		name       string
		services   map[string]compose.Service
		configured string
		want, note string
		err        string
	}{
		{"a build whose base is IRIS (ARG default)", map[string]compose.Service{
			"db":  {Image: "postgres", Ports: []compose.Port{{Target: 1972}}},
			"app": {Build: &compose.Build{Context: dir, Dockerfile: "Dockerfile"}},
		}, "", "app", "", ""},
		{"build.args decide the base", map[string]compose.Service{
			"app": {Build: &compose.Build{Context: dir, Args: map[string]*string{"IMAGE": &stub}}, Ports: []compose.Port{{Target: 80}}},
			"web": {Build: &compose.Build{Context: dir, Dockerfile: "web.Dockerfile"}, Expose: []string{"52773"}},
		}, "", "web", "", ""},
		{"an IRIS image", map[string]compose.Service{
			"x": {Image: "containers.intersystems.com/intersystems/iris-community:latest-em"}, "y": {Image: "nginx", Ports: []compose.Port{{Target: 52773}}},
		}, "", "x", "", ""},
		{"named iris last", map[string]compose.Service{"iris": {Image: "custom"}, "web": {Image: "nginx"}}, "", "iris", "", ""},
		{"two qualify: iris wins and the note names the other", map[string]compose.Service{
			"iris": {Image: stub, Ports: []compose.Port{{Target: 52773}}}, "iris2": {Image: stub, Expose: []string{"1972/tcp"}},
		}, "", "iris", `services iris, iris2 look like IRIS; iris-helper uses iris (set "compose": {"service": "iris2"} in .iris-helper.json to use another)`, ""},
		{"configured", map[string]compose.Service{"iris": {Image: stub}, "other": {Image: stub}}, "other", "other", "", ""},
		{"configured but missing", map[string]compose.Service{"iris": {Image: stub}}, "nope", "", "",
			dir + `/.iris-helper.json: compose.service "nope" is not a service of the compose project (services: iris)`},
		{"none", map[string]compose.Service{"db": {Image: "postgres"}}, "", "", "",
			"the compose project of " + dir + " (" + dir + "/compose.yaml) has no IRIS service: no service runs an IRIS image, exposes 52773 or 1972, or is named iris (services: db)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, note, err := chooseIRISService(dir, []string{filepath.Join(dir, "compose.yaml")}, compose.Model{Services: tt.services}, tt.configured)
			errText := ""
			if err != nil {
				errText = err.Error()
			}
			rpctest.Must(t, "chooseIRISService", rpctest.Want("err", errText, tt.err), rpctest.Want("service", got, tt.want), rpctest.Want("note", note, tt.note))
		})
	}
}

func TestFilterEnv(t *testing.T) {
	in := "# mine\nIRIS_WEB_PORT=36001\nexport IRIS_PORT = 36002\nAPP=1\nIRIS_WEB_PORT_X=3\nIRIS_HOST=localhost"
	got := string(filterEnv([]byte(in), []string{"IRIS_HOST", "IRIS_PORT", "IRIS_WEB_PORT"}))
	rpctest.Must(t, "filterEnv", rpctest.Want("content", got, "# mine\nAPP=1\nIRIS_WEB_PORT_X=3\n"))
}

// The ports iris-helper writes into .env never feed back into the model: a compose file that
// publishes "${IRIS_WEB_PORT:-52773}" pins 52773 whatever the .env holds.
func TestComposeModelWithoutManagedKeys(t *testing.T) {
	cli, err := compose.Find(context.Background(), "")
	if err != nil {
		t.Fatalf("Docker Compose v2 is needed: %v", err)
	}
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	files := map[string]string{
		"docker-compose.yml": "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE:-intersystemsdc/iris-community}\n    ports: [\"${IRIS_WEB_PORT:-52773}:52773\", \"${IRIS_PORT:-1972}:1972\"]\n    environment:\n      APP: ${APP_NAME}\n",
		".env":               "APP_NAME=orders\nIRIS_PORT=35991\nIRIS_WEB_PORT=35992\n",
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("IRIS_WEB_PORT", "35993") // the user's shell, too
	cm, err := loadComposeModel(context.Background(), cli, dir, t.TempDir(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	iris := cm.model.Services["iris"]
	rpctest.Must(t, "model", rpctest.Want("service", cm.service, "iris"), rpctest.Want("web pinned", iris.Ports[0].PublishedPort(), 52773),
		rpctest.Want("superserver pinned", iris.Ports[1].PublishedPort(), 1972), rpctest.Want("name", cm.model.Name, filepath.Base(dir)))
}

// COMPOSE_FILE and COMPOSE_PROFILES from the project's .env pick the files and services, as
// compose itself does (the filtered copy passed as --env-file keeps them).
func TestComposeFileAndProfilesFromEnv(t *testing.T) {
	cli, err := compose.Find(context.Background(), "")
	if err != nil {
		t.Fatalf("Docker Compose v2 is needed: %v", err)
	}
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	files := map[string]string{
		"docker-compose.yml": "services:\n  nope:\n    image: nginx\n",
		"dev/base.yml":       "services:\n  iris:\n    image: x\n    ports: [\"52773\"]\n",
		"dev/tools.yml":      "services:\n  tools:\n    image: y\n    profiles: [tools]\n  other:\n    image: z\n    profiles: [other]\n",
		".env":               "COMPOSE_FILE=dev/base.yml:dev/tools.yml\nCOMPOSE_PROFILES=tools\nIRIS_WEB_PORT=1\n",
	}
	if err := os.Mkdir(filepath.Join(dir, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cm, err := loadComposeModel(context.Background(), cli, dir, t.TempDir(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "model", rpctest.Want("files", cm.files, []string{filepath.Join(dir, "dev/base.yml"), filepath.Join(dir, "dev/tools.yml")}),
		rpctest.Want("services", cm.model.ServiceNames(), []string{"iris", "tools"}), rpctest.Want("service", cm.service, "iris"))
}
