// Package compose runs the user's Docker Compose (v2 CLI) for compose projects and reads the
// project the way compose itself sees it: the model is the JSON of `docker compose config
// --format json` (interpolation, profiles, extends, include and several files resolved by
// compose), decoded into Model. It is part of dockerops: everything that talks to the engine or
// runs `docker compose` lives there; the rules (which service is IRIS, what a repository's file
// may do on its own, which ports to publish) are workspace's.
package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Model is a compose project as `docker compose config --format json` prints it. Only the fields
// iris-helper reads are decoded; paths are absolute (compose resolves them).
type Model struct {
	Name     string             `json:"name"`
	Services map[string]Service `json:"services"`
	Volumes  map[string]Volume  `json:"volumes"`
	Secrets  map[string]FileRef `json:"secrets"`
	Configs  map[string]FileRef `json:"configs"`
	// Digest is the SHA-256 (hex) of compose's whole output: every field, decoded here or not.
	Digest string `json:"-"`
}

// Service is one service of the model.
type Service struct {
	Image         string   `json:"image"`
	Build         *Build   `json:"build"`
	Ports         []Port   `json:"ports"`
	Expose        []string `json:"expose"`
	ContainerName string   `json:"container_name"`
	Restart       string   `json:"restart"`
	Profiles      []string `json:"profiles"`
	Volumes       []Mount  `json:"volumes"`
	// Host access a repository's file may not take on its own (workspace's allow-list).
	Privileged  bool              `json:"privileged"`
	NetworkMode string            `json:"network_mode"`
	Pid         string            `json:"pid"`
	Ipc         string            `json:"ipc"`
	UsernsMode  string            `json:"userns_mode"`
	Cgroup      string            `json:"cgroup"`
	CapAdd      []string          `json:"cap_add"`
	SecurityOpt []string          `json:"security_opt"`
	Devices     []json.RawMessage `json:"devices"` // strings or objects, by compose version
	VolumesFrom []string          `json:"volumes_from"`
	Secrets     []ServiceFileRef  `json:"secrets"`
	Configs     []ServiceFileRef  `json:"configs"`
	Labels      map[string]string `json:"labels"`
	EnvFile     []EnvFile         `json:"env_file"`
}

// EnvFile is one of a service's env_file entries.
type EnvFile struct {
	Path     string `json:"path"`
	Required bool   `json:"required"`
}

// EnvFiles are the paths of the service's env_files.
func (s Service) EnvFiles() []string {
	out := make([]string, 0, len(s.EnvFile))
	for _, e := range s.EnvFile {
		out = append(out, e.Path)
	}
	return out
}

// Build is a service's build section.
type Build struct {
	Context            string             `json:"context"`
	Dockerfile         string             `json:"dockerfile"`
	DockerfileInline   string             `json:"dockerfile_inline"`
	Args               map[string]*string `json:"args"` // nil value: an arg named without a value
	Target             string             `json:"target"`
	AdditionalContexts map[string]string  `json:"additional_contexts"`
}

// Port is one published (or only exposed) port of a service, as compose normalises it.
type Port struct {
	Target    int    `json:"target"`    // container port
	Published string `json:"published"` // host port ("" = random; may be a range "8000-8010")
	HostIP    string `json:"host_ip"`
	Protocol  string `json:"protocol"` // tcp (default) or udp
	Mode      string `json:"mode"`
}

// PublishedPort is the host port the file pins (0 = random, or a range iris-helper does not
// pin).
func (p Port) PublishedPort() int {
	n, err := strconv.Atoi(p.Published)
	if err != nil || n < 1 || n > 65535 {
		return 0
	}
	return n
}

// Proto is the port's protocol, "tcp" when the file names none.
func (p Port) Proto() string {
	if p.Protocol == "" {
		return "tcp"
	}
	return strings.ToLower(p.Protocol)
}

// Mount is one entry of a service's volumes.
type Mount struct {
	Type     string `json:"type"` // bind, volume, tmpfs, npipe, cluster
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
}

// Volume is a top-level named volume.
type Volume struct {
	Name       string            `json:"name"`
	Driver     string            `json:"driver"`
	DriverOpts map[string]string `json:"driver_opts"`
	External   bool              `json:"external"`
}

// FileRef is a top-level secret or config: a file, an environment variable or external.
type FileRef struct {
	Name        string `json:"name"`
	File        string `json:"file"`
	Environment string `json:"environment"`
	External    bool   `json:"external"`
}

// ServiceFileRef is a service's use of a secret or config.
type ServiceFileRef struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// ParseConfig decodes the output of `docker compose config --format json`.
func ParseConfig(data []byte) (Model, error) {
	var m Model
	if err := json.Unmarshal(data, &m); err != nil {
		return Model{}, fmt.Errorf("read the output of docker compose config: %w", err)
	}
	if m.Services == nil {
		m.Services = map[string]Service{}
	}
	sum := sha256.Sum256(data)
	m.Digest = hex.EncodeToString(sum[:])
	return m, nil
}

// ServiceNames are the model's services, sorted.
func (m Model) ServiceNames() []string {
	names := make([]string, 0, len(m.Services))
	for n := range m.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
