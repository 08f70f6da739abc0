package compose

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Limits of the compose children.
const (
	ConfigTimeout  = 30 * time.Second // `config`: reading the files only
	ConfigMaxBytes = 16 << 20         // `config --format json` output kept
	StopTimeout    = 2 * time.Minute  // `stop` and `down` (each container gets compose's 10 s)
	tailLines      = 20               // lines of output an error carries
)

// Project is one compose project as iris-helper runs it: the files compose reads, the
// interpolation environment and the name.
type Project struct {
	Dir     string   // --project-directory: the project folder
	Files   []string // -f, in order (absolute); see DefaultFiles
	EnvFile string   // --env-file (a filtered copy of the project's .env); "" = none
	Name    string   // -p; "" = compose's own (COMPOSE_PROJECT_NAME, name:, folder)
	// Override is the override file (written under IRIS_HELPER_HOME), passed as the last -f by
	// Up, Stop and Down; "" = none (Config never passes it).
	Override string
	// Env is the child's environment (nil: the helper's own).
	Env []string
}

func (p Project) args(withOverride bool, cmd ...string) []string {
	args := []string{"--ansi", "never", "--progress", "plain", "--project-directory", p.Dir}
	for _, f := range p.Files {
		args = append(args, "-f", f)
	}
	if withOverride && p.Override != "" {
		args = append(args, "-f", p.Override)
	}
	if p.EnvFile != "" {
		args = append(args, "--env-file", p.EnvFile)
	}
	if p.Name != "" {
		args = append(args, "-p", p.Name)
	}
	return append(args, cmd...)
}

// Error is a compose command that failed: the command, its exit and the last lines of its
// output (compose's own message, with file and line for a syntax error).
type Error struct {
	Command string   // e.g. "docker compose up"
	Err     error    // the exit status or ctx's error
	Lines   []string // the last lines of compose's output
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s failed (%v)", e.Command, e.Err)
	if len(e.Lines) > 0 {
		msg += ": " + strings.Join(e.Lines, "\n")
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Config is the model of p as compose sees it (`docker compose config --format json`), under
// ConfigTimeout and with at most ConfigMaxBytes of output. A file compose refuses is an *Error
// carrying compose's message (file and line for a syntax error).
func (c *CLI) Config(ctx context.Context, p Project) (Model, error) {
	ctx, cancel := context.WithTimeout(ctx, ConfigTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	out := &limitedBuffer{buf: &stdout, max: ConfigMaxBytes}
	cmd := c.command(ctx, p.Dir, p.Env, out, p.args(false, "config", "--format", "json")...)
	cmd.Stderr = &limitedBuffer{buf: &stderr, max: 64 << 10}
	err := cmd.Run()
	name := c.String() + " config"
	if len(p.Files) > 0 {
		name += " of " + strings.Join(p.Files, ", ")
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %s", ctx.Err(), ConfigTimeout)
		}
		return Model{}, &Error{Command: name, Err: err, Lines: tail(stderr.String(), tailLines)}
	}
	if out.Truncated {
		return Model{}, &Error{Command: name, Err: fmt.Errorf("its output is larger than %d bytes", ConfigMaxBytes)}
	}
	return ParseConfig(stdout.Bytes())
}

// UpOptions select how Up treats existing containers.
type UpOptions struct {
	ForceRecreate bool // --force-recreate (Restart, Rebuild); else --no-recreate
	Build         bool // --build: build images even when they exist (Rebuild)
	Timeout       time.Duration
}

// Up runs `up -d` with the override (--no-recreate unless ForceRecreate; --build on Build),
// sending each line of compose's output to onLine (may be nil). Compose builds missing images.
func (c *CLI) Up(ctx context.Context, p Project, o UpOptions, onLine func(string)) error {
	args := []string{"up", "-d", "--remove-orphans=false"}
	if o.ForceRecreate {
		args = append(args, "--force-recreate")
	} else {
		args = append(args, "--no-recreate")
	}
	if o.Build {
		args = append(args, "--build")
	}
	_, err := c.stream(ctx, p, o.Timeout, onLine, args...)
	return err
}

// UpRecreateChanged runs `up -d` letting compose recreate the services whose configuration
// changed (no --no-recreate): for a project whose containers are stopped or missing.
func (c *CLI) UpRecreateChanged(ctx context.Context, p Project, o UpOptions, onLine func(string)) error {
	args := []string{"up", "-d", "--remove-orphans=false"}
	if o.ForceRecreate {
		args = append(args, "--force-recreate")
	}
	if o.Build {
		args = append(args, "--build")
	}
	_, err := c.stream(ctx, p, o.Timeout, onLine, args...)
	return err
}

// Stop runs `stop` (containers kept).
func (c *CLI) Stop(ctx context.Context, p Project, onLine func(string)) error {
	_, err := c.stream(ctx, p, StopTimeout, onLine, "stop")
	return err
}

var removedVolume = regexp.MustCompile(`^\s*Volume\s+"?([^"\s]+)"?\s+Removed\s*$`)

// Down runs `down` (containers and networks removed); volumes: `down -v`, which also deletes
// the project's named volumes. It returns the volumes removed.
func (c *CLI) Down(ctx context.Context, p Project, volumes bool, onLine func(string)) ([]string, error) {
	args := []string{"down"}
	if volumes {
		args = append(args, "-v")
	}
	lines, err := c.stream(ctx, p, StopTimeout, onLine, args...)
	var removed []string
	for _, l := range lines {
		if m := removedVolume.FindStringSubmatch(l); m != nil {
			removed = append(removed, m[1])
		}
	}
	return removed, err
}

// stream runs a compose command with the override, line by line to onLine; it returns every
// line (for Down's volumes) and an *Error with the last lines on failure.
func (c *CLI) stream(ctx context.Context, p Project, timeout time.Duration, onLine func(string), args ...string) ([]string, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	pr, pw := io.Pipe()
	cmd := c.command(ctx, p.Dir, p.Env, pw, p.args(true, args...)...)
	var lines []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := strings.TrimRight(sc.Text(), "\r")
			if len(lines) < 100000 {
				lines = append(lines, l)
			}
			if onLine != nil {
				onLine(l)
			}
		}
		_, _ = io.Copy(io.Discard, pr) // a line longer than the scanner's buffer
	}()
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	pw.Close()
	wg.Wait()
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		last := lines
		if len(last) > tailLines {
			last = last[len(last)-tailLines:]
		}
		return lines, &Error{Command: c.String() + " " + args[0], Err: err, Lines: last}
	}
	return lines, nil
}

func tail(s string, n int) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	ls := strings.Split(s, "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return ls
}

// File names compose looks for in the project folder, in its order, and the override file it
// merges beside each.
var (
	defaultFiles   = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}
	overrideSuffix = map[string][]string{
		"compose.yaml":        {"compose.override.yaml", "compose.override.yml"},
		"compose.yml":         {"compose.override.yml", "compose.override.yaml"},
		"docker-compose.yaml": {"docker-compose.override.yaml", "docker-compose.override.yml"},
		"docker-compose.yml":  {"docker-compose.override.yml", "docker-compose.override.yaml"},
	}
)

// ErrNoFile means the project folder has no compose file compose would pick.
var ErrNoFile = errors.New("no compose file")

// DefaultFiles are the files compose reads for the project in dir when no -f is given:
// COMPOSE_FILE (from composeFile, the environment's or the project .env's value, split on
// COMPOSE_PATH_SEPARATOR, else the OS list separator; relative to dir), else the first of
// compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml found in dir, with its
// .override file when present. Only the root is searched (iris-helper does not look in parent
// folders as compose does). ErrNoFile when none.
func DefaultFiles(dir, composeFile, pathSeparator string) ([]string, error) {
	if composeFile != "" {
		sep := pathSeparator
		if sep == "" {
			sep = string(os.PathListSeparator)
		}
		var out []string
		for _, f := range strings.Split(composeFile, sep) {
			if f == "" {
				continue
			}
			if !filepath.IsAbs(f) {
				f = filepath.Join(dir, f)
			}
			out = append(out, f)
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	for _, n := range defaultFiles {
		f := filepath.Join(dir, n)
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			out := []string{f}
			for _, o := range overrideSuffix[n] {
				of := filepath.Join(dir, o)
				if fi, err := os.Stat(of); err == nil && fi.Mode().IsRegular() {
					out = append(out, of)
					break
				}
			}
			return out, nil
		}
	}
	return nil, ErrNoFile
}
