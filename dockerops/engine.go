package dockerops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// Default values used when the corresponding option or Spec field is zero.
const (
	DefaultImage        = "containers.intersystems.com/intersystems/iris-community:latest-em"
	DefaultBindAddress  = "127.0.0.1"
	DefaultReadyTimeout = 180 * time.Second
	DefaultStopTimeout  = 60 * time.Second
	DefaultCallTimeout  = 30 * time.Second
	// DefaultPullIdleTimeout bounds a pull that stops making progress (a registry that stalls
	// mid-download): no progress message for this long ends the pull with *PullError.
	DefaultPullIdleTimeout = 5 * time.Minute
	pingTimeout            = 5 * time.Second
	// watchPingInterval: an event stream says nothing when the engine wedges, so Watch pings.
	watchPingInterval = 30 * time.Second
)

// Engine is a connection to one Docker engine: one cached client with API version
// negotiation (works with API 1.41 / Docker 20.10 and current engines). Safe for
// concurrent use.
type Engine struct {
	cli         *client.Client
	endpoint    EndpointInfo
	version     string
	log         *slog.Logger
	callTimeout time.Duration
	pullIdle    time.Duration // see DefaultPullIdleTimeout
	watchPing   time.Duration // how often Watch pings the engine while its event stream is quiet
	answered    atomic.Bool   // a Ping succeeded: the API version is negotiated
	prepareFail error         // tests: the volume preparation fails with this error
	// tests: called by Start right before it creates the container (to create it concurrently)
	beforeCreate func(client.ContainerCreateOptions)
}

// Option configures Connect.
type Option func(*Engine)

// WithHost uses host instead of resolving DOCKER_HOST / the docker context.
func WithHost(host string) Option {
	return func(e *Engine) { e.endpoint = EndpointInfo{Host: host, Source: "option"} }
}

// WithVersion sets the iris-helper version written into the dev.iris-helper.version label.
func WithVersion(v string) Option { return func(e *Engine) { e.version = v } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithCallTimeout bounds each single engine call (default 30 s). Waits (readiness, stop,
// pulls, logs, events) are bounded by their own deadlines and the caller's context.
func WithCallTimeout(d time.Duration) Option { return func(e *Engine) { e.callTimeout = d } }

// Connect resolves the engine endpoint (see ResolveEndpoint) and prepares the client. It
// does not contact the engine: a stopped engine is reported by Ping and by every call as
// *UnavailableError, so callers can still show Endpoint(). It fails only when the endpoint
// itself is invalid (bad DOCKER_HOST, broken docker context).
func Connect(ctx context.Context, opts ...Option) (*Engine, error) {
	e := &Engine{version: "dev", callTimeout: DefaultCallTimeout, pullIdle: DefaultPullIdleTimeout, watchPing: watchPingInterval}
	for _, o := range opts {
		o(e)
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.endpoint.Host == "" {
		ep, err := ResolveEndpoint()
		if err != nil {
			return nil, fmt.Errorf("find docker engine: %w", err)
		}
		e.endpoint = ep
	}
	if rest, ok := strings.CutPrefix(e.endpoint.Host, "ssh://"); ok {
		return nil, fmt.Errorf("docker engine %s (from %s): ssh:// engines are not supported; forward the remote socket "+
			"(`ssh -nNT -L /tmp/iris-docker.sock:/var/run/docker.sock %s`) and set DOCKER_HOST=unix:///tmp/iris-docker.sock",
			e.endpoint.Host, e.endpoint.Source, strings.SplitN(rest, "/", 2)[0])
	}
	var copts []client.Opt // API-version negotiation is the client's default (WithAPIVersionNegotiation is a no-op)
	if e.endpoint.Source == "DOCKER_HOST" {
		copts = append(copts, client.WithTLSClientConfigFromEnv())
	}
	copts = append(copts, client.WithHost(e.endpoint.Host))
	cli, err := client.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker engine %s (from %s): %w", e.endpoint.Host, e.endpoint.Source, err)
	}
	e.cli = cli
	return e, nil
}

// Close releases the client's connections.
func (e *Engine) Close() error { return e.cli.Close() }

// Endpoint is the engine address, for the registry's `engine` field.
func (e *Engine) Endpoint() string { return e.endpoint.Host }

// EndpointSource says where Endpoint came from ("DOCKER_HOST", `docker context "x"`, "default").
func (e *Engine) EndpointSource() string { return e.endpoint.Source }

// Client exposes the underlying moby client (for tests and tools in this module).
func (e *Engine) Client() *client.Client { return e.cli }

// Ping checks that the engine answers (and negotiates the API version). It returns
// *UnavailableError when it does not.
func (e *Engine) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	_, err := e.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		if ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.Canceled) {
			return e.unavailable(fmt.Errorf("no answer within %s", pingTimeout))
		}
		return e.classify(err)
	}
	e.answered.Store(true)
	return nil
}

// APIVersion is the API version the client uses (the negotiated one after the first successful
// call; the client's newest before that).
func (e *Engine) APIVersion() string { return e.cli.ClientVersion() }

// HostPortsInUse reports the host ports published by all containers of the engine (ours or
// not): port → holder ("container iris_ab12cd34_1972"). It implements registry.PortsInUse.
func (e *Engine) HostPortsInUse(ctx context.Context) (map[int]string, error) {
	ctx, cancel, err := e.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, e.wrap("list containers", err)
	}
	ports := map[int]string{}
	for _, c := range res.Items {
		name := c.ID[:min(12, len(c.ID))]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		for _, p := range c.Ports {
			if p.PublicPort > 0 {
				ports[int(p.PublicPort)] = "container " + name
			}
		}
	}
	return ports, nil
}

// call derives a context bounded by the per-call timeout. Until the engine has answered once it
// pings first: the client negotiates the API version inside the first call and ignores a failed
// negotiation, so an engine that accepts connections but never answers would otherwise cost the
// whole call timeout and then a classifying ping; this way it costs one ping timeout and the
// error is *UnavailableError.
func (e *Engine) call(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if !e.answered.Load() {
		if err := e.Ping(ctx); err != nil {
			return ctx, func() {}, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, e.callTimeout)
	return ctx, cancel, nil
}

func (e *Engine) unavailable(err error) error {
	return &UnavailableError{Endpoint: e.endpoint.Host, Source: e.endpoint.Source, Err: err}
}

// classify turns connection-level failures into *UnavailableError and leaves others alone.
func (e *Engine) classify(err error) error {
	if err == nil {
		return nil
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return err
	}
	if isConnectionError(err) {
		return e.unavailable(err)
	}
	return err
}

// wrap classifies err and adds what we were doing. A call that ran out of time is checked
// with a ping: an engine that accepts connections but does not answer is unavailable too.
func (e *Engine) wrap(op string, err error) error {
	err = e.classify(err)
	if errors.Is(err, context.DeadlineExceeded) {
		if perr := e.Ping(context.Background()); perr != nil {
			return perr
		}
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isConnectionError(err error) bool {
	if client.IsErrConnectionFailed(err) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, syscall.EACCES) || errors.Is(err, os.ErrPermission) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "Cannot connect to the Docker daemon") ||
		strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "dial unix")
}
