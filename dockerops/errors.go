package dockerops

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"time"
)

// UnavailableError means the Docker engine at Endpoint could not be reached (not running,
// permission denied, wrong DOCKER_HOST or context).
type UnavailableError struct {
	Endpoint string // e.g. unix:///var/run/docker.sock
	Source   string // where the endpoint came from: "DOCKER_HOST", `docker context "x"`, "default"
	Err      error
}

func (e *UnavailableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "docker engine not reachable at %s", e.Endpoint)
	if e.Source != "" && e.Source != "default" {
		fmt.Fprintf(&b, " (from %s)", e.Source)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", cause(e.Err))
	}
	b.WriteString("; start Docker (Docker Desktop, colima, or `sudo systemctl start docker`)")
	switch {
	case strings.Contains(strings.ToLower(fmt.Sprint(e.Err)), "permission denied"):
		b.WriteString("; permission denied: join the docker group (`sudo usermod -aG docker $USER`, then log in again) or use rootless Docker")
	case runtime.GOOS == "linux":
		b.WriteString("; if the engine runs but you may not use it, join the docker group or use rootless Docker")
	}
	b.WriteString("; check DOCKER_HOST and `docker context ls`")
	return b.String()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// cause is what went wrong at the socket, without the layers that name the endpoint again (the
// Docker client's "failed to connect to the docker API at …", net's "dial unix …"): the
// UnavailableError names the endpoint once itself. Other errors are returned as they are.
func cause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			return fmt.Errorf("%s: %w", sys.Syscall, sys.Err) // "connect: connection refused"
		}
		return op.Err
	}
	return err
}

// PortTakenError means the engine could not publish Port on the host because something else
// holds it. A container created by this Start has been removed; an existing one is kept (Kept),
// and a Start on other ports replaces it (its data is on the durable volume, or the caller
// confirmed). The caller may move the project to other ports and start again.
type PortTakenError struct {
	Port int
	Err  error
	Kept bool // the container existed before this Start and was kept
}

func (e *PortTakenError) Error() string {
	return fmt.Sprintf("host port %d is already in use: %v", e.Port, e.Err)
}

func (e *PortTakenError) Unwrap() error { return e.Err }

// PullError means the image is not present locally and could not be pulled.
type PullError struct {
	Image string
	Err   error
}

func (e *PullError) Error() string {
	msg := fmt.Sprintf("image %s is not available locally and could not be pulled: %v", e.Image, e.Err)
	if strings.HasPrefix(e.Image, "containers.intersystems.com/") {
		msg += "; run `docker login containers.intersystems.com` (InterSystems account) and try again"
	} else {
		msg += "; if it lives on containers.intersystems.com run `docker login containers.intersystems.com`"
	}
	return msg // choosing another image is the front end's remedy (a flag, a setting)
}

func (e *PullError) Unwrap() error { return e.Err }

// NotReadyError means the container did not become ready before the deadline.
type NotReadyError struct {
	Container string
	Waited    time.Duration
	LastSeen  string   // what was last observed, e.g. `log line seen, but no HTTP answer on 127.0.0.1:52773`
	LastLines []string // last log lines of the container
}

func (e *NotReadyError) Error() string {
	msg := fmt.Sprintf("container %s not ready after %s: %s", e.Container, e.Waited.Round(time.Millisecond), e.LastSeen)
	if len(e.LastLines) > 0 {
		msg += "; last log lines:\n  " + strings.Join(e.LastLines, "\n  ")
	}
	return msg
}

// ExitedError means the container exited while it was starting. A front end says where the
// full output is (its own command).
type ExitedError struct {
	Container string
	Code      int
	LastLines []string
}

func (e *ExitedError) Error() string {
	msg := fmt.Sprintf("container %s exited with code %d while starting", e.Container, e.Code)
	if len(e.LastLines) > 0 {
		msg += "; last log lines:\n  " + strings.Join(e.LastLines, "\n  ")
	}
	return msg
}

// NameConflictError means a container with the name iris-helper wants exists but does not
// carry our labels; iris-helper never touches it.
type NameConflictError struct {
	Name string
	ID   string
}

func (e *NameConflictError) Error() string {
	return fmt.Sprintf("a container named %s exists but was not created by iris-helper; remove or rename it (`docker rm -f %s`) or use another port", e.Name, e.Name)
}

// KeepError means a start would have to remove the project's stopped container to go on
// (Reason), and that container keeps its data inside itself, not on the durable volume
// (NotOnVolume). Start kept it and changed nothing. A Start with Spec.ConfirmRecreate = Container (after the
// user confirmed that the data is lost) may remove it; front ends say how to confirm.
type KeepError struct {
	Project     string // the spec's project
	Container   string
	Reason      string // why it would have to go: "host port 1973 is taken by another program", "it was created with image a instead of b"
	NotOnVolume string // why its data is not on the volume: "it was created with durable off", ...
	Port        int    // the taken host port when that is the reason, else 0
}

func (e *KeepError) Error() string {
	next := "recreate it (its data is lost)"
	if e.Port != 0 {
		next = fmt.Sprintf("free port %d and start again, or %s", e.Port, next)
	}
	return fmt.Sprintf("container %s was kept: %s, but its data is not on the durable volume (%s), so a start does not remove it; %s",
		e.Container, e.Reason, e.NotOnVolume, next)
}

// PausedError means the project's container is paused (`docker pause`): a start neither unpauses
// nor replaces it, and changed nothing.
type PausedError struct {
	Container string
}

func (e *PausedError) Error() string {
	return fmt.Sprintf("container %s is paused; a start leaves it as it is: resume it with `docker unpause %s`", e.Container, e.Container)
}
