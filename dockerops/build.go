package dockerops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultBuildTimeout bounds one build of a project's image (real projects' Dockerfiles run
// `iris start … iris session … iris stop` and take minutes; an hour is a build that hangs).
const DefaultBuildTimeout = 60 * time.Minute

// buildKillGrace is how long a build's pipes may stay open after its process group was killed.
const buildKillGrace = 5 * time.Second

// BuildTag is the tag a Dockerfile project's image is built into: iris-helper/<8 hex of
// sha256(project)>:local, so that two clones of one repository (same folder name, different
// paths) never share an image.
func BuildTag(project string) string { return "iris-helper/" + ProjectHash(project) + ":local" }

// BuildLogName is the file name of a project's last build log: <8 hex of sha256(project)>.log.
// Front ends keep it under $IRIS_HELPER_HOME/builds.
func BuildLogName(project string) string { return ProjectHash(project) + ".log" }

// BuildSpec is one build of a project's image from its Dockerfile.
type BuildSpec struct {
	Project    string // project key (absolute folder); labels the image with LabelProject
	Context    string // the build context folder (the project folder)
	Dockerfile string // the Dockerfile, relative to Context; "" = Dockerfile
	Tag        string // "" = BuildTag(Project)
	// Args are --build-arg values; the Dockerfile's own ARG defaults apply to every other ARG.
	// Their values are not written to the log (only the names).
	Args    map[string]string
	Log     string        // the build log file (BuildLog); "" = none
	Docker  string        // the docker CLI; "" = "docker" on PATH
	Timeout time.Duration // 0 = DefaultBuildTimeout
}

// Build builds spec's image with BuildKit through the docker CLI (`docker build`, with
// DOCKER_BUILDKIT=1, against this Engine's endpoint), in its own process group under a deadline,
// killed when ctx ends. Its whole output goes to the build log (spec.Log) and its latest line
// to progress (PhaseBuilding, at most four times a second). A docker CLI without BuildKit (23 or
// later without the buildx plugin) builds through `docker compose build` instead, which carries
// its own BuildKit client; the log and the progress say so. Returns the new image's ID.
//
// A failing build is *BuildError with the last lines of the output; a docker CLI that cannot be
// run, an *BuildToolError.
func (e *Engine) Build(ctx context.Context, spec BuildSpec, progress func(Progress)) (string, error) {
	if spec.Tag == "" {
		spec.Tag = BuildTag(spec.Project)
	}
	if spec.Dockerfile == "" {
		spec.Dockerfile = "Dockerfile"
	}
	if spec.Docker == "" {
		spec.Docker = "docker"
	}
	if spec.Timeout <= 0 {
		spec.Timeout = DefaultBuildTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()

	bp := NewBuildProgress(progress, BuildLastLines)
	var logw io.Writer = io.Discard
	var blog *BuildLog
	logPath := ""
	if spec.Log != "" {
		l, err := CreateBuildLog(spec.Log)
		if err != nil {
			e.log.Warn("no build log", "project", spec.Project, "err", err)
		} else {
			blog, logw, logPath = l, &lenient{w: l}, l.Path()
		}
	}
	out := &lockedWriter{w: io.MultiWriter(logw, bp)}
	finish := func(err error) error {
		bp.Close()
		if blog != nil {
			if cerr := blog.Close(); cerr != nil {
				e.log.Warn("build log", "project", spec.Project, "err", cerr)
			}
		}
		if err == nil {
			return nil
		}
		var te *BuildToolError
		if errors.As(err, &te) {
			return err
		}
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("no result after %s", spec.Timeout)
		}
		return &BuildError{Image: spec.Tag, Log: logPath, LastLines: bp.LastLines(), Err: err}
	}

	note := func(msg string) { fmt.Fprintf(out, "iris-helper: %s\n", msg) }
	// The first line: in the log as a line of its own, in the progress as the building phase's message.
	what := fmt.Sprintf("%s from %s in %s%s", spec.Tag, spec.Dockerfile, spec.Context, argNames(spec.Args))
	fmt.Fprintf(logw, "iris-helper: building %s\n", what)
	if progress != nil {
		progress(Progress{Phase: PhaseBuilding, Message: what})
	}
	args := []string{"build", "--progress=plain", "--tag", spec.Tag, "--file", filepath.Join(spec.Context, spec.Dockerfile),
		"--label", LabelProject + "=" + spec.Project}
	for _, k := range sortedKeys(spec.Args) {
		args = append(args, "--build-arg", k+"="+spec.Args[k])
	}
	args = append(args, spec.Context)
	var captured bytes.Buffer // the start of the output, to recognise a CLI without BuildKit
	err := e.runDocker(ctx, spec.Docker, args, spec.Context, nil, io.MultiWriter(out, &headWriter{b: &captured, max: 4096}))
	if err != nil && strings.Contains(captured.String(), "buildx component is missing") {
		note("this docker CLI has no BuildKit (no buildx plugin); building through docker compose instead")
		err = e.composeBuild(ctx, spec, out)
	}
	if err != nil {
		return "", finish(err)
	}
	info, found, err := e.imageInfo(ctx, spec.Tag)
	switch {
	case err != nil:
		return "", finish(err)
	case !found:
		return "", finish(errors.New("the build finished but the image is not there"))
	}
	return info.ID, finish(nil)
}

// composeBuild builds spec through `docker compose build` with a one-service file written next to
// the build log (or in a temporary folder): the project's folder and Dockerfile as the build, the
// tag as the image. Nothing is written in the project folder.
func (e *Engine) composeBuild(ctx context.Context, spec BuildSpec, out io.Writer) error {
	dir := ""
	if spec.Log != "" {
		dir = filepath.Dir(spec.Log)
	} else {
		tmp, err := os.MkdirTemp("", "iris-helper-build-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	// compose interpolates $ in its files: $$ is a literal $.
	esc := func(s string) string { return strings.ReplaceAll(s, "$", "$$") }
	buildArgs := map[string]string{}
	for k, v := range spec.Args {
		buildArgs[esc(k)] = esc(v)
	}
	file := map[string]any{
		"services": map[string]any{
			"iris": map[string]any{
				"image": esc(spec.Tag),
				"build": map[string]any{
					"context":    esc(spec.Context),
					"dockerfile": esc(spec.Dockerfile),
					"args":       buildArgs,
					"labels":     map[string]string{LabelProject: esc(spec.Project)},
				},
			},
		},
	}
	data, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, ProjectHash(spec.Project)+".build.json")
	_ = os.Remove(path)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write the build file: %w", err)
	}
	defer os.Remove(path)
	// COMPOSE_BAKE=false: compose's own builder (bake needs the buildx plugin that is missing here).
	return e.runDocker(ctx, spec.Docker, []string{"compose", "--file", path, "--project-name", "iris-helper-build-" + ProjectHash(spec.Project),
		"--progress=plain", "build"}, dir, []string{"COMPOSE_BAKE=false"}, out)
}

// runDocker runs the docker CLI with args in dir against this Engine's endpoint (env: further
// KEY=VALUE), its output (stdout and stderr) to out, in its own process group, killed with its
// children when ctx ends.
func (e *Engine) runDocker(ctx context.Context, docker string, args []string, dir string, env []string, out io.Writer) error {
	path, err := exec.LookPath(docker)
	if err != nil {
		return &BuildToolError{Tool: docker, PATH: os.Getenv("PATH"), Err: err}
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(e.dockerEnv(), env...)
	ownProcessGroup(cmd)
	cmd.WaitDelay = buildKillGrace
	e.log.Debug("run docker", "args", args)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ctx.Err() == nil {
			return fmt.Errorf("docker %s exited with status %d", args[0], ee.ExitCode())
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &BuildToolError{Tool: path, Err: err}
	}
	return nil
}

// dockerEnv is the environment of a docker CLI child: the helper's, with BuildKit on and plain
// progress, on the engine the helper talks to. An endpoint from a docker context is left to the
// CLI, which resolves the same context with its TLS settings; any other (DOCKER_HOST, WithHost) is
// passed as DOCKER_HOST.
func (e *Engine) dockerEnv() []string {
	fromContext := strings.HasPrefix(e.endpoint.Source, "docker context")
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DOCKER_BUILDKIT", "BUILDKIT_PROGRESS":
			continue
		case "DOCKER_HOST", "DOCKER_CONTEXT":
			if !fromContext {
				continue
			}
		}
		env = append(env, kv)
	}
	env = append(env, "DOCKER_BUILDKIT=1", "BUILDKIT_PROGRESS=plain")
	if !fromContext && e.endpoint.Host != "" {
		env = append(env, "DOCKER_HOST="+e.endpoint.Host)
	}
	return env
}

// BuildToolError means the docker CLI that builds could not be run (not found on PATH, not
// executable).
type BuildToolError struct {
	Tool string // the command looked for, e.g. docker
	PATH string // the PATH searched, when it was not found
	Err  error
}

func (e *BuildToolError) Error() string {
	if e.PATH != "" {
		return fmt.Sprintf("cannot build the project's image: the docker CLI (%s) was not found on PATH (%s); install the Docker CLI (Docker Desktop, or the docker-ce-cli/docker.io package)",
			e.Tool, e.PATH)
	}
	return fmt.Sprintf("cannot build the project's image: run %s: %v", e.Tool, e.Err)
}

func (e *BuildToolError) Unwrap() error { return e.Err }

// ImageID is the ID of the local image ref (found false when there is none); it never pulls.
func (e *Engine) ImageID(ctx context.Context, ref string) (id string, found bool, err error) {
	info, found, err := e.imageInfo(ctx, ref)
	return info.ID, found, err
}

func argNames(args map[string]string) string {
	if len(args) == 0 {
		return ""
	}
	return " with build args " + strings.Join(sortedKeys(args), ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lenient writes to w until it fails once, then drops the rest: a log that cannot be written
// does not stop the build.
type lenient struct {
	w   io.Writer
	err error
}

func (l *lenient) Write(p []byte) (int, error) {
	if l.err == nil {
		_, l.err = l.w.Write(p)
	}
	return len(p), nil
}

// lockedWriter serializes writes (stdout and stderr of a child are copied by two goroutines
// when they are not the same *os.File).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// headWriter keeps the first max bytes written.
type headWriter struct {
	b   *bytes.Buffer
	max int
}

func (h *headWriter) Write(p []byte) (int, error) {
	if room := h.max - h.b.Len(); room > 0 {
		h.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
