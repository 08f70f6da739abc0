package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
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

	mu      sync.Mutex
	kind    Kind
	fixed   bool     // chosen by .iris-helper.json (or image settings): never re-decided
	decided bool     // the engine and the model were asked
	checked bool     // the engine was asked (an image-kind container or volume keeps the image kind)
	notes   []string // why the kind is what it is, when the user should know
}

var _ Runtime = (*kindRuntime)(nil)

// newKindRuntime chooses what it can without the engine or a child process.
// df is the Dockerfile kind's runtime when the project is one (Project.chooseDockerfile).
func newKindRuntime(root string, cfg Config, img *imageRuntime, cmp *composeRuntime, df *dockerfileRuntime) *kindRuntime {
	k := &kindRuntime{image: img, root: root, cfg: cfg, kind: KindImage}
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
		k.dockerfile, k.kind, k.fixed, k.decided = df, KindDockerfile, true, true
	default:
		k.fixed, k.decided = true, true
	}
	if k.kind == KindCompose && (cfg.Durable != nil || cfg.Iris.UnexpirePasswords != nil) {
		k.notes = append(k.notes, fmt.Sprintf("durable and iris.unexpirePasswords in %s apply to the image and Dockerfile kinds only: a compose project's own command and volumes decide", ConfigFileName))
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
// volume exists, then the model is loaded (a child process). Only a watch and a start call it.
func (k *kindRuntime) resolve(ctx context.Context) error {
	k.mu.Lock()
	fixed, cmp := k.fixed, k.compose
	k.mu.Unlock()
	if cmp == nil {
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
	if kind == KindCompose && (k.cfg.Durable != nil || k.cfg.Iris.UnexpirePasswords != nil) {
		k.notes = append(k.notes, fmt.Sprintf("durable and iris.unexpirePasswords in %s apply to the image and Dockerfile kinds only: a compose project's own command and volumes decide", ConfigFileName))
	}
}

// keepsImageKind: an image-kind container (iris-helper's label without compose's) or the durable
// volume of the project exists, so its data stays where the user had it.
func (k *kindRuntime) keepsImageKind(ctx context.Context, eng *dockerops.Engine) (bool, string, error) {
	cs, err := eng.Containers(ctx, dockerops.LabelProject+"="+k.root)
	if err != nil {
		return false, "", err
	}
	why := fmt.Sprintf("the project keeps the image kind: %%s from before its compose file was used exists (set \"kind\": \"compose\" in %s to run the compose file; `iris-helper stop --purge` removes the old one)", ConfigFileName)
	for _, c := range cs {
		if c.Labels[dockerops.LabelComposeProject] == "" {
			return true, fmt.Sprintf(why, "its container "+c.Name), nil
		}
	}
	vol := dockerops.VolumeName(k.root)
	ok, err := eng.VolumeExists(ctx, vol)
	if err != nil || !ok {
		return false, "", err
	}
	return true, fmt.Sprintf(why, "its durable volume "+vol), nil
}

func (k *kindRuntime) Kind() Kind {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kind
}

// checkEngine, before the kind is decided, asks the engine (no child process) whether an
// image-kind container or durable volume keeps the image kind, once.
func (k *kindRuntime) checkEngine(ctx context.Context) {
	k.mu.Lock()
	skip := k.decided || k.checked || k.compose == nil
	k.mu.Unlock()
	if skip {
		return
	}
	eng, err := k.compose.engine(ctx)
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
	k.mu.Unlock()
	if cm, _ := k.compose.cached(); cm != nil && cm.service != "" {
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
		if err := k.resolve(ctx); err != nil && k.Kind() == KindCompose {
			return Containers{}, err
		}
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
