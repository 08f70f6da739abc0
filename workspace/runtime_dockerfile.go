package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// dockerfileRuntime is the Dockerfile kind: the project's root Dockerfile built with BuildKit into
// its own tag (dockerops.BuildTag: iris-helper/<8 hex>:local, so two clones never share an image),
// then run exactly like the image kind on the registry's ports (the embedded imageRuntime, whose
// image is that tag). Drift comes with it: a container of an older build of the tag is "an older
// build of image …", so a rebuild shows restartNeeded on a running container.
//
// Durable %SYS is off unless .iris-helper.json says "durable": true: a durable %SYS made by the
// first build's image would keep what that image's iris.script set up, and hide what a rebuilt
// image's does (docs/config.md).
type dockerfileRuntime struct {
	*imageRuntime
	root      string            // the build context; the Dockerfile is root/Dockerfile
	buildArgs map[string]string // --build-arg (ProjectOptions.BuildArgs); the Dockerfile's defaults apply otherwise
	logPath   string            // the build log ($IRIS_HELPER_HOME/builds/<8 hex>.log)
}

var _ Runtime = (*dockerfileRuntime)(nil)

func (r *dockerfileRuntime) Kind() Kind { return KindDockerfile }

// Start builds the image when it is missing or plan.Build asks for it, then starts it as the image
// kind does (a running container is left as it is; a newer build shows as drift).
func (r *dockerfileRuntime) Start(ctx context.Context, plan RunPlan, progress func(dockerops.Progress)) (Containers, error) {
	eng, err := r.engine(ctx)
	if err != nil {
		return Containers{}, err
	}
	build := plan.Build
	if !build {
		_, found, err := eng.ImageID(ctx, r.image)
		if err != nil {
			return Containers{}, err
		}
		build = !found
	}
	if build {
		if err := r.build(ctx, eng, progress); err != nil {
			return Containers{}, err
		}
	}
	return r.imageRuntime.Start(ctx, plan, progress)
}

func (r *dockerfileRuntime) build(ctx context.Context, eng *dockerops.Engine, progress func(dockerops.Progress)) error {
	// A regular file, not a link or a FIFO (docker build would follow or wait on it).
	path := filepath.Join(r.root, DockerfileName)
	f, _, err := projfile.Open(path, projfile.NoFollow)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &NoDockerfileError{Path: path}
	case err != nil:
		return fmt.Errorf("build the project's image: %w", err) // names the file
	}
	f.Close()
	_, err = eng.Build(ctx, dockerops.BuildSpec{Project: r.project, Context: r.root, Dockerfile: DockerfileName,
		Tag: r.image, Args: r.buildArgs, Log: r.logPath}, progress)
	return err
}

// NoDockerfileError means the project is of the Dockerfile kind (named in .iris-helper.json) but
// has no Dockerfile at its root.
type NoDockerfileError struct{ Path string }

func (e *NoDockerfileError) Error() string {
	return fmt.Sprintf("build the project's image: no Dockerfile at %s (the project's kind is \"dockerfile\"); add one, or set another kind in %s",
		e.Path, ConfigFileName)
}

// chooseDockerfile tells whether the project runs as the Dockerfile kind: .iris-helper.json's
// `kind` decides when set; else `image` or `ports` there keep the image kind (as before the
// kinds); else the project's files (dockerfileKind). A Dockerfile that cannot be read is logged
// and leaves the image kind.
//
// Until the detection order of every kind is in one place, this is the whole choice between the
// image and Dockerfile kinds.
func (p *Project) chooseDockerfile() bool {
	switch {
	case p.cfg.Kind != "":
		return p.cfg.Kind == KindDockerfile
	case p.cfg.Image != "" || p.cfg.Ports != (PortsConfig{}):
		return false
	}
	ok, reason, err := dockerfileKind(p.root.Dir)
	if err != nil {
		p.log.Warn("the project's Dockerfile cannot be read; running the image kind", "project", p.root.Dir, "err", err)
		return false
	}
	p.log.Debug("kind of project", "project", p.root.Dir, "dockerfile", ok, "reason", reason)
	return ok
}

// newDockerfileRuntime is the Dockerfile kind's runtime for p, on the image kind's settings
// (img) but for the image: the project's own tag.
func (p *Project) newDockerfileRuntime(img *imageRuntime) *dockerfileRuntime {
	// An image flag or setting does not apply (settingsWarnings says so once); an editor's or the
	// environment's default image is not the project's choice.
	img.image = dockerops.BuildTag(p.root.Dir)
	img.durable = p.cfg.Durable != nil && *p.cfg.Durable
	return &dockerfileRuntime{imageRuntime: img, root: p.root.Dir, buildArgs: p.opts.BuildArgs, logPath: p.BuildLogPath()}
}

// BuildLogPath is the file that keeps the project's last build output:
// $IRIS_HELPER_HOME/builds/<8 hex of sha256(project)>.log (dockerops.BuildLog: 0600, capped).
func (p *Project) BuildLogPath() string {
	return filepath.Join(p.reg.Home(), "builds", dockerops.BuildLogName(p.root.Dir))
}

// NoBuildLogError means the project has no build log: iris-helper has not built its image.
type NoBuildLogError struct{ Project, Path string }

func (e *NoBuildLogError) Error() string {
	return fmt.Sprintf("no build output kept for %s: iris-helper has not built this project's image (%s does not exist)", e.Project, e.Path)
}

// BuildLog writes the project's last build output (BuildLogPath) to w: the whole of it up to
// dockerops.BuildLogLimit, else its head and tail as kept. A project never built is
// *NoBuildLogError.
func (p *Project) BuildLog(w io.Writer) error {
	path := p.BuildLogPath()
	f, _, err := projfile.Open(path, projfile.NoFollow)
	if errors.Is(err, fs.ErrNotExist) {
		return &NoBuildLogError{Project: p.root.Dir, Path: path}
	}
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, io.LimitReader(f, dockerops.BuildLogLimit+1<<10))
	return err
}
