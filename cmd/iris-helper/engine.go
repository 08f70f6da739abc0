package main

import (
	"context"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// The CLI's one way to the Docker engine and one way to the port registry: every command uses
// these (and passes them to workspace), so that they all see the same engine with the same options.

// engine connects to the Docker engine (DOCKER_HOST > docker context > default socket), once per
// command. Connect does not contact the engine: a stopped one shows in the status, and as
// containerState "unknown" in the ports entries.
func (a *app) engine(ctx context.Context) (*dockerops.Engine, error) {
	if a.eng != nil {
		return a.eng, nil
	}
	eng, err := dockerops.Connect(ctx, dockerops.WithLogger(a.logger), dockerops.WithVersion(version))
	if err != nil {
		return nil, err
	}
	a.eng = eng
	return eng, nil
}

// engineIfUp returns the Docker engine when it answers a ping, else nil (callers fall back to what
// works without Docker and say so).
func engineIfUp(ctx context.Context, a *app) *dockerops.Engine {
	eng, err := a.engine(ctx)
	if err != nil {
		a.logger.Debug("docker engine", "err", err)
		return nil
	}
	if err := eng.Ping(ctx); err != nil {
		a.logger.Debug("docker engine", "err", err)
		return nil
	}
	return eng
}

// openPortRegistry opens the registry in $IRIS_HELPER_HOME (or ~/.iris-helper). Ports the
// engine's containers publish count as taken, and a conflict names the container; when the engine
// is down the registry probes the host only.
func openPortRegistry(a *app) (*registry.Registry, error) {
	opts := registry.Options{Logger: a.logger}
	if eng, err := a.engine(context.Background()); err == nil {
		opts.Ports = eng
	}
	return registry.Open(opts)
}
