package dockertest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The stand-in's file system besides its program: Debian's static busybox (package busybox-static,
// installed by scripts/ensure-busybox.sh) as /usr/bin/busybox with the applets below linked to it,
// /bin -> usr/bin and /sbin -> usr/sbin as on Ubuntu, testdata/iris-stub/rootfs (etc/passwd and
// etc/group with irisowner, UID/GID 51773), and the folders IRIS has, owned as in IRIS images.

// ErrNoBusybox is returned when no static busybox is installed (the stand-in image needs it).
var ErrNoBusybox = errors.New("no static busybox at /usr/bin/busybox or /bin/busybox: install Debian's busybox-static (scripts/ensure-busybox.sh)")

// busyboxPaths are where Debian's busybox-static puts the binary.
var busyboxPaths = []string{"/usr/bin/busybox", "/bin/busybox"}

// applets are the busybox commands linked in /usr/bin: what real projects' Dockerfiles and
// scripts run (sh, file and text tools, archive and download tools, id and process tools).
var applets = []string{
	"[", "[[", "ash", "awk", "base64", "basename", "cat", "chgrp", "chmod", "chown", "clear", "cmp", "cp", "cut",
	"date", "dd", "df", "diff", "dirname", "du", "echo", "egrep", "env", "expr", "false", "fgrep", "find",
	"grep", "groups", "gunzip", "gzip", "head", "hostname", "httpd", "id", "install", "kill", "less", "ln", "ls",
	"md5sum", "mkdir", "mktemp", "more", "mv", "nc", "nproc", "patch", "pidof", "printf", "ps", "pwd", "readlink",
	"realpath", "rm", "rmdir", "sed", "seq", "sh", "sha1sum", "sha256sum", "sleep", "sort", "stat", "su", "tail",
	"tar", "tee", "test", "timeout", "touch", "tr", "true", "uname", "uniq", "unzip", "vi", "wc", "wget",
	"which", "whoami", "xargs", "xz", "yes", "zcat",
}

// irisOwner is irisowner's UID and GID in InterSystems images.
const irisOwner = 51773

type entry struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	link     string
	data     []byte
}

// layout is the part of the file system named here (folders and links).
func layout() []entry {
	d := func(name string, mode int64, owner int) entry {
		return entry{name: name, typ: tar.TypeDir, mode: mode, uid: owner, gid: owner}
	}
	l := func(name, target string) entry {
		return entry{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
	}
	es := []entry{
		d("etc", 0o755, 0), d("root", 0o700, 0), d("tmp", 0o1777, 0), d("home", 0o755, 0),
		d("home/irisowner", 0o755, irisOwner), d("home/irisowner/dev", 0o755, irisOwner),
		d("usr", 0o755, 0), d("usr/bin", 0o755, 0), d("usr/sbin", 0o755, 0), d("usr/local", 0o755, 0),
		d("usr/local/bin", 0o755, 0), d("usr/irissys", 0o755, 0), d("usr/irissys/bin", 0o755, 0),
		d("usr/irissys/mgr", 0o775, irisOwner), d("usr/irissys/mgr/user", 0o775, irisOwner),
		d("usr/irissys/csp", 0o775, irisOwner), d("usr/irissys/csp/user", 0o775, irisOwner),
		d("var", 0o755, 0), d("var/tmp", 0o1777, 0),
		l("bin", "usr/bin"), l("sbin", "usr/sbin"),
		l("usr/irissys/bin/iris", "iris-stub"), l("iris-main", "usr/irissys/bin/iris-stub"), l("tini", "usr/irissys/bin/iris-stub"),
	}
	for _, a := range applets {
		es = append(es, l("usr/bin/"+a, "busybox"))
	}
	return es
}

// findBusybox returns the static busybox for goarch.
func findBusybox(goarch string) (string, error) {
	for _, p := range busyboxPaths {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		machine := f.Machine
		f.Close()
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
		if !static {
			return "", fmt.Errorf("%s is dynamically linked (Debian's busybox, not busybox-static): %w", p, ErrNoBusybox)
		}
		if machine != want {
			return "", fmt.Errorf("%s is for %v, the engine runs %s: %w", p, machine, goarch, ErrNoBusybox)
		}
		return p, nil
	}
	return "", ErrNoBusybox
}

// stubSources are the files of the stand-in: its Go sources (tests excluded), the Dockerfile and
// rootfs/**, as paths relative to src, sorted.
func stubSources(src string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if rel != "." && rel != "rootfs" && !strings.HasPrefix(rel, "rootfs/") {
				return filepath.SkipDir
			}
		case strings.HasPrefix(rel, "rootfs/") && d.Type().IsRegular(),
			rel == "Dockerfile", strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go"):
			names = append(names, rel)
		}
		return nil
	})
	slices.Sort(names)
	return names, err
}

// sourceDigest identifies what the image is built from: the engine's architecture, the stand-in's
// sources, busybox and the layout above.
func sourceDigest(src, goarch, busybox string) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, goarch)
	names, err := stubSources(src)
	if err != nil {
		return "", fmt.Errorf("stand-in image sources: %w", err)
	}
	if !slices.Contains(names, "main.go") || !slices.Contains(names, "Dockerfile") {
		return "", fmt.Errorf("stand-in image sources: no main.go and Dockerfile in %s", src)
	}
	for _, name := range append(names, busybox) {
		p := filepath.Join(src, filepath.FromSlash(name))
		if filepath.IsAbs(name) {
			p = name
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("stand-in image sources: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	for _, e := range layout() {
		fmt.Fprintf(h, "%s %c %o %d %d %s\n", e.name, e.typ, e.mode, e.uid, e.gid, e.link)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// layers are the archives the Dockerfile ADDs, one image layer each, as in IRIS images: the
// operating system, the IRIS installation, irisowner's home.
var layers = []string{"base.tar", "iris.tar", "home.tar"}

// layerOf is the archive an entry goes in.
func layerOf(name string) string {
	switch {
	case name == "usr/irissys" || strings.HasPrefix(name, "usr/irissys/") || name == "iris-main" || name == "tini":
		return "iris.tar"
	case name == "home" || strings.HasPrefix(name, "home/"):
		return "home.tar"
	}
	return "base.tar"
}

// rootfsTars is the stand-in's file system as the tar archives of layers, by name: the layout,
// rootfs/** (root's, modes kept), busybox and the program.
func rootfsTars(src, busybox string, program []byte) (map[string][]byte, error) {
	es := layout()
	names, err := stubSources(src)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		rel, ok := strings.CutPrefix(n, "rootfs/")
		if !ok {
			continue
		}
		p := filepath.Join(src, filepath.FromSlash(n))
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		es = append(es, entry{name: rel, typ: tar.TypeReg, mode: int64(st.Mode().Perm()), data: data})
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	es = append(es,
		entry{name: "usr/bin/busybox", typ: tar.TypeReg, mode: 0o755, data: bb},
		entry{name: "usr/irissys/bin/iris-stub", typ: tar.TypeReg, mode: 0o755, data: program})
	bufs := map[string]*bytes.Buffer{}
	tws := map[string]*tar.Writer{}
	for _, l := range layers {
		bufs[l] = new(bytes.Buffer)
		tws[l] = tar.NewWriter(bufs[l])
	}
	for _, e := range es {
		name := e.name
		if e.typ == tar.TypeDir {
			name += "/"
		}
		hdr := &tar.Header{Typeflag: e.typ, Name: name, Linkname: e.link, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			Size: int64(len(e.data)), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		tw := tws[layerOf(e.name)]
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	out := map[string][]byte{}
	for _, l := range layers {
		if err := tws[l].Close(); err != nil {
			return nil, err
		}
		out[l] = bufs[l].Bytes()
	}
	return out, nil
}
