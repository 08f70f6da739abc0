// Package sandboxtest snapshots a folder that a test keeps OUTSIDE the project under test and
// asserts that nothing in it changed: every entry's type, permission bits, owner, group, inode
// and link count (Unix), modification time, link target and content, byte for byte. Hostile
// project files (an env.file naming ../outside.env, a .env link to ~/.profile) must leave it as it
// was (issue 10, rule 1).
package sandboxtest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Entry is what the snapshot records of one path.
type Entry struct {
	Mode    fs.FileMode // type and permission bits (Lstat: a link is a link)
	Owner   string      // "uid:gid" on Unix, "" elsewhere
	Inode   string      // "dev:ino nlink=N" on Unix: a replaced file (rename over it) changes it
	ModTime time.Time
	Link    string // a symbolic link's target as written
	Content []byte // a regular file's bytes
}

// Snapshot is the state of a folder tree, by path relative to its root.
type Snapshot struct {
	Root    string
	Entries map[string]Entry
}

// Take records dir and everything under it (links are recorded, not followed).
func Take(t testing.TB, dir string) Snapshot {
	t.Helper()
	s := Snapshot{Root: dir, Entries: map[string]Entry{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := Entry{Mode: fi.Mode(), ModTime: fi.ModTime()} // a folder's too: a temp file made and removed in it shows
		e.Owner, e.Inode = statExtra(fi)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if e.Content, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(dir, p)
		s.Entries[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return s
}

// AssertUnchanged takes the folder again and fails the test, naming every difference, unless it
// is exactly as recorded.
func (s Snapshot) AssertUnchanged(t testing.TB) {
	t.Helper()
	if diffs := s.Diff(Take(t, s.Root)); len(diffs) > 0 {
		t.Errorf("the sandbox outside the project %s changed:\n  %s", s.Root, strings.Join(diffs, "\n  "))
	}
}

// Diff lists the differences from s to now, one line each, sorted by path.
func (s Snapshot) Diff(now Snapshot) []string {
	var diffs []string
	for p, was := range s.Entries {
		is, ok := now.Entries[p]
		switch {
		case !ok:
			diffs = append(diffs, p+": removed")
		case was.Mode != is.Mode:
			diffs = append(diffs, fmt.Sprintf("%s: mode %v, was %v", p, is.Mode, was.Mode))
		case was.Owner != is.Owner:
			diffs = append(diffs, fmt.Sprintf("%s: owner %s, was %s", p, is.Owner, was.Owner))
		case was.Inode != is.Inode:
			diffs = append(diffs, fmt.Sprintf("%s: inode %s, was %s (replaced)", p, is.Inode, was.Inode))
		case was.Link != is.Link:
			diffs = append(diffs, fmt.Sprintf("%s: link to %q, was %q", p, is.Link, was.Link))
		case !bytes.Equal(was.Content, is.Content):
			diffs = append(diffs, fmt.Sprintf("%s: content %q, was %q", p, clip(is.Content), clip(was.Content)))
		case !was.ModTime.Equal(is.ModTime):
			diffs = append(diffs, fmt.Sprintf("%s: modified at %v, was %v", p, is.ModTime, was.ModTime))
		}
	}
	for p := range now.Entries {
		if _, ok := s.Entries[p]; !ok {
			diffs = append(diffs, p+": created")
		}
	}
	sort.Strings(diffs)
	return diffs
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// WriteTree creates files under dir, their folders included: a name ending in "/" is a folder, any
// other gets its content (mode 0644).
func WriteTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
