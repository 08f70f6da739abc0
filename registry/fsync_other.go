//go:build !windows

package registry

import "os"

const isWindows = false

// renameFile replaces newpath with oldpath atomically.
func renameFile(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// syncDir fsyncs a folder so that a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
