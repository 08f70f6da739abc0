//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
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

	var out, errb serveBuffer
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() }) // end of input ends the session when a wait below gives up
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s; stdout:\n%s\nstderr:\n%s", what, out.String(), errb.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), []string{"serve", "--log-level", "debug"}, pr, &out, &errb)
	}()
	send := func(body string) {
		if _, err := io.WriteString(pw, serveFrame(body)); err != nil {
			t.Fatal(err)
		}
	}
	send(fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"rootUri":"file://%s","capabilities":{},"initializationOptions":{"autoStart":true,"image":%q}}}`, dir, image))
	waitFor("initialize", func() bool { return strings.Contains(out.String(), `"id":1,`) })
	send(`{"jsonrpc":"2.0","method":"initialized","params":{}}`)
	waitFor("IRIS ready", func() bool { return strings.Contains(out.String(), `"state":"ready"`) })
	waitFor("the second refusal (start and watcher)", func() bool { return strings.Contains(errb.String(), "the .env stays refused") })
	waitFor("the warning", func() bool { return strings.Contains(out.String(), "sync is off for this project") })
	send(`{"jsonrpc":"2.0","id":2,"method":"shutdown","params":null}`)
	waitFor("shutdown", func() bool { return strings.Contains(out.String(), `"id":2,`) })
	send(`{"jsonrpc":"2.0","method":"exit","params":null}`)
	pw.Close()
	if c := <-code; c != 0 {
		t.Errorf("exit code %d; stderr:\n%s", c, errb.String())
	}

	want := outside + " is outside the project folder " + dir + ": iris-helper writes a .env there only when the user allows it (allowEnvFileOutsideProject)" +
		"; .env sync is off for this project. To allow it, turn on irisHelper.allowEnvFileOutsideProject in your user settings (not the workspace's) and restart the helper."
	warnings := 0
	for _, m := range serveFrames(t, out.String()) {
		var method string
		_ = json.Unmarshal(m["method"], &method)
		switch method {
		case "window/showMessage":
			var p struct {
				Type    int    `json:"type"`
				Message string `json:"message"`
			}
			_ = json.Unmarshal(m["params"], &p)
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
			_ = json.Unmarshal(m["params"], &st)
			if st.EnvFile != "" {
				t.Errorf("status envFile %q, want \"\"", st.EnvFile)
			}
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings about the .env, want 1:\n%s", warnings, out.String())
	}
	snap.AssertUnchanged(t)
}
