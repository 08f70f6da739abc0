package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// The port verbs the front ends share (`iris-helper ports ...`, iris/ports): each answers with
// PortEntry, the one JSON shape of an assignment with the live state of its container, and
// ListPorts with PortList. They work on a Machine: the registry, the engine and where a warning
// goes; every one of them rebuilds a corrupt registry from container labels (restoreCorrupt), as
// a Project does.

// Machine is the machine-wide view the port verbs work on.
type Machine struct {
	Reg *registry.Registry
	Eng *dockerops.Engine // nil: the engine does not answer (containerState "unknown")
	// OnMessage (may be nil) gets what the user is told besides the answer: a corrupt registry
	// moved aside and rebuilt from the labels of iris-helper containers.
	OnMessage func(Message)
}

// withRegistry runs fn under the restore rule of a corrupt registry (restoreCorrupt).
func (m Machine) withRegistry(ctx context.Context, fn func() error) error {
	engine := func(context.Context) (*dockerops.Engine, error) {
		if m.Eng == nil {
			return nil, errNoEngine
		}
		return m.Eng, nil
	}
	say := func(msg Message) {
		if m.OnMessage != nil {
			m.OnMessage(msg)
		}
	}
	return restoreCorrupt(ctx, m.Reg, engine, say, fn)
}

// PortTarget names one assignment: by either of its ports (Port != 0), else by project key.
type PortTarget struct {
	Port    int
	Project string
	// Missing is set when the folder named does not exist (ResolvePortTarget): Project is then the
	// key it had, which still names the assignment of a project whose folder is gone (stale), and
	// Missing is the error reported when no assignment has that key.
	Missing error
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

// PortRangeError says that a number given as a port is not one (a usage error of the front end).
type PortRangeError struct{ Port int }

func (e *PortRangeError) Error() string {
	return fmt.Sprintf("port %d is out of range: give a port between 1 and 65535 or a folder", e.Port)
}

// ResolvePortTarget reads what a user named as [DIR|PORT] ("" for the current folder): a number
// that is not an existing folder is a port (*PortRangeError outside 1-65535); else the folder's
// project key (FindRoot). A folder that no longer exists names the key it had (FindRoot's link
// resolution of its nearest existing ancestor), with Missing set.
func ResolvePortTarget(arg string) (PortTarget, error) {
	if n, err := strconv.Atoi(arg); err == nil {
		if fi, serr := os.Stat(arg); serr != nil || !fi.IsDir() {
			if n < 1 || n > 65535 {
				return PortTarget{}, &PortRangeError{Port: n}
			}
			return PortTarget{Port: n}, nil
		}
	}
	if arg == "" {
		arg = "."
	}
	root, err := FindRoot(arg)
	var nf *NoFolderError
	if errors.As(err, &nf) && nf.Key != "" {
		return PortTarget{Project: nf.Key, Missing: err}, nil
	}
	if err != nil {
		return PortTarget{}, err
	}
	return PortTarget{Project: root.Dir}, nil
}

// AssignPorts gives project (a project key, FindRoot's Dir) its ports, following PreferredPorts
// with the project's .iris-helper.json, and returns its entry.
func (m Machine) AssignPorts(ctx context.Context, project string, flags registry.Preferred) (PortEntry, error) {
	cfg, err := LoadConfig(project)
	if err != nil {
		return PortEntry{}, err
	}
	var a registry.Assignment
	if err := m.withRegistry(ctx, func() (err error) {
		a, err = m.Reg.Assign(ctx, project, PreferredPorts(flags, cfg))
		return err
	}); err != nil {
		return PortEntry{}, err
	}
	return m.portEntry(ctx, a)
}

// InspectPorts returns the entry t names; *registry.NotFoundError (t.Missing for a folder that is
// gone) when nothing is assigned.
func (m Machine) InspectPorts(ctx context.Context, t PortTarget) (PortEntry, error) {
	a, err := m.findAssignment(ctx, t)
	if err != nil {
		return PortEntry{}, err
	}
	return m.portEntry(ctx, a)
}

// ReleasePorts releases the assignment t names (ReleaseProject: refused while its container runs
// unless opts.Force); *registry.NotFoundError (t.Missing for a folder that is gone) when nothing
// is assigned.
func (m Machine) ReleasePorts(ctx context.Context, t PortTarget, opts ReleaseOptions) (registry.Assignment, error) {
	a, err := m.findAssignment(ctx, t)
	if err != nil {
		return registry.Assignment{}, err
	}
	return m.ReleaseProject(ctx, a.Project, opts)
}

// ClearPorts removes every assignment from the registry and returns them. Running containers keep
// their ports until they stop; the registry forgets them (a corrupt file is cleared as it is).
func (m Machine) ClearPorts(ctx context.Context) ([]registry.Assignment, error) {
	return m.Reg.Clear(ctx)
}

func (m Machine) findAssignment(ctx context.Context, t PortTarget) (registry.Assignment, error) {
	var (
		a  registry.Assignment
		ok bool
	)
	err := m.withRegistry(ctx, func() (err error) {
		if t.Port != 0 {
			a, ok, err = m.Reg.Find(ctx, t.Port)
		} else {
			a, ok, err = m.Reg.Get(ctx, t.Project)
		}
		return err
	})
	switch {
	case err == nil && !ok && t.Missing != nil:
		err = t.Missing
	case err == nil && !ok:
		err = &registry.NotFoundError{Project: t.Project, Port: t.Port}
	}
	return a, err
}

// portEntry is a's entry, as ListPorts shows it (the same container lookup and state mapping).
func (m Machine) portEntry(ctx context.Context, a registry.Assignment) (PortEntry, error) {
	list, err := m.ListPorts(ctx)
	if err != nil {
		return PortEntry{}, err
	}
	for _, e := range list.Assignments {
		if e.Project == a.Project {
			return e, nil
		}
	}
	return PortEntry{}, fmt.Errorf("the assignment of %s is no longer in the registry %s; another process released it", a.Project, m.Reg.Path())
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
	return p.machine(ctx).ReleaseProject(ctx, p.root.Dir, opts)
}

// machine is the machine-wide view of the port verbs as this project sees it: its registry, its
// engine (nil when down) and its messages.
func (p *Project) machine(ctx context.Context) Machine {
	m := Machine{Reg: p.reg, OnMessage: p.warnRestore}
	if e, err := p.Engine(ctx); err == nil {
		m.Eng = e
	}
	return m
}

// ReleaseProject releases the registry assignment of project (a project key, whose folder may
// be gone). With an engine: refused while the project's container runs unless opts.Force, which
// stops and removes it first; opts.Purge removes the container and its data volume. Without an
// engine (nil: Docker unavailable) only a plain release is possible.
func (m Machine) ReleaseProject(ctx context.Context, project string, opts ReleaseOptions) (registry.Assignment, error) {
	release := func() (a registry.Assignment, err error) {
		err = m.withRegistry(ctx, func() (err error) {
			a, err = m.Reg.Release(ctx, project)
			return err
		})
		return a, err
	}
	if m.Eng == nil {
		if opts.Force || opts.Purge {
			return registry.Assignment{}, fmt.Errorf("release %s: stopping or purging its container needs the Docker engine, which does not answer; start Docker and try again", project)
		}
		return release()
	}
	byProject, err := ProjectContainers(ctx, m.Eng)
	if err != nil {
		if isUnavailable(err) && !opts.Force && !opts.Purge {
			return release()
		}
		return registry.Assignment{}, fmt.Errorf("release %s: %w", project, err)
	}
	c, found := byProject[project]
	if found && c.State == "running" && !opts.Force {
		return registry.Assignment{}, &RunningError{Project: project, Container: c.Name}
	}
	if found || opts.Purge {
		stopCtx, cancel := context.WithTimeout(ctx, stopTimeout)
		defer cancel()
		if err := m.Eng.Stop(stopCtx, project, true, opts.Purge); err != nil {
			return registry.Assignment{}, fmt.Errorf("release %s: remove its container: %w", project, err)
		}
	}
	return release()
}

// PortEntry is one registry assignment with the live state of its container: the one per-project
// entry of every port answer (ports list/inspect/assign --json, iris/ports).
type PortEntry struct {
	registry.Assignment
	ContainerState string `json:"containerState"` // running|exited|created|not-created|unknown (engine down)
	State          State  `json:"state"`          // a Status state: ready|unhealthy|stopped|not-created|error|starting|stopping|docker-unavailable
	// Ports is the list of Status.Ports (never null): the IRIS pair first, then a compose
	// project's other published ports, from the containers' labels and published ports (no
	// compose process, no model); without a container, the assignment's pair and extra ports
	// with state "missing". Further per-project fields go here and into MarshalJSON below.
	Ports []PublishedPort `json:"ports"`
}

// MarshalJSON writes the assignment's own fields (as the registry writes them) followed by
// containerState, state and ports.
func (e PortEntry) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(e.Assignment)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("port entry: unexpected assignment JSON %s", b)
	}
	ports := e.Ports
	if ports == nil {
		ports = []PublishedPort{}
	}
	extra, err := json.Marshal(struct {
		ContainerState string          `json:"containerState"`
		State          State           `json:"state"`
		Ports          []PublishedPort `json:"ports"`
	}{e.ContainerState, e.State, ports})
	if err != nil {
		return nil, err
	}
	out := append([]byte{}, b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	return append(out, extra[1:]...), nil
}

// Ports lists every registry assignment as ListPorts does; this project's entry carries its full
// Status state (starting, stopping, error...).
func (p *Project) Ports(ctx context.Context) (PortList, error) {
	list, err := p.machine(ctx).ListPorts(ctx)
	if err != nil {
		return PortList{}, err
	}
	for i := range list.Assignments {
		if list.Assignments[i].Project == p.root.Dir {
			list.Assignments[i].State = p.Status(ctx).State
		}
	}
	return list, nil
}

// PortList is the listing of the port registry, the one answer of `ports list --json` and
// iris/ports.
type PortList struct {
	Assignments []PortEntry `json:"assignments"` // never null
	// Notes name the assignments whose folder project detection no longer reaches (it stops at
	// the repository, at $HOME, …; docs/config.md): listed as such, not silently orphaned.
	Notes []KeyNote `json:"notes,omitempty"`
	// Invalid are the registry entries that failed validation: never used, kept as they are for
	// the user to fix or delete.
	Invalid []registry.InvalidEntry `json:"invalid,omitempty"`
}

// ListPorts lists every registry assignment with the live state of its container, found by the
// containers' project labels (ProjectContainers), the notes of the keys detection no longer
// reaches and the invalid entries. Eng nil (or down): containerState "unknown", state
// docker-unavailable.
func (m Machine) ListPorts(ctx context.Context) (PortList, error) {
	var (
		as      []registry.Assignment
		invalid []registry.InvalidEntry
	)
	err := m.withRegistry(ctx, func() (err error) {
		if as, err = m.Reg.List(ctx); err != nil {
			return err
		}
		invalid, err = m.Reg.Invalid(ctx)
		return err
	})
	if err != nil {
		return PortList{}, err
	}
	var byProject map[string]dockerops.Container
	var all map[string][]dockerops.Container
	engineOK := m.Eng != nil
	if engineOK {
		owned, err := m.Eng.Owned(ctx)
		if err != nil {
			engineOK = false
		} else {
			byProject, all = containerOfEach(owned), map[string][]dockerops.Container{}
			for _, c := range owned {
				all[c.Project] = append(all[c.Project], c)
			}
		}
	}
	list := PortList{Assignments: make([]PortEntry, 0, len(as)), Invalid: invalid}
	for _, a := range as {
		e := PortEntry{Assignment: a, ContainerState: "unknown", State: StateDockerUnavailable, Ports: entryPorts(a, all[a.Project])}
		if engineOK {
			if c, found := byProject[a.Project]; found {
				e.ContainerState, e.State = c.State, containerState(c)
				// the one readiness rule of Status (readiness.go): running is ready once IRIS answered
				if e.State == StateReady && !newReadiness(m.Reg.Home(), a.Project, nil).Answered(ctx, c, c.BindAddress, c.Web) {
					e.State = StateStarting
				}
			} else {
				e.ContainerState, e.State = "not-created", StateNotCreated
			}
		}
		list.Assignments = append(list.Assignments, e)
		if n, ok := CheckProjectKey(a.Project); ok {
			list.Notes = append(list.Notes, n)
		}
	}
	return list, nil
}

// ProjectContainers finds the container that stands for each project (by project key) among
// those iris-helper created, by their project labels (dockerops.LabelProject): the one place
// the machine-wide views (listing, release, cleanup, restore) look containers up, whatever the
// kind that created them (containerOfEach picks one when a project has several).
func ProjectContainers(ctx context.Context, eng *dockerops.Engine) (map[string]dockerops.Container, error) {
	owned, err := eng.Owned(ctx)
	if err != nil {
		return nil, err
	}
	return containerOfEach(owned), nil
}

// CleanupPorts removes (or, dryRun, only lists) the assignments whose project folder is gone AND
// that have no iris-helper container. Without an engine (nil) it cannot see containers and says
// so in the returned warning; then only the folders are checked.
func (m Machine) CleanupPorts(ctx context.Context, dryRun bool) ([]registry.Assignment, string, error) {
	warning := ""
	var byProject map[string]dockerops.Container
	if m.Eng == nil {
		warning = "the Docker engine does not answer, so containers were not checked; only the folders were"
	} else {
		var err error
		if byProject, err = ProjectContainers(ctx, m.Eng); err != nil {
			return nil, "", fmt.Errorf("cleanup: list iris-helper containers: %w", err)
		}
	}
	var stale []registry.Assignment
	err := m.withRegistry(ctx, func() (err error) {
		stale, err = m.Reg.Cleanup(ctx, dryRun, func(a registry.Assignment) bool {
			_, has := byProject[a.Project]
			return !has && registry.FolderGone(a)
		})
		return err
	})
	return stale, warning, err
}

// entryPorts is PortEntry.Ports of assignment a with the project's containers cs (any kind; none
// when the engine does not answer): the status's rule (statusPorts) on what the containers' labels
// and published ports say, then the assignment's extra ports no container publishes, as missing.
func entryPorts(a registry.Assignment, cs []dockerops.Container) []PublishedPort {
	var c Containers
	for _, x := range cs {
		if x.Labels[dockerops.LabelComposeProject] == "" {
			c = imageContainers(x, true) // the image and Dockerfile kinds: one container
			break
		}
		// compose: the IRIS service's container is the main one
		if !c.Found && x.Labels[dockerops.LabelRole] == dockerops.RoleIRIS {
			c.Found, c.Main, c.Service = true, x, x.Labels[dockerops.LabelComposeService]
		} else {
			c.Others = append(c.Others, x)
		}
		c.Ports = append(c.Ports, containerPublished(x, decodePorts(x.Labels[labelPinned]))...)
	}
	sortPorts(c.Ports)
	bind := c.Main.BindAddress
	if bind == "" {
		bind = hostIPOf(c.Main)
	}
	out := statusPorts(c, a, true, bind)
	have := map[int]bool{}
	for _, pp := range out {
		have[pp.HostPort] = true
	}
	for _, x := range a.Extra {
		if have[x.Port] {
			continue
		}
		svc, rest, _ := strings.Cut(x.Key, "/")
		num, proto, _ := strings.Cut(rest, "/")
		n, _ := strconv.Atoi(num)
		out = append(out, PublishedPort{Service: svc, ContainerPort: n, Protocol: proto, HostPort: x.Port, HostIP: bind, State: PortStateMissing})
	}
	return out
}

// containerPublished is every port container c publishes, with the host port the compose files
// pin for it (pinned, by key service/containerPort/protocol).
func containerPublished(c dockerops.Container, pinned map[string]int) []PublishedPort {
	svc := c.Labels[dockerops.LabelComposeService]
	var out []PublishedPort
	for _, b := range c.Ports {
		out = append(out, PublishedPort{Service: svc, ContainerPort: b.ContainerPort, Protocol: b.Protocol,
			HostPort: b.HostPort, HostIP: b.HostIP, PinnedHostPort: pinned[portKey(svc, b.ContainerPort, b.Protocol)], State: c.State})
	}
	return out
}
