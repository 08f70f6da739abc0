//go:build unix

package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// TestLoadConfigRefusesWhatIsNotARegularFile: .iris-helper.json is read only when it is a regular
// file of at most 1 MiB; anything else is an error naming the file and what it is (or its size and
// the limit), returned at once. (Issue 10: a FIFO .iris-helper.json made every command and
// `initialize` hang; a link to /dev/zero grew memory until the process was killed.)
func TestLoadConfigRefusesWhatIsNotARegularFile(t *testing.T) {
	tests := []struct {
		kind specialKind
		want string // after "read project settings: DIR/.iris-helper.json is "
	}{
		{fifoFile, "a FIFO (named pipe), not a regular file"},
		{socketFile, "a socket, not a regular file"},
		{folderFile, "a directory, not a regular file"},
		{linkToZero, "a character device, not a regular file"},
		{linkToNull, "a character device, not a regular file"},
		{linkToFIFO, "a FIFO (named pipe), not a regular file"},
		{linkToFolder, "a directory, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			dir := tempDir(t)
			path := filepath.Join(dir, ConfigFileName)
			fifos := plantSpecial(t, path, tt.kind)
			var err error
			noHangOnFIFO(t, fifos, func() { _, err = LoadConfig(dir) })
			if got, want := settingsErrText(err), "read project settings: "+path+" is "+tt.want; got != want {
				t.Errorf("LoadConfig error\n got: %s\nwant: %s", got, want)
			}
			var nr *projfile.NotRegularError
			if !errors.As(err, &nr) || nr.Path != path {
				t.Errorf("LoadConfig error %#v is no *projfile.NotRegularError for %s", err, path)
			}
		})
	}
}

// TestLoadConfigSizeLimit: up to 1 MiB is read; beyond, a clear error naming size and limit.
func TestLoadConfigSizeLimit(t *testing.T) {
	settings := `{"image": "intersystemsdc/iris-community"}`
	tests := []struct {
		name string
		size int64  // the file: settings padded with spaces to this size
		want string // "" = loads
	}{
		{"exactly 1 MiB loads", projfile.ConfigLimit, ""},
		{"one byte more is refused", projfile.ConfigLimit + 1, "is 1.0 MiB, more than the 1 MiB iris-helper reads"},
		{"2 MiB is refused", 2 << 20, "is 2 MiB, more than the 1 MiB iris-helper reads"},
		{"a sparse 1 GiB file is refused without reading it", 1 << 30, "is 1 GiB, more than the 1 MiB iris-helper reads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tempDir(t)
			path := filepath.Join(dir, ConfigFileName)
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			pad := min(tt.size, 4<<20) - int64(len(settings))
			if _, err := f.WriteString(settings + strings.Repeat(" ", int(pad))); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(tt.size); err != nil { // sparse beyond 4 MiB (zero bytes)
				t.Fatal(err)
			}
			f.Close()
			cfg, err := LoadConfig(dir)
			if tt.want == "" {
				if err != nil || cfg.Image != "intersystemsdc/iris-community" {
					t.Fatalf("LoadConfig = %+v, %v; want the image read", cfg, err)
				}
				return
			}
			if got, want := settingsErrText(err), "read project settings: "+path+" "+tt.want; got != want {
				t.Errorf("LoadConfig error\n got: %s\nwant: %s", got, want)
			}
			var tl *projfile.TooLargeError
			if !errors.As(err, &tl) {
				t.Fatalf("LoadConfig error %#v, want a *projfile.TooLargeError", err)
			}
			rpctest.Check(t, "*projfile.TooLargeError", rpctest.Want("size", tl.Size, tt.size), rpctest.Want("limit", tl.Limit, projfile.ConfigLimit))
		})
	}
}

// TestLoadConfigFollowsALinkToARegularFile: a settings file kept elsewhere in the repository and
// linked is read as before.
func TestLoadConfigFollowsALinkToARegularFile(t *testing.T) {
	dir := tempDir(t)
	writeTree(t, dir, map[string]string{"config/iris-helper.json": `{"iris": {"namespace": "DEMO"}}`})
	if err := os.Symlink(filepath.Join("config", "iris-helper.json"), filepath.Join(dir, ConfigFileName)); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatalf("LoadConfig through a link: %v", err)
	}
	rpctest.Check(t, "LoadConfig through a link", rpctest.Want("namespace", cfg.Namespace(), "DEMO"), rpctest.Want("path", cfg.Path, filepath.Join(dir, ConfigFileName)))
}

// TestOpenProjectDoesNotHangOnSpecialFiles: what every command and the editor's `initialize` do
// first (FindRoot + LoadConfig) returns at once when the project holds FIFOs: as an error for a FIFO
// .iris-helper.json in the root, and as no marker for the others.
func TestOpenProjectDoesNotHangOnSpecialFiles(t *testing.T) {
	base := tempDir(t)
	t.Setenv("HOME", filepath.Join(base, "home"))
	t.Setenv("IRIS_HELPER_HOME", filepath.Join(base, "iris-helper-home"))
	tree := filepath.Join(base, "tree")
	writeTree(t, tree, map[string]string{".git/": "", "module.xml": "<Export/>", "app/src/": ""})
	var fifos []string
	for _, name := range []string{".env", "docker-compose.yml", "compose.yaml", "Dockerfile"} {
		fifos = append(fifos, plantSpecial(t, filepath.Join(tree, name), fifoFile)...)
		fifos = append(fifos, plantSpecial(t, filepath.Join(tree, "app", name), fifoFile)...)
	}
	var p *Project
	var err error
	noHangOnFIFO(t, fifos, func() {
		p, err = OpenProject(context.Background(), filepath.Join(tree, "app", "src"), ProjectOptions{})
	})
	if err != nil {
		t.Fatalf("OpenProject: %v", err)
	}
	if r := p.Root(); r != (Root{Dir: tree, Marker: "module.xml", IsIrisProject: true}) {
		t.Errorf("root %+v, want %s by module.xml", r, tree)
	}
	fifos = append(fifos, plantSpecial(t, filepath.Join(tree, ConfigFileName), fifoFile)...)
	noHangOnFIFO(t, fifos, func() { _, err = OpenProject(context.Background(), tree, ProjectOptions{}) })
	want := "read project settings: " + filepath.Join(tree, ConfigFileName) + " is a FIFO (named pipe), not a regular file"
	if got := settingsErrText(err); got != want {
		t.Errorf("OpenProject error\n got: %s\nwant: %s", got, want)
	}
}

func settingsErrText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
