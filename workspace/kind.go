package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/iris-helper/iris-helper/dockerops"
)

// Kind detection (docs/config.md, "Kinds of project"): .iris-helper.json's kind > an existing
// image-kind container or durable volume keeps the image kind > a compose file at the root with an
// IRIS service > a root Dockerfile whose final stage is IRIS (hasIRISDockerfile) > image.

// kindRuntime is the Runtime of a project whose kind is found from its files and the engine:
// until that is known (the compose model is loaded by a child process, off the status path) it
// reports the kind the files suggest, then delegates to the image or compose runtime.
type kindRuntime struct {
	image      *imageRuntime
	compose    *composeRuntime    // nil: the project cannot be a compose project
	dockerfile *dockerfileRuntime // nil: the project is not a Dockerfile project
	root       string
	cfg        Config
	flagImage  string // --image: a setting like .iris-helper.json's image (settingsWarnings)

	mu      sync.Mutex
	kind    Kind
	fixed   bool     // chosen by .iris-helper.json (or image settings): never re-decided
	decided bool     // the engine and the model were asked
	checked bool     // the engine was asked (an image-kind container or volume keeps the image kind)
	notes   []string // why the kind is what it is, when the user should know (standing, in the status)
	// warned are the settings warnings already said (Project.sayKindWarnings): each once per
	// Project, in the order said.
	warned []string
	// say tells the user the settings warnings not said yet (Project.sayKindWarnings); nil: nobody.
	say func()
}

var _ Runtime = (*kindRuntime)(nil)

// newKindRuntime chooses what it can without the engine or a child process.
// df is the Dockerfile kind's runtime when the project is one (Project.chooseDockerfile); chosen
// from the files alone it is provisional, like a compose file: an image-kind container or durable
// volume of the project keeps the image kind (checkEngine, resolve).
func newKindRuntime(root string, cfg Config, flagImage string, img *imageRuntime, cmp *composeRuntime, df *dockerfileRuntime) *kindRuntime {
	k := &kindRuntime{image: img, root: root, cfg: cfg, flagImage: flagImage, kind: KindImage}
	switch {
	case cfg.Kind == KindCompose:
		k.compose, k.kind, k.fixed, k.decided = cmp, KindCompose, true, true
	case cfg.Kind == KindDockerfile && df != nil:
		k.dockerfile, k.kind, k.fixed, k.decided = df, KindDockerfile, true, true
	case cfg.Kind == KindImage:
		k.fixed, k.decided = true, true
	case cfg.Image != "" || cfg.Ports.Superserver != 0 || cfg.Ports.Web != 0:
		k.fixed, k.decided = true, true // image settings without kind: the image kind, as before
		if hasComposeFile(root, cfg) {
			k.notes = []string{fmt.Sprintf("%s sets image or ports without kind, so the project runs on the image kind and not its compose file (set \"kind\": \"compose\" to run the compose file)", ConfigFileName)}
		}
	case hasComposeFile(root, cfg):
		k.compose, k.kind = cmp, KindCompose // provisional until the model is loaded
	case df != nil:
		k.dockerfile, k.kind = df, KindDockerfile // provisional until the engine was asked
	default:
		k.fixed, k.decided = true, true
	}
	return k
}

func (k *kindRuntime) current() Runtime {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kind == KindCompose && k.compose != nil {
		return k.compose
	}
	if k.kind == KindDockerfile && k.dockerfile != nil {
		return k.dockerfile
	}
	return k.image
}

// composeRuntime is the compose runtime when the project is (or may be) a compose project.
func (k *kindRuntime) composeCandidate() *composeRuntime {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.compose
}

// resolve decides the kind: the engine is asked whether an image-kind container or durable
// volume exists, then the model is loaded (a child process). Only a watch, a start and the
// auto-start's check call it.
func (k *kindRuntime) resolve(ctx context.Context) error {
	k.mu.Lock()
	fixed, decided, cmp, df := k.fixed, k.decided, k.compose, k.dockerfile
	k.mu.Unlock()
	if cmp == nil {
		if df == nil || decided {
			return nil
		}
		eng, err := k.image.engine(ctx)
		if err != nil {
			return err
		}
		keeps, why, err := k.keepsImageKind(ctx, eng)
		if err != nil {
			return err
		}
		if keeps {
			k.set(KindImage, why)
		} else {
			k.set(KindDockerfile, "")
		}
		return nil
	}
	if fixed {
		_, err := cmp.load(ctx)
		return err
	}
	eng, err := cmp.engine(ctx)
	if err != nil {
		return err
	}
	if keeps, why, err := k.keepsImageKind(ctx, eng); err != nil {
		return err
	} else if keeps {
		k.set(KindImage, why)
		return nil
	}
	k.mu.Lock()
	k.checked = true
	k.mu.Unlock()
	_, err = cmp.load(ctx)
	var none *ComposeNoServiceError
	if errors.As(err, &none) && none.Wanted == "" {
		k.set(KindImage, err.Error()+"; the project runs on the image kind (name the IRIS service with \"compose\": {\"service\": …} in "+ConfigFileName+")")
		return nil
	}
	k.set(KindCompose, "")
	return err
}

func (k *kindRuntime) set(kind Kind, why string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kind, k.decided = kind, true
	k.notes = nil
	if why != "" {
		k.notes = []string{why}
	}
}

// keepsImageKind: an image-kind container of the project or its durable volume exists, so its
// data stays where the user had it. An image-kind container is one with iris-helper's label and
// without compose's whose image is not the Dockerfile kind's own tag (iris-helper/<8 hex>:local:
// the Dockerfile kind's container is an image-kind container of that tag). For a project that
// would be of the Dockerfile kind, a container of its tag means that kind is in use already, and
// the durable volume (which that kind makes with "durable": true) counts only while the tag does
// not exist (iris-helper never built it).
func (k *kindRuntime) keepsImageKind(ctx context.Context, eng *dockerops.Engine) (bool, string, error) {
	k.mu.Lock()
	forDockerfile := k.dockerfile != nil && k.compose == nil
	k.mu.Unlock()
	cs, err := eng.Containers(ctx, dockerops.LabelProject+"="+k.root)
	if err != nil {
		return false, "", err
	}
	before, kind, run := "its compose file", KindCompose, "run the compose file"
	if forDockerfile {
		before, kind, run = "its Dockerfile", KindDockerfile, "build and run the Dockerfile"
	}
	why := fmt.Sprintf("the project keeps the image kind: %%s from before %s was used exists (set \"kind\": \"%s\" in %s to %s; `iris-helper stop --purge` removes the old one)",
		before, kind, ConfigFileName, run)
	tag := dockerops.BuildTag(k.root)
	var old string
	for _, c := range cs {
		switch {
		case c.Labels[dockerops.LabelComposeProject] != "":
		case c.Image == tag && forDockerfile:
			return false, "", nil // the Dockerfile kind runs already
		case old == "":
			old = c.Name
		}
	}
	if old != "" {
		return true, fmt.Sprintf(why, "its container "+old), nil
	}
	vol := dockerops.VolumeName(k.root)
	ok, err := eng.VolumeExists(ctx, vol)
	if err != nil || !ok {
		return false, "", err
	}
	if forDockerfile {
		if _, built, err := eng.ImageID(ctx, tag); err != nil || built {
			return false, "", err
		}
	}
	return true, fmt.Sprintf(why, "its durable volume "+vol), nil
}

func (k *kindRuntime) Kind() Kind {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kind
}

// checkEngine, before the kind is decided, asks the engine (no child process) whether an
// image-kind container or durable volume keeps the image kind, once. For a Dockerfile project
// that decides the kind.
func (k *kindRuntime) checkEngine(ctx context.Context) {
	k.mu.Lock()
	skip := k.decided || k.checked || (k.compose == nil && k.dockerfile == nil)
	k.mu.Unlock()
	if skip {
		return
	}
	eng, err := k.image.engine(ctx)
	if err != nil {
		return
	}
	keeps, why, err := k.keepsImageKind(ctx, eng)
	if err != nil {
		return
	}
	if keeps {
		k.set(KindImage, why)
		return
	}
	k.mu.Lock()
	k.checked = true
	cmp := k.compose
	k.mu.Unlock()
	if cmp == nil {
		k.set(KindDockerfile, "")
		return
	}
	if cm, _ := cmp.cached(); cm != nil && cm.service != "" {
		k.set(KindCompose, "") // another process's load found the IRIS service; nothing changed since
	}
}

func (k *kindRuntime) Inspect(ctx context.Context) (Containers, error) {
	k.checkEngine(ctx)
	rt := k.current()
	cs, err := rt.Inspect(ctx)
	if err != nil {
		return cs, err
	}
	if k.say != nil {
		k.say() // a setting that does not apply to the kind now known: said once, not a standing message
	}
	k.mu.Lock()
	notes := append([]string(nil), k.notes...)
	k.mu.Unlock()
	if c, ok := rt.(*composeRuntime); ok {
		if _, lerr := c.cached(); lerr != nil {
			notes = append(notes, lerr.Error())
		}
	}
	cs.Notes = append(notes, cs.Notes...)
	return cs, nil
}

func (k *kindRuntime) Drift(ctx context.Context, plan RunPlan, cs Containers) ([]dockerops.Difference, error) {
	return k.current().Drift(ctx, plan, cs)
}

func (k *kindRuntime) Recreation(ctx context.Context, plan RunPlan) (*dockerops.Recreation, error) {
	return k.current().Recreation(ctx, plan)
}

func (k *kindRuntime) Start(ctx context.Context, plan RunPlan, progress func(dockerops.Progress)) (Containers, error) {
	k.mu.Lock()
	decided := k.decided
	k.mu.Unlock()
	if !decided {
		if err := k.resolve(ctx); err != nil && k.Kind() != KindImage {
			return Containers{}, err // the kind is not known: never run another kind instead
		}
	}
	if k.say != nil {
		k.say()
	}
	return k.current().Start(ctx, plan, progress)
}

func (k *kindRuntime) Stop(ctx context.Context, opts StopOptions) error {
	k.checkEngine(ctx)
	return k.current().Stop(ctx, opts)
}

func (k *kindRuntime) Watch(ctx context.Context, onEvent func(dockerops.Event)) error {
	return k.current().Watch(ctx, onEvent)
}

func (k *kindRuntime) Logs(ctx context.Context, follow bool, w io.Writer) error {
	k.checkEngine(ctx)
	return k.current().Logs(ctx, follow, w)
}

func (k *kindRuntime) EnvKeys(plan RunPlan) map[string]string { return k.current().EnvKeys(plan) }

// PurgeVolumes are the volumes `stop --purge` would delete (the CLI names them before it asks).
func (p *Project) PurgeVolumes(ctx context.Context) ([]string, error) {
	k, ok := p.rt.(*kindRuntime)
	if !ok || k.Kind() != KindCompose {
		eng, err := p.Engine(ctx)
		if err != nil {
			return nil, err
		}
		vol := dockerops.VolumeName(p.root.Dir)
		if ok, err := eng.VolumeExists(ctx, vol); err != nil || !ok {
			return nil, err
		}
		return []string{vol}, nil
	}
	return k.compose.PurgeVolumes(ctx)
}

// settingsWarnings are the settings in cfg (and the image flag) that do not apply to a project of
// kind (docs/config.md, "Settings × kind"); the project runs without them.
func settingsWarnings(kind Kind, cfg Config, flagImage, tag string) []string {
	var out []string
	image := firstNonEmpty(flagImage, cfg.Image)
	switch kind {
	case KindCompose:
		if cfg.Durable != nil || cfg.Iris.UnexpirePasswords != nil {
			out = append(out, fmt.Sprintf("durable and iris.unexpirePasswords in %s apply to the image and Dockerfile kinds only: a compose project's own command and volumes decide", ConfigFileName))
		}
		if image != "" {
			out = append(out, fmt.Sprintf("the image setting (%s) does not apply to a compose project: its compose files name the images", image))
		}
	case KindDockerfile:
		if image != "" {
			out = append(out, fmt.Sprintf("the image setting (%s) does not apply to a project built from its Dockerfile: it runs the image it builds, %s", image, tag))
		}
	}
	if kind != KindCompose && (cfg.Compose.Files != nil || cfg.Compose.Service != "") {
		out = append(out, fmt.Sprintf("compose.files and compose.service in %s apply to the compose kind only: the project runs on the %s kind", ConfigFileName, kind))
	}
	return out
}

// newWarnings are the settings warnings of the decided kind not said yet, now marked as said.
func (k *kindRuntime) newWarnings() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.decided {
		return nil // a provisional kind may change: said once it is known
	}
	var out []string
	for _, w := range settingsWarnings(k.kind, k.cfg, k.flagImage, dockerops.BuildTag(k.root)) {
		if !slices.Contains(k.warned, w) {
			k.warned = append(k.warned, w)
			out = append(out, w)
		}
	}
	return out
}

// sayKindWarnings tells the user, once per Project, each setting that does not apply to the
// project's kind: a warning in the log (the CLI's stderr) and a Message to every watcher. A
// watcher that comes later gets those said before (kindMessages), so an editor sees each once.
func (p *Project) sayKindWarnings() {
	k, ok := p.rt.(*kindRuntime)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, text := range k.newWarnings() {
		p.log.Warn(text, "project", p.root.Dir)
		m := Message{Level: LevelWarning, Text: text}
		for w := range p.watchers {
			w.mu.Lock()
			w.msgs = append(w.msgs, m)
			w.mu.Unlock()
			w.signal()
		}
	}
}

// kindMessages are the settings warnings said before a watcher came (Watch queues them for it).
// The caller holds p.mu.
func (p *Project) kindMessages() []Message {
	k, ok := p.rt.(*kindRuntime)
	if !ok {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []Message
	for _, text := range k.warned {
		out = append(out, Message{Level: LevelWarning, Text: text})
	}
	return out
}

// AutoStartRefusedError: the automatic start (the editor's auto-start) does not run a compose
// project published on a non-loopback address. iris-helper gives the image and Dockerfile kinds a
// password of their own there (credentials.go) but never changes a compose project's passwords
// (its own files decide), so such a project may keep well-known ones; an explicit start runs it.
type AutoStartRefusedError struct{ Project, BindAddress string }

func (e *AutoStartRefusedError) Error() string {
	return fmt.Sprintf("IRIS for %s is not started automatically: its compose project would be reachable from the network on %s, "+
		"and iris-helper does not change a compose project's passwords, so its accounts may keep well-known ones", e.Project, e.BindAddress)
}

// CheckAutoStart tells whether an automatic start may run the project: nil, or
// *AutoStartRefusedError for a compose project whose bind address is not loopback. It decides the
// kind first when not known yet (which may load the compose model: a child process, as the start
// would); a kind that cannot be decided from a compose file counts as compose.
func (p *Project) CheckAutoStart(ctx context.Context) error {
	if k, ok := p.rt.(*kindRuntime); ok {
		k.mu.Lock()
		decided := k.decided
		k.mu.Unlock()
		if !decided {
			if err := k.resolve(ctx); err != nil {
				p.log.Debug("decide the kind before the auto-start", "project", p.root.Dir, "err", err)
			}
		}
	}
	if p.rt.Kind() == KindCompose && !IsLoopback(p.bindAddress) {
		return &AutoStartRefusedError{Project: p.root.Dir, BindAddress: p.bindAddress}
	}
	return nil
}
