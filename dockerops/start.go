package dockerops

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// labelConfig holds a digest of everything that decides whether a container can be reused.
const labelConfig = "dev.iris-helper.config"

type imageInfo struct {
	ID   string
	IRIS bool // ISC_PACKAGE_INSTALLDIR in the image environment
}

// Start makes the project's container run and waits until IRIS answers: it ensures the image
// (local, else pulled with progress), reuses the project's container when its bindings, image
// and settings match (recreating it otherwise, keeping the durable volume), starts it, and
// waits for the `Enabling logons` log line plus an HTTP answer on the web port (never just a
// host-side TCP connect, which docker-proxy accepts before IRIS listens).
//
// Errors (errors.As): *UnavailableError, *PullError, *NameConflictError, *PortTakenError (the
// half-created container is removed), *ExitedError, *NotReadyError. Non-fatal problems (a
// failing password-unexpire exec) are in Container.Warnings and reported through progress.
// A container that is running but whose healthcheck says unhealthy is returned with
// Health "unhealthy".
func (e *Engine) Start(ctx context.Context, spec Spec, progress func(Progress)) (Container, error) {
	if err := validateSpec(spec); err != nil {
		return Container{}, err
	}
	spec = spec.withDefaults()
	report := func(p Progress) {
		if progress != nil {
			progress(p)
		}
	}
	img, err := e.ensureImage(ctx, spec.Image, report)
	if err != nil {
		return Container{}, err
	}
	var warnings []string
	warn := func(phase, msg string) {
		warnings = append(warnings, msg)
		e.log.Warn(msg, "project", spec.Project)
		report(Progress{Phase: phase, Warning: msg})
	}

	name := ContainerName(spec.Project, spec.Superserver)
	createOpts := e.createOptions(spec, img, name)
	want := createOpts.Config.Labels[labelConfig]

	ins, found, err := e.findReusable(ctx, spec.Project, name, want)
	if err != nil {
		return Container{}, err
	}
	if !found {
		report(Progress{Phase: PhaseCreating, Message: "creating container " + name})
		if spec.Durable && img.IRIS {
			if err := e.ensureVolume(ctx, spec, img); err != nil {
				var ue *UnavailableError
				if errors.As(err, &ue) {
					return Container{}, err
				}
				warn(PhaseCreating, err.Error())
			}
		}
		ins, err = e.create(ctx, createOpts, spec.Project, want)
		if err != nil {
			return Container{}, err
		}
	}

	since := parseTime(ins.State.FinishedAt)
	startedByUs := false
	if ins.State.Status != container.StateRunning {
		report(Progress{Phase: PhaseStarting, Message: "starting container " + name})
		if err := e.startContainer(ctx, ins.ID, spec); err != nil {
			return Container{}, err
		}
		startedByUs = true
	}

	report(Progress{Phase: PhaseWaiting, Message: "waiting for IRIS to accept logons"})
	if err := e.waitReady(ctx, ins.ID, name, spec, since, report); err != nil {
		return Container{}, err
	}

	if startedByUs && img.IRIS && spec.UnexpirePasswords {
		res, err := e.exec(ctx, ins.ID, []string{"iris", "session", "iris", "-U", "%SYS", UnexpireCode})
		switch {
		case err != nil:
			warn(PhaseWaiting, fmt.Sprintf("could not clear the forced password change (iris session): %v", err))
		case res.ExitCode != 0:
			warn(PhaseWaiting, fmt.Sprintf("could not clear the forced password change (iris session exited %d): %s",
				res.ExitCode, strings.TrimSpace(res.Output)))
		}
	}

	final, ok, err := e.inspect(ctx, ins.ID)
	if err != nil {
		return Container{}, err
	}
	if !ok {
		return Container{}, fmt.Errorf("container %s disappeared right after it became ready", name)
	}
	c := toContainer(final)
	c.Warnings = warnings
	return c, nil
}

func validateSpec(s Spec) error {
	switch {
	case s.Project == "":
		return errors.New("start container: no project given")
	case s.Superserver < 1 || s.Superserver > 65535 || s.Web < 1 || s.Web > 65535:
		return fmt.Errorf("start container for %s: invalid ports %d/%d", s.Project, s.Superserver, s.Web)
	case s.Superserver == s.Web:
		return fmt.Errorf("start container for %s: superserver and web port are both %d", s.Project, s.Web)
	}
	if s.BindAddress != "" {
		if _, err := netip.ParseAddr(s.BindAddress); err != nil {
			return fmt.Errorf("start container for %s: bind address %q is not an IP address", s.Project, s.BindAddress)
		}
	}
	return nil
}

// ensureImage returns the local image, pulling it first when it is missing.
func (e *Engine) ensureImage(ctx context.Context, ref string, report func(Progress)) (imageInfo, error) {
	info, found, err := e.imageInfo(ctx, ref)
	if err != nil || found {
		return info, err
	}
	report(Progress{Phase: PhasePulling, Message: "pulling " + ref})
	if err := e.pull(ctx, ref, report); err != nil {
		var ue *UnavailableError
		if errors.As(err, &ue) {
			return imageInfo{}, err
		}
		return imageInfo{}, &PullError{Image: ref, Err: err}
	}
	info, found, err = e.imageInfo(ctx, ref)
	if err != nil {
		return info, err
	}
	if !found {
		return imageInfo{}, &PullError{Image: ref, Err: errors.New("pull finished but the image is not there")}
	}
	return info, nil
}

func (e *Engine) imageInfo(ctx context.Context, ref string) (imageInfo, bool, error) {
	cctx, cancel, err := e.call(ctx)
	if err != nil {
		return imageInfo{}, false, err
	}
	defer cancel()
	res, err := e.cli.ImageInspect(cctx, ref)
	if cerrdefs.IsNotFound(err) {
		return imageInfo{}, false, nil
	}
	if err != nil {
		return imageInfo{}, false, e.wrap("inspect image "+ref, err)
	}
	info := imageInfo{ID: res.ID}
	if res.Config != nil {
		info.IRIS = hasEnv(res.Config.Env, "ISC_PACKAGE_INSTALLDIR")
	}
	return info, true, nil
}

// errPullStalled is the cause of a pull cancelled for want of progress.
var errPullStalled = errors.New("pull stalled")

func (e *Engine) pull(ctx context.Context, ref string, report func(Progress)) error {
	// A pull may rightly take long, so its deadline is an idle one: it ends when the engine
	// reports no progress for e.pullIdle.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(e.pullIdle, func() { cancel(errPullStalled) })
	defer idle.Stop()
	stalled := func(err error) error {
		if errors.Is(context.Cause(ctx), errPullStalled) {
			return fmt.Errorf("no progress for %s (registry or network stalled)", e.pullIdle)
		}
		return e.classify(err)
	}
	resp, err := e.cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return stalled(err)
	}
	defer resp.Close()
	layers := map[string]bool{} // layer id → complete
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return stalled(err)
		}
		idle.Reset(e.pullIdle)
		if msg.Error != nil {
			return errors.New(msg.Error.Message)
		}
		switch msg.Status {
		case "Pulling fs layer", "Waiting":
			if _, ok := layers[msg.ID]; !ok {
				layers[msg.ID] = false
			}
		case "Already exists", "Pull complete":
			layers[msg.ID] = true
		}
		text := strings.TrimSpace(msg.Status + " " + msg.ID)
		if msg.Progress != nil && msg.Progress.Total > 0 {
			text = fmt.Sprintf("%s %d%%", text, msg.Progress.Current*100/msg.Progress.Total)
		}
		if len(layers) > 0 {
			done := 0
			for _, complete := range layers {
				if complete {
					done++
				}
			}
			text = fmt.Sprintf("%d/%d layers; %s", done, len(layers), text)
		}
		report(Progress{Phase: PhasePulling, Message: text})
	}
	if ctx.Err() != nil {
		return stalled(ctx.Err())
	}
	return nil
}

func (e *Engine) createOptions(spec Spec, img imageInfo, name string) client.ContainerCreateOptions {
	bind := netip.MustParseAddr(spec.BindAddress)
	ssPort := network.MustParsePort(strconv.Itoa(SuperserverContainerPort) + "/tcp")
	webPort := network.MustParsePort(strconv.Itoa(WebContainerPort) + "/tcp")
	env := slices.Clone(spec.Env)
	var cmd []string
	var mounts []mount.Mount
	if img.IRIS {
		cmd = []string{"--check-caps", "false"}
		if spec.Durable {
			env = append(env, "ISC_DATA_DIRECTORY="+DurableDataDir)
			mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: VolumeName(spec.Project), Target: DurableMount})
		}
	}
	digest := sha256.New()
	fmt.Fprintf(digest, "%s\n%s\n%s\n%d\n%d\n%q\n%q\n%v\n", spec.Image, img.ID, spec.BindAddress,
		spec.Superserver, spec.Web, env, cmd, len(mounts) > 0)
	labels := map[string]string{
		LabelProject:     spec.Project,
		LabelSuperserver: strconv.Itoa(spec.Superserver),
		LabelWeb:         strconv.Itoa(spec.Web),
		LabelBind:        spec.BindAddress,
		LabelVersion:     e.version,
		labelConfig:      hex.EncodeToString(digest.Sum(nil))[:16],
	}
	stop := int(DefaultStopTimeout / time.Second)
	return client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:        spec.Image,
			Cmd:          cmd,
			Env:          env,
			Labels:       labels,
			ExposedPorts: network.PortSet{ssPort: {}, webPort: {}},
			StopTimeout:  &stop,
		},
		HostConfig: &container.HostConfig{
			PortBindings: network.PortMap{
				ssPort:  {{HostIP: bind, HostPort: strconv.Itoa(spec.Superserver)}},
				webPort: {{HostIP: bind, HostPort: strconv.Itoa(spec.Web)}},
			},
			Mounts: mounts,
		},
	}
}

// findReusable returns the project's container when its config digest matches want and
// removes the project's other containers (after an orderly stop). It refuses a same-named
// container that is not ours.
func (e *Engine) findReusable(ctx context.Context, project, name, want string) (container.InspectResponse, bool, error) {
	if ins, ok, err := e.inspect(ctx, name); err != nil {
		return ins, false, err
	} else if ok && ins.Config.Labels[LabelProject] != project {
		return ins, false, &NameConflictError{Name: name, ID: ins.ID}
	}
	items, err := e.list(ctx, project)
	if err != nil {
		return container.InspectResponse{}, false, err
	}
	var keep container.InspectResponse
	found := false
	for _, it := range items {
		if !found && it.Labels[labelConfig] == want && strings.TrimPrefix(firstName(it.Names), "/") == name {
			ins, ok, err := e.inspect(ctx, it.ID)
			if err != nil {
				return ins, false, err
			}
			if ok {
				keep, found = ins, true
				continue
			}
		}
		e.log.Info("recreating container: settings changed", "project", project, "container", firstName(it.Names))
		if it.State == container.StateRunning {
			if err := e.stopOne(ctx, it.ID, DefaultStopTimeout); err != nil {
				return keep, false, err
			}
		}
		if err := e.removeContainer(ctx, it.ID); err != nil {
			return keep, false, err
		}
	}
	return keep, found, nil
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// create creates the container; when another Start created the same container concurrently,
// that one is used.
func (e *Engine) create(ctx context.Context, opts client.ContainerCreateOptions, project, want string) (container.InspectResponse, error) {
	for attempt := 0; ; attempt++ {
		cctx, cancel, err := e.call(ctx)
		if err != nil {
			return container.InspectResponse{}, err
		}
		res, err := e.cli.ContainerCreate(cctx, opts)
		cancel()
		if err == nil {
			ins, ok, err := e.inspect(ctx, res.ID)
			if err == nil && !ok {
				err = fmt.Errorf("container %s vanished right after it was created", opts.Name)
			}
			return ins, err
		}
		if !cerrdefs.IsConflict(err) || attempt >= 600 { // 600 × 100 ms: a minute for a slow concurrent create
			return container.InspectResponse{}, e.wrap("create container "+opts.Name, err)
		}
		// Same name exists: created by a concurrent Start of this project, or not ours.
		ins, ok, ierr := e.inspect(ctx, opts.Name)
		if ierr != nil {
			return ins, ierr
		}
		if !ok {
			// The name is reserved by a create still in progress (or the container was just
			// removed): give it a moment, then look again.
			select {
			case <-ctx.Done():
				return ins, fmt.Errorf("create container %s: %w", opts.Name, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if ins.Config.Labels[LabelProject] != project {
			return ins, &NameConflictError{Name: opts.Name, ID: ins.ID}
		}
		if ins.Config.Labels[labelConfig] == want {
			return ins, nil
		}
		if err := e.removeContainer(ctx, ins.ID); err != nil {
			return ins, err
		}
	}
}

// ensureVolume creates the project's durable volume when missing and, for a new volume, makes
// it writable by the IRIS owner (UID 51773): a short one-shot container from the same image runs
// `chown -R 51773:51773 /durable` as root (InterSystems images are Ubuntu-based and have chown;
// the stand-in image ships its own). IRIS then creates ISC_DATA_DIRECTORY=/durable/iris itself.
func (e *Engine) ensureVolume(ctx context.Context, spec Spec, img imageInfo) error {
	name := VolumeName(spec.Project)
	cctx, cancel, err := e.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = e.cli.VolumeInspect(cctx, name, client.VolumeInspectOptions{})
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return e.wrap("inspect volume "+name, err)
	}
	_, err = e.cli.VolumeCreate(cctx, client.VolumeCreateOptions{Name: name, Labels: map[string]string{
		LabelProject: spec.Project, LabelVersion: e.version,
	}})
	if err != nil {
		return e.wrap("create volume "+name, err)
	}
	owner := fmt.Sprintf("%d:%d", IRISOwnerUID, IRISOwnerUID)
	res, err := e.cli.ContainerCreate(cctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image: spec.Image, User: "0", Entrypoint: []string{"chown", "-R", owner, DurableMount},
			Labels: map[string]string{LabelProject + ".prepare": spec.Project},
		},
		HostConfig: &container.HostConfig{
			NetworkMode: "none",
			Mounts:      []mount.Mount{{Type: mount.TypeVolume, Source: name, Target: DurableMount}},
		},
	})
	if err != nil {
		return fmt.Errorf("prepare durable volume %s for UID %d: %w", name, IRISOwnerUID, e.classify(err))
	}
	defer func() { _ = e.removeContainer(context.WithoutCancel(ctx), res.ID) }()
	wait := e.cli.ContainerWait(cctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := e.cli.ContainerStart(cctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("prepare durable volume %s for UID %d: %w", name, IRISOwnerUID, e.classify(err))
	}
	select {
	case r := <-wait.Result:
		if r.StatusCode != 0 {
			return fmt.Errorf("prepare durable volume %s: chown %s exited %d: %s", name, owner, r.StatusCode,
				strings.Join(e.lastLines(ctx, res.ID, 5), " / "))
		}
	case err := <-wait.Error:
		return fmt.Errorf("prepare durable volume %s: %w", name, e.classify(err))
	}
	return nil
}

var portInMessage = regexp.MustCompile(`:(\d{1,5})\b`)

func (e *Engine) startContainer(ctx context.Context, id string, spec Spec) error {
	cctx, cancel, err := e.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = e.cli.ContainerStart(cctx, id, client.ContainerStartOptions{})
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use") {
		port := spec.Superserver
		for _, m := range portInMessage.FindAllStringSubmatch(msg, -1) {
			if p, _ := strconv.Atoi(m[1]); p == spec.Superserver || p == spec.Web {
				port = p
			}
		}
		if rerr := e.removeContainer(context.WithoutCancel(ctx), id); rerr != nil {
			e.log.Warn("remove half-created container", "id", id, "err", rerr)
		}
		return &PortTakenError{Port: port, Err: err}
	}
	return e.wrap("start container", err)
}

// logWatch follows a container's output, remembering whether the ready line was seen and the
// last lines.
type logWatch struct {
	mu    sync.Mutex
	ready bool
	last  []string
	done  chan struct{} // closed when the stream ends (container stopped, or error)
}

func (l *logWatch) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.Contains(line, ReadyLogLine) {
		l.ready = true
	}
	l.last = append(l.last, line)
	if len(l.last) > 20 {
		l.last = l.last[len(l.last)-20:]
	}
}

func (l *logWatch) state() (bool, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ready, slices.Clone(l.last)
}

func (e *Engine) followLogs(ctx context.Context, id string, since time.Time) *logWatch {
	lw := &logWatch{done: make(chan struct{})}
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true}
	if !since.IsZero() {
		after := since.Add(time.Nanosecond)
		opts.Since = fmt.Sprintf("%d.%09d", after.Unix(), after.Nanosecond())
	}
	go func() {
		defer close(lw.done)
		rc, err := e.cli.ContainerLogs(ctx, id, opts)
		if err != nil {
			return
		}
		defer rc.Close()
		pr, pw := io.Pipe()
		go func() {
			_, err := stdcopy.StdCopy(pw, pw, rc)
			pw.CloseWithError(err)
		}()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			lw.add(strings.TrimRight(sc.Text(), "\r"))
		}
		pr.Close()
	}()
	return lw
}

// waitReady waits for the ready log line (after since) and an HTTP answer on the web port.
func (e *Engine) waitReady(ctx context.Context, id, name string, spec Spec, since time.Time, report func(Progress)) error {
	begin := time.Now()
	wctx, cancel := context.WithTimeout(ctx, spec.ReadyTimeout)
	defer cancel()
	lw := e.followLogs(wctx, id, since)
	host := spec.BindAddress
	if a, err := netip.ParseAddr(host); err == nil && a.IsUnspecified() {
		if a.Is4() {
			host = "127.0.0.1"
		} else {
			host = "::1"
		}
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(spec.Web)) + "/csp/sys/UtilHome.csp"
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

	lastSeen := "nothing yet"
	health := ""
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	nextInspect := time.Now().Add(time.Second)
	nextReport := time.Now().Add(time.Second)
	streamEnded := lw.done
	for {
		logReady, _ := lw.state()
		httpErr := probeHTTP(wctx, hc, url)
		if logReady && httpErr == nil {
			return nil
		}
		switch {
		case !logReady && httpErr == nil:
			lastSeen = fmt.Sprintf("web port %s answers but no %q log line yet", url, ReadyLogLine)
		case logReady:
			lastSeen = fmt.Sprintf("%q logged, but no HTTP answer from %s (%v)", ReadyLogLine, url, httpErr)
		default:
			lastSeen = fmt.Sprintf("no %q log line yet and no HTTP answer from %s (%v)", ReadyLogLine, url, httpErr)
		}
		if health == string(container.Unhealthy) {
			lastSeen += "; healthcheck reports unhealthy"
		}
		checkState := false
		select {
		case <-streamEnded:
			streamEnded = nil // logs ended: the container probably stopped
			checkState = true
		case <-tick.C:
		case <-wctx.Done():
			_, last := lw.state()
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("waiting for %s: %w", name, ctx.Err())
			}
			return &NotReadyError{Container: name, Waited: time.Since(begin), LastSeen: lastSeen, LastLines: last}
		}
		if checkState || time.Now().After(nextInspect) {
			nextInspect = time.Now().Add(time.Second)
			ins, ok, err := e.inspect(wctx, id)
			if err != nil {
				if wctx.Err() != nil {
					continue
				}
				return err
			}
			if !ok {
				return fmt.Errorf("container %s was removed while starting", name)
			}
			if st := ins.State; st.Status == container.StateExited || st.Status == container.StateDead {
				last := e.lastLines(context.WithoutCancel(ctx), id, 20)
				return &ExitedError{Container: name, Code: st.ExitCode, LastLines: last}
			}
			if ins.State.Health != nil {
				health = string(ins.State.Health.Status)
			}
		}
		if time.Now().After(nextReport) {
			nextReport = time.Now().Add(time.Second)
			report(Progress{Phase: PhaseWaiting, Message: fmt.Sprintf("waiting for IRIS (%s): %s",
				time.Since(begin).Round(time.Second), lastSeen)})
		}
	}
}

// probeHTTP returns nil when anything answers HTTP at url (any status code).
func probeHTTP(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			return ue.Unwrap()
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	resp.Body.Close()
	return nil
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}
