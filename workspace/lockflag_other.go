//go:build !unix

package workspace

import "os"

// On Windows there is no O_NOFOLLOW; a lock file is created where it is.
const (
	lockOpenFlags  = os.O_CREATE | os.O_RDWR
	lockWriteFlags = os.O_WRONLY
)

func isLinkRefusal(error) bool { return false }
