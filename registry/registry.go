// Package registry is the machine-wide port registry: it gives each project (a canonical folder
// path) its own pair of host ports, a superserver port and a web port, and keeps the pairs in
// $IRIS_HELPER_HOME/registry.json so that every iris-helper process on the machine agrees on them.
//
// A slot is a pair of ports: slot i is the i-th port of the superserver range and the i-th port of
// the web range. Assignments are sticky (stopping IRIS does not release them) and idempotent.
// Writers take a cross-process file lock (registry.lock) and replace registry.json atomically
// (temp file, fsync, rename, fsync folder), so readers never see a torn file. See docs/registry.md.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// AssignmentType says how an assignment's ports were chosen.
type AssignmentType string

// Assignment types.
const (
	TypeAuto   AssignmentType = "auto"   // the registry's slot
	TypeManual AssignmentType = "manual" // asked for (flags, .iris-helper.json, .env edit)
)

// Assignment statuses.
const (
	StatusActive = "active"
	StatusIdle   = "idle"
	StatusStale  = "stale"
)

// DefaultLockTimeout is how long a writer waits for the registry lock when Options.LockTimeout is 0.
const DefaultLockTimeout = 5 * time.Second

// DefaultChangesInterval is how often Changes polls registry.json when Options.ChangesInterval is 0.
const DefaultChangesInterval = 500 * time.Millisecond

// Assignment is one project's port pair. Unknown JSON fields of an assignment are kept on rewrite.
type Assignment struct {
	Project         string         `json:"project"`
	Slot            *int           `json:"slot"` // nil for manual
	SuperserverPort int            `json:"superserverPort"`
	WebPort         int            `json:"webPort"`
	Type            AssignmentType `json:"type"`   // TypeAuto | TypeManual
	Status          string         `json:"status"` // "active" | "idle" | "stale"
	Container       string         `json:"container"`
	Engine          string         `json:"engine"`
	AssignedAt      time.Time      `json:"assignedAt"`
	LastUsedAt      time.Time      `json:"lastUsedAt"`
	// Extra holds the host ports of the project's other published container ports (compose
	// projects), ordered by key; see Ensure. Absent from the file when empty.
	Extra []ExtraPort `json:"extraPorts,omitempty"`
}

// Preferred asks for specific ports (0 = no preference). Any non-zero field makes the assignment manual.
type Preferred struct {
	Superserver int
	Web         int
}

func (p Preferred) none() bool { return p.Superserver == 0 && p.Web == 0 }

// PortsInUse reports host ports published by the container engine: port -> holder
// ("container iris_ab12cd34_1973"). dockerops.Engine implements it.
type PortsInUse interface {
	HostPortsInUse(ctx context.Context) (map[int]string, error)
}

// Options configure Open. Zero values pick the defaults.
type Options struct {
	Home             string        // "" = $IRIS_HELPER_HOME or ~/.iris-helper
	Superserver, Web *Range        // nil = env IRIS_HELPER_*_RANGE > $HOME/config.json > defaults
	Extra            *Range        // the extra ports' range; nil = env IRIS_HELPER_EXTRA_RANGE > config.json > 12000-12999
	LockTimeout      time.Duration // 0 = 5s
	Ports            PortsInUse    // may be nil (probe only)
	Logger           *slog.Logger  // nil = discard
	ChangesInterval  time.Duration // 0 = 500ms; how often Changes polls registry.json
}

// Registry is a handle on the registry files in one home folder. It is safe for concurrent use by
// several goroutines and several processes.
type Registry struct {
	home, path, lockPath string
	ss, web, extra       Range
	lockTimeout          time.Duration
	pollEvery            time.Duration
	ports                PortsInUse
	log                  *slog.Logger
	gate                 chan struct{} // in-process mutex that honours contexts
	waiter               chan struct{} // at most one blocking lock wait per handle (see lockFile)

	mu       sync.Mutex
	ownWrite []byte // registry.json as this handle last wrote it (Changes ignores it once)
	cache    *state // the last registry.json this handle read or wrote (with its bytes)
}

// Open prepares the home folder (created 0700; an existing one must be owned by the effective user
// or root and not writable by group or others, else *HomeError) and resolves the port ranges. It
// does not read registry.json; every operation reads the current file.
func Open(opts Options) (*Registry, error) {
	home := opts.Home
	if home == "" {
		h, err := DefaultHome()
		if err != nil {
			return nil, err
		}
		home = h
	}
	home, err := filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("registry home %s: %w", home, err)
	}
	if err := makeHome(home); err != nil {
		return nil, err
	}
	ss, web, extra, err := resolveRanges(home, opts.Superserver, opts.Web, opts.Extra)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		home:        home,
		path:        filepath.Join(home, FileName),
		lockPath:    filepath.Join(home, LockFileName),
		ss:          ss,
		web:         web,
		extra:       extra,
		lockTimeout: opts.LockTimeout,
		pollEvery:   opts.ChangesInterval,
		ports:       opts.Ports,
		log:         log,
		gate:        make(chan struct{}, 1),
		waiter:      make(chan struct{}, 1),
	}
	if r.lockTimeout <= 0 {
		r.lockTimeout = DefaultLockTimeout
	}
	if r.pollEvery <= 0 {
		r.pollEvery = DefaultChangesInterval
	}
	return r, nil
}

// Home is the registry's home folder.
func (r *Registry) Home() string { return r.home }

// Path is the registry file, $HOME/registry.json.
func (r *Registry) Path() string { return r.path }

// LockPath is the sidecar lock file, $HOME/registry.lock.
func (r *Registry) LockPath() string { return r.lockPath }

// Ranges returns the superserver and web ranges new automatic assignments come from.
func (r *Registry) Ranges() (superserver, web Range) { return r.ss, r.web }

// ExtraRange returns the range new extra ports come from (see Ensure).
func (r *Registry) ExtraRange() Range { return r.extra }

func checkProject(project string) error {
	if project == "" || !filepath.IsAbs(project) {
		return fmt.Errorf("project key %q is not an absolute path; pass the project root folder", project)
	}
	return nil
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// update runs fn on the current state under the lock and writes the state when fn reports a change.
// hint, if not nil, is a state read before the lock: it is reused when the file did not change.
func (r *Registry) update(ctx context.Context, hint *state, fn func(st *state) (changed bool, err error)) error {
	return r.withLock(ctx, func() error {
		st, err := r.readLocked(hint)
		if err != nil {
			return err
		}
		changed, err := fn(st)
		if err != nil || !changed {
			return err
		}
		return r.write(st)
	})
}

// Assign returns the project's port pair, assigning one if it has none.
//
// Without a preference it is idempotent: a project that already has an assignment gets it back
// unchanged (no probe, no engine call, no write). A new project gets the lowest free slot; if none
// is free, stale assignments (project folder gone) are reclaimed first, then *ExhaustedError.
//
// A preferred port makes a manual assignment (slot nil) that may lie outside the ranges; it is
// refused with *ConflictError when another project, a container or another process holds it. A
// project that already has an assignment and asks for different preferred ports is moved to them.
func (r *Registry) Assign(ctx context.Context, project string, pref Preferred) (Assignment, error) {
	if err := checkProject(project); err != nil {
		return Assignment{}, err
	}
	if err := checkPreferred(pref); err != nil {
		return Assignment{}, err
	}
	// Fast path without the lock: an existing assignment that satisfies the request.
	hint, err := r.read()
	if err == nil {
		if i := hint.find(project); i >= 0 && satisfies(hint.records[i].Assignment, pref) && hint.records[i].Status != StatusStale {
			return detach(hint.records[i].Assignment), nil
		}
	} else {
		hint = nil
	}
	// A new or moved assignment needs the engine's ports: ask before taking the lock, so that a
	// slow engine does not hold up other processes (the engine is not guarded by our lock anyway).
	var inUse map[int]string
	r.engineInUse(ctx, &inUse)
	var out Assignment
	err = r.update(ctx, hint, func(st *state) (bool, error) {
		i := st.find(project)
		if i >= 0 && satisfies(st.records[i].Assignment, pref) {
			rec := &st.records[i]
			if rec.Status != StatusStale {
				out = rec.Assignment
				return false, nil
			}
			rec.Status = StatusIdle
			out = rec.Assignment
			return true, nil
		}
		var a Assignment
		var err error
		if pref.none() {
			a, err = r.pickAuto(ctx, st, project, nil, &inUse)
		} else {
			a, err = r.pickManual(ctx, st, project, pref, &inUse)
		}
		if err != nil {
			return false, err
		}
		if i >= 0 {
			st.records[i].Assignment = a
		} else {
			st.records = append(st.records, record{Assignment: a})
		}
		out = a
		return true, nil
	})
	if err != nil {
		return Assignment{}, fmt.Errorf("assign ports for %s: %w", project, err)
	}
	return detach(out), nil
}

func checkPreferred(p Preferred) error {
	for _, port := range []int{p.Superserver, p.Web} {
		if port < 0 || port > 65535 {
			return fmt.Errorf("preferred port %d is out of range; give a port between 1 and 65535", port)
		}
	}
	if p.Superserver != 0 && p.Superserver == p.Web {
		return fmt.Errorf("preferred superserver and web ports are both %d; give two different ports", p.Web)
	}
	return nil
}

// satisfies reports whether an existing assignment already answers the request.
func satisfies(a Assignment, p Preferred) bool {
	return (p.Superserver == 0 || p.Superserver == a.SuperserverPort) && (p.Web == 0 || p.Web == a.WebPort)
}

// engineInUse asks the engine once per operation; an engine error or no engine means probe only.
func (r *Registry) engineInUse(ctx context.Context, cache *map[int]string) map[int]string {
	if *cache != nil {
		return *cache
	}
	*cache = map[int]string{}
	if r.ports == nil {
		return *cache
	}
	m, err := r.ports.HostPortsInUse(ctx)
	if err != nil {
		r.log.Debug("container engine did not report its ports; probing the host only", "error", err)
		return *cache
	}
	if m != nil {
		*cache = m
	}
	return *cache
}

// portConflict says who holds port, or nil when project may take it for key. held maps registry
// ports to their holders. key is pairKey (a port of the pair: the project's own pair ports are free
// for it, its extra ports are not), anyKey (every port of the project's own is free) or an extra
// port's key (only the port of that key is the project's own). The host probe uses the key's protocol.
func (r *Registry) portConflict(ctx context.Context, port int, project, key string, held map[int]holder, inUse *map[int]string) *ConflictError {
	if h, ok := held[port]; ok {
		if h.project == project && (key == anyKey || key == h.key || (key == pairKey && isPairKey(h.key))) {
			return nil
		}
		c := &ConflictError{Port: port, Holder: "project " + h.project, HolderProject: h.project}
		if !isPairKey(h.key) {
			c.HolderKey = h.key
		}
		return c
	}
	if h, ok := r.engineInUse(ctx, inUse)[port]; ok {
		if h == "" {
			h = "a container"
		}
		return &ConflictError{Port: port, Holder: h}
	}
	if proto := keyProtocol(key); !hostPortFreeProto(port, proto) {
		if h := PortHolder(port); h != "" && proto == "tcp" {
			return &ConflictError{Port: port, Holder: h}
		}
		return &ConflictError{Port: port, Holder: holderOtherProcess}
	}
	return nil
}

// pickAuto finds the lowest free slot for project (which may already hold ports: they are
// released by the move). avoid lists ports that must not be used.
func (r *Registry) pickAuto(ctx context.Context, st *state, project string, avoid map[int]bool, inUse *map[int]string) (Assignment, error) {
	if a, ok := r.scanSlots(ctx, st, project, avoid, inUse, nil); ok {
		return a, nil
	}
	// Exhausted: reclaim stale assignments, then try again.
	if r.reclaimStale(st, project) {
		if a, ok := r.scanSlots(ctx, st, project, avoid, inUse, nil); ok {
			return a, nil
		}
	}
	busy := map[int]string{}
	r.scanSlots(ctx, st, project, avoid, inUse, busy)
	return Assignment{}, &ExhaustedError{Superserver: r.ss, Web: r.web, Assignments: sortAssignments(st.assignments()),
		Busy: busy, ConfigFile: filepath.Join(r.home, ConfigFileName)}
}

// scanSlots returns the first free slot. When busy is non-nil it records ports held outside the registry.
func (r *Registry) scanSlots(ctx context.Context, st *state, project string, avoid map[int]bool, inUse *map[int]string, busy map[int]string) (Assignment, bool) {
	held := st.holders()
	// The project's own current pair is being given up: do not count it as its own (its extra
	// ports stay held).
	for p, h := range held {
		if h.project == project && isPairKey(h.key) {
			delete(held, p)
			if avoid == nil {
				avoid = map[int]bool{}
			}
			avoid[p] = true
		}
	}
	for i := 0; i < r.ss.Len(); i++ {
		ssPort, webPort := r.ss.Lo+i, r.web.Lo+i
		if avoid[ssPort] || avoid[webPort] {
			continue
		}
		if _, ok := held[ssPort]; ok {
			continue
		}
		if _, ok := held[webPort]; ok {
			continue
		}
		c1 := r.portConflict(ctx, ssPort, project, pairKey, held, inUse)
		if c1 != nil && busy == nil {
			continue
		}
		c2 := r.portConflict(ctx, webPort, project, pairKey, held, inUse)
		if c1 == nil && c2 == nil {
			if busy != nil {
				continue // only collecting
			}
			slot := i
			t := now()
			return Assignment{Project: project, Slot: &slot, SuperserverPort: ssPort, WebPort: webPort,
				Type: TypeAuto, Status: StatusIdle, AssignedAt: t, LastUsedAt: t}, true
		}
		if busy != nil {
			for _, c := range []*ConflictError{c1, c2} {
				if c != nil {
					busy[c.Port] = c.Holder
				}
			}
		}
	}
	return Assignment{}, false
}

// reclaimStale removes assignments whose project folder no longer exists or that are marked stale.
func (r *Registry) reclaimStale(st *state, except string) bool {
	kept := st.records[:0]
	reclaimed := false
	for _, rec := range st.records {
		if rec.Project != except && (rec.Status == StatusStale || folderGone(rec.Project)) {
			r.log.Warn("reclaimed the ports of a stale project (its folder is gone)",
				"project", rec.Project, "superserver", rec.SuperserverPort, "web", rec.WebPort)
			reclaimed = true
			continue
		}
		kept = append(kept, rec)
	}
	st.records = kept
	return reclaimed
}

// FolderGone reports whether the assignment's project folder no longer exists.
func FolderGone(a Assignment) bool { return folderGone(a.Project) }

func folderGone(dir string) bool {
	_, err := os.Stat(dir)
	return errors.Is(err, fs.ErrNotExist)
}

// pickManual builds a manual assignment for the preferred ports. A port not given keeps the
// project's current one, or else takes the first free port of its range.
func (r *Registry) pickManual(ctx context.Context, st *state, project string, pref Preferred, inUse *map[int]string) (Assignment, error) {
	held := st.holders()
	var cur *Assignment
	if i := st.find(project); i >= 0 {
		cur = &st.records[i].Assignment
	}
	ssPort, webPort := pref.Superserver, pref.Web
	for _, p := range []int{ssPort, webPort} {
		if p == 0 {
			continue
		}
		if c := r.portConflict(ctx, p, project, pairKey, held, inUse); c != nil {
			return Assignment{}, c
		}
	}
	fill := func(rng Range, curPort, other int) (int, error) {
		if cur != nil && curPort != other {
			return curPort, nil
		}
		for p := rng.Lo; p <= rng.Hi; p++ {
			if p == other {
				continue
			}
			if _, ok := held[p]; ok {
				continue
			}
			if r.portConflict(ctx, p, project, pairKey, held, inUse) == nil {
				return p, nil
			}
		}
		return 0, &ExhaustedError{Superserver: r.ss, Web: r.web, Assignments: sortAssignments(st.assignments()),
			ConfigFile: filepath.Join(r.home, ConfigFileName)}
	}
	var err error
	if ssPort == 0 {
		curSS := 0
		if cur != nil {
			curSS = cur.SuperserverPort
		}
		if ssPort, err = fill(r.ss, curSS, webPort); err != nil {
			return Assignment{}, err
		}
	}
	if webPort == 0 {
		curWeb := 0
		if cur != nil {
			curWeb = cur.WebPort
		}
		if webPort, err = fill(r.web, curWeb, ssPort); err != nil {
			return Assignment{}, err
		}
	}
	t := now()
	a := Assignment{Project: project, SuperserverPort: ssPort, WebPort: webPort, Type: TypeManual,
		Status: StatusIdle, AssignedAt: t, LastUsedAt: t}
	if cur != nil {
		a.Status, a.Container, a.Engine, a.Extra = cur.Status, cur.Container, cur.Engine, cur.Extra
		if a.Status == StatusStale {
			a.Status = StatusIdle
		}
	}
	return a, nil
}

// Reassign moves the project to the lowest free automatic slot that avoids its current ports and
// the given ones (for a port grabbed by someone else between assignment and container start).
// A project without an assignment gets a new one.
func (r *Registry) Reassign(ctx context.Context, project string, avoid ...int) (Assignment, error) {
	if err := checkProject(project); err != nil {
		return Assignment{}, err
	}
	av := map[int]bool{}
	for _, p := range avoid {
		av[p] = true
	}
	var inUse map[int]string
	r.engineInUse(ctx, &inUse) // before the lock, as in Assign
	var out Assignment
	err := r.update(ctx, nil, func(st *state) (bool, error) {
		a, err := r.pickAuto(ctx, st, project, av, &inUse)
		if err != nil {
			return false, err
		}
		if i := st.find(project); i >= 0 {
			cur := st.records[i].Assignment
			a.Container, a.Engine, a.Extra = cur.Container, cur.Engine, cur.Extra
			st.records[i].Assignment = a
		} else {
			st.records = append(st.records, record{Assignment: a})
		}
		out = a
		return true, nil
	})
	if err != nil {
		return Assignment{}, fmt.Errorf("reassign ports for %s: %w", project, err)
	}
	return detach(out), nil
}

// readForQuery reads without the lock; a corrupt file is handled under the lock (moved aside).
// A newer version is readable on a best-effort basis.
func (r *Registry) readForQuery(ctx context.Context) (*state, error) {
	st, err := r.read()
	var re *readError
	if errors.As(err, &re) {
		err = r.withLock(ctx, func() error {
			var lerr error
			st, lerr = r.readLocked(nil)
			return lerr
		})
	}
	var nv *NewerVersionError
	if errors.As(err, &nv) && st != nil {
		return st, nil
	}
	return st, err
}

// Get returns the project's assignment, if any.
func (r *Registry) Get(ctx context.Context, project string) (Assignment, bool, error) {
	st, err := r.readForQuery(ctx)
	if err != nil {
		return Assignment{}, false, fmt.Errorf("read port registry: %w", err)
	}
	if i := st.find(project); i >= 0 {
		return withLiveStatus(st.records[i].Assignment), true, nil
	}
	return Assignment{}, false, nil
}

// Find returns the assignment holding port (as superserver, web or extra port), if any.
func (r *Registry) Find(ctx context.Context, port int) (Assignment, bool, error) {
	a, _, ok, err := r.Lookup(ctx, port)
	return a, ok, err
}

// Lookup returns the assignment holding port and the key it holds it under: KeySuperserver,
// KeyWeb or an extra port's key ("web/80/tcp").
func (r *Registry) Lookup(ctx context.Context, port int) (Assignment, string, bool, error) {
	st, err := r.readForQuery(ctx)
	if err != nil {
		return Assignment{}, "", false, fmt.Errorf("read port registry: %w", err)
	}
	for _, rec := range st.records {
		if key := rec.keyOf(port); key != "" {
			return withLiveStatus(rec.Assignment), key, true, nil
		}
	}
	return Assignment{}, "", false, nil
}

// List returns every assignment, ordered by superserver port. An assignment whose project folder
// no longer exists is reported with status "stale" (the file is not changed).
func (r *Registry) List(ctx context.Context) ([]Assignment, error) {
	st, err := r.readForQuery(ctx)
	if err != nil {
		return nil, fmt.Errorf("read port registry: %w", err)
	}
	out := st.assignments()
	for i := range out {
		out[i] = withLiveStatus(out[i])
	}
	return sortAssignments(out), nil
}

// InvalidEntry is an entry of registry.json's "assignments" that failed validation when it was read:
// a port outside 1-65535, equal superserver and web ports, a project key that is not an absolute
// path, an entry that is not an assignment at all, or a port (or project) that an entry with an
// earlier assignedAt already holds. Such an entry is never used — not returned by Get, Find or
// List, not counted as holding its ports — and is written back byte for byte on every rewrite
// (iris-helper never changes or removes it: fix or delete it by hand).
type InvalidEntry struct {
	Index   int             `json:"index"`             // position in the file's "assignments" (0-based)
	Project string          `json:"project,omitempty"` // its project key, if it has one
	Reason  string          `json:"reason"`            // why it is not used ("its web port 70000 is not between 1 and 65535")
	Entry   json.RawMessage `json:"entry"`             // exactly as in the file
}

// Invalid returns the entries of registry.json that are not used because they failed validation,
// in file order (see InvalidEntry).
func (r *Registry) Invalid(ctx context.Context) ([]InvalidEntry, error) {
	st, err := r.readForQuery(ctx)
	if err != nil {
		return nil, fmt.Errorf("read port registry: %w", err)
	}
	var out []InvalidEntry
	for _, inv := range st.invalid {
		out = append(out, InvalidEntry{Index: inv.index, Project: inv.a.Project, Reason: inv.reason,
			Entry: append(json.RawMessage(nil), inv.raw...)})
	}
	return out, nil
}

// detach copies the slot and the extra ports so that a caller changing them cannot change the
// handle's cached state.
func detach(a Assignment) Assignment {
	if a.Slot != nil {
		s := *a.Slot
		a.Slot = &s
	}
	if a.Extra != nil {
		a.Extra = append([]ExtraPort(nil), a.Extra...)
	}
	return a
}

func withLiveStatus(a Assignment) Assignment {
	a = detach(a)
	if a.Status != StatusStale && folderGone(a.Project) {
		a.Status = StatusStale
	}
	return a
}

func sortAssignments(as []Assignment) []Assignment {
	sort.SliceStable(as, func(i, j int) bool {
		if as[i].SuperserverPort != as[j].SuperserverPort {
			return as[i].SuperserverPort < as[j].SuperserverPort
		}
		return as[i].Project < as[j].Project
	})
	return as
}

// Release removes the project's assignment and returns it; *NotFoundError if it has none.
func (r *Registry) Release(ctx context.Context, project string) (Assignment, error) {
	var out Assignment
	err := r.update(ctx, nil, func(st *state) (bool, error) {
		i := st.find(project)
		if i < 0 {
			return false, &NotFoundError{Project: project}
		}
		out = st.records[i].Assignment
		st.records = append(st.records[:i], st.records[i+1:]...)
		return true, nil
	})
	if err != nil {
		return Assignment{}, fmt.Errorf("release ports of %s: %w", project, err)
	}
	return out, nil
}

// Clear removes every assignment (unknown top-level fields are kept) and returns the ones it
// removed, read under the same lock.
func (r *Registry) Clear(ctx context.Context) ([]Assignment, error) {
	var removed []Assignment
	err := r.update(ctx, nil, func(st *state) (bool, error) {
		r.removeOrphanTemps()
		removed = st.assignments()
		st.records = nil
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("clear port registry: %w", err)
	}
	return sortAssignments(removed), nil
}

// Cleanup finds stale assignments. gone decides which ones are; a nil gone means "the status is
// stale or the project folder no longer exists" (FolderGone). A caller that knows more (say, that
// a container still runs for a folder that is gone) passes its own rule. With dryRun it only
// reports them; otherwise it removes them and returns what it removed. It also deletes temp
// files left by writers that died mid-write.
func (r *Registry) Cleanup(ctx context.Context, dryRun bool, gone func(Assignment) bool) ([]Assignment, error) {
	if gone == nil {
		gone = func(a Assignment) bool { return a.Status == StatusStale || FolderGone(a) }
	}
	var stale []Assignment
	err := r.update(ctx, nil, func(st *state) (bool, error) {
		if !dryRun {
			r.removeOrphanTemps()
		}
		kept := st.records[:0:0]
		for _, rec := range st.records {
			if gone(rec.Assignment) {
				a := rec.Assignment
				a.Status = StatusStale
				stale = append(stale, a)
				continue
			}
			kept = append(kept, rec)
		}
		if dryRun || len(stale) == 0 {
			return false, nil
		}
		st.records = kept
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("clean up port registry: %w", err)
	}
	return sortAssignments(stale), nil
}

// Touch sets the project's lastUsedAt to now; *NotFoundError if it has no assignment.
func (r *Registry) Touch(ctx context.Context, project string) error {
	err := r.update(ctx, nil, func(st *state) (bool, error) {
		i := st.find(project)
		if i < 0 {
			return false, &NotFoundError{Project: project}
		}
		st.records[i].LastUsedAt = now()
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("touch ports of %s: %w", project, err)
	}
	return nil
}

// Update changes the project's status, container, engine or lastUsedAt through fn and writes the
// result. fn must not change the project, slot, ports, type, assignedAt or extra ports (use Assign, Reassign or Ensure).
func (r *Registry) Update(ctx context.Context, project string, fn func(*Assignment)) (Assignment, error) {
	var out Assignment
	err := r.update(ctx, nil, func(st *state) (bool, error) {
		i := st.find(project)
		if i < 0 {
			return false, &NotFoundError{Project: project}
		}
		before := st.records[i].Assignment
		a := detach(before)
		fn(&a)
		if a.Project != before.Project || !sameSlot(a.Slot, before.Slot) || a.SuperserverPort != before.SuperserverPort ||
			a.WebPort != before.WebPort || a.Type != before.Type || !a.AssignedAt.Equal(before.AssignedAt) ||
			!sameExtra(a.Extra, before.Extra) {
			return false, errors.New("update may change only status, container, engine and lastUsedAt; " +
				"use Assign, Reassign or Ensure to change ports")
		}
		a.Slot, a.Extra = before.Slot, before.Extra
		if a.Status == before.Status && a.Container == before.Container && a.Engine == before.Engine &&
			a.LastUsedAt == before.LastUsedAt {
			out = a
			return false, nil
		}
		st.records[i].Assignment = a
		out = a
		return true, nil
	})
	if err != nil {
		return Assignment{}, fmt.Errorf("update ports of %s: %w", project, err)
	}
	return detach(out), nil
}

func sameSlot(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Restore adds assignments rebuilt from elsewhere (for example container labels after the registry
// was found corrupt), with their extra ports. An entry is skipped (and logged) when its project
// already has an assignment or one of its pair ports is held by another project; an extra port held
// by another project is dropped from the entry (and logged). Missing type/status/times are filled in.
func (r *Registry) Restore(ctx context.Context, as []Assignment) error {
	err := r.update(ctx, nil, func(st *state) (bool, error) {
		changed := false
		for _, a := range as {
			if err := checkProject(a.Project); err != nil {
				return false, err
			}
			if a.SuperserverPort <= 0 || a.WebPort <= 0 {
				return false, fmt.Errorf("restore %s: both ports must be set", a.Project)
			}
			if why := checkEntry(a); why != "" { // what a read would reject (docs/registry.md "validated when read")
				return false, fmt.Errorf("restore %s: %s", a.Project, why)
			}
			if st.find(a.Project) >= 0 {
				r.log.Info("restore: project already has ports; kept the registry's", "project", a.Project)
				continue
			}
			held := st.holders()
			if h, ok := held[a.SuperserverPort]; ok {
				r.log.Warn("restore: port already assigned to another project; skipped", "project", a.Project, "port", a.SuperserverPort, "holder", h.project)
				continue
			}
			if h, ok := held[a.WebPort]; ok {
				r.log.Warn("restore: port already assigned to another project; skipped", "project", a.Project, "port", a.WebPort, "holder", h.project)
				continue
			}
			a = detach(a)
			// An extra port another project holds is dropped (the next Ensure gives its key a new one).
			var extra []ExtraPort
			for _, x := range a.Extra {
				if h, ok := held[x.Port]; ok {
					r.log.Warn("restore: extra port already assigned to another project; dropped it", "project", a.Project,
						"key", x.Key, "port", x.Port, "holder", h.project)
					continue
				}
				extra = append(extra, x)
			}
			a.Extra = sortExtra(extra)
			if a.Type == "" {
				if a.Slot != nil {
					a.Type = TypeAuto
				} else {
					a.Type = TypeManual
				}
			}
			if a.Status == "" {
				a.Status = StatusIdle
			}
			t := now()
			if a.AssignedAt.IsZero() {
				a.AssignedAt = t
			}
			if a.LastUsedAt.IsZero() {
				a.LastUsedAt = t
			}
			for j := range a.Extra {
				if a.Extra[j].AssignedAt.IsZero() {
					a.Extra[j].AssignedAt = a.AssignedAt
				}
			}
			st.records = append(st.records, record{Assignment: a})
			changed = true
		}
		return changed, nil
	})
	if err != nil {
		return fmt.Errorf("restore port registry: %w", err)
	}
	return nil
}

// PortFree returns nil when project may use port, or *ConflictError naming the holder: another
// project's assignment (pair or extra port), a container the engine reports, or another process
// bound on the host. A port the project itself holds in the registry (pair or extra) is free for it
// (no probe).
func (r *Registry) PortFree(ctx context.Context, port int, project string) error {
	st, err := r.readForQuery(ctx)
	if err != nil {
		return fmt.Errorf("read port registry: %w", err)
	}
	var inUse map[int]string
	if c := r.portConflict(ctx, port, project, anyKey, st.holders(), &inUse); c != nil {
		return c
	}
	return nil
}
