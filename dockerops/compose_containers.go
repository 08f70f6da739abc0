package dockerops

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Labels of compose projects: compose's own (read only) and iris-helper's role label, which the
// override puts on every service beside LabelProject.
const (
	LabelRole              = "dev.iris-helper.role" // RoleIRIS for the IRIS service, RoleService for the others
	RoleIRIS               = "iris"
	RoleService            = "service"
	LabelModel             = "dev.iris-helper.model" // hash of the model and override a compose service was started from
	LabelComposeProject    = "com.docker.compose.project"
	LabelComposeService    = "com.docker.compose.service"
	LabelComposeWorkingDir = "com.docker.compose.project.working_dir"
)

// PortBinding is one container port published on the host.
type PortBinding struct {
	ContainerPort int
	Protocol      string // tcp or udp
	HostIP        string
	HostPort      int // 0: published, host port not known (a stopped container with a random one)
}

// fillPorts sets c's labels, restart policy and published ports from ins: the engine's live
// bindings for a running container, else the ones asked for at creation.
func fillPorts(c *Container, ins container.InspectResponse) {
	if ins.Config != nil {
		c.Labels = ins.Config.Labels
	}
	pm := map[string][]PortBinding{}
	var keys []string
	add := func(port string, num int, proto, ip, hostPort string) {
		hp, _ := strconv.Atoi(hostPort)
		if _, ok := pm[port]; !ok {
			keys = append(keys, port)
		}
		for _, b := range pm[port] {
			if b.HostIP == ip && b.HostPort == hp {
				return
			}
		}
		pm[port] = append(pm[port], PortBinding{ContainerPort: num, Protocol: proto, HostIP: ip, HostPort: hp})
	}
	if ins.HostConfig != nil {
		c.Restart = string(ins.HostConfig.RestartPolicy.Name)
	}
	live := ins.NetworkSettings != nil && len(ins.NetworkSettings.Ports) > 0 && c.State == "running"
	if live {
		for p, bs := range ins.NetworkSettings.Ports {
			for _, b := range bs {
				ip := ""
				if b.HostIP.IsValid() {
					ip = b.HostIP.String()
				}
				add(p.String(), int(p.Num()), string(p.Proto()), ip, b.HostPort)
			}
		}
	} else if ins.HostConfig != nil {
		for p, bs := range ins.HostConfig.PortBindings {
			for _, b := range bs {
				ip := ""
				if b.HostIP.IsValid() {
					ip = b.HostIP.String()
				}
				add(p.String(), int(p.Num()), string(p.Proto()), ip, b.HostPort)
			}
		}
	}
	sort.Strings(keys)
	c.Ports = nil
	for _, k := range keys {
		c.Ports = append(c.Ports, pm[k]...)
	}
	sort.SliceStable(c.Ports, func(i, j int) bool {
		a, b := c.Ports[i], c.Ports[j]
		if a.ContainerPort != b.ContainerPort {
			return a.ContainerPort < b.ContainerPort
		}
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		return a.HostIP < b.HostIP
	})
	// The engine publishes a port on 0.0.0.0 and :: alike; keep one of them.
	out := c.Ports[:0]
	for i, b := range c.Ports {
		if b.HostIP == "::" && i > 0 && c.Ports[i-1].HostIP == "0.0.0.0" && c.Ports[i-1].ContainerPort == b.ContainerPort &&
			c.Ports[i-1].Protocol == b.Protocol && c.Ports[i-1].HostPort == b.HostPort {
			continue
		}
		out = append(out, b)
	}
	c.Ports = out
}

// Containers lists (and inspects) every container, ours or not, that carries all the given
// labels ("key" or "key=value"), sorted by name.
func (e *Engine) Containers(ctx context.Context, labels ...string) ([]Container, error) {
	f := make(client.Filters)
	for _, l := range labels {
		f = f.Add("label", l)
	}
	lctx, cancel, err := e.call(ctx)
	if err != nil {
		return nil, err
	}
	res, err := e.cli.ContainerList(lctx, client.ContainerListOptions{All: true, Filters: f})
	cancel()
	if err != nil {
		return nil, e.wrap("list containers", err)
	}
	return e.inspectAll(ctx, res.Items)
}

// StopContainers stops the containers ids in an orderly way (SIGTERM, then kill after timeout),
// through the engine API (stopOnExit of a compose project needs no compose process).
func (e *Engine) StopContainers(ctx context.Context, ids []string, timeout time.Duration) error {
	for _, id := range ids {
		if err := e.stopOne(ctx, id, timeout); err != nil {
			return err
		}
	}
	return nil
}

// WaitReady waits until the IRIS container c is ready by today's rule (the ready log line after
// since, and an HTTP answer on web at bind), reporting PhaseWaiting to report; the errors are
// Start's (*NotReadyError, *ExitedError).
func (e *Engine) WaitReady(ctx context.Context, c Container, bind string, web int, timeout time.Duration, since time.Time, report func(Progress)) error {
	if report == nil {
		report = func(Progress) {}
	}
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	if bind == "" {
		bind = DefaultBindAddress
	}
	if web == 0 {
		return fmt.Errorf("container %s publishes no web port", c.Name)
	}
	return e.waitReady(ctx, c.ID, c.Name, Spec{BindAddress: bind, Web: web, ReadyTimeout: timeout}, since, report)
}

// ContainerByName is the container named name, whoever owns it (found false: none).
func (e *Engine) ContainerByName(ctx context.Context, name string) (Container, bool, error) {
	ins, ok, err := e.inspect(ctx, name)
	if err != nil || !ok {
		return Container{}, ok, err
	}
	return toContainer(ins), true, nil
}

// ContainerLogs copies container id's output to w (follow: until ctx ends or it stops).
func (e *Engine) ContainerLogs(ctx context.Context, id string, follow bool, w io.Writer) error {
	return e.copyLogs(ctx, id, follow, "", w)
}

// VolumeExists reports whether the named volume exists.
func (e *Engine) VolumeExists(ctx context.Context, name string) (bool, error) {
	ctx, cancel, err := e.call(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	_, err = e.cli.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, e.wrap("inspect volume "+name, err)
	}
	return true, nil
}
