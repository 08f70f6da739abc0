package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// How long a start or a stop waits for the per-project lock (ProjectOptions may shorten them).
const (
	DefaultStartLockTimeout = 5 * time.Minute
	DefaultStopLockTimeout  = 60 * time.Second
)

// LockHolder is what the process holding a per-project lock wrote into the lock file.
type LockHolder struct {
	PID       int       `json:"pid"`
	Command   string    `json:"command"`   // its command line
	Operation string    `json:"operation"` // start | stop
	Since     time.Time `json:"since"`     // when it took the lock
}

// ProjectLockError means the per-project lock stayed held by another iris-helper for the whole
// wait. Holder is what the holder wrote into the lock file (zero when it wrote nothing readable).
type ProjectLockError struct {
	Path, Project string
	Operation     string // what waited: start | stop
	Waited        time.Duration
	Holder        LockHolder
}

func (e *ProjectLockError) Error() string {
	who := "another process"
	if e.Holder.PID != 0 {
		who = fmt.Sprintf("process %d (%s, %s since %s)", e.Holder.PID, e.Holder.Command, e.Holder.Operation,
			e.Holder.Since.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("the %s of %s waited %s for the project lock %s, held by %s; wait for it to finish, or end it if it hangs",
		e.Operation, e.Project, e.Waited.Round(time.Second), e.Path, who)
}

// lockProject takes the per-project lock file under the registry home; start and stop of one
// project serialize on it across processes (and within one). It waits at most the operation's
// lock timeout (then *ProjectLockError naming the holder), opens the file without following a
// symbolic link, and records this process as the holder in it.
func (p *Project) lockProject(ctx context.Context, operation string) (func(), error) {
	dir := filepath.Join(p.reg.Home(), "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create lock folder: %w", err)
	}
	// MkdirAll accepts a link to a folder elsewhere; the locks (PID, command line) stay in the home.
	if fi, err := os.Lstat(dir); err != nil {
		return nil, fmt.Errorf("check lock folder: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("the project lock folder %s is %s, not a folder; iris-helper does not follow it: remove it", dir, projfile.Describe(fi.Mode()))
	}
	sum := sha256.Sum256([]byte(p.root.Dir))
	path := filepath.Join(dir, hex.EncodeToString(sum[:4])+".lock")
	timeout := p.opts.StartLockTimeout
	if timeout <= 0 {
		timeout = DefaultStartLockTimeout
	}
	if operation == "stop" {
		if timeout = p.opts.StopLockTimeout; timeout <= 0 {
			timeout = DefaultStopLockTimeout
		}
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	begin := time.Now()
	fl := flock.New(path, flock.SetPermissions(0o600), flock.SetFlag(lockOpenFlags))
	ok, err := fl.TryLockContext(lctx, lockRetryDelay)
	switch {
	case err == nil && ok:
	case isLinkRefusal(err):
		return nil, fmt.Errorf("the project lock %s is a symbolic link; iris-helper does not follow it: remove it", path)
	case ctx.Err() == nil && lctx.Err() != nil:
		return nil, &ProjectLockError{Path: path, Project: p.root.Dir, Operation: operation, Waited: time.Since(begin), Holder: readHolder(path)}
	default:
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("wait for the project lock %s (another iris-helper is starting or stopping %s): %w",
			path, p.root.Dir, err)
	}
	locked, err := fl.Stat() // the locked handle's file: the holder is written into it only
	if err != nil {
		_ = fl.Unlock()
		return nil, fmt.Errorf("project lock %s: %w", path, err)
	}
	writeHolder(path, locked, LockHolder{PID: os.Getpid(), Command: strings.Join(os.Args, " "), Operation: operation, Since: time.Now().UTC()})
	return func() {
		writeHolder(path, locked, LockHolder{})
		_ = fl.Unlock()
	}, nil
}

// writeHolder replaces the content of the lock file locked (found at path) with h (nothing for a
// zero h); best effort. gofrs/flock does not expose its handle, so the file is opened again by name
// without following a link, and written only when it is the very file that was locked.
func writeHolder(path string, locked os.FileInfo, h LockHolder) {
	f, err := os.OpenFile(path, lockWriteFlags, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !os.SameFile(fi, locked) {
		return
	}
	if err := f.Truncate(0); err != nil || h.PID == 0 {
		return
	}
	b, _ := json.Marshal(h)
	_, _ = f.Write(append(b, '\n'))
}

// readHolder is what the lock's holder wrote (zero when nothing readable).
func readHolder(path string) LockHolder {
	var h LockHolder
	data, err := projfile.ReadFile(path, 64*1024, projfile.NoFollow)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return h
	}
	_ = json.Unmarshal(data, &h)
	return h
}
