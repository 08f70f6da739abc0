package workspace

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace/dotenv"
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
	EditorSync   string             // editor setting syncEnv "auto|true|false"; "" = .iris-helper.json / default auto
	ReadyTimeout time.Duration      // 0 = 180s
	Logger       *slog.Logger
	ContainerEnv []string // extra KEY=VALUE for the container (e.g. the stand-in image's switches in tests)
	Version      string   // iris-helper version for the containers' dev.iris-helper.version label (lazy engine)
	// Policy is what the user allows by flags or editor settings at user scope; OpenProject ORs in
	// the environment and $IRIS_HELPER_HOME/config.json (LoadUserPolicy). Never from project files.
	Policy UserPolicy
	// DockerPath is the docker CLI whose compose plugin runs compose projects (the editor's
	// irisHelper.dockerPath); "" = docker on PATH.
	DockerPath string
	// How long a start (default 5 min) and a stop (60 s) wait for the per-project lock.
	StartLockTimeout, StopLockTimeout time.Duration
	// BuildArgs are --build-arg values for the build of a Dockerfile project (tests build on the
	// stand-in image with IMAGE=…); the Dockerfile's own ARG defaults apply to every other ARG.
	BuildArgs map[string]string
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
	syncMode           dotenv.SyncMode
	// rt is how the project's IRIS runs (the image kind today); Project keeps the rules around it.
	rt Runtime
	// ready knows whether IRIS answered since the main container's current start (readiness.go).
	ready *readiness

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
		return nil, err // names dir
	}
	cfg, err := LoadConfig(root.Dir)
	if err != nil {
		return nil, err // names the settings file, which is in the project folder
	}
	p := &Project{root: root, cfg: cfg, opts: opts, reg: opts.Registry, log: opts.Logger, eng: opts.Engine,
		watchers: map[*watcher]struct{}{}}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p.image = firstNonEmpty(opts.FlagImage, cfg.Image, opts.EditorImage, os.Getenv(EnvImage), DefaultImage)
	p.bindAddress = firstNonEmpty(cfg.BindAddress, opts.BindAddress, DefaultBindAddress)
	if p.syncMode, err = cfg.EnvSync("", opts.EditorSync); err != nil {
		return nil, fmt.Errorf("open project %s: editor setting syncEnv: %w", root.Dir, err)
	}
	readyTimeout := opts.ReadyTimeout
	if readyTimeout <= 0 {
		readyTimeout = DefaultReadyTimeout
	}
	if p.reg == nil {
		p.reg, err = registry.Open(registry.Options{Ports: enginePorts{p}, Logger: opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("open project %s: %w", root.Dir, err)
		}
	}
	p.ready = newReadiness(p.reg.Home(), root.Dir, p.log)
	img := &imageRuntime{project: root.Dir, engine: p.Engine, image: p.image, durable: cfg.DurableOrDefault(),
		unexpire: cfg.UnexpirePasswordsOrDefault(), readyTimeout: readyTimeout, env: opts.ContainerEnv}
	cmp := &composeRuntime{root: root.Dir, home: p.reg.Home(), cfg: cfg, engine: p.Engine, dockerPath: opts.DockerPath,
		readyTimeout: readyTimeout, syncOff: p.syncMode == dotenv.SyncFalse, log: p.log, registered: p.registeredProjects}
	var df *dockerfileRuntime
	if cfg.Kind == KindDockerfile || (cfg.Kind == "" && !hasComposeFile(root.Dir, cfg) && p.chooseDockerfile()) {
		imgCopy := *img // the Dockerfile kind runs its own tag; the image kind keeps the settings' image
		df = p.newDockerfileRuntime(&imgCopy)
	}
	k := newKindRuntime(root.Dir, cfg, opts.FlagImage, img, cmp, df) // the kind: docs/config.md
	k.say = p.sayKindWarnings
	p.rt = k
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

// Image is the image a start uses: the Dockerfile kind's own tag, else flag > .iris-helper.json >
// editor/env > default.
func (p *Project) Image() string {
	if k, ok := p.rt.(*kindRuntime); ok && k.Kind() == KindDockerfile && k.dockerfile != nil {
		return k.dockerfile.image
	}
	return p.image
}

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

// registeredProjects are the projects the registry holds (their keys).
func (p *Project) registeredProjects(ctx context.Context) ([]string, error) {
	as, err := p.reg.List(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(as))
	for _, a := range as {
		keys = append(keys, a.Project)
	}
	return keys, nil
}
