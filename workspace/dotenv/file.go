package dotenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// Where the project's .env may be, how it is read and how it is replaced (docs/env.md, "Where
// the file may be" and "How it is written"). A project folder is untrusted input: its
// .iris-helper.json names the file and its .env may be a link, so the file is resolved, checked
// against the project folder and IRIS_HELPER_HOME, read with a bound, and replaced only when the
// replacement keeps what the user would lose otherwise (owner, group, hard links, a newer save).

// Scope says where a project's .env may lie.
type Scope struct {
	// Root is the project folder; the file must resolve inside it. "" = the folder of the .env
	// path itself (library callers without a project).
	Root string
	// Home is IRIS_HELPER_HOME; the file must not resolve into it. "" = not checked.
	Home string
	// AllowOutside lifts both rules: the user's own choice (workspace's knob
	// allowEnvFileOutsideProject), never a project file's.
	AllowOutside bool
}

// OutsideProjectError says that the project's .env resolves outside the project folder or into
// IRIS_HELPER_HOME and the user has not allowed it, or that it is a dangling link whose target
// lies outside the project (never created there, whatever the user allows).
type OutsideProjectError struct {
	Path     string // the .env path as configured (env.file in the project folder)
	Resolved string // where it leads, every link followed
	Root     string // the project folder
	Home     string // IRIS_HELPER_HOME when Resolved lies in it, else ""
	Dangling bool   // a link to a file that does not exist, which iris-helper would have to create
}

// Allowable reports whether AllowOutside would have let the file be written: not for a dangling
// link (nothing makes iris-helper create a file outside the project).
func (e *OutsideProjectError) Allowable() bool { return !e.Dangling }

func (e *OutsideProjectError) Error() string {
	where := e.Path + " leads to " + e.Resolved + ","
	if e.Resolved == e.Path {
		where = e.Path + " is"
	}
	if e.Dangling {
		return fmt.Sprintf("%s which does not exist and lies outside the project folder %s; iris-helper never creates a file outside the project through a link (create the file yourself, or remove the link)",
			where, e.Root)
	}
	place := "outside the project folder " + e.Root
	if e.Home != "" {
		place = "inside IRIS_HELPER_HOME (" + e.Home + ")"
	}
	return fmt.Sprintf("%s %s: iris-helper writes a .env there only when the user allows it", where, place)
}

// NotRegularError says that the project's .env, or what its link leads to, is not a regular
// file (a directory, FIFO, device…): it is neither read nor replaced.
type NotRegularError struct {
	Path   string      // the .env path as configured
	Target string      // what it leads to (= Path without a link)
	Mode   fs.FileMode // the type found
}

func (e *NotRegularError) Error() string {
	what := e.Path + " is " + projfile.Describe(e.Mode)
	if e.Target != e.Path {
		what = e.Path + " leads to " + e.Target + ", " + projfile.Describe(e.Mode)
	}
	return what + ", not a regular file; iris-helper keeps the ports only in a regular file and replaces nothing else " +
		"(move it away, or name another file in .iris-helper.json \"env\": {\"file\"}, or set \"env\": {\"sync\": false})"
}

// Unwrap lets errors.As find the *projfile.NotRegularError of the file found.
func (e *NotRegularError) Unwrap() error {
	return &projfile.NotRegularError{Path: e.Target, Mode: e.Mode}
}

// NotReplacedError says that the .env was left alone because replacing it would lose
// something: its owner or group, or its other hard links.
type NotReplacedError struct {
	Path string // the .env path as configured
	Why  string // e.g. "it has 2 hard links, …"
}

func (e *NotReplacedError) Error() string { return e.Path + " was not updated: " + e.Why }

// KeyNotPortError says that a managed key named in .iris-helper.json holds something other than
// a port number (or an empty value, or a ${…} reference) in the .env: it may be the user's secret,
// so it is never overwritten. The value itself is not repeated.
type KeyNotPortError struct {
	Path  string // the .env file
	Key   string // the key, e.g. DATABASE_URL
	Field string // the .iris-helper.json field that names it, e.g. env.webPort
	Line  int
}

func (e *KeyNotPortError) Error() string {
	return fmt.Sprintf("%s: %s (line %d) holds a value that is not a port number; %s in .iris-helper.json names it, and iris-helper never overwrites such a value (set %s to the key meant for the port, or give %s a port number)",
		e.Path, e.Key, e.Line, e.Field, e.Field, e.Key)
}

// resolved is a resolved .env: the path as configured and the file that holds the bytes.
type resolved struct {
	path    string      // as configured, absolute and clean
	target  string      // every link followed; = path without a link
	viaLink bool        // path is (a chain of) symbolic links
	exists  bool        // target exists
	mode    fs.FileMode // target's type when it exists
}

// canonical resolves the links of the longest existing prefix of p and appends the rest as is.
func canonical(p string) string {
	p = filepath.Clean(p)
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// resolve follows path's links to the file that holds the bytes and checks it against
// scope: inside the project folder and not in IRIS_HELPER_HOME unless the user allows it; a
// dangling link outside the project is refused under sync true (it would create its target), a
// target that exists must be a regular file.
func resolve(path string, mode SyncMode, scope Scope) (resolved, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return resolved{}, fmt.Errorf("%s: %w", path, err)
	}
	f := resolved{path: filepath.Clean(abs)}
	p := f.path
	for hops := 0; ; hops++ {
		if hops > 40 {
			return f, fmt.Errorf("%s: too many levels of symbolic links", f.path)
		}
		p = filepath.Join(canonical(filepath.Dir(p)), filepath.Base(p))
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return f, fmt.Errorf("%s: %w", f.path, projfile.WithoutPath(err))
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			f.exists, f.mode = true, fi.Mode().Type()
			break
		}
		link, err := os.Readlink(p)
		if err != nil {
			return f, fmt.Errorf("%s: %w", f.path, projfile.WithoutPath(err))
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(p), link)
		}
		p, f.viaLink = filepath.Clean(link), true
	}
	f.target = p
	root := scope.Root
	if root == "" {
		root = filepath.Dir(f.path)
	}
	root = canonical(root)
	inside := projfile.Within(f.target, root)
	home := ""
	if scope.Home != "" {
		if h := canonical(scope.Home); projfile.Within(f.target, h) {
			home = h
		}
	}
	switch {
	case f.viaLink && !f.exists && !inside && mode == SyncTrue:
		return f, &OutsideProjectError{Path: f.path, Resolved: f.target, Root: root, Dangling: true}
	case (!inside || home != "") && !scope.AllowOutside:
		return f, &OutsideProjectError{Path: f.path, Resolved: f.target, Root: root, Home: home}
	case f.exists && !f.mode.IsRegular():
		return f, &NotRegularError{Path: f.path, Target: f.target, Mode: f.mode}
	}
	return f, nil
}

// Check says whether the project's .env at path may be synced under scope, before anything else is
// done (ports assigned): whether the file exists, and nil or the *OutsideProjectError,
// *NotRegularError or *projfile.TooLargeError a sync would return. Under sync false nothing is
// checked (and nothing is said to exist).
func Check(scope Scope, path string, mode SyncMode) (exists bool, err error) {
	if mode == SyncFalse {
		return false, nil
	}
	f, err := resolve(path, mode, scope)
	if err != nil || !f.exists {
		return false, err
	}
	if fi, err := os.Lstat(f.target); err == nil && fi.Size() > projfile.EnvLimit {
		return true, &projfile.TooLargeError{Path: f.target, Size: fi.Size(), Limit: projfile.EnvLimit}
	}
	return true, nil
}

// read returns the file's content (nil, false when it does not exist): regular files only,
// never through a link swapped in since the resolution, at most projfile.EnvLimit bytes.
func (f resolved) read() ([]byte, bool, error) {
	b, err := projfile.ReadFile(f.target, projfile.EnvLimit, projfile.NoFollow)
	var nr *projfile.NotRegularError
	switch {
	case err == nil:
		return b, true, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case errors.As(err, &nr) && nr.Mode&fs.ModeSymlink != 0:
		return nil, false, errFileMoved // replaced by a link since it was resolved: resolve again
	case errors.As(err, &nr):
		return nil, false, &NotRegularError{Path: f.path, Target: f.target, Mode: nr.Mode}
	}
	var tl *projfile.TooLargeError
	if errors.As(err, &tl) {
		return nil, false, err // names the file, its size and the limit
	}
	return nil, false, fmt.Errorf("read %s: %w", f.target, projfile.WithoutPath(err))
}

// tempPrefix is the name prefix of the temporary files written beside target: ".env" gives
// ".env.iris-helper-*.tmp", "ports.env" ".ports.env.iris-helper-*.tmp".
func tempPrefix(target string) string {
	base := filepath.Base(target)
	if !strings.HasPrefix(base, ".") {
		base = "." + base
	}
	return base + ".iris-helper-"
}

// staleTempAge is how old a temporary file beside the .env must be before a write removes it: a
// run killed between creating and renaming it left it there.
const staleTempAge = time.Minute

// removeStaleTemps removes the temporary files a killed run left beside target: regular files (a
// link is never followed nor removed) named like ours and older than staleTempAge.
func removeStaleTemps(target string, now time.Time) {
	dir := filepath.Dir(target)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefixes := []string{tempPrefix(target), "." + filepath.Base(target) + ".iris-helper-"} // the second: older versions
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".tmp") || !(strings.HasPrefix(name, prefixes[0]) || strings.HasPrefix(name, prefixes[1])) {
			continue
		}
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) < staleTempAge {
			continue
		}
		_ = os.Remove(p)
	}
}

// errFileMoved means the file changed between reading and replacing it.
var errFileMoved = errors.New("the file changed while it was being updated")

// replace writes data as the file's new content through a temporary file in the target's folder
// and a rename, keeping the permission bits, owner and group (0644 and the process's owner for a
// new file). It refuses with *NotReplacedError when the replacement could not keep the owner
// or group, or when the file has other hard links; with errFileMoved when the file no longer
// holds `before` (or no longer is the file checked) right before the rename. beforeRename, for
// tests, runs between writing the temporary file and that last check.
func (f resolved) replace(data, before []byte, existed bool, beforeRename func()) error {
	removeStaleTemps(f.target, time.Now())
	perm := fs.FileMode(0o644)
	var own owner
	if existed {
		fi, err := os.Lstat(f.target)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return errFileMoved // deleted meanwhile
		case err != nil:
			return fmt.Errorf("update %s: %w", f.target, projfile.WithoutPath(err))
		case !fi.Mode().IsRegular():
			return errFileMoved // the next read says what it is now
		}
		perm = fi.Mode().Perm()
		own = ownerOf(fi)
		if n := hardLinks(fi); n > 1 {
			return &NotReplacedError{Path: f.path, Why: fmt.Sprintf(
				"%s has %d hard links, and replacing it would leave the other names with the old content (make it a single file, or set the ports yourself)", f.target, n)}
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.target), tempPrefix(f.target)+"*.tmp")
	if err != nil {
		return fmt.Errorf("update %s: %w", f.target, projfile.WithoutPath(err))
	}
	tmpName := tmp.Name()
	done := false
	defer func() {
		if !done {
			_ = os.Remove(tmpName)
		}
	}()
	fail := func(err error) error {
		tmp.Close()
		return fmt.Errorf("update %s: write %s: %w", f.target, tmpName, projfile.WithoutPath(err))
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := chmodFile(tmp, perm); err != nil {
		return fail(err)
	}
	if existed {
		if err := own.apply(tmp); err != nil {
			tmp.Close()
			return &NotReplacedError{Path: f.path, Why: fmt.Sprintf(
				"%s belongs to %s, and iris-helper, running as %s, cannot give a replacement the same owner and group (%v); update it as its owner",
				f.target, own, currentOwner(), projfile.WithoutPath(err))}
		}
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("update %s: write %s: %w", f.target, tmpName, projfile.WithoutPath(err))
	}
	if beforeRename != nil {
		beforeRename()
	}
	if !existed {
		// A new file: a hard link never replaces one created meanwhile.
		switch err := os.Link(tmpName, f.target); {
		case err == nil:
			_ = os.Remove(tmpName)
			done = true
			return nil
		case errors.Is(err, fs.ErrExist):
			return errFileMoved
		}
		if _, err := os.Lstat(f.target); !errors.Is(err, fs.ErrNotExist) {
			return errFileMoved
		}
		// no hard links on this file system: rename
	} else if err := f.unchanged(before, own); err != nil {
		return err
	}
	if err := renameRetry(tmpName, f.target); err != nil {
		return fmt.Errorf("update %s: %w", f.target, err)
	}
	done = true
	return nil
}

// unchanged checks, right before the rename, that the target is still a regular file with one
// link, the owner seen before, and the content `before` (compared as it streams, not read whole
// again); errFileMoved otherwise.
func (f resolved) unchanged(before []byte, own owner) error {
	file, fi, err := projfile.Open(f.target, projfile.NoFollow)
	if err != nil {
		return errFileMoved
	}
	defer file.Close()
	if hardLinks(fi) > 1 || ownerOf(fi) != own || fi.Size() != int64(len(before)) {
		return errFileMoved
	}
	buf := make([]byte, 64<<10)
	rest := before
	for {
		n, err := file.Read(buf)
		if n > len(rest) || !bytes.Equal(buf[:n], rest[:n]) {
			return errFileMoved
		}
		rest = rest[n:]
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("update %s: read it again: %w", f.target, projfile.WithoutPath(err))
		}
	}
	if len(rest) != 0 {
		return errFileMoved
	}
	return nil
}
