package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/iris-helper/iris-helper/dockerops/compose"
)

// What a repository's compose file may do on its own (docs/config.md, "What a repository's compose
// file may do on its own"). The compose file and the Dockerfile are code from the repository: an
// auto-start runs them only when their model stays within an allow-list, and anything beyond it is
// listed to the user, who allows exactly those items once per project (consent.go).
//
// Within the list: bind mounts, build contexts (and additional_contexts), env_files, secrets and
// configs files, extends and include files whose paths resolve inside the project folder; named
// volumes without driver_opts. Beyond it: everything else that reaches the host — a path outside
// the folder, privileged, the Docker socket, devices, cap_add, an unconfined security_opt, the
// host's or another container's network/pid/ipc/userns/cgroup namespace, volumes_from.

// ConsentItem is one thing a compose project does beyond the allow-list.
type ConsentItem struct {
	// ID is stable across loads of the same model (what the user allowed is kept by ID):
	// "<rule>:<service or name>:<detail>".
	ID      string `json:"id"`
	Service string `json:"service"` // the service it is about; "" for a top-level item
	Text    string `json:"text"`    // what it does, for the user, e.g. "service iris mounts /home/ada/iris.key (outside the project)"
}

// ComposeConsentError is a start refused because the project's compose model does what a
// repository may not do on its own and the user has not allowed these Items for this Project.
// Front ends word the remedy (RemedyKind RemedyAllowCompose): an explicit start allows them.
type ComposeConsentError struct {
	Project string
	Items   []ConsentItem
}

func (e *ComposeConsentError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the compose project of %s does what a repository's files may not do on their own:", e.Project)
	for _, it := range e.Items {
		b.WriteString("\n  - ")
		b.WriteString(it.Text)
	}
	return b.String()
}

// MissingBindSourceError is a bind mount of a host path outside the project folder that does not
// exist: compose would create it as an empty folder owned by root (five real projects mount
// ~/iris.key), so iris-helper refuses the start instead, whatever the user allowed.
type MissingBindSourceError struct {
	Service string
	Source  string
}

func (e *MissingBindSourceError) Error() string {
	return fmt.Sprintf("service %s mounts %s, which does not exist; compose would create it as a folder owned by root: create it, or remove the mount from the compose file",
		e.Service, e.Source)
}

// FileRefs are the files a compose project's own files name that `docker compose config` does not
// print (it merges them): include and extends files and env_files, found by reading the compose
// files (composefiles.go). Paths are absolute.
type FileRefs struct {
	Includes []string            // included compose files
	Extends  map[string][]string // service → files it extends from
	EnvFiles map[string][]string // service → its env_files
}

// composeItems lists what model m of the project in root does beyond the allow-list, in a stable
// order, or returns *MissingBindSourceError for a bind source outside root that does not exist.
// refs carries the files the model does not show.
func composeItems(root string, m compose.Model, refs FileRefs) ([]ConsentItem, error) {
	in := newInsideChecker(root)
	var items []ConsentItem
	add := func(id, service, text string) {
		items = append(items, ConsentItem{ID: id, Service: service, Text: text})
	}
	outside := func(p string) bool { return !in.inside(p) }

	for _, p := range refs.Includes {
		if outside(p) {
			add("include::"+p, "", fmt.Sprintf("the compose file includes %s (outside the project)", p))
		}
	}
	for _, name := range m.ServiceNames() {
		s := m.Services[name]
		for _, p := range refs.Extends[name] {
			if outside(p) {
				add("extends:"+name+":"+p, name, fmt.Sprintf("service %s extends a service of %s (outside the project)", name, p))
			}
		}
		for _, p := range refs.EnvFiles[name] {
			if outside(p) {
				add("env-file:"+name+":"+p, name, fmt.Sprintf("service %s reads the env file %s (outside the project)", name, p))
			}
		}
		if s.Build != nil {
			if c := s.Build.Context; c != "" && !isRemoteContext(c) && outside(c) {
				add("build-context:"+name+":"+c, name, fmt.Sprintf("service %s builds from %s (outside the project)", name, c))
			}
			for _, k := range sortedKeys(s.Build.AdditionalContexts) {
				c := s.Build.AdditionalContexts[k]
				if isRemoteContext(c) || strings.HasPrefix(c, "service:") {
					continue
				}
				if outside(c) {
					add("build-context:"+name+":"+c, name, fmt.Sprintf("service %s builds with the additional context %s = %s (outside the project)", name, k, c))
				}
			}
		}
		for _, v := range s.Volumes {
			switch v.Type {
			case "bind":
				src := v.Source
				switch {
				case isDockerSocket(src):
					add("docker-socket:"+name+":"+src, name, fmt.Sprintf("service %s mounts the Docker socket %s (control of the Docker engine)", name, src))
				case outside(src):
					if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
						return nil, &MissingBindSourceError{Service: name, Source: src}
					}
					if real := missingKey(src); real != src {
						add("bind:"+name+":"+src, name, fmt.Sprintf("service %s mounts %s, a link to %s (outside the project)", name, src, real))
					} else {
						add("bind:"+name+":"+src, name, fmt.Sprintf("service %s mounts %s (outside the project)", name, src))
					}
				}
			case "npipe":
				add("bind:"+name+":"+v.Source, name, fmt.Sprintf("service %s mounts the named pipe %s", name, v.Source))
			}
		}
		if s.Privileged {
			add("privileged:"+name+":", name, fmt.Sprintf("service %s runs privileged", name))
		}
		if len(s.Devices) > 0 {
			add("devices:"+name+":", name, fmt.Sprintf("service %s uses host devices", name))
		}
		if len(s.CapAdd) > 0 {
			caps := append([]string(nil), s.CapAdd...)
			sort.Strings(caps)
			add("cap-add:"+name+":"+strings.Join(caps, ","), name, fmt.Sprintf("service %s adds the capabilities %s", name, strings.Join(caps, ", ")))
		}
		for _, o := range s.SecurityOpt {
			if unconfined(o) {
				add("security-opt:"+name+":"+o, name, fmt.Sprintf("service %s sets security_opt %s", name, o))
			}
		}
		for _, ns := range []struct{ field, value string }{
			{"network_mode", s.NetworkMode}, {"pid", s.Pid}, {"ipc", s.Ipc}, {"userns_mode", s.UsernsMode}, {"cgroup", s.Cgroup},
		} {
			if sharesNamespace(ns.value) {
				add(ns.field+":"+name+":"+ns.value, name, fmt.Sprintf("service %s uses %s %s", name, ns.field, ns.value))
			}
		}
		if len(s.VolumesFrom) > 0 {
			add("volumes-from:"+name+":"+strings.Join(s.VolumesFrom, ","), name,
				fmt.Sprintf("service %s mounts the volumes of %s", name, strings.Join(s.VolumesFrom, ", ")))
		}
	}
	for _, name := range sortedKeys(m.Volumes) {
		v := m.Volumes[name]
		if len(v.DriverOpts) > 0 {
			opts := make([]string, 0, len(v.DriverOpts))
			for _, k := range sortedKeys(v.DriverOpts) {
				opts = append(opts, k+"="+v.DriverOpts[k])
			}
			add("volume-driver-opts::"+name, "", fmt.Sprintf("volume %s sets driver options %s", name, strings.Join(opts, ", ")))
		}
	}
	for _, top := range []struct {
		what string
		refs map[string]compose.FileRef
	}{{"secret", m.Secrets}, {"config", m.Configs}} {
		for _, name := range sortedKeys(top.refs) {
			if f := top.refs[name].File; f != "" && outside(f) {
				add(top.what+"::"+name, "", fmt.Sprintf("%s %s is the file %s (outside the project)", top.what, name, f))
			}
		}
	}
	return items, nil
}

// isRemoteContext: a build context that is a URL (git, https) is fetched, not read from the host.
func isRemoteContext(c string) bool {
	for _, p := range []string{"http://", "https://", "git://", "git@", "ssh://", "docker-image://", "oci-layout://"} {
		if strings.HasPrefix(c, p) {
			return true
		}
	}
	return false
}

// isDockerSocket tells a mount of a container engine's socket (Docker's or Podman's).
func isDockerSocket(p string) bool {
	base := filepath.Base(p)
	if base == "docker.sock" || base == "podman.sock" || base == "containerd.sock" {
		return true
	}
	return strings.HasSuffix(base, ".sock") && (strings.Contains(p, "docker") || strings.Contains(p, "podman"))
}

// unconfined tells a security_opt that turns a confinement off.
func unconfined(o string) bool {
	o = strings.ToLower(strings.ReplaceAll(o, ":", "="))
	return strings.HasSuffix(o, "=unconfined") || o == "label=disable" || o == "systempaths=unconfined" ||
		strings.HasPrefix(o, "seccomp=unconfined")
}

// sharesNamespace tells a network_mode/pid/ipc/userns_mode/cgroup value that joins the host's or
// another container's namespace.
func sharesNamespace(v string) bool {
	return v == "host" || strings.HasPrefix(v, "container:") || strings.HasPrefix(v, "service:")
}

// insideChecker tells whether a path resolves inside the project folder, links followed: the
// longest existing prefix of the path is resolved (EvalSymlinks) and the rest appended, so that a
// link planted in the project that points out is outside, and a path that does not exist yet is
// judged by where it would be created.
type insideChecker struct{ root, realRoot string }

func newInsideChecker(root string) insideChecker {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		real = root
	}
	return insideChecker{root: filepath.Clean(root), realRoot: real}
}

func (c insideChecker) inside(p string) bool {
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.root, p)
	}
	resolved := missingKey(filepath.Clean(p))
	rel, err := filepath.Rel(c.realRoot, resolved)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}
