//go:build unix

package projfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/workspace/projfile"
)

func TestOpenRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("A=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		follow  projfile.Follow
		want    string // "" = a regular file comes back
		wantErr fs.FileMode
	}{
		{"regular file", regular, projfile.NoFollow, "", 0},
		{"fifo never blocks", fifo, projfile.FollowLinks, fifo + " is a FIFO (named pipe), not a regular file", fs.ModeNamedPipe},
		{"directory", dir, projfile.FollowLinks, dir + " is a directory, not a regular file", fs.ModeDir},
		{"character device", "/dev/null", projfile.FollowLinks, "/dev/null is a character device, not a regular file", fs.ModeDevice | fs.ModeCharDevice},
		{"link refused with NoFollow", link, projfile.NoFollow, link + " is a symbolic link, not a regular file", fs.ModeSymlink},
		{"link followed with FollowLinks", link, projfile.FollowLinks, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			var err error
			go func() {
				defer close(done)
				var f *os.File
				f, _, err = projfile.Open(tc.path, tc.follow)
				if f != nil {
					f.Close()
				}
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Open blocked")
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Open: %v, want a regular file", err)
				}
				return
			}
			var nr *projfile.NotRegularError
			if !errors.As(err, &nr) {
				t.Fatalf("Open: %v, want *NotRegularError", err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("message\n got: %s\nwant: %s", got, tc.want)
			}
			if nr.Mode != tc.wantErr {
				t.Errorf("mode: got %v, want %v", nr.Mode, tc.wantErr)
			}
		})
	}
}

func TestReadFileIsBounded(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2049), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := projfile.ReadFile(big, 2048, projfile.NoFollow)
	if got, want := errString(err), big+" is 2049 bytes, more than the 2 KiB iris-helper reads"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	b, err := projfile.ReadFile(big, 4096, projfile.NoFollow)
	if err != nil || len(b) != 2049 {
		t.Errorf("ReadFile under the limit: %d bytes, %v", len(b), err)
	}
	// /dev/zero claims size 0 and never ends: refused as a device, not read forever.
	if _, err := projfile.ReadFile("/dev/zero", 1<<20, projfile.FollowLinks); err == nil {
		t.Error("/dev/zero was read")
	}
	// A /proc file reports size 0 yet has content: the read is still bounded by the limit.
	if b, err := projfile.ReadFile("/proc/self/status", 16, projfile.FollowLinks); err == nil {
		t.Errorf("read %d bytes of /proc/self/status under a 16-byte limit", len(b))
	}
	if _, err := projfile.ReadFile(filepath.Join(dir, "missing"), 10, projfile.NoFollow); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestReadPrefix(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := projfile.ReadPrefix(p, 4, projfile.NoFollow)
	if err != nil || string(b) != "0123" {
		t.Errorf("ReadPrefix = %q, %v; want \"0123\"", b, err)
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{12: "12 bytes", 2048: "2 KiB", 16 << 20: "16 MiB", 200_000_000: "190.7 MiB", 1 << 30: "1 GiB"} {
		if got := projfile.FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
