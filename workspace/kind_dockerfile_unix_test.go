//go:build unix

package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/iris-helper/iris-helper/workspace/projfile"
	"github.com/iris-helper/iris-helper/workspace/workspacetest"
)

// TestDockerfileKindUnreadable: a Dockerfile that is not a regular file, or is larger than iris-helper
// reads, is an error naming it (never opened to wait on, never followed out of the project).
func TestDockerfileKindUnreadable(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, path string)
		want string
	}{
		{"a FIFO", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Skip("no FIFOs here:", err)
			}
		}, "%s is a FIFO (named pipe), not a regular file"},
		{"a link out of the project", func(t *testing.T, path string) {
			target := filepath.Join(workspacetest.TempDir(t), "Dockerfile")
			if err := os.WriteFile(target, []byte(templateDockerfile), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}, "%s is a symbolic link, not a regular file"},
		{"too large", func(t *testing.T, path string) {
			big := templateDockerfile + strings.Repeat("# padding\n", projfile.ComposeLimit/10+1)
			if err := os.WriteFile(path, []byte(big), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "%s is 4.0 MiB, more than the 4 MiB iris-helper reads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := workspacetest.TempDir(t)
			path := filepath.Join(dir, DockerfileName)
			tc.make(t, path)
			ok, _, err := dockerfileKind(dir)
			want := strings.ReplaceAll(tc.want, "%s", path)
			if err == nil || ok || err.Error() != want {
				t.Errorf("dockerfileKind = %v, %v; want false, %q", ok, err, want)
			}
		})
	}
}
