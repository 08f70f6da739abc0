package dockerops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Labels put on every container and volume iris-helper creates. Ownership is decided by
// LabelProject alone.
const (
	LabelProject     = "dev.iris-helper.project"     // project key (absolute folder)
	LabelSuperserver = "dev.iris-helper.superserver" // host superserver port
	LabelWeb         = "dev.iris-helper.web"         // host web port
	LabelVersion     = "dev.iris-helper.version"     // iris-helper version that created it
	LabelBind        = "dev.iris-helper.bind"        // bind address of both ports
	// LabelPrepare marks the one-shot container that prepares a project's durable volume (value:
	// the project key). It holds no data; a start removes any such container of its project.
	LabelPrepare = LabelProject + ".prepare"
)

// Container-side ports and paths.
const (
	SuperserverContainerPort = 1972
	WebContainerPort         = 52773
	DurableMount             = "/durable"      // where the durable volume is mounted
	DurableDataDir           = "/durable/iris" // ISC_DATA_DIRECTORY
	IRISOwnerUID             = 51773           // irisowner in InterSystems images
	// ReadyLogLine is the log line IRIS prints when it accepts logins.
	ReadyLogLine = "Enabling logons"
)

// UnexpireCode is what runs in %SYS after readiness on real IRIS images.
const UnexpireCode = `##class(Security.Users).UnExpireUserPasswords("*")`

// Spec describes the container a project wants.
type Spec struct {
	Project     string // project key (absolute folder); required
	Image       string // "" = DefaultImage
	BindAddress string // "" = 127.0.0.1
	Superserver int    // host port → 1972/tcp; required
	Web         int    // host port → 52773/tcp; required
	// Durable mounts the project's named volume at /durable with ISC_DATA_DIRECTORY=/durable/iris
	// (IRIS images only), so data survives a recreate. Callers normally set it (default on).
	Durable bool
	// UnexpirePasswords runs `iris session iris -U %SYS '##class(Security.Users).UnExpireUserPasswords("*")'`
	// after readiness on real IRIS images. Callers normally set it (default on).
	UnexpirePasswords bool
	ReadyTimeout      time.Duration // 0 = DefaultReadyTimeout
	Env               []string      // extra KEY=VALUE for the container (part of the reuse decision)
	// MergeFile is the host path of an IRIS configuration merge file (IRIS images only): mounted
	// read-only at MergeFileMount with ISC_CPF_MERGE_FILE naming it, which IRIS applies at startup
	// (InterSystems' documented mechanism, e.g. [Startup] PasswordHash). Part of the reuse decision.
	MergeFile string
	// ConfirmRecreate names the one stopped container of the project (KeepError.Container) that
	// Start may remove although its data is not on the durable volume (durable off, or not an
	// IRIS image), when it must be recreated: the user confirmed that its data is lost. Any other
	// such container is kept. Never part of the reuse decision.
	ConfirmRecreate string
}

func (s Spec) withDefaults() Spec {
	if s.Image == "" {
		s.Image = DefaultImage
	}
	if s.BindAddress == "" {
		s.BindAddress = DefaultBindAddress
	}
	if s.ReadyTimeout <= 0 {
		s.ReadyTimeout = DefaultReadyTimeout
	}
	return s
}

// Container is what iris-helper knows about one of its containers.
type Container struct {
	Name        string
	ID          string
	Image       string
	State       string // created|running|paused|restarting|removing|exited|dead
	Health      string // ""(no healthcheck)|starting|healthy|unhealthy
	StartedAt   time.Time
	FinishedAt  time.Time // when its previous run ended (zero: never ran before)
	ExitCode    int
	Project     string
	Superserver int
	Web         int
	BindAddress string
	Volume      string   // durable volume mounted, "" if none
	IRIS        bool     // image looks like InterSystems IRIS (ISC_PACKAGE_INSTALLDIR)
	Warnings    []string // non-fatal problems of the last Start (e.g. failing unexpire exec)
	// Labels, Restart and Ports are what the engine says of every container (compose's too):
	// its labels, restart policy and published ports (fillPorts).
	Labels  map[string]string
	Restart string
	Ports   []PortBinding
	// Outdated (Start only): the container was already running and differs from the Spec; Start
	// left it as it is (a restart applies the Spec).
	Outdated []Difference

	raw *container.InspectResponse // what the engine said, for Differences
}

// Running reports whether the container's process runs.
func (c Container) Running() bool { return c.State == "running" }

// Phase is a step of a start, reported in Progress and shown in the status while a start runs
// (workspace.Status.Phase). The one definition of the phases; JSON: the string itself.
type Phase string

// Progress phases reported by Start.
const (
	PhasePulling  Phase = "pulling"
	PhaseBuilding Phase = "building" // building the project's image (compose or Dockerfile kinds)
	PhaseCreating Phase = "creating"
	PhaseStarting Phase = "starting"
	PhaseWaiting  Phase = "waiting"
)

// Progress is one step of Start, for a progress line.
type Progress struct {
	Phase   Phase  // PhasePulling|PhaseBuilding|PhaseCreating|PhaseStarting|PhaseWaiting
	Message string // human text, e.g. "pulling layer 3/12", "waiting for IRIS (12s)"
	Warning string // a non-fatal problem (also in Container.Warnings)
}

// ContainerName is iris_<first 8 hex of sha256(project)>_<superserver>.
func ContainerName(project string, superserver int) string {
	return fmt.Sprintf("iris_%s_%d", ProjectHash(project), superserver)
}

// VolumeName is the project's durable volume: iris_<first 8 hex of sha256(project)>_durable.
func VolumeName(project string) string {
	return fmt.Sprintf("iris_%s_durable", ProjectHash(project))
}

// ProjectHash is the first 8 hex digits of sha256(project): the per-project part of the names
// iris-helper gives containers, volumes, images and the files it keeps under IRIS_HELPER_HOME.
func ProjectHash(project string) string {
	sum := sha256.Sum256([]byte(project))
	return hex.EncodeToString(sum[:])[:8]
}

func projectFilter(project string) client.Filters {
	if project == "" {
		return make(client.Filters).Add("label", LabelProject)
	}
	return make(client.Filters).Add("label", LabelProject+"="+project)
}

// list returns summaries of containers with our label (of one project when project != "").
func (e *Engine) list(ctx context.Context, project string) ([]container.Summary, error) {
	ctx, cancel, err := e.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(project)})
	if err != nil {
		return nil, e.wrap("list containers", err)
	}
	return res.Items, nil
}

// inspect returns the container by id or name; found=false when it does not exist.
func (e *Engine) inspect(ctx context.Context, idOrName string) (container.InspectResponse, bool, error) {
	ctx, cancel, err := e.call(ctx)
	if err != nil {
		return container.InspectResponse{}, false, err
	}
	defer cancel()
	res, err := e.cli.ContainerInspect(ctx, idOrName, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return container.InspectResponse{}, false, nil
	}
	if err != nil {
		return container.InspectResponse{}, false, e.wrap("inspect container "+idOrName, err)
	}
	c := res.Container
	if c.State == nil {
		c.State = &container.State{}
	}
	if c.Config == nil {
		c.Config = &container.Config{}
	}
	return c, true, nil
}

// Inspect finds the project's container by label. When several exist (an interrupted
// recreate), the running or most recently created one wins.
func (e *Engine) Inspect(ctx context.Context, project string) (Container, bool, error) {
	items, err := e.list(ctx, project)
	if err != nil {
		return Container{}, false, err
	}
	if len(items) == 0 {
		return Container{}, false, nil
	}
	sort.SliceStable(items, func(i, j int) bool {
		ri, rj := items[i].State == container.StateRunning, items[j].State == container.StateRunning
		if ri != rj {
			return ri
		}
		return items[i].Created > items[j].Created
	})
	ins, ok, err := e.inspect(ctx, items[0].ID)
	if err != nil || !ok {
		return Container{}, ok, err
	}
	return toContainer(ins), true, nil
}

// Owned lists all containers that carry our project label, whatever their project.
func (e *Engine) Owned(ctx context.Context) ([]Container, error) {
	items, err := e.list(ctx, "")
	if err != nil {
		return nil, err
	}
	return e.inspectAll(ctx, items)
}

// inspectAll inspects the listed containers (one gone meanwhile is left out), sorted by name.
func (e *Engine) inspectAll(ctx context.Context, items []container.Summary) ([]Container, error) {
	out := make([]Container, 0, len(items))
	for _, it := range items {
		ins, ok, err := e.inspect(ctx, it.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, toContainer(ins))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func toContainer(ins container.InspectResponse) Container {
	c := Container{ID: ins.ID, Name: strings.TrimPrefix(ins.Name, "/"), raw: &ins}
	if ins.Config != nil {
		c.Image = ins.Config.Image
		l := ins.Config.Labels
		c.Project = l[LabelProject]
		c.Superserver, _ = strconv.Atoi(l[LabelSuperserver])
		c.Web, _ = strconv.Atoi(l[LabelWeb])
		c.BindAddress = l[LabelBind]
		c.IRIS = hasEnv(ins.Config.Env, "ISC_PACKAGE_INSTALLDIR")
	}
	if ins.State != nil {
		c.State = string(ins.State.Status)
		c.ExitCode = ins.State.ExitCode
		if ins.State.Health != nil {
			c.Health = string(ins.State.Health.Status)
		}
		if t, err := time.Parse(time.RFC3339Nano, ins.State.StartedAt); err == nil && t.Year() > 1 {
			c.StartedAt = t
		}
		c.FinishedAt = parseTime(ins.State.FinishedAt)
	}
	for _, m := range ins.Mounts {
		if m.Type == "volume" && m.Destination == DurableMount {
			c.Volume = m.Name
		}
	}
	fillPorts(&c, ins)
	return c
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// Stop stops the project's containers in an orderly way (SIGTERM, up to 60 s, then kill).
// The container is kept for a fast next start unless remove; purge (implies remove) also
// deletes the project's durable volume. Stopping a project without a container is not an error.
func (e *Engine) Stop(ctx context.Context, project string, remove, purge bool) error {
	items, err := e.list(ctx, project)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.State == container.StateRunning || it.State == container.StateRestarting || it.State == container.StatePaused {
			if err := e.stopOne(ctx, it.ID, DefaultStopTimeout); err != nil {
				return err
			}
		}
		if remove || purge {
			if err := e.removeContainer(ctx, it.ID, true); err != nil {
				return err
			}
		}
	}
	if purge {
		return e.removeVolume(ctx, VolumeName(project))
	}
	return nil
}

func (e *Engine) stopOne(ctx context.Context, id string, timeout time.Duration) error {
	secs := int(timeout / time.Second)
	ctx, cancel := context.WithTimeout(ctx, timeout+e.callTimeout)
	defer cancel()
	_, err := e.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return e.wrap("stop container", err)
	}
	return nil
}

// removeContainer removes container id; without force the engine refuses to remove a running one.
func (e *Engine) removeContainer(ctx context.Context, id string, force bool) error {
	ctx, cancel, err := e.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: force})
	if err != nil && !cerrdefs.IsNotFound(err) && !strings.Contains(err.Error(), "already in progress") {
		return e.wrap("remove container", err)
	}
	return nil
}

func (e *Engine) removeVolume(ctx context.Context, name string) error {
	ctx, cancel, err := e.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = e.cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return e.wrap("remove volume "+name, err)
	}
	return nil
}

// Logs copies the project's container output (stdout and stderr) to w; with follow it keeps
// copying until ctx ends or the container stops.
func (e *Engine) Logs(ctx context.Context, project string, follow bool, w io.Writer) error {
	c, ok, err := e.Inspect(ctx, project)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("project %s has no container (start it first)", project)
	}
	return e.copyLogs(ctx, c.ID, follow, "", w)
}

func (e *Engine) copyLogs(ctx context.Context, id string, follow bool, tail string, w io.Writer) error {
	if !follow {
		var cancel context.CancelFunc
		var err error
		if ctx, cancel, err = e.call(ctx); err != nil {
			return err
		}
		defer cancel()
	}
	rc, err := e.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow, Tail: tail})
	if err != nil {
		return e.wrap("container logs", err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil && ctx.Err() == nil {
		return e.wrap("container logs", err)
	}
	return nil
}

// lastLines returns up to n last log lines of a container (best effort).
func (e *Engine) lastLines(ctx context.Context, id string, n int) []string {
	var buf bytes.Buffer
	_ = e.copyLogs(ctx, id, false, strconv.Itoa(n), &buf)
	s := strings.TrimRight(buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// ExecResult is the outcome of Exec.
type ExecResult struct {
	ExitCode int
	Output   string // stdout and stderr interleaved
}

// Exec runs cmd in the project's running container and waits for it (bounded by the call
// timeout). A non-zero exit code is not an error; read ExecResult.ExitCode.
func (e *Engine) Exec(ctx context.Context, project string, cmd ...string) (ExecResult, error) {
	c, ok, err := e.Inspect(ctx, project)
	if err != nil {
		return ExecResult{}, err
	}
	if !ok {
		return ExecResult{}, fmt.Errorf("project %s has no container", project)
	}
	return e.exec(ctx, c.ID, cmd)
}

func (e *Engine) exec(ctx context.Context, id string, cmd []string) (ExecResult, error) {
	ctx, cancel, err := e.call(ctx)
	if err != nil {
		return ExecResult{}, err
	}
	defer cancel()
	cr, err := e.cli.ExecCreate(ctx, id, client.ExecCreateOptions{AttachStdout: true, AttachStderr: true, Cmd: cmd})
	if err != nil {
		return ExecResult{}, e.wrap("exec "+strings.Join(cmd, " "), err)
	}
	at, err := e.cli.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, e.wrap("exec "+strings.Join(cmd, " "), err)
	}
	var buf bytes.Buffer
	_, err = stdcopy.StdCopy(&buf, &buf, at.Reader)
	at.Close()
	if err != nil {
		return ExecResult{}, e.wrap("exec "+strings.Join(cmd, " "), err)
	}
	for {
		ins, err := e.cli.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
		if err != nil {
			return ExecResult{}, e.wrap("exec "+strings.Join(cmd, " "), err)
		}
		if !ins.Running {
			return ExecResult{ExitCode: ins.ExitCode, Output: buf.String()}, nil
		}
		select {
		case <-ctx.Done():
			return ExecResult{}, fmt.Errorf("exec %s: %w", strings.Join(cmd, " "), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
