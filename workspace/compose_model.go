package workspace

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/compose"
	"github.com/iris-helper/iris-helper/workspace/dockerfile"
	"github.com/iris-helper/iris-helper/workspace/dotenv"
	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// The compose model: what `docker compose config --format json` says of the project, loaded by a
// child process (dockerops/compose) off the start path (when the project is opened by a watch,
// and again when a file it reads changes) and cached; a status never spawns a process.

// composeModel is one load of a compose project's model, with what the rules made of it.
type composeModel struct {
	files   []string      // the compose files, in compose's order (absolute)
	model   compose.Model // as compose sees it, from the project's files as written
	service string        // the IRIS service ("" when none)
	// serviceNote says which service was chosen when several qualify, and how to choose another.
	serviceNote string
	hash        string   // digest of the model (drift: a container started from another one)
	envFile     string   // the filtered copy of the project's .env passed as --env-file ("" none)
	childEnv    []string // the children's environment: the helper's without the managed keys
	interp      []string // the interpolation environment as KEY=VALUE (allow-list)
	// containerPortKeys are managed .env keys the compose files use as a container port (e.g.
	// "52773:${IRIS_WEB_PORT:-52773}"): iris-helper does not write them.
	containerPortKeys []string
	inputs            []string  // the files the model was read from (watched): compose files, .env, env_files, Dockerfiles
	loadedAt          time.Time // when it was loaded
}

// ComposeNoServiceError means a compose project has no service iris-helper takes for IRIS.
type ComposeNoServiceError struct {
	Project  string
	Files    []string
	Services []string
	Wanted   string // the service named in .iris-helper.json, when that one is missing
}

func (e *ComposeNoServiceError) Error() string {
	if e.Wanted != "" {
		return fmt.Sprintf("%s: compose.service %q is not a service of the compose project (services: %s)",
			filepath.Join(e.Project, ConfigFileName), e.Wanted, strings.Join(e.Services, ", "))
	}
	return fmt.Sprintf("the compose project of %s (%s) has no IRIS service: no service runs an IRIS image, exposes 52773 or 1972, or is named iris (services: %s)",
		e.Project, strings.Join(e.Files, ", "), strings.Join(e.Services, ", "))
}

// composeFileVars reads COMPOSE_FILE and COMPOSE_PATH_SEPARATOR as compose does: the
// environment's, else the project .env's.
func composeFileVars(envContent []byte) (file, sep string) {
	vals, _ := godotenv.UnmarshalBytes(envContent)
	file, sep = os.Getenv("COMPOSE_FILE"), os.Getenv("COMPOSE_PATH_SEPARATOR")
	if file == "" {
		file = vals["COMPOSE_FILE"]
	}
	if sep == "" {
		sep = vals["COMPOSE_PATH_SEPARATOR"]
	}
	return file, sep
}

// readProjectEnv is the project's .env content (nil when none or refused: a .env the rules refuse
// is not read for the model either).
func readProjectEnv(path string) []byte {
	b, err := projfile.ReadFile(path, projfile.EnvLimit, projfile.FollowLinks)
	if err != nil {
		return nil
	}
	return b
}

// composeFiles are the compose files of the project in root: .iris-helper.json's compose.files,
// else the ones compose itself picks (compose.ErrNoFile when none).
func composeFiles(root string, cfg Config, envContent []byte) ([]string, error) {
	if len(cfg.Compose.Files) > 0 {
		out := make([]string, len(cfg.Compose.Files))
		for i, f := range cfg.Compose.Files {
			out[i] = filepath.Join(root, f)
		}
		return out, nil
	}
	file, sep := composeFileVars(envContent)
	return compose.DefaultFiles(root, file, sep)
}

// managedEnvKeys are the .env keys iris-helper writes ports and the host into: they are removed
// from the interpolation environment of the model, so the ports iris-helper writes never feed back
// into the choice of ports.
func managedEnvKeys(cfg Config, envContent []byte) []string {
	k := dotenv.ResolveKeys(cfg.Env.Names, envContent)
	var out []string
	for _, n := range []string{k.Host, k.Superserver, k.Web} {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

var envKeyLine = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=`)

// filterEnv is the .env content without the lines that assign one of keys.
func filterEnv(content []byte, keys []string) []byte {
	drop := map[string]bool{}
	for _, k := range keys {
		drop[k] = true
	}
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(content, []byte("\n")) {
		if m := envKeyLine.FindSubmatch(line); m != nil && drop[string(m[1])] {
			continue
		}
		out.Write(line)
	}
	return out.Bytes()
}

// childEnv is the helper's environment without keys.
func childEnv(keys []string) []string {
	drop := map[string]bool{}
	for _, k := range keys {
		drop[k] = true
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return out
}

// composeStateDir is where iris-helper keeps a compose project's files: the filtered .env and the
// override, under IRIS_HELPER_HOME (never in the project tree).
func composeStateDir(home, root string) string {
	return filepath.Join(home, "compose", dockerops.ProjectHash(root))
}

// writeStateFile writes data to path (0600), its folder made (0700) when missing.
func writeStateFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}

// composeInputs is what a load starts from: the files, the filtered .env (written under
// IRIS_HELPER_HOME) and the environments.
func composeInputs(root, home string, cfg Config, write bool) (*composeModel, error) {
	envPath := cfg.EnvPath(root)
	envContent := readProjectEnv(envPath)
	files, err := composeFiles(root, cfg, envContent)
	if err != nil {
		return nil, err
	}
	keys := managedEnvKeys(cfg, envContent)
	cm := &composeModel{files: files, childEnv: childEnv(keys), loadedAt: time.Now()}
	cm.inputs = append(append([]string{}, files...), envPath)
	filtered := filterEnv(envContent, keys)
	if envContent != nil {
		cm.envFile = filepath.Join(composeStateDir(home, root), "env")
	}
	if envContent != nil && write {
		if err := writeStateFile(cm.envFile, filtered); err != nil {
			return nil, fmt.Errorf("write the interpolation environment of %s: %w", root, err)
		}
	}
	vals, _ := godotenv.UnmarshalBytes(filtered)
	for _, kv := range cm.childEnv {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := vals[k]; !ok {
			cm.interp = append(cm.interp, kv)
		}
	}
	for k, v := range vals {
		cm.interp = append(cm.interp, k+"="+v)
	}
	return cm, nil
}

// loadComposeModel runs `docker compose config` for the project in root and applies the rules:
// the files, the filtered interpolation environment, the IRIS service. The outcome is kept under
// IRIS_HELPER_HOME (cachedComposeModel reads it back while no input changed).
func loadComposeModel(ctx context.Context, cli *compose.CLI, root, home string, cfg Config) (*composeModel, error) {
	cm, err := composeInputs(root, home, cfg, true)
	if err != nil {
		return nil, err
	}
	p := compose.Project{Dir: root, Files: cm.files, EnvFile: cm.envFile, Env: cm.childEnv}
	m, err := cli.Config(ctx, p)
	if err != nil {
		return nil, err // names the command and files, with compose's message
	}
	cm.model = m
	cm.hash = m.Digest[:12]
	for _, s := range m.Services {
		if s.Build != nil && s.Build.Context != "" && s.Build.DockerfileInline == "" {
			cm.inputs = append(cm.inputs, dockerfilePath(*s.Build))
		}
		cm.inputs = append(cm.inputs, s.EnvFiles()...)
	}
	cm.inputs = append(cm.inputs, composeRefInputs(root, cm)...) // include, extends, env_file (compose_watch.go)
	cm.containerPortKeys = containerPortKeys(cm.files, managedEnvKeys(cfg, readProjectEnv(cfg.EnvPath(root))))
	cm.service, cm.serviceNote, err = chooseIRISService(root, cm.files, m, cfg.Compose.Service)
	if err != nil {
		return cm, err
	}
	saveModelCache(home, root, cfg, cm)
	return cm, nil
}

// modelCacheVersion changes when the cache's meaning does.
const modelCacheVersion = 1

// modelCache is a load's outcome kept in $IRIS_HELPER_HOME/compose/<8 hex>/model.json, so that
// another process (the CLI's status and start) needs no compose child while nothing it was read
// from changed: the same inputs (size and modification time), the same settings, and the same
// values of the environment variables the compose files name.
type modelCache struct {
	Version     int                  `json:"version"`
	Project     string               `json:"project"`
	Key         string               `json:"key"` // digest of the settings and the environment the files name
	Stamps      map[string]fileStamp `json:"stamps"`
	Files       []string             `json:"files"`
	Inputs      []string             `json:"inputs"`
	Service     string               `json:"service"`
	ServiceNote string               `json:"serviceNote"`
	Digest      string               `json:"digest"`
	Model       compose.Model        `json:"model"`
}

type fileStamp struct {
	Size    int64 `json:"size"` // -1: missing
	ModTime int64 `json:"modTime"`
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{Size: -1}
	}
	return fileStamp{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
}

var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// cacheKey digests what decides a model besides the files' contents: the settings that choose
// files and service, and the values of the variables the compose files name (plus COMPOSE_*).
func cacheKey(cfg Config, files []string, interp []string) string {
	names := map[string]bool{}
	for _, f := range files {
		b, err := projfile.ReadFile(f, projfile.ConfigLimit, projfile.FollowLinks)
		if err != nil {
			continue
		}
		for _, m := range varRef.FindAllSubmatch(b, -1) {
			names[string(m[1])] = true
		}
	}
	var kv []string
	for _, e := range interp {
		k, _, _ := strings.Cut(e, "=")
		if names[k] || strings.HasPrefix(k, "COMPOSE_") {
			kv = append(kv, e)
		}
	}
	sort.Strings(kv)
	h := sha256.New()
	fmt.Fprintf(h, "%q\n%q\n", cfg.Compose.Files, cfg.Compose.Service)
	for _, e := range kv {
		fmt.Fprintf(h, "%q\n", e)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func modelCachePath(home, root string) string {
	return filepath.Join(composeStateDir(home, root), "model.json")
}

// saveModelCache keeps cm for other processes (best effort).
func saveModelCache(home, root string, cfg Config, cm *composeModel) {
	mc := modelCache{Version: modelCacheVersion, Project: root, Key: cacheKey(cfg, cm.files, cm.interp), Stamps: map[string]fileStamp{},
		Files: cm.files, Inputs: cm.inputs, Service: cm.service, ServiceNote: cm.serviceNote, Digest: cm.model.Digest, Model: cm.model}
	for _, f := range cm.inputs {
		mc.Stamps[f] = stampOf(f)
	}
	b, err := json.Marshal(mc)
	if err == nil {
		_ = writeStateFile(modelCachePath(home, root), b)
	}
}

// cachedComposeModel is the model a load kept, when nothing it was read from changed since; nil
// otherwise. It spawns no process.
func cachedComposeModel(root, home string, cfg Config) *composeModel {
	b, err := projfile.ReadFile(modelCachePath(home, root), 64<<20, projfile.NoFollow)
	if err != nil {
		return nil
	}
	var mc modelCache
	if json.Unmarshal(b, &mc) != nil || mc.Version != modelCacheVersion || mc.Project != root || len(mc.Digest) < 12 {
		return nil
	}
	cm, err := composeInputs(root, home, cfg, false)
	if err != nil || !slices.Equal(cm.files, mc.Files) || cacheKey(cfg, cm.files, cm.interp) != mc.Key {
		return nil
	}
	for _, f := range mc.Inputs {
		if stampOf(f) != mc.Stamps[f] {
			return nil
		}
	}
	if mc.Model.Services == nil {
		mc.Model.Services = map[string]compose.Service{}
	}
	cm.model, cm.inputs, cm.service, cm.serviceNote = mc.Model, mc.Inputs, mc.Service, mc.ServiceNote
	cm.containerPortKeys = containerPortKeys(cm.files, managedEnvKeys(cfg, readProjectEnv(cfg.EnvPath(root))))
	cm.model.Digest, cm.hash = mc.Digest, mc.Digest[:12]
	return cm
}

func dockerfilePath(b compose.Build) string {
	df := b.Dockerfile
	if df == "" {
		df = "Dockerfile"
	}
	if !filepath.IsAbs(df) {
		df = filepath.Join(b.Context, df)
	}
	return df
}

// chooseIRISService is the IRIS service of model m: .iris-helper.json's compose.service, else the
// service whose image (or whose build's final base image, ARG defaults and build.args resolved)
// is an IRIS image, else one exposing container port 52773 or 1972, else the one named iris. When
// several qualify at the same rule the one named iris wins, else the first by name, and note
// says which and how to choose another.
func chooseIRISService(root string, files []string, m compose.Model, configured string) (service, note string, err error) {
	names := m.ServiceNames()
	if configured != "" {
		if _, ok := m.Services[configured]; !ok {
			return "", "", &ComposeNoServiceError{Project: root, Files: files, Services: names, Wanted: configured}
		}
		return configured, "", nil
	}
	rules := []func(compose.Service) bool{
		func(s compose.Service) bool { return serviceRunsIRIS(s) },
		func(s compose.Service) bool {
			for _, p := range s.Ports {
				if p.Target == dockerops.WebContainerPort || p.Target == dockerops.SuperserverContainerPort {
					return true
				}
			}
			for _, e := range s.Expose {
				e = strings.TrimSuffix(e, "/tcp")
				if e == "52773" || e == "1972" {
					return true
				}
			}
			return false
		},
	}
	for _, rule := range rules {
		var hits []string
		for _, n := range names {
			if rule(m.Services[n]) {
				hits = append(hits, n)
			}
		}
		if len(hits) == 0 {
			continue
		}
		chosen := hits[0]
		for _, h := range hits {
			if h == "iris" {
				chosen = h
			}
		}
		if len(hits) > 1 {
			var others []string
			for _, h := range hits {
				if h != chosen {
					others = append(others, h)
				}
			}
			note = fmt.Sprintf("services %s look like IRIS; iris-helper uses %s (set \"compose\": {\"service\": \"%s\"} in %s to use another)",
				strings.Join(hits, ", "), chosen, others[0], ConfigFileName)
		}
		return chosen, note, nil
	}
	if _, ok := m.Services["iris"]; ok {
		return "iris", "", nil
	}
	return "", "", &ComposeNoServiceError{Project: root, Files: files, Services: names}
}

// serviceRunsIRIS reports whether s's image, or its build's final base image, is an IRIS image.
func serviceRunsIRIS(s compose.Service) bool {
	if s.Build == nil {
		return dockerfile.IsIRISImage(s.Image)
	}
	var content []byte
	if s.Build.DockerfileInline != "" {
		content = []byte(s.Build.DockerfileInline)
	} else {
		b, err := projfile.ReadFile(dockerfilePath(*s.Build), projfile.ConfigLimit, projfile.FollowLinks)
		if err != nil {
			return dockerfile.IsIRISImage(s.Image)
		}
		content = b
	}
	args := map[string]string{}
	for k, v := range s.Build.Args {
		if v != nil {
			args[k] = *v
		}
	}
	return dockerfile.IsIRISImage(dockerfile.FinalBase(content, args, s.Build.Target))
}

// composeNameFromEnv is compose's project name for a project without a loaded model: the
// environment's or the .env's COMPOSE_PROJECT_NAME, else the folder's name as compose
// normalizes it (a top-level name: is seen only through the model).
func composeNameFromEnv(root string, envContent []byte) string {
	if n := os.Getenv("COMPOSE_PROJECT_NAME"); n != "" {
		return n
	}
	vals, _ := godotenv.UnmarshalBytes(envContent)
	if n := vals["COMPOSE_PROJECT_NAME"]; n != "" {
		return n
	}
	return normalizeComposeName(filepath.Base(root))
}

var notComposeName = regexp.MustCompile(`[^a-z0-9_-]`)

// normalizeComposeName is compose's normalization of a folder name into a project name.
func normalizeComposeName(s string) string {
	s = notComposeName.ReplaceAllString(strings.ToLower(s), "")
	return strings.TrimLeft(s, "_-")
}

// hasComposeFile reports whether root has a compose file compose would pick (or .iris-helper.json
// names compose files).
func hasComposeFile(root string, cfg Config) bool {
	if len(cfg.Compose.Files) > 0 {
		return true
	}
	_, err := composeFiles(root, cfg, readProjectEnv(cfg.EnvPath(root)))
	return err == nil
}

// sortedKeys is m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// containerPortKeys are the keys of keys that the compose files use on the container side of a
// port: after the colon of a short "host:container" entry, or as a long entry's target.
func containerPortKeys(files, keys []string) []string {
	var out []string
	for _, k := range keys {
		re := regexp.MustCompile(`(?::|target:\s*["']?)\$\{?` + regexp.QuoteMeta(k) + `\b`)
		for _, f := range files {
			b, err := projfile.ReadFile(f, projfile.ConfigLimit, projfile.FollowLinks)
			if err == nil && re.Match(b) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}
