//go:build unix

package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
)

// readFlags open registry.json: never block on a FIFO (the kind is checked with fstat after the open).
const readFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_CLOEXEC

// lockFlags open registry.lock: created if missing, never through a symbolic link, never blocking
// on a FIFO (its kind is checked after the open).
func lockFlags() int {
	flags := os.O_CREATE | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	switch runtime.GOOS {
	case "aix", "solaris", "illumos": // cannot take an exclusive lock on a read-only file (as gofrs/flock)
		return flags | os.O_RDWR
	}
	return flags | os.O_RDONLY
}

// isLinkRefused reports whether an open with O_NOFOLLOW failed because the path is a symbolic link.
func isLinkRefused(err error) bool {
	// Linux and the BSDs say ELOOP; FreeBSD says EMLINK; NetBSD says EFTYPE.
	return errors.Is(err, syscall.ELOOP) || (runtime.GOOS == "freebsd" && errors.Is(err, syscall.EMLINK))
}

func ownerUID(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

func userName(uid int) string {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return ""
	}
	return u.Username
}

// checkHome refuses a home folder that is not the user's: owned by someone other than the
// effective user or root, or writable by group or others.
func checkHome(home string) error {
	fi, err := os.Stat(home)
	if err != nil {
		return fmt.Errorf("registry home: %w; check its permissions or set %s", err, EnvHome)
	}
	if !fi.IsDir() {
		return fmt.Errorf("registry home %s is not a folder; remove it or set %s to a folder", home, EnvHome)
	}
	owner, ok := ownerUID(fi)
	if !ok {
		return nil
	}
	e := &HomeError{Path: home, Mode: fi.Mode(), OwnerUID: owner, UID: os.Geteuid()}
	if !e.WrongOwner() && !e.Writable() {
		return nil
	}
	e.User = userName(e.UID)
	if e.WrongOwner() {
		e.Owner = userName(owner)
	}
	return e
}

// permissionFix finds what denied access to path — the file itself, or its folder when the file
// cannot even be looked at or created — and the command that fixes it: chown when it belongs to
// another user (a file root created under sudo), chmod when it is the user's own.
func permissionFix(path string) (culprit, fix string) {
	culprit = path
	fi, err := os.Lstat(path)
	if err != nil {
		culprit = filepath.Dir(path)
		if fi, err = os.Stat(culprit); err != nil {
			return culprit, ""
		}
	}
	owner, ok := ownerUID(fi)
	if !ok {
		return culprit, ""
	}
	euid := os.Geteuid()
	switch {
	case owner != euid && euid != 0:
		me := nameOr(userName(euid), euid)
		if fi.IsDir() {
			return culprit, "sudo chown -R " + me + " " + shQuote(culprit)
		}
		return culprit, "sudo chown " + me + " " + shQuote(culprit)
	case owner == euid && fi.IsDir() && fi.Mode().Perm()&0o700 != 0o700:
		return culprit, "chmod u+rwx " + shQuote(culprit)
	case owner == euid && !fi.IsDir() && fi.Mode().Perm()&0o600 != 0o600:
		return culprit, "chmod u+rw " + shQuote(culprit)
	}
	return culprit, ""
}

// readRegular reads the regular file path into buf (appending) with plain system calls: open
// (O_NONBLOCK, so that a FIFO cannot block), fstat, read, close — no poller registration, no extra
// read for EOF. It returns the mode it found when path is not a regular file (and no data).
func readRegular(path string, buf []byte) ([]byte, fs.FileMode, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, readFlags, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, 0, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, 0, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fs.ModeIrregular, nil
		}
		return nil, fi.Mode(), nil
	}
	size := int(st.Size)
	if cap(buf)-len(buf) < size+1 {
		buf = append(make([]byte, 0, len(buf)+size+512), buf...)
	}
	for {
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, 0, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
		if len(buf) < cap(buf) && len(buf) >= size {
			break // a short read of a regular file at (or past) its size is its end
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // it grew while we read it
		}
	}
	return buf, 0, nil
}
