package workspace

import (
	"context"
	"errors"
	"fmt"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace/dotenv"
)

// The project's .env (docs/env.md). The file format, its checks and its watcher are workspace/dotenv;
// here are the project's rules: which file, which mode, which host, where the file may lie, who
// grants a port the user asks for, and what the user is told.

// envPath is the absolute path of the project's .env (.iris-helper.json "env": {"file"}).
func (p *Project) envPath() string { return p.cfg.EnvPath(p.root.Dir) }

// envScope is where the project's .env may lie: in the project folder, not in IRIS_HELPER_HOME,
// unless the user allows it.
func (p *Project) envScope() dotenv.Scope {
	return dotenv.Scope{Root: p.root.Dir, Home: p.reg.Home(), AllowOutside: p.policy.Allows(KnobEnvFileOutsideProject)}
}

// envPorts are the values the project's .env should hold for assignment a (a port whose key the
// compose files use as a container port is left out: 0 is not written).
func (p *Project) envPorts(a registry.Assignment) dotenv.Ports {
	ports := dotenv.Ports{Host: ConnectHost(p.bindAddress), Superserver: a.SuperserverPort, Web: a.WebPort,
		Extra: p.rt.EnvKeys(p.plan(a, ""))}
	if k, ok := p.rt.(*kindRuntime); ok && k.Kind() == KindCompose {
		keys := dotenv.ResolveKeys(p.cfg.Env.Names, readProjectEnv(p.envPath()))
		for _, skip := range k.compose.skipEnvKeys() {
			switch skip {
			case keys.Superserver:
				ports.Superserver = 0
			case keys.Web:
				ports.Web = 0
			}
		}
	}
	return ports
}

// envFile is the absolute path of the synced .env when sync is on, the file exists and may be
// synced (not refused: outside the project, not a regular file).
func (p *Project) envFile() string {
	if ok, err := dotenv.Check(p.envScope(), p.envPath(), p.syncMode); err != nil || !ok {
		return ""
	}
	return p.envPath()
}

// envKnobError is a refusal of the project's .env that the user's own choice would lift: it adds
// the knob, which dotenv does not know, to dotenv's error.
type envKnobError struct{ err error }

func (e *envKnobError) Error() string { return e.err.Error() + " (" + string(e.Knob()) + ")" }
func (e *envKnobError) Unwrap() error { return e.err }

// Knob is what the user would turn on to allow the file.
func (e *envKnobError) Knob() Knob { return KnobEnvFileOutsideProject }

// envErr is err with what the project adds to it: the knob of a refusal that one lifts.
func envErr(err error) error {
	var out *dotenv.OutsideProjectError
	if errors.As(err, &out) && out.Allowable() {
		return &envKnobError{err}
	}
	return err
}

// envRefused reports whether err refuses the project's .env as a whole (it is not synced at all).
func envRefused(err error) bool {
	var out *dotenv.OutsideProjectError
	var nr *dotenv.NotRegularError
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

// EnvSyncOptions select how SyncEnv treats the project's .env.
type EnvSyncOptions struct {
	// Mode overrides the project's sync mode (a --sync flag: flag > .iris-helper.json > editor >
	// auto); "" = the project's.
	Mode dotenv.SyncMode
	// DryRun computes what would change (Result.Before and After) and writes nothing.
	DryRun bool
}

// EnvSyncResult is what SyncEnv did (or, with DryRun, would do).
type EnvSyncResult struct {
	dotenv.Result
	// Ports are the host and ports written (the project's one host rule, ConnectHost).
	Ports dotenv.Ports
	// Assigned: the project had no ports and got them now (Assignment).
	Assigned   bool
	Assignment registry.Assignment
}

// SyncEnv writes the project's host and ports into its .env now, under the sync mode (auto: update
// an existing file; true: also create it; false: never touch it). It applies the rules of a start
// first: a non-loopback bindAddress from .iris-helper.json is refused unless the user allows it
// (*NetworkBindError), and a .env that may not be synced at all is refused before any port is
// assigned; then a project without ports gets them (honouring .iris-helper.json "ports").
func (p *Project) SyncEnv(ctx context.Context, opts EnvSyncOptions) (EnvSyncResult, error) {
	mode := p.envMode(opts.Mode)
	a, assigned, err := p.envAssignment(ctx, mode)
	if err != nil {
		return EnvSyncResult{}, err
	}
	out := EnvSyncResult{Ports: p.envPorts(a), Assigned: assigned, Assignment: a}
	if opts.DryRun {
		out.Result, err = dotenv.Plan(p.envScope(), p.envPath(), mode, p.cfg.Env.Names, out.Ports)
		return out, envErr(err)
	}
	out.Result, err = p.syncEnv(mode, out.Ports)
	return out, err
}

// syncEnvWith brings the project's .env in step with assignment a (after a start).
func (p *Project) syncEnvWith(a registry.Assignment) (dotenv.Result, error) {
	return p.syncEnv(p.syncMode, p.envPorts(a))
}

func (p *Project) syncEnv(mode dotenv.SyncMode, ports dotenv.Ports) (dotenv.Result, error) {
	res, err := dotenv.Sync(p.envScope(), p.envPath(), mode, p.cfg.Env.Names, ports)
	if err != nil {
		return res, envErr(err) // names the file
	}
	if res.Written {
		p.log.Info("synced .env", "file", p.envPath(), "changes", res.Changes)
	}
	return res, nil
}

func (p *Project) envMode(override dotenv.SyncMode) dotenv.SyncMode {
	if override != "" {
		return override
	}
	return p.syncMode
}

// envAssignment applies the rules that come before a .env is written outside a start (the
// bindAddress rule, the .env's place under mode) and returns the project's assignment, assigning
// ports when it has none (assigned).
func (p *Project) envAssignment(ctx context.Context, mode dotenv.SyncMode) (a registry.Assignment, assigned bool, err error) {
	if err := p.checkBind(); err != nil {
		return a, false, err
	}
	if _, err := dotenv.Check(p.envScope(), p.envPath(), mode); err != nil {
		return a, false, envErr(err)
	}
	a, ok, err := p.assignment(ctx)
	if err != nil || ok {
		return a, false, err
	}
	pref := p.preferred()
	if err := p.withRegistry(ctx, func() (err error) {
		a, err = p.reg.Assign(ctx, p.root.Dir, pref)
		return err
	}); err != nil {
		return a, false, err
	}
	p.publish()
	return a, true, nil
}

// requestPorts handles a user's edit of a managed port key in .env: the ports are asked for
// through the registry as a manual assignment (superserver or web 0 = keep the current one).
// A conflict error names the holder; the watcher then writes the assigned value back.
func (p *Project) requestPorts(ctx context.Context, superserver, web int) (dotenv.Ports, error) {
	a, ok, err := p.assignment(ctx)
	if err != nil {
		return dotenv.Ports{}, err
	}
	if !ok {
		return dotenv.Ports{}, &registry.NotFoundError{Project: p.root.Dir}
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
		return dotenv.Ports{}, err
	}
	return p.envPorts(got), nil
}

// EnvSyncOffError says that env sync is false for the project: a watch has nothing to do.
type EnvSyncOffError struct{ Project string }

func (e *EnvSyncOffError) Error() string {
	return "env sync is false for " + e.Project + ": there is nothing to watch"
}

// EnvWatchOptions select how WatchEnv keeps the project's .env in step.
type EnvWatchOptions struct {
	Mode dotenv.SyncMode // as EnvSyncOptions.Mode; false is an *EnvSyncOffError
	// OnMessage gets, one at a time and in order, a port assignment made for the watch, the
	// watcher's reports (the file synced, a port request granted or refused, an error) and the
	// assignment's moves in the registry.
	OnMessage func(Message)
	// OnWatching (may be nil) is told once the file is synced and watched: the file, the ports it
	// holds and the sync mode in effect.
	OnWatching func(path string, ports dotenv.Ports, mode dotenv.SyncMode)
}

// WatchEnv keeps the project's .env in step until ctx ends, as the editor's Watch does, for a
// front end of its own (iris-helper env watch): the rules of SyncEnv first (a project without ports
// gets them), then a user's port edit in the file is a request to the registry, and an assignment
// changed by another process is written to the file. It returns nil when ctx ends.
func (p *Project) WatchEnv(ctx context.Context, opts EnvWatchOptions) error {
	mode := p.envMode(opts.Mode)
	if mode == dotenv.SyncFalse {
		return &EnvSyncOffError{Project: p.root.Dir}
	}
	report := func(m Message) {
		if opts.OnMessage != nil {
			opts.OnMessage(m)
		}
	}
	a, assigned, err := p.envAssignment(ctx, mode)
	if err != nil {
		return err
	}
	if assigned {
		report(Message{Level: LevelInfo, Text: fmt.Sprintf("assigned ports to %s: superserver %d, web %d", p.root.Dir, a.SuperserverPort, a.WebPort)})
	}
	kick := make(chan struct{}, 1)
	changes := p.reg.Changes(ctx)
	go func() {
		for range changes {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}()
	var watching func(dotenv.Ports)
	if opts.OnWatching != nil {
		watching = func(ports dotenv.Ports) { opts.OnWatching(p.envPath(), ports, mode) }
	}
	return p.keepEnv(ctx, mode, p.envPorts(a), kick, report, watching, report)
}

// watchEnv keeps the project's .env in step while Watch runs: it follows the assignment (after a
// start, a port move, another process's change) and turns the user's port edits into registry
// requests. Its reports become messages; every report may change the status.
func (p *Project) watchEnv(ctx context.Context, kick <-chan struct{}) {
	if p.syncMode == dotenv.SyncFalse {
		return
	}
	// nothing to write before the project has ports: wait for its first assignment
	var a registry.Assignment
	for {
		var ok bool
		var err error
		if a, ok, err = p.assignment(ctx); err == nil && ok {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
	}
	report := func(m Message) {
		p.message(m)
		p.publish()
	}
	err := p.keepEnv(ctx, p.syncMode, p.envPorts(a), kick, report, nil, nil)
	switch {
	case envRefused(err):
		p.warnEnv(err) // sync is off for the project: one warning, nothing watched
		p.publish()
	case err != nil:
		p.message(Message{Level: LevelError, Text: fmt.Sprintf("cannot watch %s: %v", p.envPath(), err), Err: err})
	}
}

// keepEnv runs the project's .env watcher until ctx ends (then nil), or returns why it cannot
// watch: it syncs the file to ports, hands the watcher's reports to report, grants or refuses the
// user's port edits through the registry, and on every kick follows the assignment. watching (may
// be nil) is told once the file is watched; moved (may be nil) when the assignment moved, went
// away or could not be read.
func (p *Project) keepEnv(ctx context.Context, mode dotenv.SyncMode, ports dotenv.Ports, kick <-chan struct{},
	report func(Message), watching func(dotenv.Ports), moved func(Message)) error {
	ew, err := dotenv.NewWatcher(ctx, dotenv.WatcherOptions{
		Path: p.envPath(), Scope: p.envScope(), Mode: mode, Names: p.cfg.Env.Names, Ports: ports, Logger: p.log,
		RequestPort: p.requestPorts,
		OnEvent:     func(ev dotenv.Event) { report(envMessage(ev)) },
	})
	if err != nil {
		return envErr(err)
	}
	defer ew.Close()
	if watching != nil {
		watching(ew.Ports())
	}
	if moved == nil {
		moved = func(Message) {}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		}
		a, ok, err := p.assignment(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			moved(Message{Level: LevelError, Text: fmt.Sprintf("reading the port registry: %v", err), Err: err})
		case !ok:
			now := ew.Ports()
			moved(Message{Level: LevelWarning, Text: fmt.Sprintf("%s no longer has ports in the registry (released); the .env keeps superserver %d, web %d",
				p.root.Dir, now.Superserver, now.Web)})
		case !p.envPorts(a).Equal(ew.Ports()):
			moved(Message{Level: LevelInfo, Text: fmt.Sprintf("the registry moved %s to superserver %d, web %d", p.root.Dir, a.SuperserverPort, a.WebPort)})
			ew.SetPorts(ctx, p.envPorts(a))
		}
	}
}

// envMessage is the message a report of the .env watcher becomes.
func envMessage(ev dotenv.Event) Message {
	level := LevelInfo
	switch ev.Kind {
	case dotenv.EventPortsChanged, dotenv.EventRestored:
		level = LevelWarning
	case dotenv.EventError:
		level = LevelError
	}
	return Message{Level: level, Text: ev.Message}
}
