// Package dockertest is test support for code that runs containers through dockerops: it
// connects to the engine (failing under CI=true, skipping otherwise when none answers), builds
// the stand-in IRIS image from testdata/iris-stub when it is missing or outdated, and removes
// what a test created, by label.
//
// Typical use:
//
//	eng := dockertest.Engine(t)        // *dockerops.Engine, closed at cleanup
//	img := dockertest.StubImage(t)     // "iris-helper/iris-stub:dev", built if needed
//	project := dockertest.Project(t)   // unique project key; its containers+volume removed at cleanup
//	c, err := eng.Start(ctx, dockerops.Spec{Project: project, Image: img, Superserver: 30001, Web: 30002}, nil)
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/gofrs/flock"
	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// StubTag is the stand-in image's tag.
const StubTag = "iris-helper/iris-stub:dev"

// StubTagEnv names the environment variable that, when set, replaces StubTag in StubImage: two
// checkouts whose stand-in sources differ (worktrees of parallel branches) on one engine each
// rebuild the shared tag from their own sources, so one's tests may run on the other's image
// unless one of them uses a tag of its own.
const StubTagEnv = "IRIS_HELPER_STUB_TAG"

// labelStubSource marks the stand-in image with a digest of its sources, so a changed stub is rebuilt.
const labelStubSource = "dev.iris-helper.stub-source"

// Missing fails the test when CI=true and skips it otherwise: a missing prerequisite never
// passes silently.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("prerequisite missing (CI=true): %s", msg)
	}
	t.Skipf("skipped: %s (run scripts/ensure-docker.sh)", msg)
}

// Engine connects to the engine the way the product does and checks that it answers.
func Engine(t testing.TB) *dockerops.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := []dockerops.Option{dockerops.WithVersion("test")}
	if os.Getenv("DOCKEROPS_DEBUG") != "" {
		opts = append(opts, dockerops.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	e, err := dockerops.Connect(ctx, opts...)
	if err != nil {
		Missing(t, "docker engine: %v", err)
	}
	if err := e.Ping(ctx); err != nil {
		e.Close()
		Missing(t, "docker engine: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// StubImage returns StubTag (or $IRIS_HELPER_STUB_TAG) after making sure the image exists and matches the sources in
// testdata/iris-stub (building it otherwise; builds are serialized across processes).
func StubImage(t testing.TB) string {
	t.Helper()
	e := Engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tag := StubTag
	if v := os.Getenv(StubTagEnv); v != "" {
		tag = v
	}
	tag, err := EnsureStub(ctx, e.Client(), tag, false, io.Discard)
	if errors.Is(err, ErrNoBusybox) {
		Missing(t, "stand-in image: %v", err)
	}
	if err != nil {
		t.Fatalf("build stand-in image: %v", err)
	}
	return tag
}

// Project returns a unique project key (a fresh temp dir) and removes the project's containers
// and durable volume when the test ends.
func Project(t testing.TB) string {
	t.Helper()
	p := t.TempDir()
	e := Engine(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := RemoveProject(ctx, e.Client(), p); err != nil {
			t.Errorf("cleanup of project %s: %v", p, err)
		}
	})
	return p
}

// RemoveProject force-removes every container labelled with project (dev.iris-helper.project),
// the volumes with that label and the images built for it (labelled so by dockerops.Build).
func RemoveProject(ctx context.Context, cli *client.Client, project string) error {
	f := make(client.Filters).Add("label", dockerops.LabelProject+"="+project)
	prep := make(client.Filters).Add("label", dockerops.LabelPrepare+"="+project)
	// the volume-preparing containers first: they hold the project's volume
	err := errors.Join(removeByFilter(ctx, cli, prep), removeByFilter(ctx, cli, f))
	return errors.Join(err, removeImages(ctx, cli, f))
}

// removeImages force-removes the images that match f.
func removeImages(ctx context.Context, cli *client.Client, f client.Filters) error {
	res, err := cli.ImageList(ctx, client.ImageListOptions{Filters: f})
	if err != nil {
		return err
	}
	var errs []error
	for _, img := range res.Items {
		if _, err := cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RemoveLabeled force-removes every container and volume that has label (KEY or KEY=VALUE).
func RemoveLabeled(ctx context.Context, cli *client.Client, label string) error {
	return removeByFilter(ctx, cli, make(client.Filters).Add("label", label))
}

func removeByFilter(ctx context.Context, cli *client.Client, f client.Filters) error {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range res.Items {
		_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	vols, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, v := range vols.Items {
		_, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stubBuildTimeout bounds the `go build` of the stand-in (a cold build cache on a busy 2-core
// machine takes well under a minute).
const stubBuildTimeout = 3 * time.Minute

// EnsureStub builds the stand-in image as tag unless an image with that tag was built from the
// current sources (force rebuilds anyway). It compiles testdata/iris-stub with CGO_ENABLED=0
// for the engine's architecture, puts it with busybox and rootfs/ into the archives of layers
// (stubimage.go) in a build context next to the Dockerfile and builds it through the engine API. Build output
// goes to w. Without a static busybox it returns an error wrapping ErrNoBusybox.
func EnsureStub(ctx context.Context, cli *client.Client, tag string, force bool, w io.Writer) (string, error) {
	src, err := stubSourceDir()
	if err != nil {
		return "", err
	}
	ver, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", fmt.Errorf("ask the engine for its platform: %w", err)
	}
	goarch := ver.Arch
	busybox, err := findBusybox(goarch)
	if err != nil {
		return "", err
	}
	digest, err := sourceDigest(src, goarch, busybox)
	if err != nil {
		return "", err
	}
	if !force && imageDigest(ctx, cli, tag) == digest {
		return tag, nil
	}
	lock := flock.New(filepath.Join(os.TempDir(), "iris-helper-stub-build.lock"))
	if _, err := lock.TryLockContext(ctx, 100*time.Millisecond); err != nil {
		return "", fmt.Errorf("lock stub build: %w", err)
	}
	defer lock.Unlock()
	if !force && imageDigest(ctx, cli, tag) == digest {
		return tag, nil // built by another process meanwhile
	}

	tmp, err := os.MkdirTemp("", "iris-stub-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// Every subprocess has a deadline, whatever the caller's context: the build is killed after
	// stubBuildTimeout, and WaitDelay ends the wait even when a compiler child the kill did not
	// reach still holds the output pipe. "go" from PATH: go test and go run put the go command's own
	// GOROOT/bin first on it.
	buildCtx, cancel := context.WithTimeout(ctx, stubBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(buildCtx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(tmp, "iris-stub"), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		if buildCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			return "", fmt.Errorf("go build %s: not done after %v (killed)\n%s", src, stubBuildTimeout, out)
		}
		return "", fmt.Errorf("go build %s: %v\n%s", src, err, out)
	}
	dockerfile, err := os.ReadFile(filepath.Join(src, "Dockerfile"))
	if err != nil {
		return "", err
	}
	bin, err := os.ReadFile(filepath.Join(tmp, "iris-stub"))
	if err != nil {
		return "", err
	}
	archives, err := rootfsTars(src, busybox, bin)
	if err != nil {
		return "", fmt.Errorf("stand-in file system: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		data []byte
	}{{"Dockerfile", dockerfile}}
	for _, l := range layers {
		files = append(files, struct {
			name string
			data []byte
		}{l, archives[l]})
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags: []string{tag}, Labels: map[string]string{labelStubSource: digest},
		Remove: true, ForceRemove: true, Dockerfile: "Dockerfile",
	})
	if err != nil {
		return "", fmt.Errorf("docker build %s: %w", tag, err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return "", fmt.Errorf("docker build %s: %w", tag, err)
		}
		if m.Error != nil {
			return "", fmt.Errorf("docker build %s: %s", tag, m.Error.Message)
		}
		if m.Stream != "" {
			fmt.Fprint(w, m.Stream)
		}
	}
	if got := imageDigest(ctx, cli, tag); got != digest {
		return "", fmt.Errorf("docker build %s: image not tagged after build", tag)
	}
	return tag, nil
}

func imageDigest(ctx context.Context, cli *client.Client, tag string) string {
	res, err := cli.ImageInspect(ctx, tag)
	if err != nil || res.Config == nil {
		return ""
	}
	return res.Config.Labels[labelStubSource]
}

// stubSourceDir finds testdata/iris-stub in this module (from the working directory upwards,
// then from this file's location).
func stubSourceDir() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
				strings.Contains(string(data), "module github.com/iris-helper/iris-helper") {
				src := filepath.Join(d, "testdata", "iris-stub")
				if fileExists(filepath.Join(src, "main.go")) {
					return src, nil
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", errors.New("cannot find testdata/iris-stub (run from inside the iris-helper module)")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// HoldPort listens on 127.0.0.1:port until the test ends, as another program holding the port
// would (a start then finds it taken).
func HoldPort(t testing.TB, port int) {
	t.Helper()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
}
