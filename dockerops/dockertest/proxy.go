package dockertest

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops"
)

// SocketPath returns a fresh unix socket path short enough for sun_path (t.TempDir can be too
// long); nothing listens on it. Its folder is removed when the test ends.
func SocketPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "d.sock")
}

// EngineProxy stands between a client and the real engine: a unix socket of its own that
// forwards every connection to the engine's socket. Down makes the engine go away for the
// clients of the proxy only (the shared daemon keeps running), Up brings it back, Freeze wedges
// it. Its methods may be called from any goroutine.
//
//	proxy := dockertest.NewEngineProxy(t, dockertest.Engine(t)) // not listening yet
//	proxy.Up()
//	eng := proxy.Engine()                                       // a client through the proxy
//	proxy.Down() // every forwarded connection is cut, the socket file is gone
type EngineProxy struct {
	t            testing.TB
	path, target string

	mu     sync.Mutex
	l      net.Listener
	conns  map[net.Conn]struct{}
	frozen bool
}

// NewEngineProxy returns a proxy to eng's socket on a fresh path (SocketPath), not yet
// listening: call Up. It is taken down when the test ends. An engine that is not on a unix
// socket is a missing prerequisite (Missing).
func NewEngineProxy(t testing.TB, eng *dockerops.Engine) *EngineProxy {
	t.Helper()
	target, ok := strings.CutPrefix(eng.Endpoint(), "unix://")
	if !ok {
		Missing(t, "the engine is not on a unix socket (%s); this test proxies one", eng.Endpoint())
	}
	p := &EngineProxy{t: t, path: SocketPath(t), target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(p.Down)
	return p
}

// Path is the proxy's socket file.
func (p *EngineProxy) Path() string { return p.path }

// Host is the proxy's endpoint as DOCKER_HOST or dockerops.WithHost take it: unix://Path().
func (p *EngineProxy) Host() string { return "unix://" + p.path }

// Engine is a client of the engine through the proxy (dockerops.WithHost(p.Host()), then opts),
// closed when the test ends. Like dockerops.Connect it makes no engine call.
func (p *EngineProxy) Engine(opts ...dockerops.Option) *dockerops.Engine {
	p.t.Helper()
	e, err := dockerops.Connect(context.Background(), append([]dockerops.Option{dockerops.WithHost(p.Host())}, opts...)...)
	if err != nil {
		p.t.Fatalf("connect through the engine proxy: %v", err)
	}
	p.t.Cleanup(func() { e.Close() })
	return e
}

// Up listens on the socket again (fails the test when it cannot) and forwards each new
// connection; it also ends a Freeze.
func (p *EngineProxy) Up() {
	p.t.Helper()
	l, err := net.Listen("unix", p.path)
	if err != nil {
		p.t.Fatalf("engine proxy: %v", err)
	}
	p.mu.Lock()
	p.l, p.frozen = l, false
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.forward(l, c)
		}
	}()
}

// Down closes the socket (its file disappears) and every open connection, frozen or not.
func (p *EngineProxy) Down() {
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

// Freeze makes the engine look wedged: every connection, open or new, stays open and nothing
// more passes in either direction, until Down.
func (p *EngineProxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

func (p *EngineProxy) isFrozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen
}

// hold records c as open, unless the listener it came from is closed already (then it closes c
// and says false).
func (p *EngineProxy) hold(l net.Listener, cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != l {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *EngineProxy) forward(l net.Listener, c net.Conn) {
	if p.isFrozen() {
		p.hold(l, c) // held open, closed by Down
		return
	}
	u, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.hold(l, c, u) {
		return
	}
	go func() { p.copyUnlessFrozen(u, c); u.Close() }()
	p.copyUnlessFrozen(c, u)
	c.Close()
}

// copyUnlessFrozen copies src to dst until either fails; once the proxy is frozen it passes
// nothing more (it returns when Down closes the connections).
func (p *EngineProxy) copyUnlessFrozen(dst, src net.Conn) {
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

// HangingEngine listens on a fresh unix socket, accepts every connection and never answers (an
// engine that is wedged from the start). It returns the endpoint as DOCKER_HOST or
// dockerops.WithHost take it; the socket and its connections are closed when the test ends.
func HangingEngine(t testing.TB) string {
	t.Helper()
	sock := SocketPath(t)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // hold it open, say nothing
			mu.Unlock()
		}
	}()
	return "unix://" + sock
}
