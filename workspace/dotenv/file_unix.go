//go:build unix

package dotenv

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// owner is a file's owner and group (Unix).
type owner struct{ uid, gid int }

func ownerOf(fi fs.FileInfo) owner {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return owner{int(st.Uid), int(st.Gid)}
	}
	return owner{-1, -1}
}

func hardLinks(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// apply gives f this owner and group; nothing to do when f has them already (the usual case: the
// user's own file, written by the user).
func (o owner) apply(f *os.File) error {
	if o.uid < 0 {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if ownerOf(fi) == o {
		return nil
	}
	return f.Chown(o.uid, o.gid)
}

func (o owner) String() string {
	u := strconv.Itoa(o.uid)
	if x, err := user.LookupId(u); err == nil {
		u = x.Username + " (uid " + u + ")"
	} else {
		u = "uid " + u
	}
	g := strconv.Itoa(o.gid)
	if x, err := user.LookupGroupId(g); err == nil {
		g = x.Name + " (gid " + g + ")"
	} else {
		g = "gid " + g
	}
	return fmt.Sprintf("user %s, group %s", u, g)
}

func currentOwner() string {
	return fmt.Sprintf("uid %d", os.Geteuid())
}

func chmodFile(f *os.File, perm fs.FileMode) error { return f.Chmod(perm) }
