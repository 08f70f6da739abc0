// Package dotenv keeps a .env file in step with a project's host and ports (docs/env.md): its
// line scanner, Render (the pure rewrite of the managed values), Plan and Sync (one checked,
// atomic write: where the file may lie, regular files only, bounded reads, owner and group kept,
// hard links and a concurrent save respected) and the Watcher (fsnotify, a user's port edit as a
// request). It knows nothing of projects: the caller passes the file, its Scope, the SyncMode, the
// configured Names and the Ports.
package dotenv

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/iris-helper/iris-helper/workspace/projfile"
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

// Keys are the resolved names of the managed keys; "" means "not managed".
type Keys struct {
	Host        string `json:"host"`
	Superserver string `json:"superserverPort"`
	Web         string `json:"webPort"`
}

// Ports are the values the managed keys should have. Host is written only when the
// host key is missing (a user's own host value is never overwritten) and only when it is a
// plain host name or IP address; a port of 0 is not written.
type Ports struct {
	Host        string `json:"host"`
	Superserver int    `json:"superserverPort"`
	Web         int    `json:"webPort"`
	// Extra are further managed keys (key → value) a kind of project adds (the compose kind: its
	// project name), written like the port keys: added when missing, set when they differ. A key
	// that is also one of Keys is not written as an extra. Nil for none (the image kind).
	Extra map[string]string `json:"extra,omitempty"`
}

// Equal reports whether p and q ask for the same values.
func (p Ports) Equal(q Ports) bool {
	return p.Host == q.Host && p.Superserver == q.Superserver && p.Web == q.Web && maps.Equal(p.Extra, q.Extra)
}

// Change describes one change Render made.
type Change struct {
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

func (c Change) String() string {
	if c.Added {
		return fmt.Sprintf("%s=%s added (line %d)", c.Key, c.New, c.Line)
	}
	old := c.Old
	if strings.ContainsAny(old, "\r\n") || old == "" {
		old = strconv.Quote(old)
	}
	return fmt.Sprintf("%s changed from %s to %s (line %d)", c.Key, old, c.New, c.Line)
}

// ResolveKeys turns the configured names into the names to manage in a file with the
// given content: a configured name is used as is ("" = not managed); an unset name is the
// default, unless the file lacks the default and already uses a well-known alias. An unset
// name never resolves to a name configured for another key: it takes an alias then, or is
// not managed when the file has none (one key, one value).
func ResolveKeys(names Names, content []byte) Keys {
	candidates := map[string]bool{DefaultHostKey: false, DefaultSuperserverKey: false, DefaultWebKey: false}
	for _, a := range [][]string{HostAliases, SuperserverAliases, WebAliases} {
		for _, n := range a {
			candidates[n] = false
		}
	}
	present := map[string]bool{}
	eachEnvLine(content, func(l envLine) bool {
		if l.isAssignment() {
			if _, ok := candidates[string(l.keyOf(content))]; ok {
				present[string(l.keyOf(content))] = true
			}
		}
		return true
	})
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
	return Keys{
		Host:        pick(names.Host, DefaultHostKey, HostAliases),
		Superserver: pick(names.SuperserverPort, DefaultSuperserverKey, SuperserverAliases),
		Web:         pick(names.WebPort, DefaultWebKey, WebAliases),
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

// plainHost matches host names and IP addresses: the only host values Render writes.
var plainHost = regexp.MustCompile(`^[A-Za-z0-9._:%\[\]-]+$`)

// validKey and plainValue are the extra keys and values Render writes (Ports.Extra): a shell
// variable name, and a value that needs no quoting (a compose project name, a host name...).
var (
	validKey   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	plainValue = regexp.MustCompile(`^[A-Za-z0-9._:%@+/-]+$`)
)

// unquoteValue is raw without the quotes of one kind around it, if any.
func unquoteValue(raw string) string {
	if len(raw) >= 2 && (raw[0] == '"' || raw[0] == '\'') && raw[len(raw)-1] == raw[0] {
		return raw[1 : len(raw)-1]
	}
	return raw
}

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
// span the scanner found, which is also the span Render replaces, so that reading and
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

// Render returns the .env content with the managed keys set to p, and what changed.
// It is pure and never fails: only the value span of the winning (last) line of each
// managed key changes, keeping the value's quoting; missing keys are added under one
// comment line (next to the helper's earlier block when there is one, else at the end);
// every other byte stays as it was.
func Render(in []byte, keys Keys, p Ports) ([]byte, []Change) {
	eol := detectEOL(in)

	type want struct {
		key   string
		value string
		port  int // 0 for the host, -1 for an extra key
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
	for _, k := range slices.Sorted(maps.Keys(p.Extra)) {
		if validKey.MatchString(k) && plainValue.MatchString(p.Extra[k]) && k != keys.Host && k != keys.Superserver && k != keys.Web {
			wants = append(wants, want{k, p.Extra[k], -1})
		}
	}

	type edit struct {
		start, end int
		text       string
		change     Change
	}
	wanted := map[string]bool{}
	for _, w := range wants {
		wanted[w.key] = true
	}
	last, blockEnd := scanForRender(in, wanted)
	var edits []edit
	var missing []want
	for _, w := range wants {
		l, ok := last[w.key]
		if !ok {
			missing = append(missing, w)
			continue
		}
		if w.port == 0 {
			continue // the host key belongs to the user once it exists
		}
		raw := string(in[l.valStart:l.valEnd])
		if w.port < 0 && unquoteValue(raw) == w.value {
			continue
		}
		if n, err := readEnvPort(raw); w.port > 0 && err == nil && n == w.port {
			continue
		}
		text := formatEnvValue(w.value, l.quote)
		edits = append(edits, edit{l.valStart, l.valEnd, text, Change{
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
		if n := blockEnd; n >= 0 {
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
	var changes []Change
	pos := 0
	for _, e := range edits { // one edit per line, so they never overlap
		out = append(out, in[pos:e.start]...)
		if e.start == insertAt && e.end == insertAt && e.change.Key == "" {
			// The added keys are the last len(missing) lines of the block.
			first := bytes.Count(out, []byte("\n")) + strings.Count(block, "\n") - len(missing) + 1
			for k, w := range missing {
				changes = append(changes, Change{Key: w.key, New: formatEnvValue(w.value, 0), Added: true,
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

// scanForRender reads in once: the winning (last) line of each wanted key, and where keys are
// added when the file already has the helper's comment line (after the run of assignment lines
// that follows its first occurrence; -1 when there is none). Memory does not grow with the file.
func scanForRender(in []byte, wanted map[string]bool) (last map[string]envLine, blockEnd int) {
	last = map[string]envLine{}
	blockEnd = -1
	inBlock := false
	eachEnvLine(in, func(l envLine) bool {
		switch {
		case inBlock && l.isAssignment():
			blockEnd = l.next
		case inBlock:
			inBlock = false
		case blockEnd < 0 && l.kind == envComment &&
			bytes.HasPrefix(bytes.TrimLeft(in[l.start:l.end], " \t"), []byte(managedCommentPrefix)):
			blockEnd, inBlock = l.next, true
		}
		if l.isAssignment() && wanted[string(l.keyOf(in))] {
			last[string(l.keyOf(in))] = l
		}
		return true
	})
	return last, blockEnd
}

// Value is what the file says for one managed key.
type Value struct {
	Key     string `json:"key"`
	Present bool   `json:"present"`
	Raw     string `json:"raw,omitempty"`   // as written, quotes included
	Value   string `json:"value,omitempty"` // as a program reading the file sees it
	Port    int    `json:"port,omitempty"`  // the port number, 0 when the value is not one
	Err     error  `json:"-"`               // why the value is not a port number (port keys only)
}

// Values are the managed keys' values found in a .env file.
type Values struct {
	Host, Superserver, Web Value
}

// ParseValues reads the managed keys' values from .env content. Value comes from
// github.com/joho/godotenv where the file parses (after stripping a BOM) and from the
// helper's own scanner otherwise. Port is read from the value span the scanner found
// (readEnvPort), the span Render writes; a value with a variable reference is never a port.
func ParseValues(content []byte, keys Keys) Values {
	return parseValues(content, keys, true)
}

// parseValues is ParseValues; without values (the watcher, which needs Raw, Port and Err
// only) godotenv does not parse the whole file, whose map of every key would cost about ten times
// the file's size, and Value is the text between the quotes.
func parseValues(content []byte, keys Keys, values bool) Values {
	last := lastAssignmentsOf(content, map[string]bool{keys.Host: keys.Host != "", keys.Superserver: keys.Superserver != "", keys.Web: keys.Web != ""})
	var parsed map[string]string
	perr := errors.New("not parsed")
	if values {
		parsed, perr = godotenv.UnmarshalBytes(bytes.TrimPrefix(content, projfile.BOM))
	}
	get := func(key string, isPort bool) Value {
		v := Value{Key: key}
		l, ok := last[key]
		if key == "" || !ok {
			return v
		}
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
	return Values{Host: get(keys.Host, false), Superserver: get(keys.Superserver, true), Web: get(keys.Web, true)}
}

// ReadPorts reads the managed keys' values from the file at path (a regular file of at most
// projfile.EnvLimit bytes, links followed). A missing file is an error wrapping fs.ErrNotExist.
func ReadPorts(path string, keys Keys) (Values, error) {
	b, err := projfile.ReadFile(path, projfile.EnvLimit, projfile.FollowLinks)
	if err != nil {
		return Values{}, err
	}
	return ParseValues(b, keys), nil
}

// Result says what a sync did or (for Plan) would do.
type Result struct {
	Path    string   `json:"path"`             // the .env path as given
	Target  string   `json:"target,omitempty"` // the file written: Path, or a symlink's target
	Mode    SyncMode `json:"mode"`
	Keys    Keys     `json:"keys"`
	Created bool     `json:"created,omitempty"`
	Written bool     `json:"written"`
	Skipped string   `json:"skipped,omitempty"` // why the file was left alone
	Changes []Change `json:"changes,omitempty"`
	Before  []byte   `json:"-"`
	After   []byte   `json:"-"`
	Exists  bool     `json:"exists"`
}

// Reasons a sync leaves the file alone.
const (
	SkipSyncFalse = "env sync is false: the file is never touched"
	SkipNoFile    = "no such file, and env sync \"auto\" creates none (set \"env\": {\"sync\": true} in .iris-helper.json to create it)"
	SkipUpToDate  = "already up to date"
)

// syncOp is one sync (or plan) of a .env file.
type syncOp struct {
	path  string
	scope Scope
	mode  SyncMode
	names Names // as configured: keys named here are checked (checkConfiguredKeys)
	keys  *Keys // already resolved names (tests); nil = resolve against the content
	ports Ports
	// beforeRename runs right before the last check and the rename (tests: a save that lands there).
	beforeRename func()
}

func (o syncOp) resolveKeys(content []byte) Keys {
	if o.keys != nil {
		return *o.keys
	}
	return ResolveKeys(o.names, content)
}

// Plan computes what Sync would do to the file at path, without writing: the same checks, and
// Result.Before/After hold the content before and after.
func Plan(scope Scope, path string, mode SyncMode, names Names, p Ports) (Result, error) {
	res, _, err := syncOp{path: path, scope: scope, mode: mode, names: names, ports: p}.plan()
	return res, err
}

func (o syncOp) plan() (Result, resolved, error) {
	res := Result{Path: o.path, Mode: o.mode}
	if o.mode == "" {
		res.Mode = SyncAuto
	}
	if _, err := ParseSyncMode(string(res.Mode)); err != nil {
		return res, resolved{}, err
	}
	if res.Mode == SyncFalse {
		_, err := os.Lstat(o.path)
		res.Exists = err == nil
		res.Keys = o.resolveKeys(nil)
		res.Skipped = SkipSyncFalse
		return res, resolved{}, nil
	}
	f, err := resolve(o.path, res.Mode, o.scope)
	if err != nil {
		return res, f, err
	}
	res.Target = f.target
	in, exists, err := f.read()
	if err != nil {
		return res, f, err
	}
	res.Exists = exists
	res.Keys = o.resolveKeys(in)
	if !res.Exists && res.Mode == SyncAuto && len(o.ports.Extra) == 0 {
		res.Skipped = SkipNoFile
		return res, f, nil
	}
	if !res.Exists && res.Mode == SyncAuto {
		o.ports = Ports{Extra: o.ports.Extra} // auto creates a file for the extra keys alone
	}
	if err := checkConfiguredKeys(f.target, in, o.names, res.Keys); err != nil {
		return res, f, err
	}
	res.Before = in
	res.After, res.Changes = Render(in, res.Keys, o.ports)
	res.Created = !res.Exists
	if res.Exists && bytes.Equal(res.After, in) {
		res.Skipped = SkipUpToDate
	}
	return res, f, nil
}

// checkConfiguredKeys refuses to overwrite a managed port key named in .iris-helper.json whose
// value is not a port number, an empty value or a ${…} reference: such a name may point at the
// user's secret (e.g. "webPort": "DATABASE_URL").
func checkConfiguredKeys(path string, in []byte, names Names, keys Keys) error {
	type check struct{ field, key string }
	var checks []check
	if names.SuperserverPort != nil && *names.SuperserverPort != "" && keys.Superserver == *names.SuperserverPort {
		checks = append(checks, check{"env.superserverPort", keys.Superserver})
	}
	if names.WebPort != nil && *names.WebPort != "" && keys.Web == *names.WebPort {
		checks = append(checks, check{"env.webPort", keys.Web})
	}
	if len(checks) == 0 || len(in) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, c := range checks {
		want[c.key] = true
	}
	last := lastAssignmentsOf(in, want)
	for _, c := range checks {
		l, ok := last[c.key]
		if !ok {
			continue // missing: added
		}
		if raw := string(in[l.valStart:l.valEnd]); !portOrPlaceholder(raw) {
			return &KeyNotPortError{Path: path, Key: c.key, Field: c.field, Line: bytes.Count(in[:l.start], []byte("\n")) + 1}
		}
	}
	return nil
}

// varReference is a value that is only a variable reference: ${NAME}, ${NAME:-default}, $NAME.
var varReference = regexp.MustCompile(`^\$(\{[^{}$]*\}|[A-Za-z_][A-Za-z0-9_]*)$`)

// portOrPlaceholder reports whether a managed value as written (quotes included) holds a port
// number, nothing, or only a variable reference: values the helper may replace by a port.
func portOrPlaceholder(raw string) bool {
	if _, err := readEnvPort(raw); err == nil {
		return true
	}
	v := raw
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	v = strings.TrimSpace(v)
	return v == "" || varReference.MatchString(v)
}

// Sync writes the managed keys into the .env file at path according to mode, resolving the key
// names (names as configured in .iris-helper.json) against the file's content. The file (every
// link followed) must lie inside scope.Root (the zero Scope: the file's own folder) and outside scope.Home unless scope.AllowOutside (*OutsideProjectError), must be
// a regular file (*NotRegularError) of at most projfile.EnvLimit bytes
// (*projfile.TooLargeError); a key named in names must hold a port number before it is replaced
// (*KeyNotPortError); a file that cannot be replaced without losing its owner, group or hard
// links is left alone (*NotReplacedError). Every error names the file.
func Sync(scope Scope, path string, mode SyncMode, names Names, p Ports) (Result, error) {
	return syncOp{path: path, scope: scope, mode: mode, names: names, ports: p}.sync()
}

// maxEnvAttempts is how often a sync starts over from the user's newer save.
const maxEnvAttempts = 5

func (o syncOp) sync() (Result, error) {
	for attempt := 0; ; attempt++ {
		res, f, err := o.plan()
		if errors.Is(err, errFileMoved) && attempt < maxEnvAttempts {
			continue
		}
		if err != nil || res.Skipped != "" {
			return res, err
		}
		err = f.replace(res.After, res.Before, res.Exists, o.beforeRename)
		if errors.Is(err, errFileMoved) && attempt < maxEnvAttempts {
			continue // the user saved meanwhile: start again from their version
		}
		if errors.Is(err, errFileMoved) {
			return res, fmt.Errorf("update %s: %w %d times in a row; try again", f.path, err, attempt+1)
		}
		if err != nil {
			return res, err
		}
		res.Written = true
		return res, nil
	}
}

// renameRetry renames, retrying briefly where another process holding the file open
// makes the rename fail (Windows).
func renameRetry(from, to string) error {
	var err error
	for i := 0; i < 20; i++ {
		if err = os.Rename(from, to); err == nil || runtime.GOOS != "windows" {
			return projfile.WithoutPath(err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return projfile.WithoutPath(err)
}
