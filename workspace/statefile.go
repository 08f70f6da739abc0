package workspace

import (
	"os"
	"path/filepath"
)

// writeFileAtomic writes data to path through a temporary file in the same folder (mode perm,
// synced, renamed over path), so a reader sees the old file or the new one: the one way the files
// iris-helper keeps under IRIS_HELPER_HOME (consent, credentials, readiness, the compose model) are
// written.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(perm)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return err
}
