package workspace

import (
	"encoding/json"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
)

// State is a project's state as shown in Status.State and PortEntry.State. See docs/status.md.
type State string

// States of a project's IRIS container.
const (
	StateNotCreated        State = "not-created"        // no container for the project
	StateStopped           State = "stopped"            // a container exists and is not running
	StateStarting          State = "starting"           // a start is in progress (see Status.Phase)
	StateReady             State = "ready"              // running, and IRIS answered
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
	Project         string     `json:"project"`         // project key: canonical absolute folder
	IsIrisProject   bool       `json:"isIrisProject"`   // FindRoot found an IRIS marker or ObjectScript sources
	State           State      `json:"state"`           // one of the State* constants
	SuperserverPort int        `json:"superserverPort"` // assigned superserver port, 0 when none
	WebPort         int        `json:"webPort"`         // assigned web port, 0 when none
	BindAddress     string     `json:"bindAddress"`     // host address the ports are published on
	Host            string     `json:"host"`            // host name clients connect to: ConnectHost(BindAddress)
	Namespace       string     `json:"namespace"`       // IRIS namespace to work in (.iris-helper.json iris.namespace, default USER)
	Username        string     `json:"username"`        // IRIS user to connect as (.iris-helper.json iris.username, default _SYSTEM)
	Container       string     `json:"container"`       // container name, "" when none
	Image           string     `json:"image"`           // the container's image, else the image a start would use
	StartedAt       *time.Time `json:"startedAt"`       // when the running container started; null otherwise
	ExitCode        *int       `json:"exitCode"`        // exit code of a stopped container; null otherwise
	Phase           Phase      `json:"phase"`           // one of the dockerops.Phase* constants while starting, else ""
	EnvFile         string     `json:"envFile"`         // absolute path of the synced .env, "" when none
	RestartNeeded   bool       `json:"restartNeeded"`   // the running container does not use the assigned ports
	Message         string     `json:"message"`         // what the user should know now, "" when nothing
}

// MarshalJSON writes startedAt as RFC 3339 in UTC (or null) so the shape is stable.
func (s Status) MarshalJSON() ([]byte, error) {
	type plain Status
	out := plain(s)
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

// Running reports whether the container runs (ready or unhealthy).
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
