package workspace

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/sandboxtest"
)

// TestComposeWatchReferencedFiles: an edit of a file the compose model reads that `docker compose
// config` does not print (an included or extended compose file, an include's env_file, a
// service's env_file) shows in the status like an edit of the compose file itself (issue 12 §2).
// Real `docker compose`; the running case on the real engine (ports 35660–35679, 35910–35921).
func TestComposeWatchReferencedFiles(t *testing.T) {
	f := newComposeFixture(t, 35660)
	const twoIRIS = "services iris, iris2 look like IRIS; iris-helper uses iris (set \"compose\": {\"service\": \"iris2\"} in .iris-helper.json to use another)"
	cases := []struct {
		name    string
		files   map[string]string
		start   bool // started first: the edit shows as drift of the running containers
		edit    string
		content string
		message string
		restart bool
	}{
		{
			name: "an included compose file",
			files: map[string]string{
				"docker-compose.yml": "include:\n  - iris.yml\n",
				"iris.yml":           "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE}\n    ports: [\"52773\"]\n",
			},
			edit:    "iris.yml",
			content: "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE}\n    ports: [\"52773\"]\n  iris2:\n    image: ${IRIS_TEST_IMAGE}\n    expose: [\"1972\"]\n",
			message: twoIRIS,
		},
		{
			name: "an extended compose file",
			files: map[string]string{
				"docker-compose.yml": "services:\n  iris:\n    extends: {file: base/common.yml, service: iris}\n  iris2:\n    extends: {file: base/common.yml, service: other}\n",
				"base/common.yml":    "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE}\n    ports: [\"52773\"]\n  other:\n    image: ${IRIS_TEST_IMAGE}\n",
			},
			edit:    "base/common.yml",
			content: "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE}\n    ports: [\"52773\"]\n  other:\n    image: ${IRIS_TEST_IMAGE}\n    expose: [\"1972\"]\n",
			message: twoIRIS,
		},
		{
			name: "the env_file of an include",
			files: map[string]string{
				"docker-compose.yml": "include:\n  - path: iris.yml\n    env_file: iris.env\n",
				"iris.yml":           "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE}\n    ports: [\"52773\"]\n  iris2:\n    image: ${IRIS_TEST_IMAGE}\n    expose: [\"${EXTRA_PORT}\"]\n",
				"iris.env":           "EXTRA_PORT=8080\n",
			},
			edit:    "iris.env",
			content: "EXTRA_PORT=1972\n",
			message: twoIRIS,
		},
		{
			name: "the env_file of a running service",
			files: map[string]string{
				"docker-compose.yml": "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE}\n    ports: [\"1972\", \"52773\"]\n    env_file: [config/iris.env]\n",
				"config/iris.env":    "APP_MODE=dev\n",
			},
			start:   true,
			edit:    "config/iris.env",
			content: "APP_MODE=test\n",
			message: "the container still runs with an older version of the compose files; restart to apply the project's settings",
			restart: true,
		},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := testCtx(t)
			dir := f.composeDir("pinned", "", "refs"+string(rune('a'+i)))
			sandboxtest.WriteTree(t, dir, c.files)
			p := f.openCompose(dir)
			if c.start {
				startOK(t, p)
			}
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			statuses := make(chan Status, 64)
			go func() { _ = p.Watch(wctx, func(s Status) { statuses <- s }, nil) }()
			waitStatus(t, statuses, "the model loaded", func(s Status) bool {
				return s.Kind == KindCompose && s.IrisService == "iris" && s.Message == "" && (!c.start || s.State == StateReady)
			})
			if err := os.WriteFile(filepath.Join(dir, c.edit), []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			s := waitStatus(t, statuses, "the edit of "+c.edit, func(s Status) bool { return s.Message != "" })
			rpctest.Must(t, "status after the edit of "+c.edit, rpctest.Want("irisService", s.IrisService, "iris"),
				rpctest.Want("message", s.Message, c.message), rpctest.Want("restartNeeded", s.RestartNeeded, c.restart))
		})
	}
}
