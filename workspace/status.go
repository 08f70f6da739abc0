package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// State is a project's state as shown in Status.State and PortEntry.State. See docs/status.md.
type State string

// States of a project's IRIS container.
const (
	StateNotCreated        State = "not-created"        // no container for the project
	StateStopped           State = "stopped"            // a container exists and is not running
	StateStarting          State = "starting"           // a start is in progress, or IRIS has not answered yet (see Status.Phase)
	StateReady             State = "ready"              // running, and IRIS answered since the container started
	StateUnhealthy         State = "unhealthy"          // running, but the image's healthcheck says unhealthy
	StateStopping          State = "stopping"           // a stop is in progress
	StateError             State = "error"              // the last start failed, or the container is dead
	StateDockerUnavailable State = "docker-unavailable" // the Docker engine does not answer
)

// Phase is the step of a start shown in Status.Phase while State is "starting" ("" otherwise):
// one of the dockerops.Phase* constants, which are the one definition.
type Phase = dockerops.Phase

// containerState is the State of a project whose container is c, from the engine's view alone
// (a start or stop in flight, or the last start's failure, is known only to the Project): the one
// container-state → State mapping, for Status and the port entries alike.
func containerState(c dockerops.Container) State {
	switch c.State {
	case "running":
		if c.Health == "unhealthy" {
			return StateUnhealthy
		}
		return StateReady
	case "restarting":
		return StateStarting
	case "removing":
		return StateStopping
	case "dead":
		return StateError
	default: // created, exited, paused
		return StateStopped
	}
}

// Status is the one shape of a project's state that every front end shows: `start --json`,
// `status --json`, the helper's iris/status notification and the VS Code extension.
// Project.Status produces it; nothing else builds one. Field by field: docs/status.md.
type Status struct {
	Project         string `json:"project"`         // project key: canonical absolute folder
	IsIrisProject   bool   `json:"isIrisProject"`   // FindRoot found an IRIS marker or ObjectScript sources
	State           State  `json:"state"`           // one of the State* constants
	SuperserverPort int    `json:"superserverPort"` // assigned superserver port, 0 when none
	WebPort         int    `json:"webPort"`         // assigned web port, 0 when none
	BindAddress     string `json:"bindAddress"`     // host address the ports are published on
	Host            string `json:"host"`            // host name clients connect to: ConnectHost(BindAddress)
	Namespace       string `json:"namespace"`       // IRIS namespace to work in (.iris-helper.json iris.namespace, default USER)
	Username        string `json:"username"`        // IRIS user to connect as (.iris-helper.json iris.username, default _SYSTEM)
	Kind            Kind   `json:"kind"`            // how IRIS runs: image, compose or dockerfile
	ComposeProject  string `json:"composeProject"`  // compose's project name, "" unless the compose kind
	IrisService     string `json:"irisService"`     // the compose service that is IRIS, "" unless the compose kind
	// Ports is every port the project publishes, the IRIS pair first (never null).
	Ports         []PublishedPort `json:"ports"`
	Container     string          `json:"container"`     // container name, "" when none
	Image         string          `json:"image"`         // the container's image, else the image a start would use
	StartedAt     *time.Time      `json:"startedAt"`     // when the running container started; null otherwise
	ExitCode      *int            `json:"exitCode"`      // exit code of a stopped container; null otherwise
	Phase         Phase           `json:"phase"`         // one of the dockerops.Phase* constants while starting, else ""
	EnvFile       string          `json:"envFile"`       // absolute path of the synced .env, "" when none
	RestartNeeded bool            `json:"restartNeeded"` // the running container does not use the assigned ports
	Message       string          `json:"message"`       // what the user should know now, "" when nothing
}

// MarshalJSON writes startedAt as RFC 3339 in UTC (or null) so the shape is stable.
func (s Status) MarshalJSON() ([]byte, error) {
	type plain Status
	out := plain(s)
	if out.Ports == nil {
		out.Ports = []PublishedPort{}
	}
	if out.StartedAt != nil {
		t := out.StartedAt.UTC().Truncate(time.Second)
		out.StartedAt = &t
	}
	return json.Marshal(out)
}

// ConnectHost is the host name clients use to reach ports published on bind: localhost for
// 127.0.0.1, ::1 and the wildcard binds (0.0.0.0, ::, ""), else the address itself (a port bound on
// 127.0.0.2 or 10.1.2.3 is not reachable at localhost). Status.Host, the .env's host key and the
// editor's objectscript.conn all follow it.
func ConnectHost(bind string) string {
	switch bind {
	case "", "127.0.0.1", "0.0.0.0", "::", "::1", "localhost":
		return "localhost"
	}
	return bind
}

// Running reports whether the container runs and is past its start: ready (IRIS answered) or
// unhealthy. A running container whose IRIS has not answered yet is starting, not Running.
func (s Status) Running() bool { return s.State == StateReady || s.State == StateUnhealthy }

// Message is something the user should know or act on, pushed by Project.Watch and Start:
// a port move, a refused .env port request, an engine that went away.
type Message struct {
	Level Level  `json:"level"` // LevelError | LevelWarning | LevelInfo
	Text  string `json:"text"`
	// Err is the error the message reports, if one: a front end words its remedy from it (e.g.
	// the knob of an *EnvOutsideProjectError, see Knob()).
	Err error `json:"-"`
}

// Level is how much a Message matters.
type Level string

// Message levels.
const (
	LevelError   Level = "error"
	LevelWarning Level = "warning"
	LevelInfo    Level = "info"
)

// Status is the project's state now, in the one shape every front end shows (docs/status.md).
// It never fails: what cannot be learned is said in State and Message.
func (p *Project) Status(ctx context.Context) Status { return p.status(ctx, nil) }

// statusAfter is Status after an operation that failed with err: when err says the engine is
// unavailable, the engine is not asked again (a hanging engine would cost another timeout).
func (p *Project) statusAfter(ctx context.Context, err error) Status {
	var ue *dockerops.UnavailableError
	if errors.As(err, &ue) {
		return p.status(ctx, ue)
	}
	return p.status(ctx, nil)
}

func (p *Project) status(ctx context.Context, unavailable *dockerops.UnavailableError) Status {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusTimeout)
	defer cancel()
	st := Status{
		Project:       p.root.Dir,
		IsIrisProject: p.root.IsIrisProject,
		BindAddress:   p.bindAddress,
		Namespace:     p.cfg.Namespace(),
		Username:      p.cfg.Username(),
		Image:         p.Image(),
		EnvFile:       p.envFile(),
		Kind:          p.rt.Kind(),
		Ports:         []PublishedPort{},
	}
	var msgs []string
	a, assigned, err := p.assignment(ctx)
	if err != nil {
		msgs = append(msgs, err.Error())
	}
	if assigned {
		st.SuperserverPort, st.WebPort = a.SuperserverPort, a.WebPort
	}

	p.mu.Lock()
	op, stopping, lastErr, note := p.op, p.stopping > 0, p.lastErr, p.note
	var phase Phase
	if op != nil {
		phase = op.phase
	}
	p.mu.Unlock()

	running := false
	var cs Containers
	if unavailable != nil {
		err = unavailable
	} else {
		cs, err = p.rt.Inspect(ctx)
	}
	switch {
	case err != nil && isUnavailable(err):
		st.State = StateDockerUnavailable
		msgs = append([]string{err.Error()}, msgs...)
	case err != nil:
		st.State = StateError
		msgs = append([]string{fmt.Sprintf("cannot inspect the container of %s: %v", p.root.Dir, err)}, msgs...)
	case !cs.Found:
		st.State = StateNotCreated
	default:
		c := cs.Main
		st.Container = c.Name
		if c.Image != "" {
			st.Image = c.Image
		}
		if c.BindAddress != "" {
			st.BindAddress = c.BindAddress
		}
		st.State = containerState(c)
		running = c.Running()
		// Running is not ready until IRIS answered since this start (readiness.go); a start or
		// stop in flight in this process says its own state below.
		waiting := st.State == StateReady && op == nil && !stopping && !p.ready.Answered(ctx, c, cs.webBind(), cs.HostPort(dockerops.WebContainerPort))
		if waiting {
			st.State, st.Phase = StateStarting, dockerops.PhaseWaiting
		}
		switch {
		case st.State == StateUnhealthy:
			// Docker's own commands: the same words for every front end (no iris-helper flag).
			msgs = append(msgs, fmt.Sprintf("the healthcheck of container %s reports unhealthy; see its output with `docker logs %s`", c.Name, c.Name))
		case st.State == StateError:
			msgs = append(msgs, fmt.Sprintf("the engine reports container %s as dead; remove it with `docker rm -f %s`", c.Name, c.Name))
		case c.State == "exited":
			code := c.ExitCode
			st.ExitCode = &code
		}
		if running && !c.StartedAt.IsZero() {
			t := c.StartedAt
			st.StartedAt = &t
		}
		ss, web := cs.HostPort(dockerops.SuperserverContainerPort), cs.HostPort(dockerops.WebContainerPort)
		if running && !waiting && assigned && op == nil && !stopping && (ss != a.SuperserverPort || web != a.WebPort) {
			st.RestartNeeded = true
			msgs = append(msgs, fmt.Sprintf("the container still uses %d/%d; restart to use %d/%d",
				ss, web, a.SuperserverPort, a.WebPort))
		}
		if running && !waiting && assigned && op == nil && !stopping {
			if texts := p.settingsChanged(ctx, cs, a); len(texts) > 0 {
				st.RestartNeeded = true
				msgs = append(msgs, fmt.Sprintf("the container still runs with %s; restart to apply the project's settings",
					strings.Join(texts, ", ")))
			}
		}
	}

	// What only this process knows: a start or stop in flight, the last start's failure.
	switch {
	case op != nil && st.State != StateDockerUnavailable:
		st.State, st.Phase = StateStarting, phase
	case stopping && st.State != StateDockerUnavailable:
		st.State = StateStopping
	case lastErr != nil && !running && st.State != StateDockerUnavailable:
		st.State = StateError
		msgs = append([]string{lastErr.Error()}, msgs...)
		var ex *dockerops.ExitedError
		if errors.As(lastErr, &ex) {
			code := ex.Code
			st.ExitCode = &code
		}
	}
	if note != "" {
		msgs = append(msgs, note)
	}
	msgs = append(msgs, cs.Notes...)
	st.Kind = p.rt.Kind() // known once the runtime has looked (Inspect decides an undecided kind's engine side)
	if !cs.Found {
		st.Image = p.Image() // the kind's image, known now too
	}
	st.ComposeProject, st.IrisService = cs.ComposeProject, cs.Service
	st.Ports = statusPorts(cs, a, assigned, st.BindAddress)
	st.Host = ConnectHost(st.BindAddress)
	if len(msgs) > 0 {
		st.Message = msgs[0]
		for _, m := range msgs[1:] {
			st.Message += "; " + m
		}
	}
	return st
}

// settingsChanged lists how the running containers cs differ from what the project now asks for
// (the runtime's drift), ports aside: the status compares those with the assignment itself, so the
// plan asks for the ports the containers publish.
func (p *Project) settingsChanged(ctx context.Context, cs Containers, a registry.Assignment) []string {
	plan := p.plan(a, "")
	plan.Assignment.SuperserverPort = cs.HostPort(dockerops.SuperserverContainerPort)
	plan.Assignment.WebPort = cs.HostPort(dockerops.WebContainerPort)
	ds, err := p.rt.Drift(ctx, plan, cs)
	if err != nil {
		p.log.Debug("compare the container with the project's settings", "err", err)
		return nil
	}
	var texts []string
	for _, d := range ds {
		if d.Kind != dockerops.DiffPorts {
			texts = append(texts, d.Text)
		}
	}
	return texts
}

// statusPorts is Status.Ports: what the containers publish, the IRIS pair first; when they publish
// nothing (none found, or stopped), the assigned pair with the main container's state (or
// "missing").
func statusPorts(cs Containers, a registry.Assignment, assigned bool, bind string) []PublishedPort {
	var pair, rest []PublishedPort
	for _, pp := range cs.Ports {
		if pp.Service == cs.Service && pp.Protocol == "tcp" &&
			(pp.ContainerPort == dockerops.SuperserverContainerPort || pp.ContainerPort == dockerops.WebContainerPort) {
			pair = append(pair, pp)
		} else {
			rest = append(rest, pp)
		}
	}
	if len(pair) == 0 && assigned {
		state := PortStateMissing
		if cs.Found {
			state = cs.Main.State
		}
		pair = []PublishedPort{
			{Service: cs.Service, ContainerPort: dockerops.SuperserverContainerPort, Protocol: "tcp", HostPort: a.SuperserverPort, HostIP: bind, State: state},
			{Service: cs.Service, ContainerPort: dockerops.WebContainerPort, Protocol: "tcp", HostPort: a.WebPort, HostIP: bind, State: state},
		}
	}
	sort.SliceStable(pair, func(i, j int) bool { return pair[i].ContainerPort < pair[j].ContainerPort })
	return append(append([]PublishedPort{}, pair...), rest...)
}

func isUnavailable(err error) bool {
	var ue *dockerops.UnavailableError
	return errors.As(err, &ue)
}
