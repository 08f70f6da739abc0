//go:build unix

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/sandboxtest"
)

// TestServeRefusesAnEnvOutsideTheProject: the editor helper, auto-starting a project whose
// env.file lies outside it, starts IRIS, shows ONE warning naming the knob and the editor's user
// setting, reports envFile "" and writes nothing outside (351c042 rewrote the file 2 s after
// initialized). Real engine, stand-in image; ports 32920-32929 / 32970-32979.
func TestServeRefusesAnEnvOutsideTheProject(t *testing.T) {
	eng := dockertest.Engine(t)
	image := dockertest.StubImage(t)
	t.Setenv(registry.EnvHome, t.TempDir())
	t.Setenv(registry.EnvSuperserverRange, "32920-32929")
	t.Setenv(registry.EnvWebRange, "32970-32979")
	t.Setenv("IRIS_HELPER_ALLOW_ENV_OUTSIDE_PROJECT", "")
	sandbox, _ := filepath.EvalSymlinks(t.TempDir())
	outside := filepath.Join(sandbox, "outside.env")
	if err := os.WriteFile(outside, []byte("SECRET=s3cret\nIRIS_PORT=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	snap := sandboxtest.Take(t, sandbox)
	dir := envProjectDir(t, map[string]string{"module.xml": "<Export/>",
		".iris-helper.json": `{"env": {"file": "` + outside + `", "sync": true}}`})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := dockertest.RemoveProject(ctx, eng.Client(), dir); err != nil {
			t.Errorf("remove containers of %s: %v", dir, err)
		}
	})

	ed, code, stderr := serveEditor(t, "--log-level", "debug")
	ed.Timeout = 2 * time.Minute
	ed.Initialize(rpctest.InitParams(dir, map[string]any{"autoStart": true, "image": image}))
	ed.WaitFor("IRIS ready", rpctest.Status("ready"))
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(stderr.String(), "the .env stays refused"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for the second refusal (start and watcher); stderr:\n%s", stderr)
		}
	}
	ed.WaitFor("the warning", rpctest.ShowMessage(2, "sync is off for this project"))
	ed.Shutdown()
	if c := serveEnd(t, ed, code); c != 0 {
		t.Errorf("exit code %d; stderr:\n%s", c, stderr)
	}

	want := outside + " is outside the project folder " + dir + ": iris-helper writes a .env there only when the user allows it (allowEnvFileOutsideProject)" +
		"; .env sync is off for this project. To allow it, turn on irisHelper.allowEnvFileOutsideProject in your user settings (not the workspace's) and restart the helper."
	warnings := 0
	for _, m := range ed.All() {
		switch m.Method {
		case "window/showMessage":
			var p struct {
				Type    int    `json:"type"`
				Message string `json:"message"`
			}
			_ = json.Unmarshal(m.Params, &p)
			if strings.Contains(p.Message, "allowEnvFileOutsideProject") {
				warnings++
				if p.Type != 2 || p.Message != want {
					t.Errorf("showMessage type %d:\n got: %s\nwant: %s", p.Type, p.Message, want)
				}
			}
		case "iris/status":
			var st struct {
				EnvFile string `json:"envFile"`
			}
			_ = json.Unmarshal(m.Params, &st)
			if st.EnvFile != "" {
				t.Errorf("status envFile %q, want \"\"", st.EnvFile)
			}
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings about the .env, want 1:\n%s", warnings, ed.Dump())
	}
	snap.AssertUnchanged(t)
}
