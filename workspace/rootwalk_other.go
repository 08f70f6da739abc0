//go:build !unix

package workspace

import "os"

// folderStop: on Windows only $HOME (%USERPROFILE%) and drive roots stop the walk; owners and
// modes are not checked.
func folderStop(dir string, _ int) WalkStop {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return StopUnreadable
	}
	return StopNone
}
