//go:build windows

package registry

import (
	"errors"
	"os"
	"syscall"
	"time"
)

const isWindows = true

// renameFile replaces newpath with oldpath. On Windows the rename fails while another process has
// newpath open (a reader, an antivirus scanner), so it retries for up to about two seconds.
func renameFile(oldpath, newpath string) error {
	var err error
	delay := time.Millisecond
	deadline := time.Now().Add(2 * time.Second)
	for {
		err = os.Rename(oldpath, newpath)
		if err == nil || !retryableRename(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(delay)
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

func retryableRename(err error) bool {
	const (
		errorAccessDenied     = syscall.Errno(5)
		errorSharingViolation = syscall.Errno(32)
		errorLockViolation    = syscall.Errno(33)
	)
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	return errno == errorAccessDenied || errno == errorSharingViolation || errno == errorLockViolation
}

// syncDir is a no-op on Windows: folders cannot be opened for fsync there; NTFS journals the rename.
func syncDir(string) error { return nil }
