package workspace

import (
	"context"
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
