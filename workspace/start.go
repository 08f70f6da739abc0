package workspace

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// Start, restart and stop of a project: joined starts, the per-project lock, port moves, and the
// confirmation a restart asks for before it loses a container's data.

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
	build     bool   // rebuild what the kind builds (StartOptions.Build)
	consent   ConsentChoice
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
	return p.start(ctx, "", StartOptions{}, progress)
}

// StartOptions select what StartWith does beyond Start.
type StartOptions struct {
	// Build rebuilds what the project's kind builds (compose services with a build section, the
	// Dockerfile kind's image) and recreates the containers: a Rebuild. The image kind ignores it.
	Build bool
	// Consent is what the user allowed of a compose project beyond what a repository may do on its
	// own (compose_consent.go): the CLI's explicit start allows all it lists, the editor the ids
	// its dialog showed; none for an automatic start. Other kinds ignore it.
	Consent ConsentChoice
}

// StartWith is Start with opts (a Rebuild: Build). A StartWith while a start runs joins it.
func (p *Project) StartWith(ctx context.Context, opts StartOptions, progress func(dockerops.Progress)) (Status, error) {
	return p.start(ctx, "", opts, progress)
}

func (p *Project) start(ctx context.Context, confirm string, opts StartOptions, progress func(dockerops.Progress)) (Status, error) {
	p.mu.Lock()
	op := p.op
	if op == nil {
		opCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		op = &startOp{done: make(chan struct{}), cancel: cancel, listeners: map[int]func(dockerops.Progress){}, confirm: confirm, build: opts.Build, consent: opts.Consent}
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
	err := p.doStart(ctx, op.confirm, op.build, op.consent, func(pr dockerops.Progress) {
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
func (p *Project) doStart(ctx context.Context, confirm string, build bool, consent ConsentChoice, progress func(dockerops.Progress)) error {
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
		if cs, err := p.rt.Inspect(ctx); err == nil && cs.Found {
			if n, err := restoreContainers(ctx, p.reg, eng, []dockerops.Container{cs.Main}); err == nil && n > 0 {
				p.log.Info("took the ports of the existing container back", "project", p.root.Dir, "container", cs.Main.Name)
			}
		}
	}
	pref := p.preferred()
	var a registry.Assignment
	if err := p.withRegistry(ctx, func() (err error) {
		a, err = p.reg.Assign(ctx, p.root.Dir, pref)
		return err
	}); err != nil {
		return err // registry.Assign names the project
	}
	if err := p.reg.Touch(ctx, p.root.Dir); err != nil {
		p.log.Warn("touch registry entry", "project", p.root.Dir, "err", err)
	}
	p.publish()

	if _, created, err := p.credentialsFor(p.rt.Kind()); err != nil {
		return fmt.Errorf("start IRIS for %s: %w", p.root.Dir, err)
	} else if created {
		note := fmt.Sprintf("IRIS is published on %s, so iris-helper gave its predefined accounts a password of its own instead of the well-known SYS; it is kept in %s, and the editor's connection uses it",
			p.bindAddress, credentialsPath(p.reg.Home(), p.root.Dir))
		p.log.Info(note, "project", p.root.Dir)
		p.mu.Lock()
		p.note = note
		p.mu.Unlock()
		p.message(Message{Level: LevelInfo, Text: note})
	}
	plan := p.plan(a, confirm)
	plan.Build, plan.Consent, plan.EnsurePorts = build, consent, p.ensurePorts
	cs, err := p.rt.Start(ctx, plan, progress)
	var taken *dockerops.PortTakenError
	var soft *softPortTakenError // a compose file's pin: moved like an automatic port
	if errors.As(err, &taken) && ctx.Err() == nil {
		if a.Type == registry.TypeManual && !errors.As(err, &soft) {
			return fmt.Errorf("start %s: port %d, chosen for this project, is taken by another program: %w; "+
				"stop that program or choose other ports", p.root.Dir, taken.Port, err)
		}
		old := a
		if err := p.withRegistry(ctx, func() (err error) {
			a, err = p.reg.Reassign(ctx, p.root.Dir, taken.Port)
			return err
		}); err != nil {
			return fmt.Errorf("port %d was taken before start: %w", taken.Port, err) // Reassign names the project
		}
		note := fmt.Sprintf("port %d was taken by another program between assignment and start; moved the project from %d/%d to %d/%d",
			taken.Port, old.SuperserverPort, old.WebPort, a.SuperserverPort, a.WebPort)
		p.log.Warn(note, "project", p.root.Dir)
		p.mu.Lock()
		p.note = note
		p.mu.Unlock()
		p.message(Message{Level: LevelWarning, Text: note})
		plan = p.plan(a, confirm)
		plan.Build, plan.Consent, plan.EnsurePorts = build, consent, p.ensurePorts
		cs, err = p.rt.Start(ctx, plan, progress)
	}
	if err != nil {
		return fmt.Errorf("start IRIS for %s: %w", p.root.Dir, err)
	}
	if x, ok, err := p.assignment(ctx); err == nil && ok {
		a = x // the runtime's registry.Ensure may have moved the pair (a compose file's pin)
	}
	p.ready.Mark(cs.Main) // the start's own wait saw IRIS answer
	if err := p.checkCredentials(ctx, cs.Main.BindAddress, cs.HostPort(dockerops.WebContainerPort)); err != nil {
		p.log.Warn("the instance refused iris-helper's password", "project", p.root.Dir, "err", err)
		p.message(Message{Level: LevelWarning, Text: err.Error(), Err: err})
	}
	if _, err := p.reg.Update(ctx, p.root.Dir, func(x *registry.Assignment) {
		x.Status, x.Container, x.Engine = registry.StatusActive, cs.Main.Name, eng.Endpoint()
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

// plan is what a start of assignment a asks the runtime for; confirm names the container whose
// recreate the user confirmed (RestartOptions.Confirm).
func (p *Project) plan(a registry.Assignment, confirm string) RunPlan {
	return RunPlan{Assignment: a, BindAddress: p.bindAddress, Confirm: confirm, MergeFile: p.existingMergeFile(p.rt.Kind())}
}

// RestartOptions select what Restart may do.
type RestartOptions struct {
	// Confirm names the container (ConfirmRequiredError.Container) that the user agreed may be
	// removed and recreated although its data is not on the durable volume (its data is lost).
	// A restart that would have to remove any other such container fails with
	// *ConfirmRequiredError naming it, before anything is stopped.
	Confirm string
	// Consent: as StartOptions.Consent, for the start after the stop.
	Consent ConsentChoice
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
	st, err := p.start(ctx, opts.Confirm, StartOptions{Consent: opts.Consent}, progress)
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
	r, err := p.rt.Recreation(ctx, p.plan(a, ""))
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

// StopOptions select what Stop removes besides stopping.
type StopOptions struct {
	Remove bool // remove the container (the next start recreates it)
	Purge  bool // with Remove: delete the project's data volume too
}

// Stop cancels a start in flight, stops the container in order (keeping it unless Remove;
// Purge also deletes the data volume) and marks the assignment idle (still reserved).
func (p *Project) Stop(ctx context.Context, opts StopOptions) (Status, error) {
	st, _, err := p.StopVolumes(ctx, opts)
	return st, err
}

// StopVolumes is Stop that also returns the volumes a purge removed (a compose project's named
// volumes, the image kind's durable volume).
func (p *Project) StopVolumes(ctx context.Context, opts StopOptions) (Status, []string, error) {
	var before []string
	if k, ok := p.rt.(*kindRuntime); opts.Purge && opts.Remove && (!ok || k.Kind() != KindCompose) {
		before, _ = p.PurgeVolumes(ctx) // the durable volume, when there is one
	}
	st, err := p.stop(ctx, opts)
	if err != nil || !opts.Purge || !opts.Remove {
		return st, nil, err
	}
	if k, ok := p.rt.(*kindRuntime); ok && k.Kind() == KindCompose {
		return st, k.compose.RemovedVolumes(), nil
	}
	return st, before, nil
}

func (p *Project) stop(ctx context.Context, opts StopOptions) (Status, error) {
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
	if err := p.rt.Stop(stopCtx, opts); err != nil {
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
