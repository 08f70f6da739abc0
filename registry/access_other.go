//go:build !unix

package registry

import (
	"bytes"
	"io/fs"
	"os"
)

const readFlags = os.O_RDONLY

func lockFlags() int { return os.O_CREATE | os.O_RDONLY }

func isLinkRefused(error) bool { return false }

// checkHome has nothing to check where POSIX owners and modes do not apply (Windows).
func checkHome(string) error { return nil }

func permissionFix(path string) (culprit, fix string) { return path, "" }

// readRegular reads the regular file path into buf (appending). It returns the mode it found when
// path is not a regular file (and no data).
func readRegular(path string, buf []byte) ([]byte, fs.FileMode, error) {
	f, err := os.OpenFile(path, readFlags, 0)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fi.Mode(), nil
	}
	var b bytes.Buffer
	b.Write(buf)
	if _, err := b.ReadFrom(f); err != nil {
		return nil, 0, err
	}
	return b.Bytes(), 0, nil
}
