package rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/workspace"
)

// engineDownProject is a fakeProject whose first start finds the engine down.
type engineDownProject struct {
	*fakeProject
	starts atomic.Int32
}

func (p *engineDownProject) StartWith(ctx context.Context, opts workspace.StartOptions, progress func(dockerops.Progress)) (workspace.Status, error) {
	if p.starts.Add(1) == 1 {
		p.setState(workspace.StateDockerUnavailable)
		return p.Status(ctx), fmt.Errorf("start IRIS for %s: %w", p.root.Dir,
			&dockerops.UnavailableError{Endpoint: "unix:///run/docker.sock", Err: errors.New("connection refused")})
	}
	return p.fakeProject.StartWith(ctx, opts, progress)
}

// TestAutoStartRetriedAfterALateStartingStatus: the auto-start that found the engine down runs
// again once the engine answers, also when a start's "starting" status reaches the helper after
// the engine was found down (status notifications are coalesced and may come late; the retry was
// lost then: TestEngineDownThenBack failed so on a loaded machine).
func TestAutoStartRetriedAfterALateStartingStatus(t *testing.T) {
	fake := newFakeProject(t.TempDir(), true)
	fake.state = workspace.StateDockerUnavailable
	p := &engineDownProject{fakeProject: fake}
	opts := fakeOpts(fake, nil)
	opts.Open = func(context.Context, string, workspace.ProjectOptions) (Project, error) { return p, nil }
	c, _ := inProcess(t, opts)
	if m := c.call(MethodInitialize, initParams(fake.root.Dir, nil)); m.Error != nil {
		t.Fatalf("initialize: %+v", m.Error)
	}
	c.notify(MethodInitialized, map[string]any{})
	c.waitFor("the auto-start waiting for the engine", func(m wireMsg) bool {
		return m.Method == MethodLogMessage && strings.Contains(string(m.Params), "auto-start waits for the Docker engine")
	})
	fake.setState(workspace.StateStarting)   // the failed start's status, late
	fake.setState(workspace.StateNotCreated) // the engine answers again
	c.waitFor("the auto-start again", func(wireMsg) bool { return p.starts.Load() == 2 })
}
