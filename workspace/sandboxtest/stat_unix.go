//go:build unix

package sandboxtest

import (
	"fmt"
	"io/fs"
	"syscall"
)

func statExtra(fi fs.FileInfo) (owner, inode string) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", ""
	}
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid), fmt.Sprintf("%d:%d nlink=%d", st.Dev, st.Ino, st.Nlink)
}
