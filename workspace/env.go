package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// ManagedComment is the comment line written above the keys the helper appends to a .env.
// It holds no quote character, so it can never close a quote left open above it.
const ManagedComment = "# Managed by iris-helper: host and ports of the IRIS container of this project (iris-helper env sync)"

// managedCommentPrefix recognises the comment line, whatever its exact wording.
const managedCommentPrefix = "# Managed by iris-helper"

// Well-known alternative names of the managed keys. When a key's name is not configured
// and the file already uses one of these (and not the default name), it is updated instead
// of a second key being added.
var (
	HostAliases        = []string{"IRIS_HOSTNAME"}
	SuperserverAliases = []string{"IRIS_SUPERSERVER_PORT", "IRIS_SUPER_SERVER_PORT"}
	WebAliases         = []string{"IRIS_WEBSERVER_PORT", "IRIS_WEB_SERVER_PORT"}
)

// EnvKeys are the resolved names of the managed keys; "" means "not managed".
type EnvKeys struct {
	Host        string `json:"host"`
	Superserver string `json:"superserverPort"`
	Web         string `json:"webPort"`
}

// EnvPorts are the values the managed keys should have. Host is written only when the
// host key is missing (a user's own host value is never overwritten) and only when it is a
// plain host name or IP address; a port of 0 is not written.
type EnvPorts struct {
	Host        string `json:"host"`
	Superserver int    `json:"superserverPort"`
	Web         int    `json:"webPort"`
}

// EnvChange describes one change RenderEnv made.
type EnvChange struct {
	Key   string `json:"key"`
	Old   string `json:"old,omitempty"` // the value as written before (quotes included); "" when added
	New   string `json:"new"`           // the value as written now (quotes included)
	Added bool   `json:"added,omitempty"`
	// Line is the 1-based line of the change: in the input for an update, in the output
	// for an added key. OldText/NewText are the whole (logical) line before and after.
	Line    int    `json:"line"`
	OldText string `json:"-"`
	NewText string `json:"-"`
}

func (c EnvChange) String() string {
	if c.Added {
		return fmt.Sprintf("%s=%s added (line %d)", c.Key, c.New, c.Line)
	}
	old := c.Old
	if strings.ContainsAny(old, "\r\n") || old == "" {
		old = strconv.Quote(old)
	}
	return fmt.Sprintf("%s changed from %s to %s (line %d)", c.Key, old, c.New, c.Line)
}

// ResolveEnvKeys turns the configured names into the names to manage in a file with the
// given content: a configured name is used as is ("" = not managed); an unset name is the
// default, unless the file lacks the default and already uses a well-known alias. An unset
// name never resolves to a name configured for another key: it takes an alias then, or is
// not managed when the file has none (one key, one value).
func ResolveEnvKeys(names EnvConfig, content []byte) EnvKeys {
	present := map[string]bool{}
	for _, l := range scanEnvLines(content) {
		if l.isAssignment() {
			present[l.key] = true
		}
	}
	taken := map[string]bool{}
	for _, n := range []*string{names.Host, names.SuperserverPort, names.WebPort} {
		if n != nil && *n != "" {
			taken[*n] = true
		}
	}
	pick := func(configured *string, def string, aliases []string) string {
		if configured != nil {
			return *configured
		}
		for _, c := range append([]string{def}, aliases...) {
			if present[c] && !taken[c] {
				return c
			}
		}
		if taken[def] {
			return ""
		}
		return def
	}
	return EnvKeys{
		Host:        pick(names.Host, DefaultEnvHostKey, HostAliases),
		Superserver: pick(names.SuperserverPort, DefaultEnvSuperserverKey, SuperserverAliases),
		Web:         pick(names.WebPort, DefaultEnvWebKey, WebAliases),
	}
}

// detectEOL returns the file's line ending: that of its first line, "\n" when it has none.
func detectEOL(b []byte) string {
	i := bytes.IndexByte(b, '\n')
	if i > 0 && b[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// plainHost matches host names and IP addresses: the only host values RenderEnv writes.
var plainHost = regexp.MustCompile(`^[A-Za-z0-9._:%\[\]-]+$`)

// formatEnvValue writes v (digits or a plain host name) for a value slot quoted with q.
func formatEnvValue(v string, q byte) string {
	if q == 0 {
		return v
	}
	return string(q) + v + string(q)
}

// Why a managed port value is not a port number, for errors.Is.
var (
	errEnvValueEmpty  = errors.New("is empty")
	errEnvValueVarRef = errors.New("is a variable reference, not a port number")
)

// readEnvPort reads the port number in a managed value as written (quotes included): the
// span the scanner found, which is also the span RenderEnv replaces, so that reading and
// writing always agree on which text is the value. github.com/joho/godotenv interprets that
// text (quotes, escapes). It is not asked about the whole line: it would end an unquoted
// value at the last " #" of the line where a shell ends it at the first, and read
// "IRIS_PORT=1972 # see #12" as "1972 # see".
func readEnvPort(raw string) (int, error) {
	if digits := unquoteDigits(raw); digits != "" {
		return parsePort(digits) // the usual case: a plain number, maybe quoted
	}
	if strings.Contains(raw, "$") {
		return 0, errEnvValueVarRef
	}
	m, err := godotenv.Unmarshal("V=" + raw)
	if err != nil {
		return 0, fmt.Errorf("%q is not a port number", raw) // e.g. a quote that never closes
	}
	return parsePort(m["V"])
}

// unquoteDigits returns the digits of raw when it is a number, bare or in quotes of one
// kind, and "" otherwise.
func unquoteDigits(raw string) string {
	if len(raw) >= 2 && (raw[0] == '"' || raw[0] == '\'') && raw[len(raw)-1] == raw[0] {
		raw = raw[1 : len(raw)-1]
	}
	if raw == "" || strings.Trim(raw, "0123456789") != "" {
		return ""
	}
	return raw
}

// parsePort parses a port number written with digits only, 1-65535.
func parsePort(s string) (int, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errEnvValueEmpty
	}
	if strings.Contains(t, "$") {
		return 0, errEnvValueVarRef
	}
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a port number", s)
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is out of range (a port is 1-65535)", s)
	}
	return n, nil
}

// lastAssignments returns, for each key, the index of its last (winning) assignment.
func lastAssignments(lines []envLine) map[string]int {
	last := map[string]int{}
	for i, l := range lines {
		if l.isAssignment() {
			last[l.key] = i
		}
	}
	return last
}

// RenderEnv returns the .env content with the managed keys set to p, and what changed.
// It is pure and never fails: only the value span of the winning (last) line of each
// managed key changes, keeping the value's quoting; missing keys are added under one
// comment line (next to the helper's earlier block when there is one, else at the end);
// every other byte stays as it was.
func RenderEnv(in []byte, keys EnvKeys, p EnvPorts) ([]byte, []EnvChange) {
	lines := scanEnvLines(in)
	last := lastAssignments(lines)
	eol := detectEOL(in)

	type want struct {
		key   string
		value string
		port  int // 0 for the host
	}
	var wants []want
	if keys.Host != "" && plainHost.MatchString(p.Host) {
		wants = append(wants, want{keys.Host, p.Host, 0})
	}
	if keys.Superserver != "" && p.Superserver > 0 {
		wants = append(wants, want{keys.Superserver, strconv.Itoa(p.Superserver), p.Superserver})
	}
	if keys.Web != "" && p.Web > 0 && keys.Web != keys.Superserver {
		wants = append(wants, want{keys.Web, strconv.Itoa(p.Web), p.Web})
	}

	type edit struct {
		start, end int
		text       string
		change     EnvChange
	}
	var edits []edit
	var missing []want
	for _, w := range wants {
		i, ok := last[w.key]
		if !ok {
			missing = append(missing, w)
			continue
		}
		if w.port == 0 {
			continue // the host key belongs to the user once it exists
		}
		l := lines[i]
		if n, err := readEnvPort(string(in[l.valStart:l.valEnd])); err == nil && n == w.port {
			continue
		}
		text := formatEnvValue(w.value, l.quote)
		edits = append(edits, edit{l.valStart, l.valEnd, text, EnvChange{
			Key: w.key, Old: string(in[l.valStart:l.valEnd]), New: text,
			Line:    bytes.Count(in[:l.start], []byte("\n")) + 1,
			OldText: string(in[l.start:l.end]),
			NewText: string(in[l.start:l.valStart]) + text + string(in[l.valEnd:l.end]),
		}})
	}
	insertAt, block := -1, ""
	var addedLines []string
	if len(missing) > 0 {
		insertAt = len(in)
		if n := managedBlockEnd(in, lines); n >= 0 {
			insertAt = n
		} else {
			block = ManagedComment + eol
		}
		if insertAt > 0 && in[insertAt-1] != '\n' {
			block = eol + block
		}
		for _, w := range missing {
			line := w.key + "=" + formatEnvValue(w.value, 0)
			addedLines = append(addedLines, line)
			block += line + eol
		}
		edits = append(edits, edit{start: insertAt, end: insertAt, text: block})
	}
	if len(edits) == 0 {
		return in, nil
	}
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start < edits[j].start })

	out := make([]byte, 0, len(in)+len(block)+16*len(edits))
	var changes []EnvChange
	pos := 0
	for _, e := range edits { // one edit per line, so they never overlap
		out = append(out, in[pos:e.start]...)
		if e.start == insertAt && e.end == insertAt && e.change.Key == "" {
			// The added keys are the last len(missing) lines of the block.
			first := bytes.Count(out, []byte("\n")) + strings.Count(block, "\n") - len(missing) + 1
			for k, w := range missing {
				changes = append(changes, EnvChange{Key: w.key, New: formatEnvValue(w.value, 0), Added: true,
					Line: first + k, NewText: addedLines[k]})
			}
		} else {
			changes = append(changes, e.change)
		}
		out = append(out, e.text...)
		pos = e.end
	}
	out = append(out, in[pos:]...)
	return out, changes
}

// managedBlockEnd returns where keys are added when the file already has the helper's
// comment line: after the run of assignment lines that follows it. -1 when there is none.
func managedBlockEnd(in []byte, lines []envLine) int {
	for i, l := range lines {
		if l.kind != envComment || !bytes.HasPrefix(bytes.TrimLeft(in[l.start:l.end], " \t"), []byte(managedCommentPrefix)) {
			continue
		}
		end := l.next
		for _, m := range lines[i+1:] {
			if !m.isAssignment() {
				break
			}
			end = m.next
		}
		return end
	}
	return -1
}

// EnvValue is what the file says for one managed key.
type EnvValue struct {
	Key     string `json:"key"`
	Present bool   `json:"present"`
	Raw     string `json:"raw,omitempty"`   // as written, quotes included
	Value   string `json:"value,omitempty"` // as a program reading the file sees it
	Port    int    `json:"port,omitempty"`  // the port number, 0 when the value is not one
	Err     error  `json:"-"`               // why the value is not a port number (port keys only)
}

// EnvValues are the managed keys' values found in a .env file.
type EnvValues struct {
	Host, Superserver, Web EnvValue
}

// ParseEnvValues reads the managed keys' values from .env content. Value comes from
// github.com/joho/godotenv where the file parses (after stripping a BOM) and from the
// helper's own scanner otherwise. Port is read from the value span the scanner found
// (readEnvPort), the span RenderEnv writes; a value with a variable reference is never a port.
func ParseEnvValues(content []byte, keys EnvKeys) EnvValues {
	lines := scanEnvLines(content)
	last := lastAssignments(lines)
	parsed, perr := godotenv.UnmarshalBytes(bytes.TrimPrefix(content, utf8BOM))
	get := func(key string, isPort bool) EnvValue {
		v := EnvValue{Key: key}
		i, ok := last[key]
		if key == "" || !ok {
			return v
		}
		l := lines[i]
		v.Present = true
		v.Raw = string(content[l.valStart:l.valEnd])
		inner := string(content[l.inStart:l.inEnd])
		v.Value = inner
		if pv, ok := parsed[key]; perr == nil && ok {
			v.Value = pv
		}
		if isPort {
			n, err := readEnvPort(v.Raw)
			switch {
			case err == nil:
				v.Port = n
			case errors.Is(err, errEnvValueVarRef):
				v.Err = fmt.Errorf("%s=%s is a variable reference, not a port number", key, v.Raw)
			case errors.Is(err, errEnvValueEmpty):
				v.Err = fmt.Errorf("%s is empty, not a port number", key)
			default:
				v.Err = fmt.Errorf("%s=%s: %w", key, v.Raw, err)
			}
		}
		return v
	}
	return EnvValues{Host: get(keys.Host, false), Superserver: get(keys.Superserver, true), Web: get(keys.Web, true)}
}

// ReadEnvPorts reads the managed keys' values from the file at path. A missing file is
// an error wrapping fs.ErrNotExist.
func ReadEnvPorts(path string, keys EnvKeys) (EnvValues, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return EnvValues{}, fmt.Errorf("read %s: %w", path, err)
	}
	return ParseEnvValues(b, keys), nil
}

// EnvResult says what a sync did or (for PlanEnv) would do.
type EnvResult struct {
	Path    string      `json:"path"`             // the .env path as given
	Target  string      `json:"target,omitempty"` // the file written: Path, or a symlink's target
	Mode    SyncMode    `json:"mode"`
	Keys    EnvKeys     `json:"keys"`
	Created bool        `json:"created,omitempty"`
	Written bool        `json:"written"`
	Skipped string      `json:"skipped,omitempty"` // why the file was left alone
	Changes []EnvChange `json:"changes,omitempty"`
	Before  []byte      `json:"-"`
	After   []byte      `json:"-"`
	Exists  bool        `json:"exists"`
}

// Reasons a sync leaves the file alone.
const (
	SkipSyncFalse = "env sync is false: the file is never touched"
	SkipNoFile    = "no such file, and env sync \"auto\" creates none (set \"env\": {\"sync\": true} in .iris-helper.json to create it)"
	SkipUpToDate  = "already up to date"
)

// PlanEnv computes what SyncEnv would do to the file at path, without writing.
// names are the configured key names (aliases resolve against the file's content).
func PlanEnv(path string, mode SyncMode, names EnvConfig, p EnvPorts) (EnvResult, error) {
	return planEnv(path, mode, func(b []byte) EnvKeys { return ResolveEnvKeys(names, b) }, p)
}

func planEnv(path string, mode SyncMode, keys func([]byte) EnvKeys, p EnvPorts) (EnvResult, error) {
	res := EnvResult{Path: path, Mode: mode}
	if mode == "" {
		res.Mode = SyncAuto
	}
	if _, err := ParseSyncMode(string(res.Mode)); err != nil {
		return res, err
	}
	in, err := os.ReadFile(path)
	switch {
	case err == nil:
		res.Exists = true
	case errors.Is(err, fs.ErrNotExist):
		in = nil
	default:
		return res, fmt.Errorf("read %s: %w", path, err)
	}
	res.Keys = keys(in)
	if res.Mode == SyncFalse {
		res.Skipped = SkipSyncFalse
		return res, nil
	}
	if !res.Exists && res.Mode == SyncAuto {
		res.Skipped = SkipNoFile
		return res, nil
	}
	res.Before = in
	res.After, res.Changes = RenderEnv(in, res.Keys, p)
	res.Created = !res.Exists
	if res.Exists && bytes.Equal(res.After, in) {
		res.Skipped = SkipUpToDate
	}
	return res, nil
}

// SyncEnv writes the managed keys into the .env file at path according to mode, resolving
// the key names (names as configured in .iris-helper.json) against the file's content.
func SyncEnv(path string, mode SyncMode, names EnvConfig, p EnvPorts) (EnvResult, error) {
	return syncEnv(path, mode, func(b []byte) EnvKeys { return ResolveEnvKeys(names, b) }, p)
}

// SyncEnvFile is SyncEnv with already resolved key names.
func SyncEnvFile(path string, mode SyncMode, keys EnvKeys, p EnvPorts) (EnvResult, error) {
	return syncEnv(path, mode, func([]byte) EnvKeys { return keys }, p)
}

// errFileMoved means the file changed between reading and replacing it.
var errFileMoved = errors.New("the file changed while it was being updated")

func syncEnv(path string, mode SyncMode, keys func([]byte) EnvKeys, p EnvPorts) (EnvResult, error) {
	for attempt := 0; ; attempt++ {
		res, err := planEnv(path, mode, keys, p)
		if err != nil || res.Skipped != "" {
			return res, err
		}
		res.Target, err = writeTarget(path)
		if err != nil {
			return res, err
		}
		err = writeFileAtomic(res.Target, res.After, res.Before, res.Exists)
		if errors.Is(err, errFileMoved) && attempt < 5 {
			continue // the user saved meanwhile: start again from their version
		}
		if err != nil {
			return res, fmt.Errorf("update %s: %w", path, err)
		}
		res.Written = true
		return res, nil
	}
}

// writeTarget follows symlinks from path to the file that holds the bytes (which may not
// exist yet, for a dangling link).
func writeTarget(path string) (string, error) {
	p := path
	for i := 0; i < 40; i++ {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
		if err != nil {
			return "", fmt.Errorf("update %s: %w", path, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", fmt.Errorf("update %s: %w", path, err)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(p), link)
		}
		p = link
	}
	return "", fmt.Errorf("update %s: too many levels of symbolic links", path)
}

// writeFileAtomic replaces target with data through a temporary file in the same folder
// and a rename, keeping the file's permission bits (0644 for a new file). It refuses
// (errFileMoved) when the file no longer holds `before` right before the rename.
func writeFileAtomic(target string, data, before []byte, existed bool) error {
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(target); err == nil {
		perm = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".iris-helper-*.tmp")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	done := false
	defer func() {
		if !done {
			_ = os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	now, err := os.ReadFile(target)
	switch {
	case err == nil && (!existed || !bytes.Equal(now, before)):
		return errFileMoved
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	case err != nil && existed:
		return errFileMoved // deleted meanwhile
	}
	if err := renameRetry(tmpName, target); err != nil {
		return err
	}
	done = true
	return nil
}

// renameRetry renames, retrying briefly where another process holding the file open
// makes the rename fail (Windows).
func renameRetry(from, to string) error {
	var err error
	for i := 0; i < 20; i++ {
		if err = os.Rename(from, to); err == nil || runtime.GOOS != "windows" {
			return err
		}
		time.Sleep(25 * time.Millisecond)
	}
	return err
}
