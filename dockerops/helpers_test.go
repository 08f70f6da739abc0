package dockerops_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
)

// Ports used by this package's tests: 30000–30999 (docs/architecture.md "Port bands").
// Each test owns a block of ten starting at its base below, so parallel tests never collide.

// closedTCPPort returns tcp://127.0.0.1:<port> where nothing listens.
func closedTCPPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "tcp://" + addr
}

// setup returns an engine, the stand-in image and a fresh project (cleaned up at the end).
func setup(t *testing.T) (*dockerops.Engine, string, string) {
	t.Helper()
	e := dockertest.Engine(t)
	img := dockertest.StubImage(t)
	return e, img, dockertest.Project(t)
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func spec(project, image string, ss, web int, env ...string) dockerops.Spec {
	return dockerops.Spec{Project: project, Image: image, Superserver: ss, Web: web, Env: env,
		ReadyTimeout: 2 * time.Minute, UnexpirePasswords: true}
}

// httpStatus GETs path on 127.0.0.1:port.
func httpStatus(t *testing.T, port int, path string) int {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
	if err != nil {
		t.Fatalf("GET %s on port %d: %v", path, port, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// superserverStaysOpen connects to the superserver port and checks the connection is held
// open (a docker-proxy without a listener behind it would close it at once).
func superserverStaysOpen(t *testing.T, port int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 10*time.Second)
	if err != nil {
		t.Fatalf("connect superserver %d: %v", port, err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("superserver %d closed the connection (%v): nothing listens behind the published port", port, err)
	}
}

// waitFor polls cond until it is true or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dockerCLI runs the docker command line (an external actor, as a user would).
func dockerCLI(t testing.TB, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		dockertest.Missing(t, "docker CLI not on PATH")
	}
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// httpStatusAuth GETs path on 127.0.0.1:port with basic auth.
func httpStatusAuth(t *testing.T, port int, path, user, pass string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func sha8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

type netDialer struct{}

func (netDialer) dial(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
	}
	return c, err
}
