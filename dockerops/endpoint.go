package dockerops

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// EndpointInfo says which engine to talk to and why.
type EndpointInfo struct {
	Host   string // e.g. unix:///var/run/docker.sock, tcp://127.0.0.1:2375, npipe:////./pipe/docker_engine
	Source string // "DOCKER_HOST", `docker context "colima"`, or "default"
}

// DefaultHost is the platform's default engine socket.
func DefaultHost() string {
	if runtime.GOOS == "windows" {
		return "npipe:////./pipe/docker_engine"
	}
	return "unix:///var/run/docker.sock"
}

// ResolveEndpoint decides which engine to use, as the docker CLI does: DOCKER_HOST if set;
// else the CLI's current context (DOCKER_CONTEXT, or currentContext in $DOCKER_CONFIG/config.json
// or ~/.docker/config.json) resolved through the context store
// (<config dir>/contexts/meta/<sha256(name)>/meta.json → Endpoints.docker.Host); else the
// platform default socket. A context that is named but cannot be resolved is an error.
func ResolveEndpoint() (EndpointInfo, error) {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return EndpointInfo{Host: h, Source: "DOCKER_HOST"}, nil
	}
	dir, err := dockerConfigDir()
	if err != nil {
		return EndpointInfo{Host: DefaultHost(), Source: "default"}, nil
	}
	name := os.Getenv("DOCKER_CONTEXT")
	if name == "" {
		name, err = currentContext(filepath.Join(dir, "config.json"))
		if err != nil {
			return EndpointInfo{}, err
		}
	}
	if name == "" || name == "default" {
		return EndpointInfo{Host: DefaultHost(), Source: "default"}, nil
	}
	host, err := contextHost(dir, name)
	if err != nil {
		return EndpointInfo{}, err
	}
	return EndpointInfo{Host: host, Source: fmt.Sprintf("docker context %q", name)}, nil
}

func dockerConfigDir() (string, error) {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".docker"), nil
}

func currentContext(configFile string) (string, error) {
	data, err := os.ReadFile(configFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read docker CLI config: %w", err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("read docker CLI config %s: %w (fix the file or set DOCKER_HOST)", configFile, err)
	}
	return cfg.CurrentContext, nil
}

func contextHost(configDir, name string) (string, error) {
	sum := sha256.Sum256([]byte(name))
	meta := filepath.Join(configDir, "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json")
	data, err := os.ReadFile(meta)
	if err != nil {
		return "", fmt.Errorf("docker context %q: %w (run `docker context ls`, or set DOCKER_HOST)", name, err)
	}
	var m struct {
		Endpoints map[string]struct {
			Host string `json:"Host"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return "", fmt.Errorf("docker context %q: read %s: %w", name, meta, err)
	}
	host := m.Endpoints["docker"].Host
	if host == "" {
		return "", fmt.Errorf("docker context %q has no docker endpoint in %s (run `docker context inspect %s`)", name, meta, name)
	}
	return host, nil
}
