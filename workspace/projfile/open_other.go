//go:build !unix

package projfile

import (
	"io/fs"
	"os"
)

var errLink = &fs.PathError{Op: "open", Err: fs.ErrInvalid}

// On Windows there is no O_NONBLOCK or O_NOFOLLOW: the link check is an Lstat before the open, and
// the regular-file check after it is the one that matters (docs/config.md).
func openNonblock(path string, follow Follow) (*os.File, error) {
	if !follow {
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, errLink
		}
	}
	return os.Open(path)
}

func isLinkRefusal(err error) bool { return err == errLink }
