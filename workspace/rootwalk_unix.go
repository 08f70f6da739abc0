//go:build unix

package workspace

import (
	"os"
	"syscall"
)

// folderStop: a folder someone other than the user or root may write to is not the user's.
// Group write is allowed (with per-user groups, umask 002 makes every folder group-writable).
func folderStop(dir string, uid int) WalkStop {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return StopUnreadable
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return StopWritableByOthers
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && uid >= 0 && int(st.Uid) != uid && st.Uid != 0 {
		return StopNotOwned
	}
	return StopNone
}
