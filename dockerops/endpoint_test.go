package dockerops_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// writeContext creates a docker CLI context store entry under configDir.
func writeContext(t *testing.T, configDir, name, host string) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	dir := filepath.Join(configDir, "contexts", "meta", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	meta := `{"Name":"` + name + `","Metadata":{"Description":"test"},"Endpoints":{"docker":{"Host":"` + host + `","SkipTLSVerify":false}}}`
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), []byte(meta), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestResolveEndpoint(t *testing.T) {
	tests := []struct {
		name       string
		dockerHost string
		envContext string
		config     string // config.json content; "" = no file
		contexts   map[string]string
		wantHost   string
		wantSource string
		wantErr    string
	}{
		{name: "DOCKER_HOST wins", dockerHost: "tcp://127.0.0.1:2375", envContext: "other", config: `{"currentContext":"colima"}`,
			contexts: map[string]string{"colima": "unix:///colima.sock"}, wantHost: "tcp://127.0.0.1:2375", wantSource: "DOCKER_HOST"},
		{name: "no config at all", wantHost: dockerops.DefaultHost(), wantSource: "default"},
		{name: "config without context", config: `{"auths":{}}`, wantHost: dockerops.DefaultHost(), wantSource: "default"},
		{name: "currentContext default", config: `{"currentContext":"default"}`, wantHost: dockerops.DefaultHost(), wantSource: "default"},
		{name: "currentContext from config", config: `{"currentContext":"colima"}`,
			contexts: map[string]string{"colima": "unix:///Users/me/.colima/default/docker.sock"},
			wantHost: "unix:///Users/me/.colima/default/docker.sock", wantSource: `docker context "colima"`},
		{name: "DOCKER_CONTEXT beats config", envContext: "desktop-linux", config: `{"currentContext":"colima"}`,
			contexts: map[string]string{"colima": "unix:///colima.sock", "desktop-linux": "unix:///desktop.sock"},
			wantHost: "unix:///desktop.sock", wantSource: `docker context "desktop-linux"`},
		{name: "unknown context", config: `{"currentContext":"gone"}`, wantErr: `docker context "gone"`},
		{name: "corrupt config", config: `{"currentContext":`, wantErr: "set DOCKER_HOST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DOCKER_CONFIG", dir)
			t.Setenv("DOCKER_HOST", tt.dockerHost)
			t.Setenv("DOCKER_CONTEXT", tt.envContext)
			if tt.config != "" {
				if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tt.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for name, host := range tt.contexts {
				writeContext(t, dir, name, host)
			}
			got, err := dockerops.ResolveEndpoint()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ResolveEndpoint() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Host != tt.wantHost || got.Source != tt.wantSource {
				t.Fatalf("ResolveEndpoint() = %+v, want host %q source %q", got, tt.wantHost, tt.wantSource)
			}
		})
	}
}

// TestConnectThroughContext reaches the real engine through a docker CLI context in a temp
// DOCKER_CONFIG, as Docker Desktop and colima users do.
func TestConnectThroughContext(t *testing.T) {
	dockertest.Engine(t) // the real engine must answer
	real, err := dockerops.ResolveEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("DOCKER_HOST", "")
	t.Setenv("DOCKER_CONTEXT", "")
	writeContext(t, dir, "iris-test", real.Host)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"iris-test"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := dockerops.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Endpoint() != real.Host || e.EndpointSource() != `docker context "iris-test"` {
		t.Fatalf("endpoint %q from %q, want %q from the context", e.Endpoint(), e.EndpointSource(), real.Host)
	}
	if err := e.Ping(ctx); err != nil {
		t.Fatalf("ping through context: %v", err)
	}
	if v := e.APIVersion(); v == "" {
		t.Fatal("no API version negotiated")
	}
	if _, err := e.HostPortsInUse(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestUnavailableEngine(t *testing.T) {
	t.Parallel()
	closed := closedTCPPort(t)
	tests := []struct{ name, host string }{
		{"missing unix socket", "unix://" + filepath.Join(t.TempDir(), "no-such-docker.sock")},
		{"closed tcp port", closed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			e, err := dockerops.Connect(ctx, dockerops.WithHost(tt.host))
			if err != nil {
				t.Fatalf("Connect must not contact the engine: %v", err)
			}
			defer e.Close()
			if e.Endpoint() != tt.host {
				t.Fatalf("Endpoint() = %q, want %q", e.Endpoint(), tt.host)
			}
			calls := map[string]func() error{
				"Ping": func() error { return e.Ping(ctx) },
				"HostPortsInUse": func() error {
					_, err := e.HostPortsInUse(ctx)
					return err
				},
				"Inspect": func() error {
					_, _, err := e.Inspect(ctx, "/some/project")
					return err
				},
				"Start": func() error {
					_, err := e.Start(ctx, dockerops.Spec{Project: "/some/project", Superserver: 30998, Web: 30999}, nil)
					return err
				},
				"Stop": func() error { return e.Stop(ctx, "/some/project", false, false) },
			}
			for name, call := range calls {
				err := call()
				var ue *dockerops.UnavailableError
				if !errors.As(err, &ue) {
					t.Fatalf("%s: error %v (%T), want *UnavailableError", name, err, err)
				}
				msg := err.Error()
				for _, want := range []string{tt.host, "start Docker", "docker group", "DOCKER_HOST"} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: message %q does not mention %q", name, msg, want)
					}
				}
			}
		})
	}
}

// TestUnavailableFromEnv: an unreachable DOCKER_HOST is what Connect picks and what the error names.
func TestUnavailableFromEnv(t *testing.T) {
	host := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	t.Setenv("DOCKER_HOST", host)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := dockerops.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	err = e.Ping(ctx)
	var ue *dockerops.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("Ping() = %v, want *UnavailableError", err)
	}
	rpctest.Must(t, "Ping's *UnavailableError", rpctest.Want("endpoint", ue.Endpoint, host), rpctest.Want("source", ue.Source, "DOCKER_HOST"))
	if !strings.Contains(err.Error(), "(from DOCKER_HOST)") {
		t.Errorf("message %q does not say the endpoint came from DOCKER_HOST", err)
	}
}

// TestHangingEngine: an endpoint that accepts connections but never answers is reported as
// unavailable within the deadlines instead of hanging.
func TestHangingEngine(t *testing.T) {
	t.Parallel()
	host := dockertest.HangingEngine(t)
	ctx := context.Background()
	e, err := dockerops.Connect(ctx, dockerops.WithHost(host), dockerops.WithCallTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var ue *dockerops.UnavailableError
	if err := e.Ping(ctx); !errors.As(err, &ue) || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("Ping() = %v, want *UnavailableError (no answer)", err)
	}
	if _, err := e.HostPortsInUse(ctx); !errors.As(err, &ue) {
		t.Fatalf("HostPortsInUse() = %v, want *UnavailableError", err)
	}

	// The first call of a fresh client (no ping yet) with a generous call timeout: the client
	// would negotiate the API version inside the call, use up the caller's whole deadline and
	// then need a classifying ping. It must instead give up after one ping and leave the
	// caller's deadline unspent.
	fresh, err := dockerops.Connect(ctx, dockerops.WithHost(host), dockerops.WithCallTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	callerCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, _, err = fresh.Inspect(callerCtx, t.TempDir())
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("first Inspect() = %v, want *UnavailableError (no answer within the ping timeout)", err)
	}
	if callerCtx.Err() != nil {
		t.Fatal("the first call used up the caller's deadline instead of one ping timeout")
	}
}

func TestConnectRefusesSSH(t *testing.T) {
	t.Parallel()
	_, err := dockerops.Connect(context.Background(), dockerops.WithHost("ssh://me@build-box"))
	if err == nil || !strings.Contains(err.Error(), "ssh -nNT -L /tmp/iris-docker.sock:/var/run/docker.sock me@build-box") ||
		!strings.Contains(err.Error(), "DOCKER_HOST=unix:///tmp/iris-docker.sock") {
		t.Fatalf("Connect(ssh://) = %v, want advice to forward the socket", err)
	}
}
