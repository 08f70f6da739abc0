package dockerops

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path"
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
	IRIS bool     // ISC_PACKAGE_INSTALLDIR in the image environment
	Env  []string // the image's environment
}

// Start makes the project's container run and waits until IRIS answers: it ensures the image
// (local, else pulled with progress), reuses the project's container when its bindings, image
// and settings match, starts it, and waits for the `Enabling logons` log line plus an HTTP
// answer on the web port (never just a host-side TCP connect, which docker-proxy accepts before
// IRIS listens).
//
// Start removes a container only when it created it in the same call, or when it replaces a
// stopped container whose data lives on the project's durable volume (the replacement mounts
// the same volume; the old one is removed before the new one is created). A running container
// is never stopped or recreated: when it differs from spec, Start waits for it as it is and
// returns it with Container.Outdated saying how. A stopped container whose data is not on the
// volume is never removed unless spec.ConfirmRecreate names it: Start keeps it and fails with *KeepError.
//
// Errors (errors.As): *UnavailableError, *PullError, *NameConflictError, *KeepError, *PausedError,
// *PortTakenError (a container this call created is removed; one that existed is kept),
// *ExitedError, *NotReadyError. Non-fatal problems (a failing password-unexpire exec, a volume
// that could not be prepared) are in Container.Warnings and reported through progress. A
// container that is running but whose healthcheck says unhealthy is returned with Health
// "unhealthy".
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
	warn := func(phase Phase, msg string) {
		warnings = append(warnings, msg)
		e.log.Warn(msg, "project", spec.Project)
		report(Progress{Phase: phase, Warning: msg})
	}

	name := ContainerName(spec.Project, spec.Superserver)
	createOpts := e.createOptions(spec, img, name)
	want := createOpts.Config.Labels[labelConfig]

	pl, err := e.plan(ctx, spec, img, name, want)
	if err != nil {
		return Container{}, err
	}
	for _, old := range pl.replace {
		e.log.Info("recreating container: settings changed", "project", spec.Project, "container", strings.TrimPrefix(old.Name, "/"))
		// not forced: the engine refuses to remove a container that was started meanwhile
		if err := e.removeContainer(ctx, old.ID, false); err != nil {
			return Container{}, err
		}
	}
	ins, created := pl.reuse, false
	if pl.found && ins.State != nil && ins.State.Paused {
		return Container{}, &PausedError{Container: strings.TrimPrefix(ins.Name, "/")}
	}
	if pl.found && !isRunning(ins) && hasVolume(ins) && img.IRIS && !e.volumePrepared(ctx, ins.ID) {
		// its volume's preparation failed earlier: prepare it before the start
		if err := e.ensureVolume(ctx, spec, img); err != nil {
			var ue *UnavailableError
			if errors.As(err, &ue) {
				return Container{}, err
			}
			warn(PhaseStarting, err.Error())
		}
	}
	if !pl.found {
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
		if e.beforeCreate != nil {
			e.beforeCreate(createOpts)
		}
		ins, created, err = e.create(ctx, createOpts, spec.Project, want)
		if err != nil {
			return Container{}, err
		}
	}

	since := parseTime(ins.State.FinishedAt)
	startedByUs := false
	if !isRunning(ins) {
		report(Progress{Phase: PhaseStarting, Message: "starting container " + name})
		if err := e.startContainer(ctx, ins, spec, img, created); err != nil {
			return Container{}, err
		}
		startedByUs = true
	}

	// An outdated running container is waited for on its own ports.
	wait, waitName := spec, name
	if len(pl.outdated) > 0 {
		c := toContainer(ins)
		wait.Web, wait.BindAddress, waitName = c.Web, c.BindAddress, c.Name
		if wait.BindAddress == "" {
			wait.BindAddress = DefaultBindAddress
		}
	}
	report(Progress{Phase: PhaseWaiting, Message: "waiting for IRIS to accept logons"})
	if err := e.waitReady(ctx, ins.ID, waitName, wait, since, report); err != nil {
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
		return Container{}, fmt.Errorf("container %s disappeared right after it became ready", waitName)
	}
	c := toContainer(final)
	c.Warnings = warnings
	c.Outdated = pl.outdated
	return c, nil
}

// validateSpec checks the spec's ports and bind address; the caller names the project it starts
// (workspace says "start IRIS for <project>"), so the message names only what is wrong.
func validateSpec(s Spec) error {
	switch {
	case s.Project == "":
		return errors.New("start container: no project given")
	case s.Superserver < 1 || s.Superserver > 65535 || s.Web < 1 || s.Web > 65535:
		return fmt.Errorf("invalid ports %d/%d", s.Superserver, s.Web)
	case s.Superserver == s.Web:
		return fmt.Errorf("superserver and web port are both %d", s.Web)
	}
	if s.BindAddress != "" {
		if _, err := netip.ParseAddr(s.BindAddress); err != nil {
			return fmt.Errorf("bind address %q is not an IP address", s.BindAddress)
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
		info.Env = res.Config.Env
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

// MergeFileMount is where a Spec.MergeFile is mounted in the container.
const MergeFileMount = "/iris-helper/merge.cpf"

// irisEnv is the container environment spec asks for on img: spec.Env, and on an IRIS image the
// durable data directory and the merge file.
func irisEnv(spec Spec, img imageInfo) []string {
	env := slices.Clone(spec.Env)
	if img.IRIS && spec.Durable {
		env = append(env, "ISC_DATA_DIRECTORY="+DurableDataDir)
	}
	if img.IRIS && spec.MergeFile != "" {
		env = append(env, "ISC_CPF_MERGE_FILE="+MergeFileMount)
	}
	return env
}

func (e *Engine) createOptions(spec Spec, img imageInfo, name string) client.ContainerCreateOptions {
	bind := netip.MustParseAddr(spec.BindAddress)
	ssPort := network.MustParsePort(strconv.Itoa(SuperserverContainerPort) + "/tcp")
	webPort := network.MustParsePort(strconv.Itoa(WebContainerPort) + "/tcp")
	env := irisEnv(spec, img)
	var cmd []string
	var mounts []mount.Mount
	if img.IRIS {
		cmd = []string{"--check-caps", "false"}
		if spec.Durable {
			mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: VolumeName(spec.Project), Target: DurableMount})
		}
		if spec.MergeFile != "" {
			mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: spec.MergeFile, Target: MergeFileMount, ReadOnly: true})
		}
	}
	digest := sha256.New()
	fmt.Fprintf(digest, "%s\n%s\n%s\n%d\n%d\n%q\n%q\n%v\n", spec.Image, img.ID, spec.BindAddress,
		spec.Superserver, spec.Web, env, cmd, spec.Durable && img.IRIS)
	if img.IRIS && spec.MergeFile != "" {
		fmt.Fprintf(digest, "merge %s\n", spec.MergeFile) // only then: an older container's digest stays the same
	}
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

// plan is what Start does with the project's existing containers.
type plan struct {
	reuse    container.InspectResponse   // the container to (start and) wait for, when found
	found    bool                        // false: create one
	outdated []Difference                // reuse runs, and differs from the spec
	replace  []container.InspectResponse // stopped containers to remove before creating (data on the volume, or confirmed)
}

// plan decides which of the project's containers Start reuses and which it replaces. It refuses a
// same-named container that is not ours (*NameConflictError), never touches a running container,
// and refuses to replace a stopped one whose data is not on the durable volume (*KeepError)
// unless spec.ConfirmRecreate names it. It changes nothing.
func (e *Engine) plan(ctx context.Context, spec Spec, img imageInfo, name, want string) (plan, error) {
	if ins, ok, err := e.inspect(ctx, name); err != nil {
		return plan{}, err
	} else if ok && ins.Config.Labels[LabelProject] != spec.Project {
		return plan{}, &NameConflictError{Name: name, ID: ins.ID}
	}
	items, err := e.list(ctx, spec.Project)
	if err != nil {
		return plan{}, err
	}
	var pl plan
	var stale []container.InspectResponse
	for _, it := range items {
		ins, ok, err := e.inspect(ctx, it.ID)
		if err != nil {
			return plan{}, err
		}
		if !ok {
			continue
		}
		if !pl.found && ins.Config.Labels[labelConfig] == want && strings.TrimPrefix(ins.Name, "/") == name {
			pl.reuse, pl.found = ins, true
			continue
		}
		stale = append(stale, ins)
	}
	// A running container is never stopped or recreated by a start.
	if pl.found && isRunning(pl.reuse) {
		return pl, nil
	}
	for _, s := range stale {
		if isRunning(s) {
			return plan{reuse: s, found: true, outdated: differences(s, spec, img, want)}, nil
		}
	}
	for _, s := range stale {
		switch {
		case replaceable(s, spec, img):
			pl.replace = append(pl.replace, s)
		case !pl.found: // creating one more container would make two
			return plan{}, keepError(s, spec, img, describe(differences(s, spec, img, want)), 0)
		}
	}
	return pl, nil
}

// isRunning: the container's process runs, is paused, or the engine restarts it; a start leaves
// it alone. (A paused container has Status "paused" but Running true.)
func isRunning(ins container.InspectResponse) bool {
	return ins.State != nil && (ins.State.Running || ins.State.Paused || ins.State.Restarting)
}

// hasVolume reports whether the container mounts the project's durable volume.
func hasVolume(ins container.InspectResponse) bool { return toContainer(ins).Volume != "" }

// replaceable: a start may remove the stopped container ins to create spec's, because its data
// lives on the durable volume and the replacement mounts it too, or because the caller confirmed
// that very container.
func replaceable(ins container.InspectResponse, spec Spec, img imageInfo) bool {
	if spec.ConfirmRecreate != "" && strings.TrimPrefix(ins.Name, "/") == spec.ConfirmRecreate {
		return true
	}
	return hasVolume(ins) && spec.Durable && img.IRIS
}

// keepError is the refusal to remove ins, which keeps its data inside itself.
func keepError(ins container.InspectResponse, spec Spec, img imageInfo, reason string, port int) *KeepError {
	c := toContainer(ins)
	why := "it was created with durable off"
	switch {
	case !c.IRIS:
		why = fmt.Sprintf("its image %s has no ISC_PACKAGE_INSTALLDIR, so no durable volume is used", c.Image)
	case c.Volume != "" && !spec.Durable:
		why = "the project's settings now say durable: false, so a new container would not mount the durable volume"
	case c.Volume != "" && !img.IRIS:
		why = fmt.Sprintf("the new image %s has no ISC_PACKAGE_INSTALLDIR, so a new container would not mount the durable volume", spec.Image)
	}
	return &KeepError{Project: spec.Project, Container: c.Name, Reason: reason, NotOnVolume: why, Port: port}
}

// Kinds of Difference.
const (
	DiffPorts       = "ports"
	DiffBindAddress = "bindAddress"
	DiffImage       = "image"
	DiffDurable     = "durable"
	DiffEnv         = "env"
	DiffOther       = "other"
)

// Difference is one way an existing container differs from what the project now asks for.
type Difference struct {
	Kind string // one of the Diff* constants
	Text string // e.g. "ports 1973/52774 instead of 1974/52775" (never an environment value)
}

func describe(ds []Difference) string {
	texts := make([]string, len(ds))
	for i, d := range ds {
		texts[i] = d.Text
	}
	return "it was created with " + strings.Join(texts, ", ")
}

// differences lists how ins differs from spec; want is spec's config digest.
func differences(ins container.InspectResponse, spec Spec, img imageInfo, want string) []Difference {
	var out []Difference
	c := toContainer(ins)
	if c.Superserver != spec.Superserver || c.Web != spec.Web {
		out = append(out, Difference{DiffPorts, fmt.Sprintf("ports %d/%d instead of %d/%d", c.Superserver, c.Web, spec.Superserver, spec.Web)})
	}
	if c.BindAddress != spec.BindAddress {
		out = append(out, Difference{DiffBindAddress, fmt.Sprintf("bind address %s instead of %s", c.BindAddress, spec.BindAddress)})
	}
	switch {
	case c.Image != spec.Image:
		out = append(out, Difference{DiffImage, fmt.Sprintf("image %s instead of %s", c.Image, spec.Image)})
	case img.ID != "" && ins.Image != img.ID:
		out = append(out, Difference{DiffImage, fmt.Sprintf("an older build of image %s", spec.Image)})
	}
	onOff := map[bool]string{true: "on", false: "off"}
	if have, wantVol := c.Volume != "", spec.Durable && img.IRIS; have != wantVol {
		out = append(out, Difference{DiffDurable, fmt.Sprintf("durable volume %s instead of %s", onOff[have], onOff[wantVol])})
	}
	wantEnv := irisEnv(spec, img)
	var keys []string
	for _, kv := range wantEnv {
		if !slices.Contains(ins.Config.Env, kv) {
			k, _, _ := strings.Cut(kv, "=")
			keys = append(keys, k)
		}
	}
	sameImage := c.Image == spec.Image && ins.Image == img.ID
	for _, kv := range ins.Config.Env {
		if sameImage && !slices.Contains(wantEnv, kv) && !slices.Contains(img.Env, kv) {
			k, _, _ := strings.Cut(kv, "=")
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		out = append(out, Difference{DiffEnv, "another container environment (" + strings.Join(keys, ", ") + ")"})
	}
	if len(out) == 0 && ins.Config.Labels[labelConfig] != want {
		out = append(out, Difference{DiffOther, "other settings"})
	}
	return out
}

// Differences reports how the project's existing container c differs from what spec asks for
// (nil: a start would reuse it as it is). The image is looked up locally only.
func (e *Engine) Differences(ctx context.Context, spec Spec, c Container) ([]Difference, error) {
	spec = spec.withDefaults()
	var ins container.InspectResponse
	if c.raw != nil && c.raw.Config != nil && c.raw.State != nil {
		ins = *c.raw
	} else {
		var ok bool
		var err error
		if ins, ok, err = e.inspect(ctx, c.ID); err != nil || !ok {
			return nil, err
		}
	}
	img, _, err := e.imageInfo(ctx, spec.Image)
	if err != nil {
		return nil, err
	}
	if img.ID == "" {
		img.IRIS = c.IRIS // not pulled yet: judge by the container's image
	}
	want := e.createOptions(spec, img, ContainerName(spec.Project, spec.Superserver)).Config.Labels[labelConfig]
	if ins.Config.Labels[labelConfig] == want && strings.TrimPrefix(ins.Name, "/") == ContainerName(spec.Project, spec.Superserver) {
		return nil, nil
	}
	ds := differences(ins, spec, img, want)
	if img.ID == "" && len(ds) == 1 && ds[0].Kind == DiffOther {
		return nil, nil // the digest includes the image id, unknown until the pull
	}
	return ds, nil
}

// Recreation is what a start of spec would do to the project's stopped or running container
// when it cannot reuse it as it is.
type Recreation struct {
	Container   string
	Running     bool         // it runs (a restart stops it first)
	Differences []Difference // why it cannot be reused
	KeepsData   bool         // its data is on the durable volume and the new container mounts it
	NotOnVolume string       // when !KeepsData: why its data is not on the volume
}

// Recreation tells whether a (re)start of spec would recreate the project's container, and
// whether its data would survive; nil when it would reuse it (or there is none).
func (e *Engine) Recreation(ctx context.Context, spec Spec) (*Recreation, error) {
	spec = spec.withDefaults()
	c, ok, err := e.Inspect(ctx, spec.Project)
	if err != nil || !ok {
		return nil, err
	}
	ds, err := e.Differences(ctx, spec, c)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	ins, ok, err := e.inspect(ctx, c.ID)
	if err != nil || !ok {
		return nil, err
	}
	img, _, err := e.imageInfo(ctx, spec.Image)
	if err != nil {
		return nil, err
	}
	if img.ID == "" {
		img.IRIS = c.IRIS
	}
	r := &Recreation{Container: c.Name, Running: c.Running(), Differences: ds}
	spec.ConfirmRecreate = ""
	r.KeepsData = replaceable(ins, spec, img)
	if !r.KeepsData {
		r.NotOnVolume = keepError(ins, spec, img, "", 0).NotOnVolume
	}
	return r, nil
}

// create creates the container; when another Start created the same container concurrently,
// that one is used. created says whether this call created it (only then may the caller remove
// it when it fails to start).
func (e *Engine) create(ctx context.Context, opts client.ContainerCreateOptions, project, want string) (ins container.InspectResponse, created bool, err error) {
	for attempt := 0; ; attempt++ {
		cctx, cancel, err := e.call(ctx)
		if err != nil {
			return container.InspectResponse{}, false, err
		}
		res, err := e.cli.ContainerCreate(cctx, opts)
		cancel()
		if err == nil {
			ins, ok, err := e.inspect(ctx, res.ID)
			if err == nil && !ok {
				err = fmt.Errorf("container %s vanished right after it was created", opts.Name)
			}
			return ins, err == nil, err
		}
		if !cerrdefs.IsConflict(err) || attempt >= 600 { // 600 × 100 ms: a minute for a slow concurrent create
			return container.InspectResponse{}, false, e.wrap("create container "+opts.Name, err)
		}
		// Same name exists: created by a concurrent Start of this project, or not ours.
		ins, ok, ierr := e.inspect(ctx, opts.Name)
		if ierr != nil {
			return ins, false, ierr
		}
		if !ok {
			// The name is reserved by a create still in progress (or the container was just
			// removed): give it a moment, then look again.
			select {
			case <-ctx.Done():
				return ins, false, fmt.Errorf("create container %s: %w", opts.Name, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if ins.Config.Labels[LabelProject] != project {
			return ins, false, &NameConflictError{Name: opts.Name, ID: ins.ID}
		}
		if ins.Config.Labels[labelConfig] == want {
			return ins, false, nil // made by the concurrent start: not ours to remove
		}
		// Created by a concurrent start with other settings: not ours to remove.
		return ins, false, fmt.Errorf("create container %s: another start of %s created it at the same time with other settings; start again", opts.Name, project)
	}
}

// PreparedMarker is the file, at the top of the durable volume, that the preparing container
// writes once the volume is owned by the IRIS user. A volume without it (new, or one whose
// preparation failed) is prepared again at the next container create.
const PreparedMarker = DurableMount + "/.iris-helper-prepared"

// volumePrepared reports whether the stopped container id's durable volume carries PreparedMarker
// (one engine call; an answer other than "not found" counts as prepared, to start as before).
func (e *Engine) volumePrepared(ctx context.Context, id string) bool {
	cctx, cancel, err := e.call(ctx)
	if err != nil {
		return true
	}
	defer cancel()
	_, err = e.cli.ContainerStatPath(cctx, id, client.ContainerStatPathOptions{Path: PreparedMarker})
	return err == nil || !cerrdefs.IsNotFound(err)
}

// ensureVolume creates the project's durable volume when missing and makes it writable by the
// IRIS owner (UID 51773) unless it carries PreparedMarker: a short one-shot container from the
// same image runs `chown -R 51773:51773 /durable` as root (InterSystems images are Ubuntu-based
// and have chown; the stand-in image ships its own) and, when that succeeded, the marker is
// written into the volume through that container. IRIS then creates ISC_DATA_DIRECTORY=/durable/iris
// itself. (Docker volume labels cannot change after creation, hence a file.)
func (e *Engine) ensureVolume(ctx context.Context, spec Spec, img imageInfo) error {
	name := VolumeName(spec.Project)
	cctx, cancel, err := e.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = e.cli.VolumeInspect(cctx, name, client.VolumeInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		_, err = e.cli.VolumeCreate(cctx, client.VolumeCreateOptions{Name: name, Labels: map[string]string{
			LabelProject: spec.Project, LabelVersion: e.version,
		}})
		if err != nil {
			return e.wrap("create volume "+name, err)
		}
	case err != nil:
		return e.wrap("inspect volume "+name, err)
	}
	owner := fmt.Sprintf("%d:%d", IRISOwnerUID, IRISOwnerUID)
	if e.prepareFail != nil {
		return fmt.Errorf("prepare durable volume %s for UID %d: %w", name, IRISOwnerUID, e.prepareFail)
	}
	// A preparing container left by an earlier start that was cancelled while the engine created it
	// (the create succeeded, its answer was lost) holds no data: remove it rather than leave it behind.
	if err := e.removePrepareContainers(cctx, spec.Project); err != nil {
		return fmt.Errorf("prepare durable volume %s: %w", name, err)
	}
	res, err := e.cli.ContainerCreate(cctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image: spec.Image, User: "0", Entrypoint: []string{"chown", "-R", owner, DurableMount},
			Labels: map[string]string{LabelPrepare: spec.Project},
		},
		HostConfig: &container.HostConfig{
			NetworkMode: "none",
			Mounts:      []mount.Mount{{Type: mount.TypeVolume, Source: name, Target: DurableMount}},
		},
	})
	if err != nil {
		if ctx.Err() != nil { // the engine may have created it before the cancel reached it
			_ = e.removePrepareContainers(context.WithoutCancel(ctx), spec.Project)
		}
		return fmt.Errorf("prepare durable volume %s for UID %d: %w", name, IRISOwnerUID, e.classify(err))
	}
	defer func() { _ = e.removeContainer(context.WithoutCancel(ctx), res.ID, true) }()
	_, err = e.cli.ContainerStatPath(cctx, res.ID, client.ContainerStatPathOptions{Path: PreparedMarker})
	if err == nil {
		return nil // prepared before
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("prepare durable volume %s: look for %s: %w", name, PreparedMarker, e.classify(err))
	}
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
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := fmt.Sprintf("prepared for UID %d by iris-helper %s at %s\n", IRISOwnerUID, e.version, time.Now().UTC().Format(time.RFC3339))
	if err := tw.WriteHeader(&tar.Header{Name: path.Base(PreparedMarker), Mode: 0o644, Size: int64(len(body)),
		Uid: IRISOwnerUID, Gid: IRISOwnerUID, ModTime: time.Now()}); err != nil {
		return err
	}
	if _, err := tw.Write([]byte(body)); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if _, err := e.cli.CopyToContainer(cctx, res.ID, client.CopyToContainerOptions{DestinationPath: DurableMount,
		Content: &buf, CopyUIDGID: true}); err != nil {
		return fmt.Errorf("prepare durable volume %s: write %s: %w", name, PreparedMarker, e.classify(err))
	}
	return nil
}

// removePrepareContainers removes the project's volume-preparing containers (LabelPrepare).
func (e *Engine) removePrepareContainers(ctx context.Context, project string) error {
	lctx, cancel, err := e.call(ctx)
	if err != nil {
		return err
	}
	res, err := e.cli.ContainerList(lctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", LabelPrepare+"="+project)})
	cancel()
	if err != nil {
		return e.wrap("list volume-preparing containers", err)
	}
	for _, c := range res.Items {
		if err := e.removeContainer(ctx, c.ID, true); err != nil {
			return err
		}
	}
	return nil
}

var portInMessage = regexp.MustCompile(`:(\d{1,5})\b`)

// startContainer starts ins. When a host port is taken, a container this Start created is
// removed (*PortTakenError); an existing one is kept: *PortTakenError when a start on other ports
// may replace it (its data is on the volume, or the caller confirmed), else *KeepError.
func (e *Engine) startContainer(ctx context.Context, ins container.InspectResponse, spec Spec, img imageInfo, created bool) error {
	cctx, cancel, err := e.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = e.cli.ContainerStart(cctx, ins.ID, client.ContainerStartOptions{})
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
		switch {
		case created:
			if rerr := e.removeContainer(context.WithoutCancel(ctx), ins.ID, false); rerr != nil {
				e.log.Warn("remove half-created container", "id", ins.ID, "err", rerr)
			}
		case !replaceable(ins, spec, img):
			return keepError(ins, spec, img, fmt.Sprintf("host port %d is taken by another program", port), port)
		}
		return &PortTakenError{Port: port, Err: err, Kept: !created}
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
	url := webURL(spec.BindAddress, spec.Web)
	hc := probeClient()

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

// ProbeTimeout bounds one HTTP probe of a web port (ProbeWeb, and each try of a start's wait).
const ProbeTimeout = 2 * time.Second

// webURL is the management portal's page on host port web published on bind: the address itself,
// or the loopback address of its family for a wildcard bind ("" is 127.0.0.1).
func webURL(bind string, web int) string {
	host := bind
	if host == "" {
		host = DefaultBindAddress
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsUnspecified() {
		if a.Is4() {
			host = "127.0.0.1"
		} else {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(web)) + "/csp/sys/UtilHome.csp"
}

func probeClient() *http.Client {
	return &http.Client{Timeout: ProbeTimeout, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
}

// ProbeWeb asks once, within ProbeTimeout, whether IRIS answers HTTP on host port web published
// on bind (any status code is an answer): the proof of readiness a start waits for, for a
// container this process did not start. nil when it answered.
func ProbeWeb(ctx context.Context, bind string, web int) error {
	if web <= 0 {
		return fmt.Errorf("no web port published")
	}
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	return probeHTTP(ctx, probeClient(), webURL(bind, web))
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
