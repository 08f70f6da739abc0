package workspace

import (
	"context"
	"io"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
)

// imageRuntime is the image kind: one plain container of an IRIS image, run through dockerops
// (which holds the container rules: reuse, keep, durable volume, readiness).
type imageRuntime struct {
	project      string
	engine       func(context.Context) (*dockerops.Engine, error) // Project.Engine: connects lazily
	image        string
	durable      bool
	unexpire     bool
	readyTimeout time.Duration
	env          []string // extra KEY=VALUE for the container
}

var _ Runtime = (*imageRuntime)(nil)

func (r *imageRuntime) Kind() Kind { return KindImage }

// spec is the container plan asks for.
func (r *imageRuntime) spec(plan RunPlan) dockerops.Spec {
	return dockerops.Spec{Project: r.project, Image: r.image, BindAddress: plan.BindAddress,
		Superserver: plan.Assignment.SuperserverPort, Web: plan.Assignment.WebPort, Durable: r.durable,
		UnexpirePasswords: r.unexpire, ReadyTimeout: r.readyTimeout, Env: r.env, ConfirmRecreate: plan.Confirm,
		MergeFile: plan.MergeFile}
}

// containers is what the one container c (found or not) makes of the project.
func imageContainers(c dockerops.Container, found bool) Containers {
	cs := Containers{Found: found, Main: c}
	if found && c.Superserver != 0 && c.Web != 0 {
		cs.Ports = []PublishedPort{
			{ContainerPort: dockerops.SuperserverContainerPort, Protocol: "tcp", HostIP: c.BindAddress, HostPort: c.Superserver, State: c.State},
			{ContainerPort: dockerops.WebContainerPort, Protocol: "tcp", HostIP: c.BindAddress, HostPort: c.Web, State: c.State},
		}
	}
	return cs
}

func (r *imageRuntime) Inspect(ctx context.Context) (Containers, error) {
	eng, err := r.engine(ctx)
	if err != nil {
		return Containers{}, err
	}
	c, found, err := eng.Inspect(ctx, r.project)
	if err != nil {
		return Containers{}, err
	}
	return imageContainers(c, found), nil
}

func (r *imageRuntime) Drift(ctx context.Context, plan RunPlan, cs Containers) ([]dockerops.Difference, error) {
	if !cs.Found {
		return nil, nil
	}
	eng, err := r.engine(ctx)
	if err != nil {
		return nil, err
	}
	return eng.Differences(ctx, r.spec(plan), cs.Main)
}

func (r *imageRuntime) Recreation(ctx context.Context, plan RunPlan) (*dockerops.Recreation, error) {
	eng, err := r.engine(ctx)
	if err != nil {
		return nil, err
	}
	return eng.Recreation(ctx, r.spec(plan))
}

func (r *imageRuntime) Start(ctx context.Context, plan RunPlan, progress func(dockerops.Progress)) (Containers, error) {
	eng, err := r.engine(ctx)
	if err != nil {
		return Containers{}, err
	}
	c, err := eng.Start(ctx, r.spec(plan), progress)
	if err != nil {
		return Containers{}, err
	}
	return imageContainers(c, true), nil
}

func (r *imageRuntime) Stop(ctx context.Context, opts StopOptions) error {
	eng, err := r.engine(ctx)
	if err != nil {
		return err
	}
	return eng.Stop(ctx, r.project, opts.Remove, opts.Remove && opts.Purge)
}

func (r *imageRuntime) Watch(ctx context.Context, onEvent func(dockerops.Event)) error {
	eng, err := r.engine(ctx) // fails only for an invalid endpoint (bad DOCKER_HOST/context)
	if err != nil {
		return err
	}
	return eng.Watch(ctx, func(ev dockerops.Event) {
		if ev.Kind == dockerops.EventEngineDown || ev.Kind == dockerops.EventEngineUp || ev.Project == r.project {
			onEvent(ev)
		}
	})
}

func (r *imageRuntime) Logs(ctx context.Context, follow bool, w io.Writer) error {
	eng, err := r.engine(ctx)
	if err != nil {
		return err
	}
	return eng.Logs(ctx, r.project, follow, w)
}

func (r *imageRuntime) EnvKeys(RunPlan) map[string]string { return nil }
