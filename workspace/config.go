package workspace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/iris-helper/iris-helper/workspace/dotenv"
	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// Built-in defaults for the settings of .iris-helper.json.
const (
	DefaultEnvFile   = ".env"
	DefaultNamespace = "USER"
	DefaultUsername  = "_SYSTEM"
)

// Config is the project's optional .iris-helper.json. Every field is optional; the zero
// value means "not set" and the accessors apply the built-in defaults. Precedence for
// anything that can also be given elsewhere: command-line flag > .iris-helper.json >
// editor setting / environment variable > built-in default. See docs/config.md.
type Config struct {
	// Kind is how IRIS runs: "image", "compose" or "dockerfile"; "" = found from the project's
	// files (docs/config.md, "Kinds of project").
	Kind        Kind          `json:"kind,omitempty"`
	Compose     ComposeConfig `json:"compose"`
	Image       string        `json:"image,omitempty"`       // IRIS image to run
	Ports       PortsConfig   `json:"ports"`                 // preferred host ports (manual assignment)
	BindAddress string        `json:"bindAddress,omitempty"` // host address container ports bind to
	Durable     *bool         `json:"durable,omitempty"`     // durable %SYS on a volume; nil = true
	Env         EnvConfig     `json:"env"`
	Iris        IrisConfig    `json:"iris"`

	// Path is the file the settings were read from; "" when the project has none.
	Path string `json:"-"`
}

// ComposeConfig picks the compose files and the IRIS service of a compose project.
type ComposeConfig struct {
	// Files are the compose files, relative to the project folder, in compose's order (later
	// files override earlier ones); nil = what compose itself picks (COMPOSE_FILE, else
	// compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml).
	Files []string `json:"files,omitempty"`
	// Service is the IRIS service; "" = chosen by iris-helper (docs/config.md).
	Service string `json:"service,omitempty"`
}

// PortsConfig holds preferred host ports; 0 means "no preference".
type PortsConfig struct {
	Superserver int `json:"superserver,omitempty"`
	Web         int `json:"web,omitempty"`
}

// EnvConfig says how the project's .env is kept in step with its ports.
type EnvConfig struct {
	File string `json:"file,omitempty"` // relative to the project folder; "" = .env
	// Sync is "auto", "true", "false" or "" (not set); JSON booleans are accepted in the file.
	Sync         string `json:"sync,omitempty"`
	dotenv.Names        // host, superserverPort, webPort: the names of the managed keys
}

// IrisConfig holds settings for the IRIS instance itself.
type IrisConfig struct {
	Namespace         string `json:"namespace,omitempty"`
	Username          string `json:"username,omitempty"`
	UnexpirePasswords *bool  `json:"unexpirePasswords,omitempty"` // nil = true
}

// ConfigError is a problem with a .iris-helper.json file: bad JSON, an unknown field or
// a bad value. Field is the dotted JSON path ("env.sync") when one field is at fault.
type ConfigError struct {
	Path  string
	Field string
	Msg   string
}

func (e *ConfigError) Error() string {
	where := e.Path
	if e.Field != "" {
		where += ": " + e.Field
	}
	return fmt.Sprintf("%s: %s (fix the file or remove the setting; see docs/config.md)", where, e.Msg)
}

// configFields lists the known fields of each object in the file, by dotted path.
var configFields = map[string][]string{
	"":        {"kind", "compose", "image", "ports", "bindAddress", "durable", "env", "iris"},
	"compose": {"files", "service"},
	"ports":   {"superserver", "web"},
	"env":     {"file", "sync", "host", "superserverPort", "webPort"},
	"iris":    {"namespace", "username", "unexpirePasswords"},
}

// LoadConfig reads dir/.iris-helper.json. A missing file gives the zero Config; an empty
// file too. Unknown fields and bad values are *ConfigError errors naming field and file.
// The file comes from the project, so it is read through projfile (a link is followed): a
// FIFO, socket, device or directory is a *projfile.NotRegularError, a file larger than
// projfile.ConfigLimit a *projfile.TooLargeError; neither is opened beyond a Stat, or read.
func LoadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFileName)
	data, err := readConfigFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("read project settings: %w", err)
	}
	cfg, err := ParseConfig(data, path)
	if err != nil {
		return Config{}, err
	}
	cfg.Path = path
	return cfg, nil
}

// readConfigFile reads a regular file of at most projfile.ConfigLimit bytes. The Stat first keeps a
// device (a link to /dev/zero, a tape) from being opened at all; projfile's O_NONBLOCK open and
// fstat catch a file swapped in between.
func readConfigFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &projfile.NotRegularError{Path: path, Mode: fi.Mode().Type()}
	}
	if fi.Size() > projfile.ConfigLimit {
		return nil, &projfile.TooLargeError{Path: path, Size: fi.Size(), Limit: projfile.ConfigLimit}
	}
	return projfile.ReadFile(path, projfile.ConfigLimit, projfile.FollowLinks)
}

// ParseConfig parses the contents of a .iris-helper.json file; path is used in errors.
func ParseConfig(data []byte, path string) (Config, error) {
	data = bytes.TrimPrefix(data, projfile.BOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return Config{}, nil
	}
	var top json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&top); err != nil {
		return Config{}, syntaxError(data, path, err)
	}
	if dec.More() || dec.InputOffset() < int64(len(bytes.TrimRight(data, " \t\r\n"))) {
		return Config{}, &ConfigError{Path: path, Msg: "unexpected data after the settings object"}
	}
	if err := checkFields(top, "", path); err != nil {
		return Config{}, err
	}
	var w struct {
		Config
		Env struct {
			EnvConfig
			Sync json.RawMessage `json:"sync"`
		} `json:"env"`
	}
	dec = json.NewDecoder(bytes.NewReader(top))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Config{}, &ConfigError{Path: path, Field: jsonField(te.Field),
				Msg: fmt.Sprintf("must be %s, not a JSON %s", jsonKind(te.Type.String()), te.Value)}
		}
		return Config{}, &ConfigError{Path: path, Msg: err.Error()}
	}
	cfg := w.Config
	cfg.Env = w.Env.EnvConfig
	if s := bytes.TrimSpace(w.Env.Sync); len(s) > 0 && string(s) != "null" {
		var b bool
		var str string
		switch {
		case json.Unmarshal(s, &b) == nil:
			cfg.Env.Sync = fmt.Sprint(b)
		case json.Unmarshal(s, &str) == nil:
			m, err := dotenv.ParseSyncMode(str)
			if err != nil || strings.TrimSpace(str) == "" {
				return Config{}, &ConfigError{Path: path, Field: "env.sync",
					Msg: fmt.Sprintf("%q is not valid: use \"auto\" (update an existing .env, the default), \"true\" (also create it) or \"false\" (never touch it)", str)}
			}
			cfg.Env.Sync = string(m)
		default:
			return Config{}, &ConfigError{Path: path, Field: "env.sync",
				Msg: fmt.Sprintf("%s is not valid: use \"auto\", \"true\" or \"false\"", s)}
		}
	}
	if err := cfg.validate(path); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// jsonField drops the Go names of embedded structs from a decoder's field path.
func jsonField(f string) string {
	var parts []string
	for _, p := range strings.Split(f, ".") {
		if p != "" && !(p[0] >= 'A' && p[0] <= 'Z') {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ".")
}

func jsonKind(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.Contains(goType, "string"):
		return "a string"
	}
	return "an object"
}

// syntaxError turns a JSON decoding error into a ConfigError with line and column.
func syntaxError(data []byte, path string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, int(se.Offset))
		return &ConfigError{Path: path, Msg: fmt.Sprintf("not valid JSON at line %d, column %d: %v", line, col, se)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &ConfigError{Path: path, Msg: "not valid JSON: the file ends too early"}
	}
	return &ConfigError{Path: path, Msg: "not valid JSON: " + err.Error()}
}

func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := off - bytes.LastIndexByte(before, '\n')
	return line, col
}

// checkFields reports the first field (in file order) that no setting has that name,
// with the known names, comparing case-sensitively.
func checkFields(raw json.RawMessage, prefix, path string) error {
	known, ok := configFields[prefix]
	if !ok {
		return nil
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if string(trimmed) == "null" && prefix != "" {
			return nil
		}
		name := prefix
		if name == "" {
			return &ConfigError{Path: path, Msg: "the settings must be a JSON object, e.g. {\"image\": \"...\"}"}
		}
		return &ConfigError{Path: path, Field: name, Msg: "must be an object"}
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil { // '{'
		return &ConfigError{Path: path, Msg: err.Error()}
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return &ConfigError{Path: path, Msg: err.Error()}
		}
		name, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return &ConfigError{Path: path, Msg: err.Error()}
		}
		field := name
		if prefix != "" {
			field = prefix + "." + name
		}
		if !contains(known, name) {
			msg := fmt.Sprintf("unknown field %q; known fields here: %s", field, strings.Join(known, ", "))
			if s := suggest(name, known); s != "" {
				msg = fmt.Sprintf("unknown field %q (did you mean %q?); known fields here: %s", field, s, strings.Join(known, ", "))
			}
			return &ConfigError{Path: path, Field: field, Msg: msg}
		}
		if err := checkFields(value, field, path); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// suggest returns the known name equal to s ignoring case, or with the same letters.
func suggest(s string, known []string) string {
	norm := func(x string) string {
		r := []rune(strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(x)))
		sort.Slice(r, func(i, j int) bool { return r[i] < r[j] })
		return string(r)
	}
	for _, k := range known {
		if strings.EqualFold(k, s) || norm(k) == norm(s) {
			return k
		}
	}
	return ""
}

var (
	envKeyName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	namespaceName = regexp.MustCompile(`^%?[A-Za-z][A-Za-z0-9%_.\-]*$`)
)

func (c Config) validate(path string) error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Path: path, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	switch c.Kind {
	case "", KindImage, KindCompose, KindDockerfile:
	default:
		return bad("kind", "%q is not a kind of project: use \"image\", \"compose\" or \"dockerfile\", or leave it out", c.Kind)
	}
	for _, f := range c.Compose.Files {
		if f == "" || filepath.IsAbs(f) || !filepath.IsLocal(filepath.FromSlash(f)) {
			return bad("compose.files", "%q must be a path inside the project folder, relative to it", f)
		}
	}
	if c.Image != "" && strings.ContainsAny(c.Image, " \t\r\n") {
		return bad("image", "%q is not an image reference (no spaces), e.g. \"intersystemsdc/iris-community:latest\"", c.Image)
	}
	for _, p := range []struct {
		field string
		port  int
	}{{"ports.superserver", c.Ports.Superserver}, {"ports.web", c.Ports.Web}} {
		if p.port < 0 || p.port > 65535 {
			return bad(p.field, "%d is not a port number: use 1-65535, or leave it out to get a free port assigned", p.port)
		}
	}
	if c.Ports.Superserver != 0 && c.Ports.Superserver == c.Ports.Web {
		return bad("ports", "superserver and web are both %d: they must differ", c.Ports.Web)
	}
	if c.BindAddress != "" && net.ParseIP(c.BindAddress) == nil {
		return bad("bindAddress", "%q is not an IP address: use 127.0.0.1 (this machine only, the default), ::1, or 0.0.0.0 (every interface)", c.BindAddress)
	}
	if strings.ContainsRune(c.Env.File, 0) || (c.Env.File != "" && strings.TrimSpace(c.Env.File) == "") {
		return bad("env.file", "%q is not a file name, e.g. \".env\"", c.Env.File)
	}
	seen := map[string]string{}
	for _, n := range []struct {
		field string
		name  *string
	}{{"env.host", c.Env.Host}, {"env.superserverPort", c.Env.SuperserverPort}, {"env.webPort", c.Env.WebPort}} {
		if n.name == nil || *n.name == "" {
			continue
		}
		if !envKeyName.MatchString(*n.name) {
			return bad(n.field, "%q is not an environment variable name (letters, digits, _; not starting with a digit), or \"\" to not write this key", *n.name)
		}
		if other, dup := seen[*n.name]; dup {
			return bad(n.field, "%q is already the name of %s: each managed key needs its own name", *n.name, other)
		}
		seen[*n.name] = n.field
	}
	if c.Iris.Namespace != "" && !namespaceName.MatchString(c.Iris.Namespace) {
		return bad("iris.namespace", "%q is not a namespace name, e.g. \"USER\"", c.Iris.Namespace)
	}
	if strings.ContainsAny(c.Iris.Username, " \t\r\n") {
		return bad("iris.username", "%q is not a user name, e.g. \"_SYSTEM\"", c.Iris.Username)
	}
	return nil
}

// EnvFile is the configured .env file name (relative to the project folder), ".env" by default.
func (c Config) EnvFile() string {
	if c.Env.File == "" {
		return DefaultEnvFile
	}
	return c.Env.File
}

// EnvPath is the absolute path of the project's .env file in projectDir.
func (c Config) EnvPath(projectDir string) string {
	if filepath.IsAbs(c.EnvFile()) {
		return filepath.Clean(c.EnvFile())
	}
	return filepath.Join(projectDir, c.EnvFile())
}

// EnvSync applies the precedence for the sync mode: flag > .iris-helper.json > editor
// setting > "auto". flag and editor are "" when not given; an invalid one is an error.
func (c Config) EnvSync(flag, editor string) (dotenv.SyncMode, error) {
	for _, s := range []string{flag, c.Env.Sync, editor} {
		if strings.TrimSpace(s) != "" {
			return dotenv.ParseSyncMode(s)
		}
	}
	return dotenv.SyncAuto, nil
}

// DurableOrDefault reports whether %SYS lives on a durable volume (default true).
func (c Config) DurableOrDefault() bool { return c.Durable == nil || *c.Durable }

// UnexpirePasswordsOrDefault reports whether passwords are unexpired at start (default true).
func (c Config) UnexpirePasswordsOrDefault() bool {
	return c.Iris.UnexpirePasswords == nil || *c.Iris.UnexpirePasswords
}

// Namespace is the IRIS namespace to work in ("USER" by default).
func (c Config) Namespace() string {
	if c.Iris.Namespace == "" {
		return DefaultNamespace
	}
	return c.Iris.Namespace
}

// Username is the IRIS user to connect as ("_SYSTEM" by default).
func (c Config) Username() string {
	if c.Iris.Username == "" {
		return DefaultUsername
	}
	return c.Iris.Username
}
