package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofrs/flock"
)

// SupportedVersion is the registry.json format version this package reads and writes.
const SupportedVersion = 1

// record is one assignment plus the JSON fields this version does not know (kept on rewrite).
type record struct {
	Assignment
	extra map[string]json.RawMessage
}

// state is the decoded registry.json.
type state struct {
	version int
	records []record
	extra   map[string]json.RawMessage // unknown top-level fields
	invalid []invalidEntry             // entries that failed validation: never used, written back byte for byte
	raw     []byte                     // the bytes it was decoded from
	missing bool                       // no registry.json yet
}

// invalidEntry is an entry of "assignments" that is not used (see validate).
type invalidEntry struct {
	index  int             // position in the file's "assignments"
	raw    json.RawMessage // exactly as in the file
	a      Assignment      // what could be decoded of it (best effort)
	reason string
}

// knownTop and knownAssignment match keys as encoding/json does (case-insensitively), so a key
// that filled a field is not also kept as an unknown field.
func knownTop(k string) bool {
	return strings.EqualFold(k, "version") || strings.EqualFold(k, "assignments")
}

func knownAssignment(k string, legacy bool) bool {
	for _, name := range [...]string{"project", "slot", "superserverPort", "webPort", "type", "status", "container",
		"engine", "assignedAt", "lastUsedAt", "extraPorts"} {
		if strings.EqualFold(k, name) {
			return !legacy || name != "extraPorts"
		}
	}
	return false
}

// decode parses registry.json. A newer version is reported as *NewerVersionError together with
// a best-effort decoded state (so that reads still work).
func decode(path string, data []byte) (*state, error) { return decodeWith(path, data, false) }

// decodeWith is decode; legacy decodes as the helpers before extra ports did (for the test that an
// older helper keeps a newer one's "extraPorts": to them it is an unknown field).
func decodeWith(path string, data []byte, legacy bool) (*state, error) {
	if !legacy {
		if st, ok := decodeFast(data); ok {
			return st, nil
		}
	}
	return decodeFull(path, data, legacy)
}

// decodeFast decodes in one pass a file of the supported version without unknown fields (the
// usual case); ok is false when the full decoder must look at it.
func decodeFast(data []byte) (*state, bool) {
	var f struct {
		Version     int          `json:"version"`
		Assignments []Assignment `json:"assignments"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || dec.More() || f.Version != SupportedVersion {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data
	}
	st := &state{version: f.Version, records: make([]record, len(f.Assignments))}
	for i, a := range f.Assignments {
		if checkEntry(a) != "" {
			return nil, false
		}
		st.records[i].Assignment = a
	}
	if !distinct(f.Assignments) {
		return nil, false // the full decoder says which entries lose
	}
	return st, true
}

// checkEntry says what is wrong with one assignment on its own, or "" when nothing is.
func checkEntry(a Assignment) string {
	if why := checkPair(a); why != "" {
		return why
	}
	keys := make(map[string]bool, len(a.Extra))
	for i, x := range a.Extra {
		switch {
		case checkExtraKey(x.Key) != "":
			return fmt.Sprintf("its extra port %d's key %q %s", x.Port, x.Key, checkExtraKey(x.Key))
		case keys[x.Key]:
			return fmt.Sprintf("its extra port key %q appears twice", x.Key)
		case x.Port < 1 || x.Port > 65535:
			return fmt.Sprintf("its extra port %s %d is not between 1 and 65535", x.Key, x.Port)
		case x.Port == a.SuperserverPort:
			return fmt.Sprintf("its extra port %s is its superserver port %d", x.Key, x.Port)
		case x.Port == a.WebPort:
			return fmt.Sprintf("its extra port %s is its web port %d", x.Key, x.Port)
		}
		for _, y := range a.Extra[:i] {
			if y.Port == x.Port {
				return fmt.Sprintf("its extra ports %s and %s are both %d", y.Key, x.Key, x.Port)
			}
		}
		keys[x.Key] = true
	}
	return ""
}

func checkPair(a Assignment) string {
	switch {
	case a.Project == "":
		return "it has no project"
	case !filepath.IsAbs(a.Project):
		return fmt.Sprintf("its project %q is not an absolute path", a.Project)
	case a.SuperserverPort < 1 || a.SuperserverPort > 65535:
		return fmt.Sprintf("its superserver port %d is not between 1 and 65535", a.SuperserverPort)
	case a.WebPort < 1 || a.WebPort > 65535:
		return fmt.Sprintf("its web port %d is not between 1 and 65535", a.WebPort)
	case a.SuperserverPort == a.WebPort:
		return fmt.Sprintf("its superserver and web ports are both %d", a.WebPort)
	}
	return ""
}

// distinct reports whether no port and no project appears twice (the usual case, checked without maps
// for small registries).
func distinct(as []Assignment) bool {
	extras := false
	for _, a := range as {
		if len(a.Extra) > 0 {
			extras = true
			break
		}
	}
	if len(as) > 64 || extras {
		ports := make(map[int]bool, 2*len(as))
		projects := make(map[string]bool, len(as))
		for _, a := range as {
			if ports[a.SuperserverPort] || ports[a.WebPort] || projects[a.Project] {
				return false
			}
			ports[a.SuperserverPort], ports[a.WebPort], projects[a.Project] = true, true, true
			for _, x := range a.Extra {
				if ports[x.Port] {
					return false
				}
				ports[x.Port] = true
			}
		}
		return true
	}
	for i, a := range as {
		for _, b := range as[:i] {
			if a.Project == b.Project || a.SuperserverPort == b.SuperserverPort || a.SuperserverPort == b.WebPort ||
				a.WebPort == b.SuperserverPort || a.WebPort == b.WebPort {
				return false
			}
		}
	}
	return true
}

// dedupe makes the losers of a port (or a project) held twice invalid: the entry with the earlier
// assignedAt keeps it (on a tie, the earlier one in the file). cands are valid on their own, in file order.
func dedupe(cands []candidate) (kept []record, lost []invalidEntry) {
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool {
		return cands[order[x]].rec.AssignedAt.Before(cands[order[y]].rec.AssignedAt)
	})
	ports := make(map[int]string, 2*len(cands))
	projects := make(map[string]bool, len(cands))
	ok := make([]bool, len(cands))
	reasons := make([]string, len(cands))
	for _, i := range order {
		a := cands[i].rec.Assignment
		switch {
		case projects[a.Project]:
			reasons[i] = "its project has an earlier assignment"
		case ports[a.SuperserverPort] != "":
			reasons[i] = fmt.Sprintf("its superserver port %d is held by %s, assigned earlier", a.SuperserverPort, ports[a.SuperserverPort])
		case ports[a.WebPort] != "":
			reasons[i] = fmt.Sprintf("its web port %d is held by %s, assigned earlier", a.WebPort, ports[a.WebPort])
		default:
			for _, x := range a.Extra {
				if h := ports[x.Port]; h != "" {
					reasons[i] = fmt.Sprintf("its extra port %s %d is held by %s, assigned earlier", x.Key, x.Port, h)
					break
				}
			}
			if reasons[i] != "" {
				break
			}
			ok[i] = true
			projects[a.Project] = true
			ports[a.SuperserverPort], ports[a.WebPort] = a.Project, a.Project
			for _, x := range a.Extra {
				ports[x.Port] = a.Project
			}
		}
	}
	for i, c := range cands {
		if ok[i] {
			kept = append(kept, c.rec)
		} else {
			lost = append(lost, invalidEntry{index: c.index, raw: c.raw, a: c.rec.Assignment, reason: reasons[i]})
		}
	}
	return kept, lost
}

// candidate is an entry that is valid on its own, before dedupe.
type candidate struct {
	index int
	raw   json.RawMessage
	rec   record
}

// decodeFull decodes any registry file, keeping unknown fields.
func decodeFull(path string, data []byte, legacy bool) (*state, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	if top == nil {
		return nil, errors.New("not a JSON object")
	}
	st := &state{}
	rawVersion, ok := top["version"]
	if !ok {
		return nil, errors.New(`no "version" field`)
	}
	if err := json.Unmarshal(rawVersion, &st.version); err != nil || st.version < 1 {
		return nil, fmt.Errorf("bad version %s", rawVersion)
	}
	var newer error
	if st.version > SupportedVersion {
		newer = &NewerVersionError{Path: path, Found: st.version, Supported: SupportedVersion}
	}
	for k, v := range top {
		if !knownTop(k) {
			if st.extra == nil {
				st.extra = map[string]json.RawMessage{}
			}
			st.extra[k] = v
		}
	}
	var raws []json.RawMessage
	if rawList, ok := top["assignments"]; ok {
		if err := json.Unmarshal(rawList, &raws); err != nil {
			if newer != nil {
				return st, newer
			}
			return nil, fmt.Errorf("assignments: %w", err)
		}
	}
	cands := make([]candidate, 0, len(raws))
	for i, raw := range raws {
		var rec record
		known := raw
		if legacy {
			known = withoutExtraPorts(raw)
		}
		if err := json.Unmarshal(known, &rec.Assignment); err != nil {
			st.invalid = append(st.invalid, invalidEntry{index: i, raw: raw, a: rec.Assignment, reason: "it is not an assignment: " + err.Error()})
			continue
		}
		if why := checkEntry(rec.Assignment); why != "" {
			st.invalid = append(st.invalid, invalidEntry{index: i, raw: raw, a: rec.Assignment, reason: why})
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			st.invalid = append(st.invalid, invalidEntry{index: i, raw: raw, a: rec.Assignment, reason: "it is not an object"})
			continue
		}
		for k, v := range fields {
			if !knownAssignment(k, legacy) {
				if rec.extra == nil {
					rec.extra = map[string]json.RawMessage{}
				}
				rec.extra[k] = v
			}
		}
		cands = append(cands, candidate{index: i, raw: raw, rec: rec})
	}
	kept, lost := dedupe(cands)
	st.records = kept
	if st.records == nil {
		st.records = []record{}
	}
	st.invalid = append(st.invalid, lost...)
	sort.Slice(st.invalid, func(i, j int) bool { return st.invalid[i].index < st.invalid[j].index })
	return st, newer
}

// withoutExtraPorts drops "extraPorts" from an entry (what a helper before extra ports decoded).
func withoutExtraPorts(raw json.RawMessage) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return raw
	}
	for k := range fields {
		if strings.EqualFold(k, "extraPorts") {
			delete(fields, k)
		}
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return raw
	}
	return out
}

// encode writes the state as indented JSON, unknown fields after the known ones in key order.
func (st *state) encode() ([]byte, error) {
	if out, ok := st.encodeFast(); ok {
		return out, nil
	}
	return st.encodeGeneral()
}

// encodeGeneral handles every state, including unknown fields and invalid entries. It writes what
// json.Indent makes of the compact form, piece by piece, so that an invalid entry can be written
// back exactly as it was read (after the valid ones).
func (st *state) encodeGeneral() ([]byte, error) {
	var out bytes.Buffer
	fmt.Fprintf(&out, "{\n  \"version\": %d,\n  \"assignments\": [", SupportedVersion)
	var compact bytes.Buffer
	n := 0
	for _, rec := range st.records {
		compact.Reset()
		known, err := json.Marshal(rec.Assignment)
		if err != nil {
			return nil, err
		}
		if len(rec.extra) == 0 {
			compact.Write(known)
		} else {
			compact.Write(known[:len(known)-1])
			if err := writeExtra(&compact, rec.extra); err != nil {
				return nil, err
			}
			compact.WriteByte('}')
		}
		if n > 0 {
			out.WriteByte(',')
		}
		n++
		out.WriteString("\n    ")
		if err := json.Indent(&out, compact.Bytes(), "    ", "  "); err != nil {
			return nil, err
		}
	}
	for _, inv := range st.invalid {
		if n > 0 {
			out.WriteByte(',')
		}
		n++
		out.WriteString("\n    ")
		out.Write(inv.raw)
	}
	if n > 0 {
		out.WriteString("\n  ")
	}
	out.WriteByte(']')
	keys := make([]string, 0, len(st.extra))
	for k := range st.extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		out.WriteString(",\n  ")
		out.Write(name)
		out.WriteString(": ")
		if err := json.Indent(&out, st.extra[k], "  ", "  "); err != nil {
			return nil, err
		}
	}
	out.WriteString("\n}\n")
	return out.Bytes(), nil
}

// encodeFast writes the usual state (no unknown fields, plain strings) straight in the indented
// form encodeGeneral produces, byte for byte, without reflection; ok is false for anything else.
func (st *state) encodeFast() ([]byte, bool) {
	if len(st.extra) > 0 || len(st.invalid) > 0 {
		return nil, false
	}
	b := make([]byte, 0, 64+320*len(st.records))
	b = append(b, "{\n  \"version\": "...)
	b = strconv.AppendInt(b, SupportedVersion, 10)
	if len(st.records) == 0 {
		return append(b, ",\n  \"assignments\": []\n}\n"...), true
	}
	b = append(b, ",\n  \"assignments\": ["...)
	for i, rec := range st.records {
		a := rec.Assignment
		if len(rec.extra) > 0 || !plainExtra(a.Extra) || !plain(a.Project) || !plain(string(a.Type)) || !plain(a.Status) || !plain(a.Container) || !plain(a.Engine) ||
			!plainTime(a.AssignedAt) || !plainTime(a.LastUsedAt) {
			return nil, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    {\n      \"project\": \""...)
		b = append(b, a.Project...)
		b = append(b, "\",\n      \"slot\": "...)
		if a.Slot == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, int64(*a.Slot), 10)
		}
		b = append(b, ",\n      \"superserverPort\": "...)
		b = strconv.AppendInt(b, int64(a.SuperserverPort), 10)
		b = append(b, ",\n      \"webPort\": "...)
		b = strconv.AppendInt(b, int64(a.WebPort), 10)
		b = append(b, ",\n      \"type\": \""...)
		b = append(b, a.Type...)
		b = append(b, "\",\n      \"status\": \""...)
		b = append(b, a.Status...)
		b = append(b, "\",\n      \"container\": \""...)
		b = append(b, a.Container...)
		b = append(b, "\",\n      \"engine\": \""...)
		b = append(b, a.Engine...)
		b = append(b, "\",\n      \"assignedAt\": \""...)
		b = a.AssignedAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, "\",\n      \"lastUsedAt\": \""...)
		b = a.LastUsedAt.AppendFormat(b, time.RFC3339Nano)
		if len(a.Extra) == 0 {
			b = append(b, "\"\n    }"...)
			continue
		}
		b = append(b, "\",\n      \"extraPorts\": ["...)
		for j, x := range a.Extra {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n        {\n          \"key\": \""...)
			b = append(b, x.Key...)
			b = append(b, "\",\n          \"port\": "...)
			b = strconv.AppendInt(b, int64(x.Port), 10)
			if !x.AssignedAt.IsZero() {
				b = append(b, ",\n          \"assignedAt\": \""...)
				b = x.AssignedAt.AppendFormat(b, time.RFC3339Nano)
				b = append(b, '"')
			}
			b = append(b, "\n        }"...)
		}
		b = append(b, "\n      ]\n    }"...)
	}
	return append(b, "\n  ]\n}\n"...), true
}

// plainExtra reports whether encodeFast can write the extra ports (plain keys and times).
func plainExtra(xs []ExtraPort) bool {
	for _, x := range xs {
		if !plain(x.Key) || !plainTime(x.AssignedAt) {
			return false
		}
	}
	return true
}

// plain reports whether s needs no JSON escaping (printable ASCII other than " \\ < > &).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// plainTime reports whether encoding/json would format t as RFC 3339 with nanoseconds as-is.
func plainTime(t time.Time) bool { y := t.Year(); return y >= 0 && y <= 9999 }

func writeExtra(b *bytes.Buffer, extra map[string]json.RawMessage) error {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name, err := json.Marshal(k)
		if err != nil {
			return err
		}
		b.WriteByte(',')
		b.Write(name)
		b.WriteByte(':')
		b.Write(extra[k])
	}
	return nil
}

func (st *state) find(project string) int {
	for i := range st.records {
		if st.records[i].Project == project {
			return i
		}
	}
	return -1
}

// holder is who holds a port in the registry: a project and the key it holds it under
// (KeySuperserver, KeyWeb or an extra port's key).
type holder struct{ project, key string }

// holders maps every port held by an assignment (pair and extra ports) to its holder.
func (st *state) holders() map[int]holder {
	m := make(map[int]holder, 2*len(st.records))
	for _, rec := range st.records {
		m[rec.SuperserverPort] = holder{rec.Project, KeySuperserver}
		m[rec.WebPort] = holder{rec.Project, KeyWeb}
		for _, x := range rec.Extra {
			m[x.Port] = holder{rec.Project, x.Key}
		}
	}
	return m
}

// keyOf says under which key the assignment holds port ("" = not at all).
func (a *Assignment) keyOf(port int) string {
	switch port {
	case a.SuperserverPort:
		return KeySuperserver
	case a.WebPort:
		return KeyWeb
	}
	for _, x := range a.Extra {
		if x.Port == port {
			return x.Key
		}
	}
	return ""
}

func (st *state) assignments() []Assignment {
	out := make([]Assignment, len(st.records))
	for i, rec := range st.records {
		out[i] = detach(rec.Assignment)
	}
	return out
}

// read loads registry.json without the lock. Writers replace the file by rename, so a reader sees
// either the old or the new file, never a torn one. A missing file is an empty registry.
//
// The last state this handle read or wrote is cached with the bytes it was decoded from: when the
// file holds the same bytes, read costs one open and read of the file and no decode. (The file's
// identity, size and mtime are not enough: another writer's file may have the same size, the
// same mtime and, as inodes are reused, the same inode.) The returned state must not be modified
// (update works on a copy, see readReuse).
func (r *Registry) read() (*state, error) {
	buf := readBufs.Get().(*[]byte)
	defer readBufs.Put(buf)
	data, err := r.readInto((*buf)[:0])
	if err != nil {
		return nil, err
	}
	if data == nil {
		return &state{version: SupportedVersion, missing: true}, nil
	}
	*buf = data[:0]
	r.mu.Lock()
	c := r.cache
	r.mu.Unlock()
	if c != nil && bytes.Equal(c.raw, data) {
		return c, nil
	}
	st, err := r.decodeData(bytes.Clone(data))
	if err == nil {
		r.remember(st)
	}
	return st, err
}

// readBufs holds the buffers read() reads registry.json into before comparing it with the cache.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// readRaw returns the bytes of registry.json, nil when it does not exist, or an *AccessError when it
// cannot be read (it is then left as it is; see readLocked).
func (r *Registry) readRaw() ([]byte, error) { return r.readInto(nil) }

// readInto reads registry.json into buf (appending; buf may be reused).
func (r *Registry) readInto(buf []byte) ([]byte, error) {
	data, mode, err := readRegular(r.path, buf)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, r.readFailure(err)
	case mode != 0:
		return nil, notRegular(OpRead, r.path, mode)
	case data == nil:
		data = []byte{}
	}
	return data, nil
}

func (r *Registry) readFailure(err error) error {
	if ae := accessError(OpRead, r.path, err); ae != nil {
		return ae
	}
	return &AccessError{Op: OpRead, Path: r.path, Err: err, Culprit: r.path}
}

// remember caches st (with st.raw) as the content of registry.json.
func (r *Registry) remember(st *state) {
	r.mu.Lock()
	r.cache = st
	r.mu.Unlock()
}

// readReuse reads registry.json (lock held) for modification. When its bytes equal those prev was
// decoded from, it returns a copy of prev instead of decoding again. It never returns prev itself.
func (r *Registry) readReuse(prev *state) (*state, error) {
	data, err := r.readRaw()
	if err != nil {
		return nil, err
	}
	if data == nil {
		return &state{version: SupportedVersion, missing: true}, nil
	}
	if prev != nil && !prev.missing && prev.raw != nil && bytes.Equal(prev.raw, data) {
		return prev.clone(), nil
	}
	return r.decodeData(data)
}

func (r *Registry) decodeData(data []byte) (*state, error) {
	st, err := decode(r.path, data)
	if st != nil {
		st.raw = data
	}
	if err != nil {
		var nv *NewerVersionError
		if errors.As(err, &nv) {
			return st, err
		}
		return nil, &readError{err}
	}
	return st, nil
}

// clone copies the state so that the copy can be modified (records are values; their Slot
// pointers, Extra slices and extra maps are never modified in place).
func (st *state) clone() *state {
	c := *st
	c.records = append([]record(nil), st.records...)
	return &c
}

// readError marks a registry.json that was read but cannot be decoded (as opposed to a newer
// version, or a file that cannot be read at all: *AccessError).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// readLocked loads registry.json while the lock is held. A file that was read and fails to decode is
// moved aside and reported as *CorruptError (the registry is then empty); a file that cannot be read
// is reported as *AccessError and left where it is.
func (r *Registry) readLocked(prev *state) (*state, error) {
	st, err := r.readReuse(prev)
	var re *readError
	if errors.As(err, &re) {
		return nil, r.quarantine(re.err)
	}
	return st, err
}

// quarantine moves a corrupt registry.json aside (lock held) and says so loudly.
func (r *Registry) quarantine(cause error) error {
	backup := fmt.Sprintf("%s.corrupt-%s", r.path, time.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := renameFile(r.path, backup); err != nil {
		r.log.Error("registry is unreadable and could not be moved aside", "path", r.path, "error", cause, "renameError", err)
		return &CorruptError{Path: r.path, Err: cause}
	}
	_ = syncDir(r.home)
	r.log.Error("REGISTRY WAS CORRUPT: moved it aside and started an empty registry",
		"path", r.path, "backup", backup, "error", cause)
	return &CorruptError{Path: r.path, Backup: backup, Err: cause}
}

// write replaces registry.json durably: temp file in the same folder, fsync, rename, fsync folder.
func (r *Registry) write(st *state) error {
	if st.version > SupportedVersion {
		return &NewerVersionError{Path: r.path, Found: st.version, Supported: SupportedVersion}
	}
	data, err := st.encode()
	if err != nil {
		return fmt.Errorf("encode registry: %w", err)
	}
	tmp, err := os.CreateTemp(r.home, FileName+".tmp-*")
	if err != nil {
		if ae := accessError(OpWrite, r.home, err); ae != nil && ae.Kind == 0 {
			ae.Culprit, ae.Fix = permissionFix(filepath.Join(r.home, FileName+".tmp-new"))
			return ae
		}
		return fmt.Errorf("write registry: %w", err)
	}
	tmpName := tmp.Name()
	cleanup := func() { _ = tmp.Close(); _ = os.Remove(tmpName) }
	if err := tmp.Chmod(0o600); err != nil && !isWindows {
		cleanup()
		return fmt.Errorf("write registry: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		cleanup()
		return fmt.Errorf("write registry %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		cleanup()
		return fmt.Errorf("write registry %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmpName)
		return fmt.Errorf("write registry %s: %w", tmpName, err)
	}
	// Note the new content as this handle's own before it appears under its name, so that Changes
	// never reports it.
	r.noteOwnWrite(data)
	if err := renameFile(tmpName, r.path); err != nil {
		_ = os.Remove(tmpName)
		return fmt.Errorf("replace registry %s: %w", r.path, err)
	}
	if err := syncDir(r.home); err != nil {
		return fmt.Errorf("sync registry folder %s: %w", r.home, err)
	}
	st.raw, st.missing = data, false
	r.remember(st) // lock held: registry.json is the file just written
	return nil
}

// removeOrphanTemps deletes temp files left by a writer that died mid-write (lock held).
func (r *Registry) removeOrphanTemps() {
	matches, _ := filepath.Glob(filepath.Join(r.home, FileName+".tmp-*"))
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

// withLock runs fn while holding both the in-process gate and the cross-process file lock.
func (r *Registry) withLock(ctx context.Context, fn func() error) error {
	timeout := r.lockTimeout
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r.gate <- struct{}{}:
	case <-timer.C:
		return &LockTimeoutError{Path: r.lockPath, Timeout: timeout}
	case <-ctx.Done():
		return fmt.Errorf("wait for registry lock %s: %w", r.lockPath, ctx.Err())
	}
	defer func() { <-r.gate }()

	fl, err := r.lockFile(ctx, timer.C, timeout)
	if err != nil {
		return err
	}
	defer func() { _ = fl.Close() }() // Close unlocks
	return fn()
}

// lockFile takes the cross-process lock. It tries once without blocking; when another process holds
// the lock it waits in a blocking flock (LockFileEx on Windows) in a goroutine, which the kernel
// wakes as soon as the lock is released: far cheaper under contention than polling, where dozens of
// waiters burn CPU and miss the short windows between two writers. On timeout or cancellation the
// waiting goroutine is left to finish: when it gets the lock it releases it at once.
func (r *Registry) lockFile(ctx context.Context, timeoutC <-chan time.Time, timeout time.Duration) (*flock.Flock, error) {
	fl := flock.New(r.lockPath, flock.SetPermissions(0o600), flock.SetFlag(lockFlags()))
	ok, err := fl.TryLock()
	if err != nil {
		_ = fl.Close()
		return nil, r.lockFailure(err)
	}
	// The open handle is what is locked: it must be the regular file a link could not redirect.
	if fi, err := fl.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = fl.Close()
		if err != nil {
			return nil, r.lockFailure(err)
		}
		return nil, notRegular(OpLock, r.lockPath, fi.Mode())
	}
	if ok {
		return fl, nil
	}
	select {
	case r.waiter <- struct{}{}:
	default:
		// An abandoned blocking wait of this handle is still pending (its holder never let go):
		// poll instead, so that a stuck holder cannot pile up blocked threads in a long-running helper.
		return r.pollLock(ctx, fl, timeoutC, timeout)
	}
	done := make(chan error, 1)
	go func() {
		err := blockingLock(fl)
		<-r.waiter
		done <- err
	}()
	abandon := func() {
		go func() {
			<-done
			_ = fl.Close()
		}()
	}
	select {
	case err := <-done:
		if err != nil {
			_ = fl.Close()
			return nil, r.lockFailure(err)
		}
		return fl, nil
	case <-timeoutC:
		abandon()
		return nil, &LockTimeoutError{Path: r.lockPath, Timeout: timeout}
	case <-ctx.Done():
		abandon()
		return nil, fmt.Errorf("wait for registry lock %s: %w", r.lockPath, ctx.Err())
	}
}

// pollLock retries TryLock with a short, growing back-off until the lock is free or time is up.
func (r *Registry) pollLock(ctx context.Context, fl *flock.Flock, timeoutC <-chan time.Time, timeout time.Duration) (*flock.Flock, error) {
	delay := time.Millisecond
	for {
		t := time.NewTimer(delay)
		select {
		case <-timeoutC:
			t.Stop()
			_ = fl.Close()
			return nil, &LockTimeoutError{Path: r.lockPath, Timeout: timeout}
		case <-ctx.Done():
			t.Stop()
			_ = fl.Close()
			return nil, fmt.Errorf("wait for registry lock %s: %w", r.lockPath, ctx.Err())
		case <-t.C:
		}
		ok, err := fl.TryLock()
		if err != nil {
			_ = fl.Close()
			return nil, r.lockFailure(err)
		}
		if ok {
			return fl, nil
		}
		if delay < 20*time.Millisecond {
			delay *= 2
		}
	}
}

// lockFailure reports a failed open or lock of registry.lock: *AccessError for a link or a
// permission problem, with the fix.
func (r *Registry) lockFailure(err error) error {
	if ae := accessError(OpLock, r.lockPath, err); ae != nil {
		return ae
	}
	return fmt.Errorf("lock registry %s: %w", r.lockPath, err)
}

// blockingLock waits for the lock, retrying a wait interrupted by a signal.
func blockingLock(fl *flock.Flock) error {
	for {
		err := fl.Lock()
		if err == nil || !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
