// Package projfile opens and reads files that come from a project folder, which is untrusted input:
// an open never blocks (a FIFO or device named like a project file is refused, not waited on), never
// follows a planted link where the caller says so, accepts only regular files, and reads at most a
// limit. Every read of a project file goes through it (docs/config.md, "Untrusted project files").
package projfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Limits of the files iris-helper reads from a project.
const (
	ConfigLimit  = 1 << 20  // .iris-helper.json: 1 MiB
	EnvLimit     = 16 << 20 // .env: 16 MiB
	ComposeLimit = 4 << 20  // a compose file, a Dockerfile, an env_file: 4 MiB
)

// Follow says whether the last element of a path may be a symbolic link.
type Follow bool

// Whether Open follows a link in the last element of the path.
const (
	NoFollow    Follow = false
	FollowLinks Follow = true
)

// NotRegularError says that a project path names something other than a regular file: a
// directory, FIFO, socket, device, or (with NoFollow) a symbolic link.
type NotRegularError struct {
	Path string
	Mode fs.FileMode // the type bits found (fs.ModeSymlink for a refused link)
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, Describe(e.Mode))
}

// TooLargeError says that a project file is larger than iris-helper reads.
type TooLargeError struct {
	Path        string
	Size, Limit int64 // Size is at least Limit+1 when the size was found by reading
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %s, more than the %s iris-helper reads", e.Path, FormatSize(e.Size), FormatSize(e.Limit))
}

// Describe names a file type for people: "a directory", "a FIFO (named pipe)", ….
func Describe(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsRegular():
		return "a regular file"
	}
	return "an irregular file"
}

// FormatSize prints a byte count in the largest binary unit that keeps it readable ("16 MiB", "200.0 MiB").
func FormatSize(n int64) string {
	const (
		kib = 1 << 10
		mib = 1 << 20
		gib = 1 << 30
	)
	switch {
	case n >= gib && n%gib == 0:
		return fmt.Sprintf("%d GiB", n/gib)
	case n >= gib:
		return fmt.Sprintf("%.1f GiB", float64(n)/gib)
	case n >= mib && n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	case n >= mib:
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	case n >= kib && n%kib == 0:
		return fmt.Sprintf("%d KiB", n/kib)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Open opens path for reading without blocking and returns it only when it is a regular file.
// With NoFollow a symbolic link in the last element is refused (*NotRegularError with
// fs.ModeSymlink). A missing file gives an error satisfying errors.Is(err, fs.ErrNotExist).
func Open(path string, follow Follow) (*os.File, fs.FileInfo, error) {
	f, err := openNonblock(path, follow)
	if err != nil {
		if isLinkRefusal(err) {
			return nil, nil, &NotRegularError{Path: path, Mode: fs.ModeSymlink}
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Mode: fi.Mode().Type()}
	}
	return f, fi, nil
}

// ReadFile reads a whole regular file of at most limit bytes (see Open). A larger file is a
// *TooLargeError; the read stops at limit+1 bytes whatever the file claims, so a file that grows
// while it is read (or a /proc file that reports size 0) cannot make it allocate more.
func ReadFile(path string, limit int64, follow Follow) ([]byte, error) {
	f, fi, err := Open(path, follow)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, &TooLargeError{Path: path, Size: fi.Size(), Limit: limit}
	}
	size := fi.Size()
	if size <= 0 {
		size = 512
	}
	buf := make([]byte, 0, size+1)
	b, err := readAtMost(f, buf, limit+1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, WithoutPath(err))
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Path: path, Size: int64(len(b)), Limit: limit}
	}
	return b, nil
}

// ReadPrefix reads at most n bytes from the start of a regular file (markers read only as far as
// detection needs).
func ReadPrefix(path string, n int64, follow Follow) ([]byte, error) {
	f, fi, err := Open(path, follow)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The buffer starts at the file's size (+1 to see EOF without growing), so a small file read
	// with a large n costs what it holds, not n.
	b, err := readAtMost(f, make([]byte, 0, min(n, 64<<10, max(fi.Size()+1, 512))), n)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, WithoutPath(err))
	}
	return b, nil
}

// IsRegular reports whether path (following links when follow says so) names a regular file,
// without opening it. A missing path is (false, nil).
func IsRegular(path string, follow Follow) (bool, error) {
	var fi fs.FileInfo
	var err error
	if follow {
		fi, err = os.Stat(path)
	} else {
		fi, err = os.Lstat(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return fi.Mode().IsRegular(), nil
}

func readAtMost(r io.Reader, buf []byte, max int64) ([]byte, error) {
	lr := io.LimitReader(r, max)
	for {
		if int64(len(buf)) >= max {
			return buf, nil // all that may be read: no need to grow the buffer to see EOF
		}
		if len(buf) == cap(buf) {
			next := int64(cap(buf)) * 2
			if next > max {
				next = max
			}
			if next <= int64(cap(buf)) {
				next = int64(cap(buf)) + 512
			}
			nb := make([]byte, len(buf), next)
			copy(nb, buf)
			buf = nb
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// WithoutPath drops an *fs.PathError's or *os.LinkError's own path so that a caller's message names
// the path once.
func WithoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// BOM is the UTF-8 byte-order mark some Windows editors put at the start of a file.
var BOM = []byte{0xEF, 0xBB, 0xBF}

// Within reports whether path is dir or lies below it (case-insensitively on Windows); both are
// clean and absolute, links resolved by the caller.
func Within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
