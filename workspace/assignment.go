package workspace

import (
	"context"
	"errors"
	"fmt"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// Registry access for a project, with the rebuild from container labels after a corrupt registry.

// assignment returns the project's registry assignment, if any.
func (p *Project) assignment(ctx context.Context) (registry.Assignment, bool, error) {
	var a registry.Assignment
	var ok bool
	err := p.withRegistry(ctx, func() (err error) {
		a, ok, err = p.reg.Get(ctx, p.root.Dir)
		return err
	})
	return a, ok, err
}

// withRegistry runs fn under the restore rule of a corrupt registry (restoreCorrupt), with the
// project's engine and messages.
func (p *Project) withRegistry(ctx context.Context, fn func() error) error {
	return restoreCorrupt(ctx, p.reg, p.Engine, p.warnRestore, fn)
}

// warnRestore logs and publishes what restoreCorrupt tells the user.
func (p *Project) warnRestore(m Message) {
	p.log.Warn(m.Text)
	p.message(m)
}

// errNoEngine is the engine of a Machine without one.
var errNoEngine = errors.New("the Docker engine does not answer")

// restoreCorrupt is the one rule for a corrupt registry, for a Project and the machine-wide port
// verbs alike: it runs fn; when the registry reports that its file was corrupt (and was moved
// aside), it rebuilds the registry from the labels of iris-helper containers, tells the user
// through say (a warning) and runs fn again. engine is called only then.
func restoreCorrupt(ctx context.Context, reg *registry.Registry, engine func(context.Context) (*dockerops.Engine, error),
	say func(Message), fn func() error) error {
	err := fn()
	var ce *registry.CorruptError
	if !errors.As(err, &ce) || ce.Backup == "" {
		return err
	}
	text := ce.Error()
	eng, eerr := engine(ctx)
	if eerr == nil {
		var n int
		n, eerr = RestoreFromContainers(ctx, reg, eng)
		if eerr == nil {
			text = fmt.Sprintf("%s; rebuilt %d assignment(s) from the labels of iris-helper containers", text, n)
		}
	}
	if eerr != nil {
		text = fmt.Sprintf("%s; could not rebuild it from containers: %v", text, eerr)
	}
	say(Message{Level: LevelWarning, Text: text})
	return fn()
}

// RestoreFromContainers rebuilds registry assignments from the labels of the containers
// iris-helper created (after the registry file was found corrupt) and returns how many it
// restored. A project with several containers keeps the running one, else the newest.
func RestoreFromContainers(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine) (int, error) {
	byProject, err := ProjectContainers(ctx, eng)
	if err != nil {
		return 0, fmt.Errorf("list iris-helper containers: %w", err)
	}
	cs := make([]dockerops.Container, 0, len(byProject))
	for _, c := range byProject {
		cs = append(cs, c)
	}
	return restoreContainers(ctx, reg, eng, cs)
}

// containerOfEach picks, per project, the container that stands for it when there is more than one
// (there should never be): a running one before any other, else the one started last. Restore and
// the port listing use the same choice.
func containerOfEach(cs []dockerops.Container) map[string]dockerops.Container {
	best := map[string]dockerops.Container{}
	for _, c := range cs {
		old, seen := best[c.Project]
		if !seen || (c.State == "running" && old.State != "running") ||
			(c.State == old.State && c.StartedAt.After(old.StartedAt)) {
			best[c.Project] = c
		}
	}
	return best
}

// restoreContainers adds registry assignments for the projects of containers (by their labels);
// projects that have an assignment, and ports another project holds, are skipped by Restore.
func restoreContainers(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine, owned []dockerops.Container) (int, error) {
	var labelled []dockerops.Container
	for _, c := range owned {
		if c.Project != "" && c.Superserver != 0 && c.Web != 0 {
			labelled = append(labelled, c)
		}
	}
	best := containerOfEach(labelled)
	var as []registry.Assignment
	ss, web := reg.Ranges()
	for project, c := range best {
		a := registry.Assignment{Project: project, SuperserverPort: c.Superserver, WebPort: c.Web,
			Type: registry.TypeManual, Status: registry.StatusIdle, Container: c.Name, Engine: eng.Endpoint()}
		if c.State == "running" {
			a.Status = registry.StatusActive
		}
		a.Extra = extraPortsOf(c) // a compose project's other published ports (its override's label)
		// ports that form a slot of the current ranges were an automatic assignment
		if ss.Contains(c.Superserver) && web.Contains(c.Web) && c.Superserver-ss.Lo == c.Web-web.Lo {
			slot := c.Superserver - ss.Lo
			a.Slot, a.Type = &slot, registry.TypeAuto
		}
		as = append(as, a)
	}
	if len(as) == 0 {
		return 0, nil
	}
	if err := reg.Restore(ctx, as); err != nil {
		return 0, fmt.Errorf("restore registry from containers: %w", err)
	}
	return len(as), nil
}

// extraPortsOf are the extra ports a compose container's labels name (labelExtraPorts), by key.
func extraPortsOf(c dockerops.Container) []registry.ExtraPort {
	m := decodePorts(c.Labels[labelExtraPorts])
	var out []registry.ExtraPort
	for _, k := range sortedKeys(m) {
		out = append(out, registry.ExtraPort{Key: k, Port: m[k]})
	}
	return out
}
