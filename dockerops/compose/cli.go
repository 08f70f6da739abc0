package compose

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// MinVersion is the oldest Docker Compose iris-helper runs: 2.24 brought the `!override` and
// `!reset` merge tags that the override file uses.
const MinVersion = "2.24.0"

// versionTimeout bounds `docker compose version`.
const versionTimeout = 15 * time.Second

// CLI is the user's Docker Compose v2: the docker CLI with its compose plugin (`docker compose`),
// or a standalone `docker-compose` that reports v2.
type CLI struct {
	Path    string   // the program run
	Prefix  []string // arguments before compose's own ("compose" for the plugin; none standalone)
	Version string   // e.g. "2.40.3"
}

func (c *CLI) String() string {
	return strings.Join(append([]string{c.Path}, c.Prefix...), " ")
}

// NotFoundError means neither `docker compose` nor a standalone `docker-compose` was found.
// Searched is the PATH searched (and the configured docker path, when one was given).
type NotFoundError struct {
	DockerPath string   // the docker CLI configured by the user ("" for none)
	Searched   []string // the folders of PATH
	Err        error    // why the docker CLI's compose did not answer, when it was found
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	b.WriteString("Docker Compose v2 not found")
	if e.DockerPath != "" {
		fmt.Fprintf(&b, " (docker CLI %s", e.DockerPath)
		if e.Err != nil {
			fmt.Fprintf(&b, ": %v", e.Err)
		}
		b.WriteString(")")
	} else if e.Err != nil {
		fmt.Fprintf(&b, " (docker compose: %v)", e.Err)
	}
	fmt.Fprintf(&b, "; searched PATH %s", strings.Join(e.Searched, string(os.PathListSeparator)))
	b.WriteString("; " + InstallHint())
	return b.String()
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// InstallHint says how to get Docker Compose v2 on this system.
func InstallHint() string {
	switch runtime.GOOS {
	case "darwin", "windows":
		return "install Docker Desktop, which includes Docker Compose v2 (https://docs.docker.com/compose/install/)"
	default:
		return "install the docker-compose-plugin package from Docker's repository, or put a docker-compose v2 binary into ~/.docker/cli-plugins/ (https://docs.docker.com/compose/install/linux/)"
	}
}

// VersionError means the Docker Compose found is v1, or a v2 older than MinVersion.
type VersionError struct {
	Path    string
	Version string
}

func (e *VersionError) Error() string {
	if strings.HasPrefix(e.Version, "1.") {
		return fmt.Sprintf("%s is Docker Compose %s (v1), which iris-helper does not run; it needs Docker Compose v2 (%s or later): %s",
			e.Path, e.Version, MinVersion, InstallHint())
	}
	return fmt.Sprintf("%s is Docker Compose %s; iris-helper needs %s or later (the !override and !reset merge tags): %s",
		e.Path, e.Version, MinVersion, InstallHint())
}

var versionRe = regexp.MustCompile(`v?(\d+)\.(\d+)\.(\d+)`)

// parseVersion returns "X.Y.Z" from `compose version --short` output (or "" when none).
func parseVersion(out string) string {
	m := versionRe.FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1] + "." + m[2] + "." + m[3]
}

// versionAtLeast compares dotted versions.
func versionAtLeast(v, min string) bool {
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := 0; i < 3; i++ {
		x, _ := strconv.Atoi(a[i])
		y, _ := strconv.Atoi(b[i])
		if x != y {
			return x > y
		}
	}
	return true
}

// Find looks for the user's Docker Compose v2: dockerPath (the editor's irisHelper.dockerPath;
// "" = docker on PATH) with its compose plugin, else a standalone docker-compose on PATH that
// reports v2. Errors: *NotFoundError (naming the PATH searched), *VersionError (v1, or older
// than MinVersion).
func Find(ctx context.Context, dockerPath string) (*CLI, error) {
	nf := &NotFoundError{DockerPath: dockerPath, Searched: filepath.SplitList(os.Getenv("PATH"))}
	docker := dockerPath
	if docker == "" {
		if p, err := exec.LookPath("docker"); err == nil {
			docker = p
		}
	}
	if docker != "" {
		c := &CLI{Path: docker, Prefix: []string{"compose"}}
		v, err := c.version(ctx)
		switch {
		case err == nil:
			c.Version = v
			return c, c.check()
		case ctx.Err() != nil:
			return nil, err
		default:
			nf.Err = err
		}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		c := &CLI{Path: p}
		v, err := c.version(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			nf.Err = err
			return nil, nf
		}
		c.Version = v
		return c, c.check()
	}
	return nil, nf
}

func (c *CLI) check() error {
	if !versionAtLeast(c.Version, MinVersion) {
		return &VersionError{Path: c.String(), Version: c.Version}
	}
	return nil
}

// version runs `compose version --short` under a deadline.
func (c *CLI) version(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := c.command(ctx, "", nil, &limitedBuffer{buf: &out, max: 4096}, "version", "--short")
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return "", fmt.Errorf("%s version: %s", c, lastLine(msg))
		}
		return "", fmt.Errorf("%s version: %w", c, err)
	}
	v := parseVersion(out.String())
	if v == "" {
		return "", fmt.Errorf("%s version: no version in %q", c, strings.TrimSpace(out.String()))
	}
	return v, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// limitedBuffer keeps the first max bytes written and drops the rest (Truncated says so).
type limitedBuffer struct {
	buf       *bytes.Buffer
	max       int
	Truncated bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room < len(p) {
		if room > 0 {
			l.buf.Write(p[:room])
		}
		l.Truncated = true
		return len(p), nil
	}
	return l.buf.Write(p)
}

// command is the compose CLI with args, in dir, with env (nil: the helper's), stdout and stderr
// to out, in its own process group, killed (the whole group) when ctx ends.
func (c *CLI) command(ctx context.Context, dir string, env []string, out anyWriter, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.Path, append(append([]string{}, c.Prefix...), args...)...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Stdin = nil
	ownGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

type anyWriter interface{ Write([]byte) (int, error) }
