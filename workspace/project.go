package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
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
	syncMode           SyncMode
	// rt is how the project's IRIS runs (the image kind today); Project keeps the rules around it.
	rt Runtime

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
	if p.syncMode, err = cfg.EnvSync("", opts.SyncEnv); err != nil {
		return nil, fmt.Errorf("open project %s: editor setting syncEnv: %w", root.Dir, err)
	}
	readyTimeout := opts.ReadyTimeout
	if readyTimeout <= 0 {
		readyTimeout = DefaultReadyTimeout
	}
	p.rt = &imageRuntime{project: root.Dir, engine: p.Engine, image: p.image, durable: cfg.DurableOrDefault(),
		unexpire: cfg.UnexpirePasswordsOrDefault(), readyTimeout: readyTimeout, env: opts.ContainerEnv}
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
