package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// Operations an *AccessError names.
const (
	OpRead   = "read"   // registry.json
	OpLock   = "lock"   // registry.lock
	OpWrite  = "write"  // a temp file in the home, renamed over registry.json
	OpConfig = "config" // config.json (the range settings)
)

// AccessError says that a registry file could not be opened, read or written because of its
// permissions or its kind (a directory, a link, a FIFO where a file belongs), not because of its
// content. Nothing was moved aside or changed: a registry.json that cannot be read is never
// treated as corrupt.
type AccessError struct {
	Op   string      // OpRead, OpLock, OpWrite or OpConfig
	Path string      // the file iris-helper tried to open (for OpWrite: the home folder)
	Err  error       // the system error (errors.Is(err, fs.ErrPermission) for a permission problem)
	Kind fs.FileMode // the type found when Path is not a regular file (fs.ModeDir, fs.ModeSymlink, ...); 0 otherwise
	// For a permission problem: the file or folder whose owner or mode is the cause (Path or its
	// folder), and the exact command that fixes it ("" when no command is known, e.g. on Windows).
	Culprit string
	Fix     string
}

func (e *AccessError) Unwrap() error { return e.Err }

func (e *AccessError) Error() string {
	var b strings.Builder
	switch e.Op {
	case OpLock:
		fmt.Fprintf(&b, "cannot open the registry lock %s: ", e.Path)
	case OpWrite:
		fmt.Fprintf(&b, "cannot write the port registry in %s: ", e.Path)
	case OpConfig:
		fmt.Fprintf(&b, "cannot read the registry settings %s: ", e.Path)
	default:
		fmt.Fprintf(&b, "cannot read the port registry %s: ", e.Path)
	}
	switch {
	case e.Kind&fs.ModeSymlink != 0:
		b.WriteString("it is a symbolic link, which iris-helper does not follow")
	case e.Kind != 0:
		fmt.Fprintf(&b, "it is %s, not a file", DescribeKind(e.Kind))
	default:
		b.WriteString(errText(e.Err))
	}
	if e.Op == OpRead || e.Op == OpConfig {
		b.WriteString("; it was left as it is")
	}
	switch {
	case e.Kind&fs.ModeSymlink != 0:
		b.WriteString("; remove the link and try again")
	case e.Kind&fs.ModeDir != 0:
		b.WriteString("; remove the directory and try again")
	case e.Kind != 0:
		b.WriteString("; remove it and try again")
	case e.Fix != "":
		fmt.Fprintf(&b, "; run '%s' and try again", e.Fix)
	case e.Culprit != "":
		fmt.Fprintf(&b, "; check the owner and permissions of %s and try again", e.Culprit)
	default:
		b.WriteString("; check its owner and permissions and try again")
	}
	return b.String()
}

// errText is the system error without the path a *fs.PathError repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// DescribeKind names a file type for people, in the words every iris-helper message uses: the
// same table as workspace/projfile.Describe (registry is a leaf and cannot import it; a workspace
// test holds the two, and the extension's describeKind, to the same words).
func DescribeKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsRegular():
		return "a regular file"
	}
	return "an irregular file"
}

// accessError builds the *AccessError for a failed open, read or write of path. It returns nil
// when err is not an access problem (the caller reports it as it is).
func accessError(op, path string, err error) *AccessError {
	var pe *fs.PathError
	errno := err
	if errors.As(err, &pe) {
		errno = pe.Err
	}
	e := &AccessError{Op: op, Path: path, Err: errno}
	switch {
	case isLinkRefused(errno):
		e.Kind = fs.ModeSymlink
	case errors.Is(errno, syscall.EISDIR):
		e.Kind = fs.ModeDir
	case errors.Is(errno, fs.ErrPermission):
		e.Culprit, e.Fix = permissionFix(path)
	default:
		return nil
	}
	return e
}

// notRegular is the *AccessError for a path that is there but is not a regular file.
func notRegular(op, path string, mode fs.FileMode) *AccessError {
	kind := mode.Type()
	if kind == 0 {
		kind = fs.ModeIrregular
	}
	return &AccessError{Op: op, Path: path, Err: fmt.Errorf("not a regular file (%s)", DescribeKind(kind)), Kind: kind}
}

// HomeError says that the registry home is not safe to use: it is owned by someone other than the
// effective user or root, or group or others may write to it (another user could plant a link or
// a file that iris-helper would trust). Unix only.
type HomeError struct {
	Path     string
	Mode     fs.FileMode // the folder's mode
	OwnerUID int
	Owner    string // the owner's user name, "" when unknown
	UID      int    // the effective user
	User     string // its user name, "" when unknown
}

// WrongOwner reports whether the folder belongs to someone other than the effective user or root.
func (e *HomeError) WrongOwner() bool { return e.OwnerUID != e.UID && e.OwnerUID != 0 }

// Writable reports whether group or others may write to the folder.
func (e *HomeError) Writable() bool { return e.Mode.Perm()&0o022 != 0 }

// Commands are the exact shell commands that make the folder safe, in order.
func (e *HomeError) Commands() []string {
	var cmds []string
	if e.WrongOwner() {
		if e.UID == 0 {
			cmds = append(cmds, "chown root "+shQuote(e.Path))
		} else {
			cmds = append(cmds, "sudo chown "+nameOr(e.User, e.UID)+" "+shQuote(e.Path))
		}
	}
	if e.Writable() {
		cmds = append(cmds, "chmod go-w "+shQuote(e.Path))
	}
	return cmds
}

func (e *HomeError) Error() string {
	var why []string
	if e.WrongOwner() {
		owner := fmt.Sprintf("uid %d", e.OwnerUID)
		if e.Owner != "" {
			owner = fmt.Sprintf("%s (uid %d)", e.Owner, e.OwnerUID)
		}
		if e.UID == 0 {
			why = append(why, fmt.Sprintf("is owned by %s, not by root", owner))
		} else {
			why = append(why, fmt.Sprintf("is owned by %s, not by you (%s) or root", owner, nameOr(e.User, e.UID)))
		}
	}
	if e.Writable() {
		who := "its group and others"
		switch {
		case e.Mode.Perm()&0o002 == 0:
			who = "its group"
		case e.Mode.Perm()&0o020 == 0:
			who = "others"
		}
		why = append(why, fmt.Sprintf("is writable by %s (mode %s)", who, e.Mode))
	}
	remedy := fmt.Sprintf("run '%s' and try again", strings.Join(e.Commands(), "' and '"))
	if e.UID == 0 && e.WrongOwner() {
		// Most likely `sudo -E` with the user's home: taking the folder over would lock its owner out.
		remedy = fmt.Sprintf("run iris-helper as %s instead (not with sudo -E), or %s", nameOr(e.Owner, e.OwnerUID), remedy)
	}
	return fmt.Sprintf("registry home %s %s: another user could plant files in it that iris-helper would trust; "+
		"%s, or set %s to a folder of your own", e.Path, strings.Join(why, " and "), remedy, EnvHome)
}

func nameOr(name string, uid int) string {
	if name != "" {
		return name
	}
	return fmt.Sprint(uid)
}

// shQuote quotes s for a POSIX shell when it needs quoting.
func shQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-+:@%,=", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// makeHome creates the home folder 0700 (whatever the umask) when it does not exist, then checks
// that it is the user's (checkHome).
func makeHome(home string) error {
	err := os.Mkdir(home, 0o700)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(home, 0o700); err == nil {
			err = os.Chmod(home, 0o700)
		}
	} else if err == nil {
		err = os.Chmod(home, 0o700)
	} else if errors.Is(err, fs.ErrExist) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("create registry home %s: %w; check its permissions or set %s", home, err, EnvHome)
	}
	return checkHome(home)
}
