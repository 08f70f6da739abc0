package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// Defaults of the start/stop story.
const (
	DefaultImage        = dockerops.DefaultImage // containers.intersystems.com/intersystems/iris-community:latest-em
	DefaultBindAddress  = "127.0.0.1"
	DefaultReadyTimeout = 180 * time.Second
	// EnvImage overrides the default image, at the level of the editor setting.
	EnvImage = "IRIS_HELPER_IMAGE"
)

const (
	statusTimeout    = 10 * time.Second // engine calls made to answer Status
	stopTimeout      = 90 * time.Second // container stop (60 s orderly) plus slack
	lockRetryDelay   = 50 * time.Millisecond
	maxEngineBackoff = 30 * time.Second
)

// ProjectOptions configure OpenProject. Every field is optional.
type ProjectOptions struct {
	Registry     *registry.Registry // nil: open the default registry ($IRIS_HELPER_HOME)
	Engine       *dockerops.Engine  // nil: connect lazily; engine down → state docker-unavailable
	FlagImage    string             // --image: highest precedence
	EditorImage  string             // editor setting; same level as env IRIS_HELPER_IMAGE; below .iris-helper.json
	FlagPorts    registry.Preferred // --port / --web-port
	BindAddress  string             // editor setting (below .iris-helper.json's bindAddress); default 127.0.0.1
	SyncEnv      string             // editor setting "auto|true|false"; "" = .iris-helper.json / default auto
	ReadyTimeout time.Duration      // 0 = 180s
	Logger       *slog.Logger
	ContainerEnv []string // extra KEY=VALUE for the container (e.g. the stand-in image's switches in tests)
	Version      string   // iris-helper version for the containers' dev.iris-helper.version label (lazy engine)
	// Policy is what the user allows by flags or editor settings at user scope; OpenProject ORs in
	// the environment and $IRIS_HELPER_HOME/config.json (LoadUserPolicy). Never from project files.
	Policy UserPolicy
	// How long a start (default 5 min) and a stop (60 s) wait for the per-project lock.
	StartLockTimeout, StopLockTimeout time.Duration
}

// StopOptions select what Stop removes besides stopping.
type StopOptions struct {
	Remove bool // remove the container (the next start recreates it)
	Purge  bool // with Remove: delete the project's data volume too
}

// ReleaseOptions select what Release may do to a project's container.
type ReleaseOptions struct {
	Force bool // stop and remove a running container instead of refusing
	Purge bool // delete the project's data volume too
}

// RunningError says that an operation was refused because the project's container runs.
type RunningError struct {
	Project, Container string
}

func (e *RunningError) Error() string {
	return fmt.Sprintf("the IRIS container %s of %s is running; stop it first ('iris-helper stop %s') or use --force",
		e.Container, e.Project, e.Project)
}

// Project is the start/stop story of one project: its registry assignment, its container on the
// Docker engine and its .env. The CLI and the JSON-RPC server share it. Safe for concurrent use.
type Project struct {
	root   Root
	cfg    Config
	policy UserPolicy
	opts   ProjectOptions
	reg    *registry.Registry
	log    *slog.Logger

	image, bindAddress string
	durable, unexpire  bool
	syncMode           SyncMode
	readyTimeout       time.Duration

	engMu sync.Mutex
	eng   *dockerops.Engine

	mu       sync.Mutex
	op       *startOp // the start in flight, joined by concurrent Start calls
	stopping int      // stops in flight
	lastErr  error    // the last start's error; cleared by the next start or stop
	note     string   // the last noteworthy event (a port move); cleared by the next start or stop
	watchers map[*watcher]struct{}
	// envWarned: the refusal of the project's .env (outside the project, not a regular file) was
	// said; it is said once per Project, not by every start and watcher.
	envWarned bool
}

// OpenProject finds the project that holds dir (FindRoot), reads its .iris-helper.json and
// resolves the image, bind address and settings. It does not talk to the engine.
func OpenProject(ctx context.Context, dir string, opts ProjectOptions) (*Project, error) {
	root, err := FindRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open project %s: %w", dir, err)
	}
	cfg, err := LoadConfig(root.Dir)
	if err != nil {
		return nil, fmt.Errorf("open project %s: %w", root.Dir, err)
	}
	p := &Project{root: root, cfg: cfg, opts: opts, reg: opts.Registry, log: opts.Logger, eng: opts.Engine,
		watchers: map[*watcher]struct{}{}}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p.image = firstNonEmpty(opts.FlagImage, cfg.Image, opts.EditorImage, os.Getenv(EnvImage), DefaultImage)
	p.bindAddress = firstNonEmpty(cfg.BindAddress, opts.BindAddress, DefaultBindAddress)
	p.durable = cfg.DurableOrDefault()
	p.unexpire = cfg.UnexpirePasswordsOrDefault()
	if p.syncMode, err = cfg.EnvSync("", opts.SyncEnv); err != nil {
		return nil, fmt.Errorf("open project %s: editor setting syncEnv: %w", root.Dir, err)
	}
	p.readyTimeout = opts.ReadyTimeout
	if p.readyTimeout <= 0 {
		p.readyTimeout = DefaultReadyTimeout
	}
	if p.reg == nil {
		p.reg, err = registry.Open(registry.Options{Ports: enginePorts{p}, Logger: opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("open project %s: %w", root.Dir, err)
		}
	}
	userPolicy, err := LoadUserPolicy(p.reg.Home())
	if err != nil {
		return nil, fmt.Errorf("open project %s: %w", root.Dir, err)
	}
	p.policy = opts.Policy.Or(userPolicy)
	return p, nil
}

// Policy is what the user allows for this project (flags, editor user settings, environment,
// $IRIS_HELPER_HOME/config.json).
func (p *Project) Policy() UserPolicy { return p.policy }

// Root is the project folder and why it was chosen.
func (p *Project) Root() Root { return p.root }

// Config is the project's .iris-helper.json as loaded by OpenProject.
func (p *Project) Config() Config { return p.cfg }

// Registry is the port registry the project uses.
func (p *Project) Registry() *registry.Registry { return p.reg }

// Image is the image a start uses (flag > .iris-helper.json > editor/env > default).
func (p *Project) Image() string { return p.image }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Engine returns the Docker engine, connecting on first use. A connection failure is returned
// (typically *dockerops.UnavailableError) and retried on the next call.
func (p *Project) Engine(ctx context.Context) (*dockerops.Engine, error) {
	p.engMu.Lock()
	defer p.engMu.Unlock()
	if p.eng != nil {
		return p.eng, nil
	}
	opts := []dockerops.Option{dockerops.WithLogger(p.log)}
	if p.opts.Version != "" {
		opts = append(opts, dockerops.WithVersion(p.opts.Version))
	}
	e, err := dockerops.Connect(ctx, opts...)
	if err != nil {
		return nil, err
	}
	p.eng = e
	return e, nil
}

// enginePorts lets the registry ask the (lazily connected) engine which host ports it publishes.
type enginePorts struct{ p *Project }

func (e enginePorts) HostPortsInUse(ctx context.Context) (map[int]string, error) {
	eng, err := e.p.Engine(ctx)
	if err != nil {
		return nil, err
	}
	return eng.HostPortsInUse(ctx)
}

// ---------------------------------------------------------------------------------------------
// Status

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
		Image:         p.image,
		EnvFile:       p.envFile(),
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
	var c dockerops.Container
	found := false
	var eng *dockerops.Engine
	if unavailable != nil {
		err = unavailable
	} else {
		if eng, err = p.Engine(ctx); err == nil {
			c, found, err = eng.Inspect(ctx, p.root.Dir)
		}
	}
	switch {
	case err != nil && isUnavailable(err):
		st.State = StateDockerUnavailable
		msgs = append([]string{err.Error()}, msgs...)
	case err != nil:
		st.State = StateError
		msgs = append([]string{fmt.Sprintf("cannot inspect the container of %s: %v", p.root.Dir, err)}, msgs...)
	case !found:
		st.State = StateNotCreated
	default:
		st.Container = c.Name
		if c.Image != "" {
			st.Image = c.Image
		}
		if c.BindAddress != "" {
			st.BindAddress = c.BindAddress
		}
		st.State = containerState(c)
		running = c.Running()
		switch {
		case st.State == StateUnhealthy:
			msgs = append(msgs, fmt.Sprintf("the healthcheck of container %s reports unhealthy; see 'iris-helper logs %s'", c.Name, p.root.Dir))
		case st.State == StateError:
			msgs = append(msgs, fmt.Sprintf("the engine reports container %s as dead; remove it with 'iris-helper stop --remove %s'", c.Name, p.root.Dir))
		case c.State == "exited":
			code := c.ExitCode
			st.ExitCode = &code
		}
		if running && !c.StartedAt.IsZero() {
			t := c.StartedAt
			st.StartedAt = &t
		}
		if running && assigned && op == nil && !stopping && (c.Superserver != a.SuperserverPort || c.Web != a.WebPort) {
			st.RestartNeeded = true
			msgs = append(msgs, fmt.Sprintf("the container still uses %d/%d; restart to use %d/%d",
				c.Superserver, c.Web, a.SuperserverPort, a.WebPort))
		}
		if running && assigned && op == nil && !stopping {
			if texts := p.settingsChanged(ctx, eng, c, a); len(texts) > 0 {
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
	st.Host = ConnectHost(st.BindAddress)
	if len(msgs) > 0 {
		st.Message = msgs[0]
		for _, m := range msgs[1:] {
			st.Message += "; " + m
		}
	}
	return st
}

// settingsChanged lists how the running container c differs from what the project now asks for,
// ports aside (the status compares those with the assignment itself).
func (p *Project) settingsChanged(ctx context.Context, eng *dockerops.Engine, c dockerops.Container, a registry.Assignment) []string {
	spec := p.spec(a, "")
	spec.Superserver, spec.Web = c.Superserver, c.Web
	ds, err := eng.Differences(ctx, spec, c)
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

func isUnavailable(err error) bool {
	var ue *dockerops.UnavailableError
	return errors.As(err, &ue)
}

// envFile is the absolute path of the synced .env when sync is on, the file exists and may be
// synced (not refused: outside the project, not a regular file).
func (p *Project) envFile() string {
	if p.syncMode == SyncFalse {
		return ""
	}
	path := p.envPath()
	if f, err := resolveEnvFile(path, p.syncMode, p.envScope()); err != nil || !f.exists {
		return ""
	}
	return path
}

// envScope is where the project's .env may lie: in the project folder, not in IRIS_HELPER_HOME,
// unless the user allows it.
func (p *Project) envScope() EnvScope { return ScopeOf(p.root.Dir, p.reg.Home(), p.policy) }

// envRefused reports whether err refuses the project's .env as a whole (it is not synced at all).
func envRefused(err error) bool {
	var out *EnvOutsideProjectError
	var nr *EnvNotRegularError
	return errors.As(err, &out) || errors.As(err, &nr)
}

// warnEnv tells the user that the .env could not be synced: a refusal once per Project (sync is off
// for it), other failures each time.
func (p *Project) warnEnv(err error) {
	text := err.Error()
	if envRefused(err) {
		p.mu.Lock()
		said := p.envWarned
		p.envWarned = true
		p.mu.Unlock()
		if said {
			p.log.Debug("the .env stays refused", "err", err)
			return
		}
		text += "; .env sync is off for this project"
	}
	p.log.Warn(text)
	p.message(Message{Level: LevelWarning, Text: text, Err: err})
}

func (p *Project) envPath() string { return p.cfg.EnvPath(p.root.Dir) }

// ---------------------------------------------------------------------------------------------
// Registry access (with rebuild after corruption)

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

// withRegistry runs fn; when the registry reports that its file was corrupt (and was moved
// aside), it rebuilds the registry from our containers' labels and runs fn again.
func (p *Project) withRegistry(ctx context.Context, fn func() error) error {
	err := fn()
	var ce *registry.CorruptError
	if !errors.As(err, &ce) || ce.Backup == "" {
		return err
	}
	text := ce.Error()
	eng, eerr := p.Engine(ctx)
	if eerr == nil {
		var n int
		n, eerr = RestoreFromContainers(ctx, p.reg, eng)
		if eerr == nil {
			text = fmt.Sprintf("%s; rebuilt %d assignment(s) from the labels of iris-helper containers", text, n)
		}
	}
	if eerr != nil {
		text = fmt.Sprintf("%s; could not rebuild it from containers: %v", text, eerr)
	}
	p.log.Warn(text)
	p.message(Message{Level: LevelWarning, Text: text})
	return fn()
}

// RestoreFromContainers rebuilds registry assignments from the labels of the containers
// iris-helper created (after the registry file was found corrupt) and returns how many it
// restored. A project with several containers keeps the running one, else the newest.
func RestoreFromContainers(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine) (int, error) {
	owned, err := eng.Owned(ctx)
	if err != nil {
		return 0, fmt.Errorf("list iris-helper containers: %w", err)
	}
	return restoreContainers(ctx, reg, eng, owned)
}

// restoreContainers adds registry assignments for the projects of containers (by their labels);
// projects that have an assignment, and ports another project holds, are skipped by Restore.
func restoreContainers(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine, owned []dockerops.Container) (int, error) {
	best := map[string]dockerops.Container{}
	for _, c := range owned {
		if c.Project == "" || c.Superserver == 0 || c.Web == 0 {
			continue
		}
		old, seen := best[c.Project]
		if !seen || (c.State == "running" && old.State != "running") ||
			(c.State == old.State && c.StartedAt.After(old.StartedAt)) {
			best[c.Project] = c
		}
	}
	var as []registry.Assignment
	ss, web := reg.Ranges()
	for project, c := range best {
		a := registry.Assignment{Project: project, SuperserverPort: c.Superserver, WebPort: c.Web,
			Type: registry.TypeManual, Status: registry.StatusIdle, Container: c.Name, Engine: eng.Endpoint()}
		if c.State == "running" {
			a.Status = registry.StatusActive
		}
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

// ---------------------------------------------------------------------------------------------
// Watchers: every status change and message goes to every Watch caller.

// watcher delivers to one Watch caller, one callback at a time, in order.
type watcher struct {
	onStatus  func(Status)
	onMessage func(Message)
	kick      chan struct{}
	envKick   chan struct{} // tells watchEnv that the assignment may have changed
	mu        sync.Mutex
	msgs      []Message
}

func (w *watcher) signal() {
	for _, c := range []chan struct{}{w.kick, w.envKick} {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// publish tells every watcher that the status may have changed.
func (p *Project) publish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := range p.watchers {
		w.signal()
	}
}

// message sends m to every watcher (and logs it).
func (p *Project) message(m Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := range p.watchers {
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.mu.Unlock()
		w.signal()
	}
}

// deliver runs until ctx is done: on every kick it hands queued messages to onMessage and the
// current status to onStatus when it differs from the last one delivered.
func (p *Project) deliver(ctx context.Context, w *watcher) {
	var last []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		}
		w.mu.Lock()
		msgs := w.msgs
		w.msgs = nil
		w.mu.Unlock()
		for _, m := range msgs {
			if w.onMessage != nil {
				w.onMessage(m)
			}
		}
		st := p.Status(ctx)
		if ctx.Err() != nil {
			return
		}
		b, _ := json.Marshal(st)
		if !bytes.Equal(b, last) {
			last = b
			if w.onStatus != nil {
				w.onStatus(st)
			}
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Start

// startOp is a start in flight. Concurrent Start calls join it; it goes on while at least one
// caller still waits and is cancelled when every caller has gone, or by Stop.
type startOp struct {
	done      chan struct{}
	cancel    context.CancelFunc
	phase     Phase
	listeners map[int]func(dockerops.Progress)
	nextID    int
	stopped   bool   // cancelled by Stop
	confirm   string // the container whose recreate (its data is not on a volume) the user confirmed
	status    Status // set before done is closed
	err       error
}

// Start assigns the project its ports (idempotent), starts its container and waits until IRIS
// answers, then syncs .env. progress (may be nil) gets every step. A Start while another runs
// in this process joins it; the per-project lock serializes starts across processes.
//
// A start never stops or recreates a running container (a difference shows as restartNeeded in
// the status; Restart applies it), and never removes a stopped container whose data is not on the
// durable volume (*dockerops.KeepError; Restart with Confirm may). A non-loopback bindAddress from
// .iris-helper.json is refused unless the user allows it (*NetworkBindError).
func (p *Project) Start(ctx context.Context, progress func(dockerops.Progress)) (Status, error) {
	return p.start(ctx, "", progress)
}

func (p *Project) start(ctx context.Context, confirm string, progress func(dockerops.Progress)) (Status, error) {
	p.mu.Lock()
	op := p.op
	if op == nil {
		opCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		op = &startOp{done: make(chan struct{}), cancel: cancel, listeners: map[int]func(dockerops.Progress){}, confirm: confirm}
		p.op = op
		p.lastErr, p.note = nil, ""
		go p.runStart(opCtx, op)
	}
	id := op.nextID
	op.nextID++
	op.listeners[id] = progress
	p.mu.Unlock()
	p.publish()

	select {
	case <-op.done:
		p.mu.Lock()
		delete(op.listeners, id)
		p.mu.Unlock()
		return op.status, op.err
	case <-ctx.Done():
		p.mu.Lock()
		delete(op.listeners, id)
		if len(op.listeners) == 0 {
			// Abandoned: cancel it and let go of it at once, so that a Start arriving while it
			// winds down begins afresh (waiting on the per-project lock) instead of joining it.
			op.cancel()
			if p.op == op {
				p.op = nil
			}
		}
		p.mu.Unlock()
		return p.Status(context.WithoutCancel(ctx)), fmt.Errorf("start %s: %w", p.root.Dir, ctx.Err())
	}
}

// runStart runs the shared start and records its outcome.
func (p *Project) runStart(ctx context.Context, op *startOp) {
	err := p.doStart(ctx, op.confirm, func(pr dockerops.Progress) {
		p.mu.Lock()
		op.phase = pr.Phase
		ls := make([]func(dockerops.Progress), 0, len(op.listeners))
		for _, l := range op.listeners {
			if l != nil {
				ls = append(ls, l)
			}
		}
		p.mu.Unlock()
		for _, l := range ls {
			l(pr)
		}
		p.publish()
	})
	cancelled := ctx.Err() != nil
	op.cancel()
	p.mu.Lock()
	switch {
	case err != nil && op.stopped:
		err = fmt.Errorf("start %s: cancelled by a stop", p.root.Dir)
	case err != nil && cancelled:
		err = fmt.Errorf("start %s: cancelled: %w", p.root.Dir, err)
	case err != nil && isUnavailable(err):
		// not remembered: the state is docker-unavailable, then whatever the engine says
	case err != nil:
		p.lastErr = err
	}
	if p.op == op {
		p.op = nil
	}
	p.mu.Unlock()
	op.err = err
	op.status = p.statusAfter(context.Background(), err)
	close(op.done)
	if err != nil && !op.stopped {
		p.message(Message{Level: LevelError, Text: err.Error(), Err: err})
	}
	p.publish()
}

// doStart is one start under the per-project lock.
func (p *Project) doStart(ctx context.Context, confirm string, progress func(dockerops.Progress)) error {
	if err := p.checkBind(); err != nil {
		return err
	}
	eng, err := p.Engine(ctx)
	if err != nil {
		return err
	}
	// One short ping first: an engine that is down or hangs is reported within seconds, naming
	// its endpoint, instead of after several per-call timeouts.
	if err := eng.Ping(ctx); err != nil {
		return fmt.Errorf("start IRIS for %s: %w", p.root.Dir, err)
	}
	unlock, err := p.lockProject(ctx, "start")
	if err != nil {
		return err
	}
	defer unlock()

	// The registry forgot the project (ports clear, a corrupt file met by another command) but its
	// container is still there: take its ports back, so the container and the registry agree.
	if _, ok, err := p.assignment(ctx); err == nil && !ok {
		if c, found, err := eng.Inspect(ctx, p.root.Dir); err == nil && found {
			if n, err := restoreContainers(ctx, p.reg, eng, []dockerops.Container{c}); err == nil && n > 0 {
				p.log.Info("took the ports of the existing container back", "project", p.root.Dir, "container", c.Name)
			}
		}
	}
	pref := p.preferred()
	var a registry.Assignment
	if err := p.withRegistry(ctx, func() (err error) {
		a, err = p.reg.Assign(ctx, p.root.Dir, pref)
		return err
	}); err != nil {
		return fmt.Errorf("assign ports to %s: %w", p.root.Dir, err)
	}
	if err := p.reg.Touch(ctx, p.root.Dir); err != nil {
		p.log.Warn("touch registry entry", "project", p.root.Dir, "err", err)
	}
	p.publish()

	c, err := eng.Start(ctx, p.spec(a, confirm), progress)
	var taken *dockerops.PortTakenError
	if errors.As(err, &taken) && ctx.Err() == nil {
		if a.Type == registry.TypeManual {
			return fmt.Errorf("start %s: port %d, chosen for this project, is taken by another program: %w; "+
				"stop that program or choose other ports", p.root.Dir, taken.Port, err)
		}
		old := a
		if err := p.withRegistry(ctx, func() (err error) {
			a, err = p.reg.Reassign(ctx, p.root.Dir, taken.Port)
			return err
		}); err != nil {
			return fmt.Errorf("port %d was taken before start and no other port pair is free for %s: %w",
				taken.Port, p.root.Dir, err)
		}
		note := fmt.Sprintf("port %d was taken by another program between assignment and start; moved the project from %d/%d to %d/%d",
			taken.Port, old.SuperserverPort, old.WebPort, a.SuperserverPort, a.WebPort)
		p.log.Warn(note, "project", p.root.Dir)
		p.mu.Lock()
		p.note = note
		p.mu.Unlock()
		p.message(Message{Level: LevelWarning, Text: note})
		c, err = eng.Start(ctx, p.spec(a, confirm), progress)
	}
	if err != nil {
		return fmt.Errorf("start IRIS for %s: %w", p.root.Dir, err)
	}
	if _, err := p.reg.Update(ctx, p.root.Dir, func(x *registry.Assignment) {
		x.Status, x.Container, x.Engine = registry.StatusActive, c.Name, eng.Endpoint()
	}); err != nil {
		p.log.Warn("record container in registry", "project", p.root.Dir, "err", err)
	}
	if _, err := p.syncEnvWith(a); err != nil {
		p.warnEnv(err)
	}
	return nil
}

// preferred is the ports a start asks the registry for: the flags', else .iris-helper.json's.
func (p *Project) preferred() registry.Preferred { return PreferredPorts(p.opts.FlagPorts, p.cfg) }

// spec is the container the project's assignment asks for.
func (p *Project) spec(a registry.Assignment, confirm string) dockerops.Spec {
	return dockerops.Spec{Project: p.root.Dir, Image: p.image, BindAddress: p.bindAddress,
		Superserver: a.SuperserverPort, Web: a.WebPort, Durable: p.durable, UnexpirePasswords: p.unexpire,
		ReadyTimeout: p.readyTimeout, Env: p.opts.ContainerEnv, ConfirmRecreate: confirm}
}

// RestartOptions select what Restart may do.
type RestartOptions struct {
	// Confirm names the container (ConfirmRequiredError.Container) that the user agreed may be
	// removed and recreated although its data is not on the durable volume (its data is lost).
	// A restart that would have to remove any other such container fails with
	// *ConfirmRequiredError naming it, before anything is stopped.
	Confirm string
}

// ConfirmRequiredError means a restart would have to remove the project's container, whose data
// is not on the durable volume, and the user has not confirmed it. Nothing was changed, unless
// the start after the stop found a port taken (then the container is stopped, and kept).
type ConfirmRequiredError struct {
	Project, Container string
	Reason             string // why the container must be recreated
	NotOnVolume        string // why its data is not on the volume
}

func (e *ConfirmRequiredError) Error() string {
	return fmt.Sprintf("restarting %s would remove container %s and the data inside it, which is not on the durable volume (%s): %s; confirm the restart to recreate it",
		e.Project, e.Container, e.NotOnVolume, e.Reason)
}

// Restart stops the container (keeping it) and starts it again, e.g. to apply new ports or
// settings (restartNeeded). It is RestartWith without confirmation.
func (p *Project) Restart(ctx context.Context, progress func(dockerops.Progress)) (Status, error) {
	return p.RestartWith(ctx, RestartOptions{}, progress)
}

// RestartWith stops the container (keeping it) and starts it again, applying the project's
// current ports and settings. When that must recreate a container whose data is not on the
// durable volume, it asks first: unless opts.Confirm names that container it fails with
// *ConfirmRequiredError and leaves the container as it is.
func (p *Project) RestartWith(ctx context.Context, opts RestartOptions, progress func(dockerops.Progress)) (Status, error) {
	if err := p.checkBind(); err != nil {
		return p.Status(ctx), err
	}
	var need *ConfirmRequiredError
	if err := p.confirmNeeded(ctx); errors.As(err, &need) && need.Container != opts.Confirm {
		return p.Status(ctx), err
	}
	if _, err := p.Stop(ctx, StopOptions{}); err != nil {
		return p.Status(ctx), err
	}
	st, err := p.start(ctx, opts.Confirm, progress)
	var keep *dockerops.KeepError
	if errors.As(err, &keep) { // a container other than the confirmed one
		err = &ConfirmRequiredError{Project: p.root.Dir, Container: keep.Container, Reason: keep.Reason, NotOnVolume: keep.NotOnVolume}
	}
	return st, err
}

// confirmNeeded is a *ConfirmRequiredError when the start that follows the stop would recreate a
// container whose data is not on the durable volume. It judges the ports that start asks for (the
// preferred ones, which move the assignment), not only the current assignment.
func (p *Project) confirmNeeded(ctx context.Context) error {
	a, ok, err := p.assignment(ctx)
	if err != nil || !ok {
		return nil // the start assigns ports and reports the problem
	}
	if pref := p.preferred(); pref.Superserver != 0 {
		a.SuperserverPort = pref.Superserver
	}
	if pref := p.preferred(); pref.Web != 0 {
		a.WebPort = pref.Web
	}
	eng, err := p.Engine(ctx)
	if err != nil {
		return nil
	}
	r, err := eng.Recreation(ctx, p.spec(a, ""))
	if err != nil || r == nil || r.KeepsData {
		return nil
	}
	texts := make([]string, len(r.Differences))
	for i, d := range r.Differences {
		texts[i] = d.Text
	}
	return &ConfirmRequiredError{Project: p.root.Dir, Container: r.Container,
		Reason: "it was created with " + strings.Join(texts, ", "), NotOnVolume: r.NotOnVolume}
}

// NetworkBindError means the project's .iris-helper.json asks to publish IRIS on a non-loopback
// address, which only the user may allow (Knob; front ends word the remedy).
type NetworkBindError struct {
	Address string // the bindAddress asked for
	File    string // the .iris-helper.json that asks for it
}

// Knob is what the user turns on to allow it: KnobNetworkBind.
func (e *NetworkBindError) Knob() Knob { return KnobNetworkBind }

func (e *NetworkBindError) Error() string {
	return fmt.Sprintf("%s asks for bindAddress %s, which makes IRIS reachable from the network; a project file cannot choose that, so the start was refused",
		e.File, e.Address)
}

// IsLoopback reports whether addr is a loopback address (127.0.0.0/8, ::1): reachable from this
// machine only.
func IsLoopback(addr string) bool {
	a, err := netip.ParseAddr(addr)
	return err == nil && a.Unmap().IsLoopback()
}

// checkBind refuses a non-loopback bindAddress that comes from the project (not the user's own
// flag or editor setting) unless the user allows it.
func (p *Project) checkBind() error {
	if IsLoopback(p.bindAddress) || p.bindAddress != p.cfg.BindAddress || p.bindAddress == p.opts.BindAddress ||
		p.policy.Allows(KnobNetworkBind) {
		return nil
	}
	return &NetworkBindError{Address: p.bindAddress, File: filepath.Join(p.root.Dir, ConfigFileName)}
}

// ExposureWarning is the warning front ends show when st's ports are published on a
// non-loopback address; "" when IRIS is reachable from this machine only.
func ExposureWarning(st Status) string {
	if st.BindAddress == "" || IsLoopback(st.BindAddress) || st.SuperserverPort == 0 {
		return ""
	}
	return fmt.Sprintf("IRIS for %s is reachable from the network: its ports %d and %d are published on %s, not only on this machine",
		st.Project, st.SuperserverPort, st.WebPort, st.BindAddress)
}

// ---------------------------------------------------------------------------------------------
// Stop

// Stop cancels a start in flight, stops the container in order (keeping it unless Remove;
// Purge also deletes the data volume) and marks the assignment idle (still reserved).
func (p *Project) Stop(ctx context.Context, opts StopOptions) (Status, error) {
	p.mu.Lock()
	op := p.op
	if op != nil {
		op.stopped = true
		op.cancel()
	}
	p.stopping++
	p.lastErr, p.note = nil, ""
	p.mu.Unlock()
	p.publish()
	finished := false
	finish := func() {
		if !finished {
			finished = true
			p.mu.Lock()
			p.stopping--
			p.mu.Unlock()
			p.publish()
		}
	}
	defer finish()
	if op != nil {
		select {
		case <-op.done:
		case <-ctx.Done():
			return p.Status(ctx), fmt.Errorf("stop %s: %w", p.root.Dir, ctx.Err())
		}
	}
	eng, err := p.Engine(ctx)
	if err != nil {
		return p.Status(ctx), err
	}
	if err := eng.Ping(ctx); err != nil { // fail fast on an engine that is down or hangs
		return p.statusAfter(ctx, err), fmt.Errorf("stop IRIS for %s: %w", p.root.Dir, err)
	}
	unlock, err := p.lockProject(ctx, "stop")
	if err != nil {
		return p.Status(ctx), err
	}
	defer unlock()
	stopCtx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	if err := eng.Stop(stopCtx, p.root.Dir, opts.Remove, opts.Remove && opts.Purge); err != nil {
		return p.statusAfter(ctx, err), fmt.Errorf("stop IRIS for %s: %w", p.root.Dir, err)
	}
	if _, ok, _ := p.assignment(ctx); ok {
		if _, err := p.reg.Update(ctx, p.root.Dir, func(x *registry.Assignment) {
			x.Status = registry.StatusIdle
			if opts.Remove {
				x.Container = ""
			}
		}); err != nil {
			p.log.Warn("mark assignment idle", "project", p.root.Dir, "err", err)
		}
	}
	finish()
	return p.Status(ctx), nil
}

// ---------------------------------------------------------------------------------------------
// Release, ports, cleanup

// Release gives the project's ports back. It is refused while the container runs unless Force
// (which stops and removes it first); Purge also deletes the data volume.
func (p *Project) Release(ctx context.Context, opts ReleaseOptions) (registry.Assignment, error) {
	p.mu.Lock()
	busy := p.op != nil
	p.mu.Unlock()
	if busy && !opts.Force {
		return registry.Assignment{}, fmt.Errorf("release %s: a start is in progress; stop it first or use --force", p.root.Dir)
	}
	if busy {
		if _, err := p.Stop(ctx, StopOptions{Remove: true, Purge: opts.Purge}); err != nil {
			return registry.Assignment{}, err
		}
	}
	var eng *dockerops.Engine
	if e, err := p.Engine(ctx); err == nil {
		eng = e
	}
	return ReleaseProject(ctx, p.reg, eng, p.root.Dir, opts)
}

// ReleaseProject releases the registry assignment of project (a project key, whose folder may
// be gone). With an engine: refused while the project's container runs unless opts.Force, which
// stops and removes it first; opts.Purge removes the container and its data volume. Without an
// engine (nil: Docker unavailable) only a plain release is possible.
func ReleaseProject(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine, project string, opts ReleaseOptions) (registry.Assignment, error) {
	if eng == nil {
		if opts.Force || opts.Purge {
			return registry.Assignment{}, fmt.Errorf("release %s: --force and --purge need the Docker engine, which does not answer; start Docker and try again", project)
		}
		return reg.Release(ctx, project)
	}
	c, found, err := eng.Inspect(ctx, project)
	if err != nil {
		if isUnavailable(err) && !opts.Force && !opts.Purge {
			return reg.Release(ctx, project)
		}
		return registry.Assignment{}, fmt.Errorf("release %s: %w", project, err)
	}
	if found && c.State == "running" && !opts.Force {
		return registry.Assignment{}, &RunningError{Project: project, Container: c.Name}
	}
	if found || opts.Purge {
		stopCtx, cancel := context.WithTimeout(ctx, stopTimeout)
		defer cancel()
		if err := eng.Stop(stopCtx, project, true, opts.Purge); err != nil {
			return registry.Assignment{}, fmt.Errorf("release %s: remove its container: %w", project, err)
		}
	}
	return reg.Release(ctx, project)
}

// PortEntry is one registry assignment with the live state of its container.
type PortEntry struct {
	registry.Assignment
	ContainerState string `json:"containerState"` // running|exited|created|not-created|unknown (engine down)
	State          State  `json:"state"`          // a Status state: ready|unhealthy|stopped|not-created|error|starting|stopping|docker-unavailable
}

// MarshalJSON writes the assignment's own fields (as the registry writes them) followed by
// containerState and state.
func (e PortEntry) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(e.Assignment)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("port entry: unexpected assignment JSON %s", b)
	}
	extra, err := json.Marshal(struct {
		ContainerState string `json:"containerState"`
		State          State  `json:"state"`
	}{e.ContainerState, e.State})
	if err != nil {
		return nil, err
	}
	out := append([]byte{}, b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	return append(out, extra[1:]...), nil
}

// Ports lists every registry assignment with the live state of its container; this project's
// entry carries its full Status state (starting, stopping, error...).
func (p *Project) Ports(ctx context.Context) ([]PortEntry, error) {
	var eng *dockerops.Engine
	if e, err := p.Engine(ctx); err == nil {
		eng = e
	}
	var entries []PortEntry
	err := p.withRegistry(ctx, func() (err error) {
		entries, err = ListPorts(ctx, p.reg, eng)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range entries {
		if entries[i].Project == p.root.Dir {
			entries[i].State = p.Status(ctx).State
		}
	}
	return entries, nil
}

// ListPorts lists every registry assignment with the live state of its container, found by the
// containers' project labels. eng nil (or down): containerState "unknown", state docker-unavailable.
func ListPorts(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine) ([]PortEntry, error) {
	as, err := reg.List(ctx)
	if err != nil {
		return nil, err
	}
	var owned []dockerops.Container
	engineOK := eng != nil
	if engineOK {
		if owned, err = eng.Owned(ctx); err != nil {
			engineOK = false
		}
	}
	byProject := map[string]dockerops.Container{}
	for _, c := range owned {
		if old, seen := byProject[c.Project]; !seen || (c.State == "running" && old.State != "running") {
			byProject[c.Project] = c
		}
	}
	entries := make([]PortEntry, 0, len(as))
	for _, a := range as {
		e := PortEntry{Assignment: a, ContainerState: "unknown", State: StateDockerUnavailable}
		if engineOK {
			if c, found := byProject[a.Project]; found {
				e.ContainerState, e.State = c.State, containerState(c)
			} else {
				e.ContainerState, e.State = "not-created", StateNotCreated
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// CleanupPorts removes (or, dryRun, only lists) the assignments whose project folder is gone AND
// that have no iris-helper container. Without an engine (nil) it cannot see containers and says
// so in the returned warning; then only the folders are checked.
func CleanupPorts(ctx context.Context, reg *registry.Registry, eng *dockerops.Engine, dryRun bool) ([]registry.Assignment, string, error) {
	warning := ""
	hasContainer := map[string]bool{}
	if eng == nil {
		warning = "the Docker engine does not answer, so containers were not checked; only the folders were"
	} else {
		owned, err := eng.Owned(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("cleanup: list iris-helper containers: %w", err)
		}
		for _, c := range owned {
			hasContainer[c.Project] = true
		}
	}
	stale, err := reg.Cleanup(ctx, dryRun, func(a registry.Assignment) bool {
		return !hasContainer[a.Project] && registry.FolderGone(a)
	})
	return stale, warning, err
}

// ---------------------------------------------------------------------------------------------
// Watch

// Watch reports every change of the project's status to onStatus (only when the status object
// changed) and what the user should know to onMessage, until ctx is done. Callbacks run one at a
// time, in order, never concurrently with each other. It follows the engine's events for the
// project's container (stopped or removed outside the helper), engine loss and recovery (with
// back-off), registry changes by other processes, starts and stops in this process, and the
// project's .env (a user's port request goes through the registry). Several Watch calls may run.
func (p *Project) Watch(ctx context.Context, onStatus func(Status), onMessage func(Message)) error {
	w := &watcher{onStatus: onStatus, onMessage: onMessage, kick: make(chan struct{}, 1), envKick: make(chan struct{}, 1)}
	p.mu.Lock()
	p.watchers[w] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.watchers, w)
		p.mu.Unlock()
	}()
	w.signal() // the first status

	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	run(func(ctx context.Context) { p.deliver(ctx, w) })
	run(p.watchEngine)
	run(p.watchRegistry)
	run(func(ctx context.Context) { p.watchEnv(ctx, w.envKick) })
	wg.Wait()
	return nil
}

// watchRegistry publishes a new status whenever registry.json changes on disk.
func (p *Project) watchRegistry(ctx context.Context) {
	ch := p.reg.Changes(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			p.publish()
		}
	}
}

// watchEngine follows the engine's events for the project's container. The engine's Watch
// reports the engine going away and coming back (it retries with back-off); both become a
// message and a new status.
func (p *Project) watchEngine(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		eng, err := p.Engine(ctx) // fails only for an invalid endpoint (bad DOCKER_HOST/context)
		if err == nil {
			err = eng.Watch(ctx, func(ev dockerops.Event) {
				switch ev.Kind {
				case dockerops.EventEngineDown:
					text := "the Docker engine stopped answering"
					if ev.Err != nil {
						text = ev.Err.Error()
					}
					p.message(Message{Level: LevelError, Text: text})
				case dockerops.EventEngineUp:
					p.message(Message{Level: LevelInfo, Text: "the Docker engine answers again"})
				default:
					if ev.Project != p.root.Dir {
						return
					}
				}
				p.publish()
			})
		}
		if ctx.Err() != nil {
			return
		}
		p.log.Debug("engine watch ended; retrying", "err", err, "in", backoff)
		p.publish()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxEngineBackoff)
	}
}

// ---------------------------------------------------------------------------------------------
// .env

// envPorts are the values the project's .env should hold for assignment a.
func (p *Project) envPorts(a registry.Assignment) EnvPorts {
	return EnvPorts{Host: ConnectHost(p.bindAddress), Superserver: a.SuperserverPort, Web: a.WebPort}
}

// SyncEnv writes the project's assigned ports into its .env now, following the sync mode
// (auto: update an existing file; true: also create it; false: never touch it).
func (p *Project) SyncEnv(ctx context.Context) (EnvResult, error) {
	a, ok, err := p.assignment(ctx)
	if err != nil {
		return EnvResult{}, err
	}
	if !ok {
		return EnvResult{}, &registry.NotFoundError{Project: p.root.Dir}
	}
	return p.syncEnvWith(a)
}

func (p *Project) syncEnvWith(a registry.Assignment) (EnvResult, error) {
	res, err := SyncEnvIn(p.envScope(), p.envPath(), p.syncMode, p.cfg.Env, p.envPorts(a))
	if err != nil {
		return res, err // names the file
	}
	if res.Written {
		p.log.Info("synced .env", "file", p.envPath(), "changes", describeChanges(res.Changes))
	}
	return res, nil
}

// requestPorts handles a user's edit of a managed port key in .env: the ports are asked for
// through the registry as a manual assignment (superserver or web 0 = keep the current one).
// A conflict error names the holder; the watcher then writes the assigned value back.
func (p *Project) requestPorts(ctx context.Context, superserver, web int) (EnvPorts, error) {
	a, ok, err := p.assignment(ctx)
	if err != nil {
		return EnvPorts{}, err
	}
	if !ok {
		return EnvPorts{}, &registry.NotFoundError{Project: p.root.Dir}
	}
	pref := registry.Preferred{Superserver: a.SuperserverPort, Web: a.WebPort}
	if superserver != 0 {
		pref.Superserver = superserver
	}
	if web != 0 {
		pref.Web = web
	}
	var got registry.Assignment
	if err := p.withRegistry(ctx, func() (err error) {
		got, err = p.reg.Assign(ctx, p.root.Dir, pref)
		return err
	}); err != nil {
		return EnvPorts{}, err
	}
	return p.envPorts(got), nil
}

// watchEnv keeps the project's .env in step while Watch runs: it follows the assignment (after a
// start, a port move, another process's change) and turns the user's port edits into registry
// requests. Its reports become messages; every report may change the status.
func (p *Project) watchEnv(ctx context.Context, kick <-chan struct{}) {
	if p.syncMode == SyncFalse {
		return
	}
	// nothing to write before the project has ports: wait for its first assignment
	var ports EnvPorts
	for {
		if a, ok, err := p.assignment(ctx); err == nil && ok {
			ports = p.envPorts(a)
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
	}
	ew, err := NewEnvWatcher(ctx, EnvWatcherOptions{
		Path: p.envPath(), Scope: p.envScope(), Mode: p.syncMode, Names: p.cfg.Env, Ports: ports, Logger: p.log,
		RequestPort: p.requestPorts,
		OnEvent: func(ev EnvEvent) {
			switch ev.Kind {
			case EnvPortsChanged:
				p.message(Message{Level: LevelWarning, Text: ev.Message})
			case EnvRestored:
				p.message(Message{Level: LevelWarning, Text: ev.Message})
			case EnvError:
				p.message(Message{Level: LevelError, Text: ev.Message})
			default:
				p.message(Message{Level: LevelInfo, Text: ev.Message})
			}
			p.publish()
		},
	})
	if envRefused(err) {
		p.warnEnv(err) // sync is off for the project: one warning, nothing watched
		p.publish()
		return
	}
	if err != nil {
		p.message(Message{Level: LevelError, Text: fmt.Sprintf("cannot watch %s: %v", p.envPath(), err), Err: err})
		return
	}
	defer ew.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		a, ok, err := p.assignment(ctx)
		if err != nil || !ok {
			continue
		}
		if want := p.envPorts(a); want != ew.Ports() {
			ew.SetPorts(ctx, want)
		}
	}
}
