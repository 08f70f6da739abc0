//go:build unix

package workspace

import (
	"errors"
	"os"
	"syscall"
)

// lockOpenFlags open a per-project lock file without following a planted symbolic link.
const lockOpenFlags = os.O_CREATE | os.O_RDWR | syscall.O_NOFOLLOW | syscall.O_CLOEXEC

// lockWriteFlags reopen a held lock file to record its holder.
const lockWriteFlags = os.O_WRONLY | syscall.O_NOFOLLOW | syscall.O_CLOEXEC

// isLinkRefusal: O_NOFOLLOW on a symbolic link fails with ELOOP (EMLINK on some BSDs).
func isLinkRefusal(err error) bool {
	return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK)
}
