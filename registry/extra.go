package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Keys of the pair's ports, as Outcome.Key and Lookup name them. An extra port's key is
// "service/containerPort/protocol" ("web/80/tcp"); it is never one of these.
const (
	KeySuperserver = "superserver"
	KeyWeb         = "web"
)

// Keys portConflict takes besides an extra port's key (never valid extra keys: they hold a NUL).
const (
	pairKey = "\x00pair" // a port of the pair: the project's own pair ports are free for it, its extra ports are not
	anyKey  = "\x00any"  // every port the project holds is free for it
)

func isPairKey(k string) bool { return k == KeySuperserver || k == KeyWeb }

// keyProtocol is the protocol an extra port's key ends with ("udp"), else "tcp".
func keyProtocol(key string) string {
	if strings.HasSuffix(strings.ToLower(key), "/udp") {
		return "udp"
	}
	return "tcp"
}

// ExtraPort is one extra host port of a project: the host port for one of its other published
// container ports (compose projects publish more than the IRIS pair), kept under its key.
type ExtraPort struct {
	Key        string    `json:"key"`                 // "service/containerPort/protocol", e.g. "web/80/tcp"
	Port       int       `json:"port"`                // the host port
	AssignedAt time.Time `json:"assignedAt,omitzero"` // when this key got this port
}

// ExtraRequest asks for one extra port: its key and, optionally, a soft preference (the host port
// the compose file pins; 0 = none).
type ExtraRequest struct {
	Key       string
	Preferred int
}

// EnsureRequest is what Ensure makes true in one locked operation.
type EnsureRequest struct {
	// Hard is a preference for the pair as Assign takes it: a conflict fails the operation.
	Hard Preferred
	// Soft is a soft preference for the pair ports Hard does not set (the host ports the compose
	// file pins): honoured when free, else the project keeps its current port, or gets a slot.
	Soft Preferred
	// Extra is the project's full list of extra ports. Keys it does not name are released.
	Extra []ExtraRequest
	// Avoid lists host ports an extra port must not keep or get (say, one that "port is already
	// allocated" refused although the registry had it): a key holding one moves to a new port.
	// (For the pair, use Reassign.)
	Avoid []int
}

// Outcome says which port a key holds after Ensure or AssignSoft, and what became of its preference.
type Outcome struct {
	Key       string         // KeySuperserver, KeyWeb or an extra port's key
	Port      int            // the host port it holds now
	Preferred int            // the preference it was asked with (0 = none)
	Previous  int            // the port it held before the call (0 = it had none)
	Conflict  *ConflictError // why Preferred was not honoured (who holds it); nil when it was, or none was asked
}

// Honoured reports whether a preference was asked for and the key got it.
func (o Outcome) Honoured() bool { return o.Preferred != 0 && o.Port == o.Preferred }

// EnsureResult is the outcome of Ensure or AssignSoft.
type EnsureResult struct {
	Assignment Assignment  // the project's assignment now, with its extra ports
	Ports      []Outcome   // superserver, web, then the extra ports in the request's order
	Released   []ExtraPort // extra ports released because their key was not asked for
}

// Ensure gives the project its pair and exactly the extra ports req.Extra names, in one locked
// operation (one read, at most one write, the engine asked at most once, before the lock):
//
//   - The pair: as Assign with req.Hard (a conflict is an error), plus the soft preference
//     req.Soft for a port Hard does not set: a soft port is taken when it is free (no assignment's
//     pair or extra port, no container the engine reports, nothing bound on the host) — moving the
//     project to it as a different preferred port does —, else the project keeps its current port,
//     or a new project gets the lowest free slot. A project without an assignment gets one.
//   - Extra ports: a key the project already holds keeps its port (sticky), unless the key has a
//     soft preference that differs from its port and is free now: then it moves there. A new key
//     gets its soft preference when free, else the first free port of the extra range; when none is
//     free, stale assignments are reclaimed, then *ExtraExhaustedError. Keys not in req.Extra are
//     released (pass the full list at each start).
//
// Each Outcome says whether its preference was honoured and, if not, who holds the port.
// Ensuring what is already true reads the file without the lock, probes nothing and writes nothing.
func (r *Registry) Ensure(ctx context.Context, project string, req EnsureRequest) (EnsureResult, error) {
	res, err := r.ensure(ctx, project, req, true)
	if err != nil {
		return EnsureResult{}, fmt.Errorf("ensure ports for %s: %w", project, err)
	}
	return res, nil
}

// AssignSoft is Assign with a soft preference: a preferred port that is free is taken (a manual
// assignment, as with Assign), one that is held leaves the project on its current port or gives a
// new project the lowest free slot, instead of failing. The project's extra ports are not touched.
// Ports[0] and Ports[1] say what became of the superserver and web preferences.
func (r *Registry) AssignSoft(ctx context.Context, project string, pref Preferred) (EnsureResult, error) {
	res, err := r.ensure(ctx, project, EnsureRequest{Soft: pref}, false)
	if err != nil {
		return EnsureResult{}, fmt.Errorf("assign ports for %s: %w", project, err)
	}
	return res, nil
}

func (r *Registry) ensure(ctx context.Context, project string, req EnsureRequest, manageExtra bool) (EnsureResult, error) {
	if err := checkProject(project); err != nil {
		return EnsureResult{}, err
	}
	for _, p := range []Preferred{req.Hard, req.Soft, mergePreferred(req.Hard, req.Soft)} {
		if err := checkPreferred(p); err != nil {
			return EnsureResult{}, err
		}
	}
	if err := checkExtraRequests(req.Extra); err != nil {
		return EnsureResult{}, err
	}
	hint, err := r.read()
	if err == nil {
		if res, ok := ensured(hint, project, req, manageExtra); ok {
			return res, nil
		}
	} else {
		hint = nil
	}
	var inUse map[int]string
	r.engineInUse(ctx, &inUse) // before the lock, as in Assign
	var res EnsureResult
	err = r.update(ctx, hint, func(st *state) (bool, error) {
		if out, ok := ensured(st, project, req, manageExtra); ok {
			res = out
			return false, nil
		}
		var changed bool
		var err error
		res, changed, err = r.ensureLocked(ctx, st, project, req, manageExtra, &inUse)
		return changed, err
	})
	if err != nil {
		return EnsureResult{}, err
	}
	return res, nil
}

func mergePreferred(hard, soft Preferred) Preferred {
	if hard.Superserver == 0 {
		hard.Superserver = soft.Superserver
	}
	if hard.Web == 0 {
		hard.Web = soft.Web
	}
	return hard
}

func checkExtraRequests(want []ExtraRequest) error {
	seen := make(map[string]bool, len(want))
	for _, w := range want {
		if why := checkExtraKey(w.Key); why != "" {
			return fmt.Errorf("extra port key %q %s", w.Key, why)
		}
		if seen[w.Key] {
			return fmt.Errorf("extra port key %q is asked for twice; give each key once", w.Key)
		}
		seen[w.Key] = true
		if w.Preferred < 0 || w.Preferred > 65535 {
			return fmt.Errorf("preferred port %d of %s is out of range; give a port between 1 and 65535", w.Preferred, w.Key)
		}
	}
	return nil
}

// checkExtraKey says what is wrong with an extra port's key ("" = nothing).
func checkExtraKey(key string) string {
	switch {
	case key == "":
		return "is empty; give service/containerPort/protocol"
	case isPairKey(key):
		return "names a port of the pair; give service/containerPort/protocol"
	case len(key) > 256:
		return "is longer than 256 bytes"
	}
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			return "holds a control character"
		}
	}
	return ""
}

// ensured returns the result when the state already is what req asks for (nothing to probe or write).
func ensured(st *state, project string, req EnsureRequest, manageExtra bool) (EnsureResult, bool) {
	i := st.find(project)
	if i < 0 || st.records[i].Status == StatusStale {
		return EnsureResult{}, false
	}
	a := st.records[i].Assignment
	if !satisfies(a, mergePreferred(req.Hard, req.Soft)) {
		return EnsureResult{}, false
	}
	if manageExtra {
		if len(a.Extra) != len(req.Extra) {
			return EnsureResult{}, false
		}
		for _, w := range req.Extra {
			x, ok := a.extraPort(w.Key)
			if !ok || (w.Preferred != 0 && x.Port != w.Preferred) || slices.Contains(req.Avoid, x.Port) {
				return EnsureResult{}, false
			}
		}
	}
	return EnsureResult{Assignment: detach(a), Ports: outcomes(a, req, manageExtra, previous(&a), nil)}, true
}

func (a *Assignment) extraPort(key string) (ExtraPort, bool) {
	for _, x := range a.Extra {
		if x.Key == key {
			return x, true
		}
	}
	return ExtraPort{}, false
}

// previous maps the keys of a (nil = no assignment) to their ports.
func previous(a *Assignment) map[string]int {
	m := map[string]int{}
	if a != nil {
		m[KeySuperserver], m[KeyWeb] = a.SuperserverPort, a.WebPort
		for _, x := range a.Extra {
			m[x.Key] = x.Port
		}
	}
	return m
}

func outcomes(a Assignment, req EnsureRequest, manageExtra bool, prev map[string]int, conflicts map[string]*ConflictError) []Outcome {
	pref := mergePreferred(req.Hard, req.Soft)
	out := []Outcome{
		{Key: KeySuperserver, Port: a.SuperserverPort, Preferred: pref.Superserver, Previous: prev[KeySuperserver]},
		{Key: KeyWeb, Port: a.WebPort, Preferred: pref.Web, Previous: prev[KeyWeb]},
	}
	if manageExtra {
		for _, w := range req.Extra {
			x, _ := a.extraPort(w.Key)
			out = append(out, Outcome{Key: w.Key, Port: x.Port, Preferred: w.Preferred, Previous: prev[w.Key]})
		}
	}
	for i := range out {
		if o := &out[i]; o.Preferred != 0 && o.Port != o.Preferred {
			o.Conflict = conflicts[o.Key]
		}
	}
	return out
}

// ensureLocked carries out Ensure on st (lock held).
func (r *Registry) ensureLocked(ctx context.Context, st *state, project string, req EnsureRequest, manageExtra bool,
	inUse *map[int]string) (EnsureResult, bool, error) {
	var res EnsureResult
	conflicts := map[string]*ConflictError{}
	n0 := len(st.records)
	var before *Assignment
	if i := st.find(project); i >= 0 {
		b := detach(st.records[i].Assignment)
		before = &b
		// 1. Release the extra ports no longer asked for (their ports are free for what follows).
		if manageExtra {
			want := make(map[string]bool, len(req.Extra))
			for _, w := range req.Extra {
				want[w.Key] = true
			}
			var kept []ExtraPort
			for _, x := range st.records[i].Extra {
				if want[x.Key] {
					kept = append(kept, x)
				} else {
					res.Released = append(res.Released, x)
				}
			}
			st.records[i].Extra = kept
		}
	}
	prev := previous(before)

	// 2. The pair: the hard preference, plus each soft port that is the project's already or free.
	pref := req.Hard
	held := st.holders()
	soft := func(key string, want, cur int, set *int) {
		if want == 0 || *set != 0 {
			return
		}
		if before != nil && cur == want {
			*set = want
			return
		}
		if c := r.portConflict(ctx, want, project, pairKey, held, inUse); c != nil {
			conflicts[key] = c
			return
		}
		*set = want
	}
	soft(KeySuperserver, req.Soft.Superserver, prev[KeySuperserver], &pref.Superserver)
	soft(KeyWeb, req.Soft.Web, prev[KeyWeb], &pref.Web)
	if i := st.find(project); i >= 0 && satisfies(st.records[i].Assignment, pref) {
		if st.records[i].Status == StatusStale {
			st.records[i].Status = StatusIdle
		}
	} else {
		var a Assignment
		var err error
		if pref.none() {
			a, err = r.pickAuto(ctx, st, project, nil, inUse)
		} else {
			a, err = r.pickManual(ctx, st, project, pref, inUse)
		}
		if err != nil {
			return res, false, err
		}
		if i := st.find(project); i >= 0 {
			st.records[i].Assignment = a
		} else {
			st.records = append(st.records, record{Assignment: a})
		}
	}

	// 3. The extra ports, in the request's order.
	if manageExtra {
		i := st.find(project)
		have := st.records[i].Assignment
		held = st.holders()
		avoid := make(map[int]bool, len(req.Avoid))
		for _, p := range req.Avoid {
			avoid[p] = true
		}
		var out []ExtraPort
		t := now()
		for _, w := range req.Extra {
			x, ok := have.extraPort(w.Key)
			if ok && avoid[x.Port] {
				ok = false // it moves
			}
			if ok && (w.Preferred == 0 || x.Port == w.Preferred) {
				out = append(out, x)
				continue
			}
			if w.Preferred != 0 && avoid[w.Preferred] {
				conflicts[w.Key] = &ConflictError{Port: w.Preferred, Holder: holderAvoided}
			} else if w.Preferred != 0 {
				if c := r.portConflict(ctx, w.Preferred, project, w.Key, held, inUse); c != nil {
					conflicts[w.Key] = c
				} else {
					held[w.Preferred] = holder{project, w.Key}
					out = append(out, ExtraPort{Key: w.Key, Port: w.Preferred, AssignedAt: t})
					continue
				}
			}
			if ok { // sticky: the preference is held, the key keeps its port
				out = append(out, x)
				continue
			}
			p, err := r.pickExtra(ctx, st, project, w.Key, &held, avoid, out, inUse)
			if err != nil {
				return res, false, err
			}
			held[p] = holder{project, w.Key}
			out = append(out, ExtraPort{Key: w.Key, Port: p, AssignedAt: t})
		}
		i = st.find(project) // pickExtra may have reclaimed stale entries
		st.records[i].Extra = sortExtra(out)
	}

	a := st.records[st.find(project)].Assignment
	res.Assignment = detach(a)
	res.Ports = outcomes(a, req, manageExtra, prev, conflicts)
	changed := len(st.records) != n0 || before == nil || !sameAssignment(*before, a)
	return res, changed, nil
}

// pickExtra returns the first free port of the extra range for key (not one of avoid). When none is free it reclaims
// stale assignments (held is then rebuilt, with the ports given so far in this call) and tries
// again; then *ExtraExhaustedError.
func (r *Registry) pickExtra(ctx context.Context, st *state, project, key string, held *map[int]holder, avoid map[int]bool,
	given []ExtraPort, inUse *map[int]string) (int, error) {
	scan := func(busy map[int]string) int {
		for p := r.extra.Lo; p <= r.extra.Hi; p++ {
			if _, ok := (*held)[p]; ok {
				continue
			}
			if avoid[p] {
				if busy != nil {
					busy[p] = holderAvoided
				}
				continue
			}
			c := r.portConflict(ctx, p, project, key, *held, inUse)
			if c == nil && busy == nil {
				return p
			}
			if c != nil && busy != nil {
				busy[p] = c.Holder
			}
		}
		return 0
	}
	if p := scan(nil); p != 0 {
		return p, nil
	}
	if r.reclaimStale(st, project) {
		*held = st.holders()
		for _, x := range given {
			(*held)[x.Port] = holder{project, x.Key}
		}
		if p := scan(nil); p != 0 {
			return p, nil
		}
	}
	busy := map[int]string{}
	scan(busy)
	var holding []Assignment
	for _, a := range st.assignments() {
		for _, x := range a.Extra {
			if r.extra.Contains(x.Port) {
				holding = append(holding, a)
				break
			}
		}
	}
	return 0, &ExtraExhaustedError{Range: r.extra, Project: project, Key: key, Assignments: sortAssignments(holding),
		Busy: busy, ConfigFile: filepath.Join(r.home, ConfigFileName)}
}

// sortExtra orders extra ports by key (the file's order, whatever order they were asked in); nil when empty.
func sortExtra(xs []ExtraPort) []ExtraPort {
	if len(xs) == 0 {
		return nil
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].Key < xs[j].Key })
	return xs
}

func sameExtra(a, b []ExtraPort) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Port != b[i].Port || !a[i].AssignedAt.Equal(b[i].AssignedAt) {
			return false
		}
	}
	return true
}

func sameAssignment(a, b Assignment) bool {
	return a.Project == b.Project && sameSlot(a.Slot, b.Slot) && a.SuperserverPort == b.SuperserverPort &&
		a.WebPort == b.WebPort && a.Type == b.Type && a.Status == b.Status && a.Container == b.Container &&
		a.Engine == b.Engine && a.AssignedAt.Equal(b.AssignedAt) && a.LastUsedAt.Equal(b.LastUsedAt) && sameExtra(a.Extra, b.Extra)
}
