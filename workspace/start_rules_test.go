package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// containerID is the ID of the named container, "" when it does not exist.
func containerID(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.Id}}", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// TestStartKeepsContainerWithoutVolume: a stopped container whose data is not on a volume
// (durable: false) survives a start that finds its port taken: the start fails, keeps it, does
// not move the ports, and says how to go on; a restart asks first; a confirmed restart moves
// and recreates it. (On d65fd46 the start removed it and moved the project.)
func TestStartKeepsContainerWithoutVolume(t *testing.T) {
	f := newFixture(t, 31330)
	ctx := testCtx(t)
	dir := f.projectDir(map[string]string{ConfigFileName: `{"durable": false}`})
	p := f.open(dir)
	first := mustStart(t, ctx, p)
	id := containerID(t, first.Container)
	if _, err := p.Stop(ctx, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	dockertest.HoldPort(t, first.SuperserverPort)

	st, err := p.Start(ctx, nil)
	want := fmt.Sprintf("start IRIS for %s: container %s was kept: host port %d is taken by another program, but its data is not "+
		"on the durable volume (it was created with durable off), so a start does not remove it; free port %d and start again, "+
		"or recreate it (its data is lost)", dir, first.Container, first.SuperserverPort, first.SuperserverPort)
	var keep *dockerops.KeepError
	if !errors.As(err, &keep) || err.Error() != want {
		t.Fatalf("Start() = %v\nwant %s", err, want)
	}
	if containerID(t, first.Container) != id {
		t.Fatalf("container %s was removed by the failed start", first.Container)
	}
	if a, _, _ := f.reg.Get(ctx, dir); a.SuperserverPort != first.SuperserverPort || a.WebPort != first.WebPort {
		t.Fatalf("the failed start moved the project to %d/%d", a.SuperserverPort, a.WebPort)
	}
	rpctest.Must(t, "status after the failed start", rpctest.Want("state", st.State, StateError), rpctest.Want("container", st.Container, first.Container),
		rpctest.Want("message", st.Message, want))

	_, err = p.Restart(ctx, nil)
	var confirm *ConfirmRequiredError
	want = fmt.Sprintf("restarting %s would remove container %s and the data inside it, which is not on the durable volume "+
		"(it was created with durable off): host port %d is taken by another program; confirm the restart to recreate it",
		dir, first.Container, first.SuperserverPort)
	if !errors.As(err, &confirm) {
		t.Fatalf("Restart() = %v\nwant %s", err, want)
	}
	rpctest.Must(t, "Restart()", rpctest.Want("message", err.Error(), want), rpctest.Want("container", confirm.Container, first.Container))
	if containerID(t, first.Container) != id {
		t.Fatalf("container %s was removed by the unconfirmed restart", first.Container)
	}

	st, err = p.RestartWith(ctx, RestartOptions{Confirm: confirm.Container}, nil)
	if err != nil {
		t.Fatalf("confirmed restart: %v", err)
	}
	rpctest.Must(t, "confirmed restart", rpctest.Want("state", st.State, StateReady),
		rpctest.Want(fmt.Sprintf("superserverPort %d moved from %d", st.SuperserverPort, first.SuperserverPort), st.SuperserverPort != first.SuperserverPort, true))
	if containerID(t, first.Container) != "" {
		t.Fatalf("old container %s still exists next to %s", first.Container, st.Container)
	}
}

// TestStartLeavesRunningContainer: a start with other settings or ports neither stops nor
// recreates the running container; the status says restartNeeded and why; a restart applies them
// (the data is on the volume, so without asking). (On d65fd46 the start recreated it.)
func TestStartLeavesRunningContainer(t *testing.T) {
	f := newFixture(t, 31340)
	ctx := testCtx(t)
	dir := f.projectDir(nil)
	first := mustStart(t, ctx, f.open(dir))
	id := containerID(t, first.Container)

	changed := f.open(dir, func(o *ProjectOptions) { o.ContainerEnv = []string{"STUB_READY_DELAY=1s"} })
	st := mustStart(t, ctx, changed)
	rpctest.Must(t, "start with other settings", rpctest.Want("container", st.Container, first.Container),
		rpctest.Want("the container's id", containerID(t, first.Container), id), rpctest.Want("restartNeeded", st.RestartNeeded, true),
		rpctest.Want("message", st.Message, "the container still runs with another container environment (STUB_READY_DELAY); restart to apply the project's settings"))

	moved := f.open(dir, func(o *ProjectOptions) {
		o.ContainerEnv = []string{"STUB_READY_DELAY=1s"}
		o.FlagPorts = registry.Preferred{Superserver: f.lo + 5, Web: f.lo + 505}
	})
	st = mustStart(t, ctx, moved)
	want := fmt.Sprintf("the container still uses %d/%d; restart to use %d/%d; the container still runs with another container "+
		"environment (STUB_READY_DELAY); restart to apply the project's settings", first.SuperserverPort, first.WebPort, f.lo+5, f.lo+505)
	rpctest.Must(t, "start on other ports", rpctest.Want("container", st.Container, first.Container),
		rpctest.Want("the container's id", containerID(t, first.Container), id), rpctest.Want("restartNeeded", st.RestartNeeded, true),
		rpctest.Want("message", st.Message, want))

	st, err := moved.Restart(ctx, nil)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	rpctest.Must(t, "restart", rpctest.Want("state", st.State, StateReady), rpctest.Want("restartNeeded", st.RestartNeeded, false),
		rpctest.Want("superserverPort", st.SuperserverPort, f.lo+5), rpctest.Want("message", st.Message, ""))
	if containerID(t, first.Container) != "" {
		t.Fatalf("old container %s still exists", first.Container)
	}
}

// TestRestartAsksBeforeLosingData: a restart that must recreate a running container whose data is
// not on a volume fails with *ConfirmRequiredError and leaves it running; confirmed, it recreates it.
func TestRestartAsksBeforeLosingData(t *testing.T) {
	f := newFixture(t, 31350)
	ctx := testCtx(t)
	dir := f.projectDir(map[string]string{ConfigFileName: `{"durable": false}`})
	first := mustStart(t, ctx, f.open(dir))
	id := containerID(t, first.Container)
	changed := f.open(dir, func(o *ProjectOptions) { o.ContainerEnv = []string{"STUB_READY_DELAY=1s"} })

	st, err := changed.Restart(ctx, nil)
	want := fmt.Sprintf("restarting %s would remove container %s and the data inside it, which is not on the durable volume "+
		"(it was created with durable off): it was created with another container environment (STUB_READY_DELAY); "+
		"confirm the restart to recreate it", dir, first.Container)
	var confirm *ConfirmRequiredError
	if !errors.As(err, &confirm) || err.Error() != want {
		t.Fatalf("Restart() = %v\nwant %s", err, want)
	}
	if st.State != StateReady || containerID(t, first.Container) != id {
		t.Fatalf("the unconfirmed restart touched the container: %+v", st)
	}

	st, err = changed.RestartWith(ctx, RestartOptions{Confirm: confirm.Container}, nil)
	if err != nil {
		t.Fatalf("confirmed restart: %v", err)
	}
	rpctest.Must(t, "confirmed restart", rpctest.Want("state", st.State, StateReady), rpctest.Want("restartNeeded", st.RestartNeeded, false),
		rpctest.Want("a new container (id differs from "+id+")", containerID(t, st.Container) != id, true))
}

// TestNetworkBindFromProject: a non-loopback bindAddress from .iris-helper.json is refused
// (nothing assigned, nothing created) unless the user allows it or chose it. (On d65fd46 IRIS was
// published on every interface.)
func TestNetworkBindFromProject(t *testing.T) {
	f := newFixture(t, 31360)
	ctx := testCtx(t)
	dir := f.projectDir(map[string]string{ConfigFileName: `{"bindAddress": "0.0.0.0"}`})
	p := f.open(dir)
	st, err := p.Start(ctx, nil)
	want := filepath.Join(dir, ConfigFileName) + " asks for bindAddress 0.0.0.0, which makes IRIS reachable from the network; " +
		"a project file cannot choose that, so the start was refused"
	var nb *NetworkBindError
	if !errors.As(err, &nb) {
		t.Fatalf("Start() = %v\nwant %s", err, want)
	}
	rpctest.Must(t, "Start()", rpctest.Want("message", err.Error(), want), rpctest.Want("address", nb.Address, "0.0.0.0"),
		rpctest.Want("knob", nb.Knob(), KnobNetworkBind))
	if st.Container != "" || st.SuperserverPort != 0 {
		t.Fatalf("the refused start assigned or created something: %+v", st)
	}
	if _, err := p.Restart(ctx, nil); !errors.As(err, &nb) {
		t.Fatalf("Restart() = %v, want *NetworkBindError", err)
	}

	tests := []struct {
		name, repo string
		opts       ProjectOptions
		allowed    bool
	}{
		{name: "repository 0.0.0.0", repo: "0.0.0.0"},
		{name: "repository ::", repo: "::"},
		{name: "repository LAN address", repo: "192.168.1.20"},
		{name: "repository 127.0.0.2", repo: "127.0.0.2", allowed: true},
		{name: "repository ::1", repo: "::1", allowed: true},
		{name: "allowed by the user", repo: "0.0.0.0", opts: ProjectOptions{Policy: UserPolicy{AllowNetworkBind: true}}, allowed: true},
		{name: "the user's own setting", repo: "", opts: ProjectOptions{BindAddress: "0.0.0.0"}, allowed: true},
		{name: "the user's setting equals the repository's", repo: "0.0.0.0", opts: ProjectOptions{BindAddress: "0.0.0.0"}, allowed: true},
		{name: "the user's loopback loses to the repository", repo: "0.0.0.0", opts: ProjectOptions{BindAddress: "127.0.0.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := "{}"
			if tc.repo != "" {
				cfg = fmt.Sprintf(`{"bindAddress": %q}`, tc.repo)
			}
			d := t.TempDir()
			if err := os.WriteFile(filepath.Join(d, ConfigFileName), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			opts := tc.opts
			opts.Registry = f.reg
			opts.Engine = f.eng
			p, err := OpenProject(ctx, d, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.checkBind(); (err == nil) != tc.allowed {
				t.Fatalf("checkBind() = %v, allowed %v", err, tc.allowed)
			}
		})
	}
}

func TestExposureWarning(t *testing.T) {
	tests := []struct{ bind, want string }{
		{"127.0.0.1", ""},
		{"127.8.9.10", ""},
		{"::1", ""},
		{"0.0.0.0", "IRIS for /p is reachable from the network: its ports 1973 and 52774 are published on 0.0.0.0, not only on this machine"},
		{"192.168.1.20", "IRIS for /p is reachable from the network: its ports 1973 and 52774 are published on 192.168.1.20, not only on this machine"},
	}
	for _, tc := range tests {
		if got := ExposureWarning(Status{Project: "/p", BindAddress: tc.bind, SuperserverPort: 1973, WebPort: 52774}); got != tc.want {
			t.Errorf("ExposureWarning(%s) = %q, want %q", tc.bind, got, tc.want)
		}
	}
}

// TestProjectLock: a lock held too long is named with its holder's PID, command and start time;
// a planted symbolic link is not followed. (On d65fd46 the start waited without bound and a
// link made it create its target.)
func TestProjectLock(t *testing.T) {
	f := newFixture(t, 31370)
	ctx := testCtx(t)
	dir := f.projectDir(nil)
	holder := f.open(dir)
	unlock, err := holder.lockProject(ctx, "start")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(dir))
	lockPath := filepath.Join(f.home, "locks", hex.EncodeToString(sum[:4])+".lock")

	waiter := f.open(dir, func(o *ProjectOptions) { o.StopLockTimeout = 200 * time.Millisecond })
	_, err = waiter.Stop(ctx, StopOptions{})
	var le *ProjectLockError
	if !errors.As(err, &le) {
		t.Fatalf("Stop() = %v, want *ProjectLockError", err)
	}
	rpctest.Must(t, "lock error", rpctest.Want("holder.pid", le.Holder.PID, os.Getpid()), rpctest.Want("holder.command", le.Holder.Command, strings.Join(os.Args, " ")),
		rpctest.Want("holder.operation", le.Holder.Operation, "start"), rpctest.Want("holder.since is set", !le.Holder.Since.IsZero(), true),
		rpctest.Want("path", le.Path, lockPath), rpctest.Want("operation", le.Operation, "stop"))
	want := fmt.Sprintf("the stop of %s waited %s for the project lock %s, held by process %d (%s, start since %s); "+
		"wait for it to finish, or end it if it hangs", dir, le.Waited.Round(time.Second), lockPath, os.Getpid(), strings.Join(os.Args, " "),
		le.Holder.Since.UTC().Format(time.RFC3339))
	if err.Error() != want {
		t.Fatalf("message\n%s\nwant\n%s", err, want)
	}
	unlock()
	if b, err := os.ReadFile(lockPath); err != nil || len(b) != 0 {
		t.Fatalf("lock file after unlock: %q %v (want empty)", b, err)
	}

	// a planted link is refused and its target never created
	target := filepath.Join(t.TempDir(), "planted")
	if err := os.Remove(lockPath); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, lockPath); err != nil {
		t.Fatal(err)
	}
	_, err = holder.Start(ctx, nil)
	want = fmt.Sprintf("the project lock %s is a symbolic link; iris-helper does not follow it: remove it", lockPath)
	if err == nil || err.Error() != want {
		t.Fatalf("Start() = %v\nwant %s", err, want)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the link's target was created: %v", err)
	}
}

// TestRestartAsksBeforeMovingPorts: a restart whose start would move the project to the ports
// now in .iris-helper.json, and so recreate a container whose data is not on a volume, asks
// before it stops anything: IRIS keeps running on its ports and the registry keeps them.
// (Before, confirmNeeded judged the current assignment: the restart stopped IRIS, moved the
// ports, and only then asked.)
func TestRestartAsksBeforeMovingPorts(t *testing.T) {
	f := newFixture(t, 31380)
	ctx := testCtx(t)
	dir := f.projectDir(map[string]string{ConfigFileName: `{"durable": false}`})
	first := mustStart(t, ctx, f.open(dir))
	id := containerID(t, first.Container)
	cfg := fmt.Sprintf(`{"durable": false, "ports": {"superserver": %d, "web": %d}}`, f.lo+5, f.lo+505)
	if err := os.WriteFile(filepath.Join(dir, ConfigFileName), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := f.open(dir)
	st, err := p.Restart(ctx, nil)
	want := fmt.Sprintf("restarting %s would remove container %s and the data inside it, which is not on the durable volume "+
		"(it was created with durable off): it was created with ports %d/%d instead of %d/%d; confirm the restart to recreate it",
		dir, first.Container, first.SuperserverPort, first.WebPort, f.lo+5, f.lo+505)
	var confirm *ConfirmRequiredError
	if !errors.As(err, &confirm) || err.Error() != want {
		t.Fatalf("Restart() = %v\nwant %s", err, want)
	}
	if containerID(t, first.Container) != id || st.State != StateReady {
		t.Fatalf("after the unconfirmed restart: container %s, status %+v; want it running as it was", first.Container, st)
	}
	if a, _, _ := f.reg.Get(ctx, dir); a.SuperserverPort != first.SuperserverPort || a.WebPort != first.WebPort {
		t.Fatalf("the unconfirmed restart moved the project to %d/%d", a.SuperserverPort, a.WebPort)
	}
}

// TestProjectLockFolderLink: a locks folder in the registry home that is a link to a folder
// elsewhere is refused, and nothing (no lock file with PID and command line) is written there.
// (Before, O_NOFOLLOW guarded only the lock file and MkdirAll accepted the link.)
func TestProjectLockFolderLink(t *testing.T) {
	f := newFixture(t, 31390)
	ctx := testCtx(t)
	dir := f.projectDir(nil)
	p := f.open(dir)
	outside := t.TempDir()
	locks := filepath.Join(f.home, "locks")
	if err := os.RemoveAll(locks); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, locks); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"start", "stop"} {
		_, err := p.lockProject(ctx, op)
		want := fmt.Sprintf("the project lock folder %s is a symbolic link, not a folder; iris-helper does not follow it: remove it", locks)
		if err == nil || err.Error() != want {
			t.Fatalf("lockProject(%s) = %v\nwant %s", op, err, want)
		}
	}
	if names, err := os.ReadDir(outside); err != nil || len(names) != 0 {
		t.Fatalf("the link's target holds %v (%v), want nothing", names, err)
	}
}

// TestWriteHolderOnlyIntoLockedFile: the holder is written only into the file that was locked; a
// file put in its place under the same name is left as it is.
func TestWriteHolderOnlyIntoLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	locked, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	h := LockHolder{PID: 42, Command: "iris-helper start", Operation: "start", Since: time.Unix(0, 0).UTC()}
	writeHolder(path, locked, h)
	if b, _ := os.ReadFile(path); string(b) != `{"pid":42,"command":"iris-helper start","operation":"start","since":"1970-01-01T00:00:00Z"}`+"\n" {
		t.Fatalf("locked file holds %q", b)
	}
	// moved aside, not removed: the locked file stays open in real use, so its inode is not reused
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("someone else's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeHolder(path, locked, LockHolder{})
	if b, _ := os.ReadFile(path); string(b) != "someone else's\n" {
		t.Fatalf("the file put in the lock's place holds %q", b)
	}
}
