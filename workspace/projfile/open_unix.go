//go:build unix

package projfile

import (
	"errors"
	"os"
	"syscall"
)

func openNonblock(path string, follow Follow) (*os.File, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if !follow {
		flags |= syscall.O_NOFOLLOW
	}
	return os.OpenFile(path, flags, 0)
}

// isLinkRefusal: O_NOFOLLOW on a symbolic link fails with ELOOP (EMLINK on some BSDs, EFTYPE on NetBSD).
func isLinkRefusal(err error) bool {
	return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK)
}
