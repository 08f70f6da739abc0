package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/dotenv"
)

// The host rule: `env sync` and `start` write the project's one host (workspace.ConnectHost of its
// bindAddress). Ports: superserver 32370-32379, web 32870-32879 (the start band's newCLIEnv).

// TestEnvSyncAndStartWriteTheSameHost: two projects with "bindAddress": "127.0.0.2" (loopback: no
// knob), one synced by `env sync`, one started: both .env files get IRIS_HOST=127.0.0.2. (On
// ee25c32 `env sync` wrote IRIS_HOST=localhost, where a port bound on 127.0.0.2 is not reachable.)
func TestEnvSyncAndStartWriteTheSameHost(t *testing.T) {
	e := newCLIEnv(t, 32370)
	synced := e.project
	started := envProjectDir(t, map[string]string{"module.xml": "<Export/>\n"})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := dockertest.RemoveProject(ctx, e.eng.Client(), started); err != nil {
			t.Errorf("remove containers of %s: %v", started, err)
		}
	})
	for _, dir := range []string{synced, started} {
		for name, content := range map[string]string{".iris-helper.json": `{"bindAddress": "127.0.0.2"}`, ".env": "APP=x\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	if code, out, errs := runCLI(t, "env", "sync", synced); code != 0 {
		t.Fatalf("env sync: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "start", started, "--image", e.img); code != 0 {
		t.Fatalf("start: exit %d\n%s\n%s", code, out, errs)
	}
	reg, err := registry.Open(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{synced, started} {
		a, ok, err := reg.Get(context.Background(), dir)
		if err != nil || !ok {
			t.Fatalf("assignment of %s: %v %v", dir, ok, err)
		}
		want := fmt.Sprintf("APP=x\n%s\nIRIS_HOST=127.0.0.2\nIRIS_PORT=%d\nIRIS_WEB_PORT=%d\n", dotenv.ManagedComment, a.SuperserverPort, a.WebPort)
		if got := envReadFile(t, filepath.Join(dir, ".env")); got != want {
			t.Errorf("%s/.env:\n got: %q\nwant: %q", dir, got, want)
		}
	}
}

// TestEnvSyncRefusesANetworkBindFromTheProject: a non-loopback bindAddress in .iris-helper.json
// is refused by `env sync` and `env watch` as by `start`, before any port is assigned or the .env
// touched, unless the user allows it (issue 10 rule 11). (On ee25c32 `env sync` went ahead.)
func TestEnvSyncRefusesANetworkBindFromTheProject(t *testing.T) {
	reg := newEnvTestHome(t)
	dir := envProjectDir(t, map[string]string{"module.xml": "<Export/>", ".env": "APP=x\n",
		".iris-helper.json": `{"bindAddress": "10.1.2.3"}`})
	ctx := context.Background()
	cfgFile := filepath.Join(dir, ".iris-helper.json")
	want := "iris-helper: " + cfgFile + " asks for bindAddress 10.1.2.3, which makes IRIS reachable from the network; " +
		"a project file cannot choose that, so the start was refused\n" +
		"To allow it, pass --allow-network-bind, or set IRIS_HELPER_ALLOW_NETWORK_BIND=1, or put \"allowNetworkBind\": true in " +
		filepath.Join(reg.Home(), registry.ConfigFileName) + ".\n"
	for _, args := range [][]string{{"env", "sync", dir}, {"env", "sync", "--dry-run", dir}, {"env", "watch", dir}} {
		// A watch that is not refused would run until the harness's deadline ends it.
		code, stdout, stderr := runCLI(t, args...)
		rpctest.Check(t, fmt.Sprint(args), rpctest.Want("exit", code, 1), rpctest.Want("stdout", stdout, ""), rpctest.Want("stderr", stderr, want))
	}
	if a, ok, err := reg.Get(ctx, dir); err != nil || ok {
		t.Errorf("ports were assigned: %+v %v %v", a, ok, err)
	}
	if got := envReadFile(t, filepath.Join(dir, ".env")); got != "APP=x\n" {
		t.Errorf(".env changed: %q", got)
	}

	// The user's own choice allows it; the host written is the address.
	code, _, stderr := runCLI(t, "env", "sync", "--allow-network-bind", dir)
	if code != 0 {
		t.Fatalf("allowed: exit %d\n%s", code, stderr)
	}
	a, _, err := reg.Get(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := fmt.Sprintf("APP=x\n%s\nIRIS_HOST=10.1.2.3\nIRIS_PORT=%d\nIRIS_WEB_PORT=%d\n", dotenv.ManagedComment, a.SuperserverPort, a.WebPort)
	if got := envReadFile(t, filepath.Join(dir, ".env")); got != wantEnv {
		t.Errorf("allowed:\n got: %q\nwant: %q", got, wantEnv)
	}
}
