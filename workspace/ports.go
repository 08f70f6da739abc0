package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// The port verbs the front ends share (`iris-helper ports ...`, iris/ports): each answers with
// PortEntry, the one JSON shape of an assignment with the live state of its container.

// PortTarget names one assignment: by either of its ports (Port != 0), else by project key.
type PortTarget struct {
	Port    int
	Project string
}

// PreferredPorts is the rule for the ports a project asks for, the same for `start`, `ports
// assign` and the editor: the flags' (--port/--web-port, either alone), else the "ports" of the
// project's .iris-helper.json, else none (the registry's next free slot). docs/config.md.
func PreferredPorts(flags registry.Preferred, cfg Config) registry.Preferred {
	if flags != (registry.Preferred{}) {
		return flags
	}
	return registry.Preferred{Superserver: cfg.Ports.Superserver, Web: cfg.Ports.Web}
}

// AssignPorts gives project (a project key, FindRoot's Dir) its ports, following PreferredPorts
// with the project's .iris-helper.json, and returns its entry. eng nil: the engine does not answer
// (containerState "unknown").
func AssignPorts(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine, project string, flags registry.Preferred) (PortEntry, error) {
	cfg, err := LoadConfig(project)
	if err != nil {
		return PortEntry{}, err
	}
	a, err := reg.Assign(ctx, project, PreferredPorts(flags, cfg))
	if err != nil {
		return PortEntry{}, err
	}
	return portEntry(ctx, reg, eng, a)
}

// InspectPorts returns the entry t names; *registry.NotFoundError when nothing is assigned.
func InspectPorts(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine, t PortTarget) (PortEntry, error) {
	a, err := findAssignment(ctx, reg, t)
	if err != nil {
		return PortEntry{}, err
	}
	return portEntry(ctx, reg, eng, a)
}

// ReleasePorts releases the assignment t names (ReleaseProject: refused while its container runs
// unless opts.Force); *registry.NotFoundError when nothing is assigned.
func ReleasePorts(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine, t PortTarget, opts ReleaseOptions) (registry.Assignment, error) {
	a, err := findAssignment(ctx, reg, t)
	if err != nil {
		return registry.Assignment{}, err
	}
	return ReleaseProject(ctx, reg, eng, a.Project, opts)
}

func findAssignment(ctx context.Context, reg *registry.Registry, t PortTarget) (registry.Assignment, error) {
	var (
		a   registry.Assignment
		ok  bool
		err error
	)
	if t.Port != 0 {
		a, ok, err = reg.Find(ctx, t.Port)
	} else {
		a, ok, err = reg.Get(ctx, t.Project)
	}
	if err == nil && !ok {
		err = &registry.NotFoundError{Project: t.Project, Port: t.Port}
	}
	return a, err
}

// portEntry is a's entry, as ListPorts shows it (the same container lookup and state mapping).
func portEntry(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine, a registry.Assignment) (PortEntry, error) {
	entries, err := ListPorts(ctx, reg, eng)
	if err != nil {
		return PortEntry{}, err
	}
	for _, e := range entries {
		if e.Project == a.Project {
			return e, nil
		}
	}
	return PortEntry{}, fmt.Errorf("the assignment of %s is no longer in the registry %s; another process released it", a.Project, reg.Path())
}

// ReleaseOptions select what Release may do to a project's container.
type ReleaseOptions struct {
	Force bool // stop and remove a running container instead of refusing
	Purge bool // delete the project's data volume too
}

// RunningError says that an operation was refused because the project's container runs (or a
// start of it is in progress: Starting, Container ""). A front end words the remedy: stop it
// first, or force the operation (its own flag or button).
type RunningError struct {
	Project, Container string
	Starting           bool
}

func (e *RunningError) Error() string {
	if e.Starting {
		return fmt.Sprintf("a start of %s is in progress", e.Project)
	}
	return fmt.Sprintf("the IRIS container %s of %s is running", e.Container, e.Project)
}

// Release gives the project's ports back. It is refused while the container runs unless Force
// (which stops and removes it first); Purge also deletes the data volume.
func (p *Project) Release(ctx context.Context, opts ReleaseOptions) (registry.Assignment, error) {
	p.mu.Lock()
	busy := p.op != nil
	p.mu.Unlock()
	if busy && !opts.Force {
		return registry.Assignment{}, &RunningError{Project: p.root.Dir, Starting: true}
	}
	if busy {
		if _, err := p.Stop(ctx, StopOptions{Remove: true, Purge: opts.Purge}); err != nil {
			return registry.Assignment{}, err
		}
	}
	var eng *dockerops.Engine
	if e, err := p.Engine(ctx); err == nil {
		eng = e
	}
	return ReleaseProject(ctx, p.reg, eng, p.root.Dir, opts)
}

// ReleaseProject releases the registry assignment of project (a project key, whose folder may
// be gone). With an engine: refused while the project's container runs unless opts.Force, which
// stops and removes it first; opts.Purge removes the container and its data volume. Without an
// engine (nil: Docker unavailable) only a plain release is possible.
func ReleaseProject(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine, project string, opts ReleaseOptions) (registry.Assignment, error) {
	if eng == nil {
		if opts.Force || opts.Purge {
			return registry.Assignment{}, fmt.Errorf("release %s: stopping or purging its container needs the Docker engine, which does not answer; start Docker and try again", project)
		}
		return reg.Release(ctx, project)
	}
	c, found, err := eng.Inspect(ctx, project)
	if err != nil {
		if isUnavailable(err) && !opts.Force && !opts.Purge {
			return reg.Release(ctx, project)
		}
		return registry.Assignment{}, fmt.Errorf("release %s: %w", project, err)
	}
	if found && c.State == "running" && !opts.Force {
		return registry.Assignment{}, &RunningError{Project: project, Container: c.Name}
	}
	if found || opts.Purge {
		stopCtx, cancel := context.WithTimeout(ctx, stopTimeout)
		defer cancel()
		if err := eng.Stop(stopCtx, project, true, opts.Purge); err != nil {
			return registry.Assignment{}, fmt.Errorf("release %s: remove its container: %w", project, err)
		}
	}
	return reg.Release(ctx, project)
}

// PortEntry is one registry assignment with the live state of its container.
type PortEntry struct {
	registry.Assignment
	ContainerState string `json:"containerState"` // running|exited|created|not-created|unknown (engine down)
	State          State  `json:"state"`          // a Status state: ready|unhealthy|stopped|not-created|error|starting|stopping|docker-unavailable
}

// MarshalJSON writes the assignment's own fields (as the registry writes them) followed by
// containerState and state.
func (e PortEntry) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(e.Assignment)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("port entry: unexpected assignment JSON %s", b)
	}
	extra, err := json.Marshal(struct {
		ContainerState string `json:"containerState"`
		State          State  `json:"state"`
	}{e.ContainerState, e.State})
	if err != nil {
		return nil, err
	}
	out := append([]byte{}, b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	return append(out, extra[1:]...), nil
}

// Ports lists every registry assignment with the live state of its container; this project's
// entry carries its full Status state (starting, stopping, error...).
func (p *Project) Ports(ctx context.Context) ([]PortEntry, error) {
	var eng *dockerops.Engine
	if e, err := p.Engine(ctx); err == nil {
		eng = e
	}
	var entries []PortEntry
	err := p.withRegistry(ctx, func() (err error) {
		entries, err = ListPorts(ctx, p.reg, eng)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range entries {
		if entries[i].Project == p.root.Dir {
			entries[i].State = p.Status(ctx).State
		}
	}
	return entries, nil
}

// ListPorts lists every registry assignment with the live state of its container, found by the
// containers' project labels. eng nil (or down): containerState "unknown", state docker-unavailable.
func ListPorts(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine) ([]PortEntry, error) {
	as, err := reg.List(ctx)
	if err != nil {
		return nil, err
	}
	var owned []dockerops.Container
	engineOK := eng != nil
	if engineOK {
		if owned, err = eng.Owned(ctx); err != nil {
			engineOK = false
		}
	}
	byProject := containerOfEach(owned)
	entries := make([]PortEntry, 0, len(as))
	for _, a := range as {
		e := PortEntry{Assignment: a, ContainerState: "unknown", State: StateDockerUnavailable}
		if engineOK {
			if c, found := byProject[a.Project]; found {
				e.ContainerState, e.State = c.State, containerState(c)
				// the one readiness rule of Status (readiness.go): running is ready once IRIS answered
				if e.State == StateReady && !newReadiness(reg.Home(), a.Project, nil).Answered(ctx, c, c.BindAddress, c.Web) {
					e.State = StateStarting
				}
			} else {
				e.ContainerState, e.State = "not-created", StateNotCreated
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// CleanupPorts removes (or, dryRun, only lists) the assignments whose project folder is gone AND
// that have no iris-helper container. Without an engine (nil) it cannot see containers and says
// so in the returned warning; then only the folders are checked.
func CleanupPorts(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine, dryRun bool) ([]registry.Assignment, string, error) {
	warning := ""
	hasContainer := map[string]bool{}
	if eng == nil {
		warning = "the Docker engine does not answer, so containers were not checked; only the folders were"
	} else {
		owned, err := eng.Owned(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("cleanup: list iris-helper containers: %w", err)
		}
		for _, c := range owned {
			hasContainer[c.Project] = true
		}
	}
	stale, err := reg.Cleanup(ctx, dryRun, func(a registry.Assignment) bool {
		return !hasContainer[a.Project] && registry.FolderGone(a)
	})
	return stale, warning, err
}
