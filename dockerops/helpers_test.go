package dockerops_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
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

// socketProxy forwards a unix socket to the real engine socket and can be taken down and up,
// to simulate an engine outage without touching the shared daemon.
type socketProxy struct {
	path, target string
	mu           sync.Mutex
	l            net.Listener
	conns        map[net.Conn]struct{}
	frozen       bool // new connections are accepted and never answered (a wedged engine)
}

// freeze makes the engine look wedged: every connection, open or new, stays open and nothing
// more is passed in either direction.
func (p *socketProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

func (p *socketProxy) isFrozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen
}

// copyUnlessFrozen copies src to dst until either fails; once the proxy is frozen it passes
// nothing more (it returns when down closes the connections).
func (p *socketProxy) copyUnlessFrozen(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.isFrozen() {
				_, _ = io.Copy(io.Discard, src) // swallow until closed
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func newSocketProxy(t *testing.T, target string) *socketProxy {
	t.Helper()
	p := &socketProxy{path: shortSocketPath(t), target: target, conns: map[net.Conn]struct{}{}}
	p.up(t)
	t.Cleanup(p.down)
	return p
}

func (p *socketProxy) host() string { return "unix://" + p.path }

func (p *socketProxy) up(t *testing.T) {
	t.Helper()
	l, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *socketProxy) forward(c net.Conn) {
	p.mu.Lock()
	if p.frozen {
		p.conns[c] = struct{}{} // held open, closed by down
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	u, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { p.copyUnlessFrozen(u, c); u.Close() }()
	p.copyUnlessFrozen(c, u)
	c.Close()
}

// down closes the listener and every open connection (the socket file disappears).
func (p *socketProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// shortSocketPath returns a unix socket path short enough for sun_path (t.TempDir can be long).
func shortSocketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "d.sock")
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
