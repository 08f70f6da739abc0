package dockerops_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/moby/moby/client"
)

func TestNames(t *testing.T) {
	tests := []struct {
		project string
		port    int
		name    string
		volume  string
	}{
		{"/home/me/proj", 1972, "iris_4c3b4937_1972", "iris_4c3b4937_durable"}, // printf /home/me/proj | sha256sum
		{`C:\Users\me\proj`, 51773, "iris_" + sha8(`C:\Users\me\proj`) + "_51773", "iris_" + sha8(`C:\Users\me\proj`) + "_durable"},
	}
	for _, tt := range tests {
		if got := dockerops.ContainerName(tt.project, tt.port); got != tt.name {
			t.Errorf("ContainerName(%q, %d) = %q, want %q", tt.project, tt.port, got, tt.name)
		}
		if got := dockerops.VolumeName(tt.project); got != tt.volume {
			t.Errorf("VolumeName(%q) = %q, want %q", tt.project, got, tt.volume)
		}
	}
	if dockerops.ContainerName("/a", 1972) == dockerops.ContainerName("/b", 1972) {
		t.Fatal("different projects share a container name")
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want []string
	}{
		{&dockerops.UnavailableError{Endpoint: "unix:///var/run/docker.sock", Source: "default",
			Err: errors.New("permission denied while trying to connect to the docker API")},
			[]string{"unix:///var/run/docker.sock", "start Docker", "sudo usermod -aG docker", "rootless Docker", "DOCKER_HOST"}},
		{&dockerops.UnavailableError{Endpoint: "unix:///Users/me/.colima/docker.sock", Source: `docker context "colima"`, Err: os.ErrNotExist},
			[]string{`(from docker context "colima")`, "docker context ls"}},
		{&dockerops.PullError{Image: dockerops.DefaultImage, Err: errors.New("unauthorized")},
			[]string{dockerops.DefaultImage, "`docker login containers.intersystems.com`", "unauthorized"}},
		{&dockerops.PortTakenError{Port: 1973, Err: errors.New("port is already allocated")}, []string{"1973", "already in use"}},
		{&dockerops.NotReadyError{Container: "iris_x_1", Waited: 180 * time.Second, LastSeen: "nothing", LastLines: []string{"a", "b"}},
			[]string{"iris_x_1", "not ready after 3m0s", "nothing", "a\n  b"}},
		{&dockerops.ExitedError{Container: "iris_x_1", Code: 3, LastLines: []string{"boom"}}, []string{"exited with code 3", "boom"}},
		{&dockerops.NameConflictError{Name: "iris_x_1"}, []string{"not created by iris-helper", "docker rm -f iris_x_1"}},
	}
	for _, tt := range tests {
		msg := tt.err.Error()
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%T message %q does not contain %q", tt.err, msg, w)
			}
		}
	}
}

// TestSpecValidation: bad specs are refused before any engine call (the engine here is unreachable).
func TestSpecValidation(t *testing.T) {
	t.Parallel()
	e, err := dockerops.Connect(context.Background(), dockerops.WithHost(closedTCPPort(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tests := []struct {
		name string
		spec dockerops.Spec
		want string
	}{
		{"no project", dockerops.Spec{Superserver: 1, Web: 2}, "no project"},
		{"zero port", dockerops.Spec{Project: "/p", Web: 2}, "invalid ports"},
		{"port too big", dockerops.Spec{Project: "/p", Superserver: 70000, Web: 2}, "invalid ports"},
		{"same ports", dockerops.Spec{Project: "/p", Superserver: 5, Web: 5}, "both 5"},
		{"bad bind address", dockerops.Spec{Project: "/p", Superserver: 1, Web: 2, BindAddress: "localhost"}, "not an IP address"},
	}
	for _, tt := range tests {
		_, err := e.Start(context.Background(), tt.spec, nil)
		var ue *dockerops.UnavailableError
		if err == nil {
			t.Errorf("%s: Start() = nil, want an error containing %q", tt.name, tt.want)
			continue
		}
		rpctest.Check(t, fmt.Sprintf("%s: Start() = %v", tt.name, err), rpctest.Want("is an *UnavailableError", errors.As(err, &ue), false))
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Start() = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

// TestBindAddress: a project asking for another loopback address gets its ports bound there only.
func TestBindAddress(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	s := spec(p, img, 30130, 30131)
	s.BindAddress = "127.0.0.2"
	c, err := e.Start(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.BindAddress != "127.0.0.2" {
		t.Fatalf("BindAddress %q", c.BindAddress)
	}
	ins, err := e.Client().ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for port, bs := range ins.Container.HostConfig.PortBindings {
		if len(bs) != 1 || bs[0].HostIP != netip.MustParseAddr("127.0.0.2") {
			t.Fatalf("binding of %s: %v, want 127.0.0.2 only", port, bs)
		}
	}
	if _, err := (&netDialer{}).dial(fmt.Sprintf("127.0.0.1:%d", 30131)); err == nil {
		t.Fatal("web port also reachable on 127.0.0.1")
	}
}
