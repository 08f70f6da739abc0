package dockerops

import (
	"context"
	"time"

	"github.com/moby/moby/client"
)

// WaitReadyForTest exposes the readiness wait to the external tests and benchmarks, which
// compare Start with `docker run -d` plus the same wait.
func (e *Engine) WaitReadyForTest(ctx context.Context, id string, spec Spec) error {
	spec = spec.withDefaults()
	return e.waitReady(ctx, id, id, spec, time.Time{}, func(Progress) {})
}

// SetPullIdleTimeoutForTest shortens the pull's idle deadline (DefaultPullIdleTimeout).
func (e *Engine) SetPullIdleTimeoutForTest(d time.Duration) { e.pullIdle = d }

// SetPrepareFailForTest makes the durable volume's preparation fail with err (nil: work again),
// as a failing chown would. Set it before the engine is used by several goroutines.
func (e *Engine) SetPrepareFailForTest(err error) { e.prepareFail = err }

// SetWatchPingIntervalForTest shortens how often Watch pings a quiet engine.
func (e *Engine) SetWatchPingIntervalForTest(d time.Duration) { e.watchPing = d }

// SetBeforeCreateForTest makes Start call f with the create options right before it creates the
// container, as a concurrent start of the same project would.
func (e *Engine) SetBeforeCreateForTest(f func(client.ContainerCreateOptions)) { e.beforeCreate = f }
