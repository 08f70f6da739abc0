package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// Port bases of the extra-port tests: pairs from 20900 (web +5000), extra ranges from 21700.
const (
	baseExtraEnsure  = 20900 // extra 21700-21719
	baseExtraSoft    = 20910 // 8 slots
	baseExtraExhaust = 20920 // extra 21730-21731
	baseExtraLookup  = 20930 // extra 21740-21749
	baseExtraInvalid = 20940 // extra 21750-21759
	baseExtraRestore = 20950 // extra 21760-21769
	baseExtraRelease = 20960 // extra 21770-21779
	baseExtraConc    = 20970 // 20 slots; extra 21800-21999
	baseExtraRanges  = 20995 // config tests (no ports are bound)
	baseExtraAvoid   = 20990 // extra 21780-21789
)

func withExtra(lo, hi int) func(*Options) {
	return func(o *Options) { o.Extra = &Range{Lo: lo, Hi: hi} }
}

// show is an outcome as one line: key, port, preference, previous port and why a preference lost.
func show(o Outcome) string {
	s := fmt.Sprintf("%s %d (preferred %d, previous %d)", o.Key, o.Port, o.Preferred, o.Previous)
	if o.Conflict != nil {
		s += ": " + o.Conflict.Error()
	}
	return s
}

func showAll(os []Outcome) []string {
	out := []string{}
	for _, o := range os {
		out = append(out, show(o))
	}
	return out
}

func showExtra(xs []ExtraPort) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, fmt.Sprintf("%s=%d", x.Key, x.Port))
	}
	return out
}

func showExtraAt(xs []ExtraPort) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, fmt.Sprintf("%s=%d@%s", x.Key, x.Port, x.AssignedAt.UTC().Format(time.RFC3339)))
	}
	return out
}

// checkAllUnique fails when two assignments, or an assignment and an extra port, share a port.
func checkAllUnique(t testing.TB, as []Assignment) {
	t.Helper()
	checkUnique(t, as)
	ports := map[int]string{}
	for _, a := range as {
		ports[a.SuperserverPort], ports[a.WebPort] = a.Project+" superserver", a.Project+" web"
	}
	for _, a := range as {
		for _, x := range a.Extra {
			if other, ok := ports[x.Port]; ok {
				t.Errorf("port %d held by both %s and %s %s", x.Port, other, a.Project, x.Key)
			}
			ports[x.Port] = a.Project + " " + x.Key
		}
	}
}

// listenUDP holds a UDP port on addr until the test ends.
func listenUDP(t *testing.T, addr string, port int) {
	t.Helper()
	c, err := net.ListenPacket("udp", net.JoinHostPort(addr, itoa(port)))
	if err != nil {
		t.Fatalf("listen udp %s:%d: %v", addr, port, err)
	}
	t.Cleanup(func() { c.Close() })
}

// TestEnsureExtraPorts walks one registry through the life of a few compose projects: sticky
// extra ports, soft preferences honoured or not (and why), released keys, a freed preference.
func TestEnsureExtraPorts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExtraEnsure, 6, withExtra(21700, 21719))
	engine := &countingPorts{ports: map[int]string{21717: "container shop-web-1"}}
	withEngine, err := Open(Options{Home: e.home, Superserver: &e.ss, Web: &e.web, Extra: &Range{21700, 21719}, Ports: engine})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	dirs := map[string]string{}
	for _, n := range []string{"A", "B", "C", "D", "E", "F"} {
		dirs[n] = project(t, n)
	}
	listen(t, "127.0.0.1", 21715)
	listenUDP(t, "127.0.0.1", 21716)
	fill := func(s string) string {
		for n, d := range dirs {
			s = strings.ReplaceAll(s, "{"+n+"}", d)
		}
		return s
	}
	type step struct {
		name      string
		before    func(t *testing.T)
		reg       *Registry // nil = e.r
		project   string
		req       EnsureRequest
		soft      bool // AssignSoft(req.Soft) instead of Ensure
		want      []string
		released  []string
		unchanged bool // registry.json is not rewritten
	}
	steps := []step{
		{name: "a new project gets a slot and the first free extra ports", project: "A",
			req: EnsureRequest{Extra: []ExtraRequest{{Key: "web/80/tcp"}, {Key: "iris/53773/tcp"}}},
			want: []string{"superserver 20900 (preferred 0, previous 0)", "web 25900 (preferred 0, previous 0)",
				"web/80/tcp 21700 (preferred 0, previous 0)", "iris/53773/tcp 21701 (preferred 0, previous 0)"}},
		{name: "the same keys in another order keep their ports and write nothing", project: "A", unchanged: true,
			req: EnsureRequest{Extra: []ExtraRequest{{Key: "iris/53773/tcp"}, {Key: "web/80/tcp"}}},
			want: []string{"superserver 20900 (preferred 0, previous 20900)", "web 25900 (preferred 0, previous 25900)",
				"iris/53773/tcp 21701 (preferred 0, previous 21701)", "web/80/tcp 21700 (preferred 0, previous 21700)"}},
		{name: "free soft preferences are honoured, for the pair and an extra port", project: "B",
			req: EnsureRequest{Soft: Preferred{Web: 25903}, Extra: []ExtraRequest{{Key: "web/8001/tcp", Preferred: 21710}}},
			want: []string{"superserver 20901 (preferred 0, previous 0)", "web 25903 (preferred 25903, previous 0)",
				"web/8001/tcp 21710 (preferred 21710, previous 0)"}},
		{name: "preferences other projects hold fall back to a slot and the extra range, naming the holder", project: "C",
			req: EnsureRequest{Soft: Preferred{Web: 25900}, Extra: []ExtraRequest{{Key: "web/80/tcp", Preferred: 21700},
				{Key: "db/5432/tcp", Preferred: 21710}}},
			want: []string{"superserver 20902 (preferred 0, previous 0)",
				"web 25902 (preferred 25900, previous 0): port 25900 is assigned to project {A}; choose another port, or release it",
				"web/80/tcp 21702 (preferred 21700, previous 0): port 21700 is assigned to project {A} (web/80/tcp); choose another port, or release it",
				"db/5432/tcp 21703 (preferred 21710, previous 0): port 21710 is assigned to project {B} (web/8001/tcp); choose another port, or release it"}},
		{name: "a preference another process binds falls back; udp keys are probed as udp", project: "D",
			req: EnsureRequest{Extra: []ExtraRequest{{Key: "x/1/tcp", Preferred: 21715}, {Key: "dns/53/udp", Preferred: 21716},
				{Key: "dns/53/tcp", Preferred: 21716}}},
			want: []string{"superserver 20904 (preferred 0, previous 0)", "web 25904 (preferred 0, previous 0)",
				"x/1/tcp 21704 (preferred 21715, previous 0): " + inUseText(t, 21715),
				"dns/53/udp 21705 (preferred 21716, previous 0): port 21716 is in use by another process on this host; stop that process or choose another port",
				"dns/53/tcp 21716 (preferred 21716, previous 0)"}},
		{name: "a preference a container publishes falls back", project: "E", reg: withEngine,
			req: EnsureRequest{Extra: []ExtraRequest{{Key: "web/80/tcp", Preferred: 21717}}},
			want: []string{"superserver 20905 (preferred 0, previous 0)", "web 25905 (preferred 0, previous 0)",
				"web/80/tcp 21706 (preferred 21717, previous 0): port 21717 is in use by container shop-web-1; stop it or choose another port"}},
		{name: "AssignSoft leaves the extra ports alone", project: "A", soft: true, unchanged: true,
			want: []string{"superserver 20900 (preferred 0, previous 20900)", "web 25900 (preferred 0, previous 25900)"}},
		{name: "a key no longer asked for is released", project: "A",
			req: EnsureRequest{Extra: []ExtraRequest{{Key: "web/80/tcp"}}},
			want: []string{"superserver 20900 (preferred 0, previous 20900)", "web 25900 (preferred 0, previous 25900)",
				"web/80/tcp 21700 (preferred 0, previous 21700)"},
			released: []string{"iris/53773/tcp=21701"}},
		{name: "the released port goes to the next new key", project: "F",
			req: EnsureRequest{Extra: []ExtraRequest{{Key: "a/1/tcp"}}},
			want: []string{"superserver 20905 (preferred 0, previous 0)", "web 25905 (preferred 0, previous 0)",
				"a/1/tcp 21701 (preferred 0, previous 0)"},
			before: func(t *testing.T) { // F needs a slot: E's
				if _, err := e.r.Release(ctx, dirs["E"]); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "a preference freed later moves the pair and the key; a held one stays sticky", project: "C",
			before: func(t *testing.T) {
				if _, err := e.r.Release(ctx, dirs["A"]); err != nil {
					t.Fatal(err)
				}
			},
			req: EnsureRequest{Soft: Preferred{Web: 25900}, Extra: []ExtraRequest{{Key: "web/80/tcp", Preferred: 21700},
				{Key: "db/5432/tcp", Preferred: 21710}}},
			want: []string{"superserver 20902 (preferred 0, previous 20902)", "web 25900 (preferred 25900, previous 25902)",
				"web/80/tcp 21700 (preferred 21700, previous 21702)",
				"db/5432/tcp 21703 (preferred 21710, previous 21703): port 21710 is assigned to project {B} (web/8001/tcp); choose another port, or release it"}},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before(t)
			}
			r := s.reg
			if r == nil {
				r = e.r
			}
			before, _ := os.ReadFile(e.r.Path())
			var res EnsureResult
			var err error
			if s.soft {
				res, err = r.AssignSoft(ctx, dirs[s.project], s.req.Soft)
			} else {
				res, err = r.Ensure(ctx, dirs[s.project], s.req)
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []string{}
			for _, w := range s.want {
				want = append(want, fill(w))
			}
			released := s.released
			if released == nil {
				released = []string{}
			}
			after, _ := os.ReadFile(e.r.Path())
			rpctest.Must(t, "Ensure", rpctest.Want("outcomes", showAll(res.Ports), want),
				rpctest.Want("released", showExtra(res.Released), released),
				rpctest.Want("registry.json unchanged", bytes.Equal(before, after), s.unchanged))
			got, ok, err := e.r.Get(ctx, dirs[s.project])
			if err != nil || !ok {
				t.Fatalf("Get: %v %v", ok, err)
			}
			rpctest.Must(t, "the stored assignment", rpctest.Want("superserver", got.SuperserverPort, res.Assignment.SuperserverPort),
				rpctest.Want("web", got.WebPort, res.Assignment.WebPort), rpctest.Want("extra", showExtra(got.Extra), showExtra(res.Assignment.Extra)))
			list, err := e.r.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checkAllUnique(t, list)
		}) {
			return
		}
	}
	// The file holds extraPorts ordered by key, each with its assignedAt.
	f := readFile(t, e.r.Path())
	for _, a := range f.Assignments {
		if a.Project == dirs["C"] {
			rpctest.Must(t, "C's extraPorts in the file", rpctest.Want("extra", showExtra(a.Extra), []string{"db/5432/tcp=21703", "web/80/tcp=21700"}),
				rpctest.Want("assignedAt set", !a.Extra[0].AssignedAt.IsZero() && !a.Extra[1].AssignedAt.IsZero(), true))
		}
	}
}

// TestAssignSoft: a soft pair preference is taken when free and otherwise falls back to the
// current ports or a slot, saying who holds it; a hard one still fails.
func TestAssignSoft(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExtraSoft, 8)
	ctx := ctxT(t)
	dirs := map[string]string{}
	for _, n := range []string{"P1", "P2", "P3", "P4"} {
		dirs[n] = project(t, n)
	}
	listen(t, "127.0.0.1", 20914)
	if _, err := e.r.Assign(ctx, dirs["P1"], Preferred{}); err != nil {
		t.Fatal(err)
	}
	fill := func(s string) string {
		for n, d := range dirs {
			s = strings.ReplaceAll(s, "{"+n+"}", d)
		}
		return s
	}
	cases := []struct {
		name      string
		before    func(t *testing.T)
		project   string
		pref      Preferred
		want      []string
		typ       AssignmentType
		unchanged bool
	}{
		{name: "a free soft port is taken (manual)", project: "P2", pref: Preferred{Web: 25913}, typ: TypeManual,
			want: []string{"superserver 20911 (preferred 0, previous 0)", "web 25913 (preferred 25913, previous 0)"}},
		{name: "asking again is idempotent", project: "P2", pref: Preferred{Web: 25913}, typ: TypeManual, unchanged: true,
			want: []string{"superserver 20911 (preferred 0, previous 20911)", "web 25913 (preferred 25913, previous 25913)"}},
		{name: "a port another project holds gives a new project the lowest free slot", project: "P3", pref: Preferred{Web: 25910}, typ: TypeAuto,
			want: []string{"superserver 20912 (preferred 0, previous 0)",
				"web 25912 (preferred 25910, previous 0): port 25910 is assigned to project {P1}; choose another port, or release it"}},
		{name: "a port another process binds falls back too", project: "P4", pref: Preferred{Superserver: 20914}, typ: TypeAuto,
			want: []string{"superserver 20915 (preferred 20914, previous 0): " + inUseText(t, 20914),
				"web 25915 (preferred 0, previous 0)"}},
		{name: "a project whose soft port is still held keeps its ports and writes nothing", project: "P3", pref: Preferred{Web: 25910},
			typ: TypeAuto, unchanged: true,
			want: []string{"superserver 20912 (preferred 0, previous 20912)",
				"web 25912 (preferred 25910, previous 25912): port 25910 is assigned to project {P1}; choose another port, or release it"}},
		{name: "once the soft port is free the project moves to it", project: "P3", pref: Preferred{Web: 25910}, typ: TypeManual,
			before: func(t *testing.T) {
				if _, err := e.r.Release(ctx, dirs["P1"]); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"superserver 20912 (preferred 0, previous 20912)", "web 25910 (preferred 25910, previous 25912)"}},
	}
	for _, tc := range cases {
		if !t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before(t)
			}
			before, _ := os.ReadFile(e.r.Path())
			res, err := e.r.AssignSoft(ctx, dirs[tc.project], tc.pref)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(e.r.Path())
			want := []string{}
			for _, w := range tc.want {
				want = append(want, fill(w))
			}
			rpctest.Must(t, "AssignSoft", rpctest.Want("outcomes", showAll(res.Ports), want),
				rpctest.Want("type", res.Assignment.Type, tc.typ),
				rpctest.Want("registry.json unchanged", bytes.Equal(before, after), tc.unchanged))
		}) {
			return
		}
	}
	// A hard preference in Ensure still fails, naming the holder, and changes nothing.
	before, _ := os.ReadFile(e.r.Path())
	_, err := e.r.Ensure(ctx, dirs["P4"], EnsureRequest{Hard: Preferred{Web: 25913}})
	rpctest.Must(t, "a held hard preference",
		rpctest.Want("error", fmt.Sprint(err), fill("ensure ports for {P4}: port 25913 is assigned to project {P2}; choose another port, or release it")),
		rpctest.Want("holder", holderOf(err), dirs["P2"]))
	if after, _ := os.ReadFile(e.r.Path()); !bytes.Equal(before, after) {
		t.Fatal("a refused Ensure changed registry.json")
	}
}

func holderOf(err error) string {
	var c *ConflictError
	if errors.As(err, &c) {
		return c.HolderProject
	}
	return ""
}

func TestExtraRangeExhaustion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExtraExhaust, 3, withExtra(21730, 21731))
	ctx := ctxT(t)
	p1, p2 := project(t, "p1"), project(t, "p2")
	if _, err := e.r.Ensure(ctx, p1, EnsureRequest{Extra: []ExtraRequest{{Key: "a/1/tcp"}}}); err != nil {
		t.Fatal(err)
	}
	listen(t, "127.0.0.1", 21731)
	_, err := e.r.Ensure(ctx, p2, EnsureRequest{Extra: []ExtraRequest{{Key: "c/3/tcp"}}})
	var ex *ExtraExhaustedError
	rpctest.Must(t, "exhausted", rpctest.Want("*ExtraExhaustedError", errors.As(err, &ex), true))
	want := "ensure ports for " + p2 + ": no free port left in the extra range 21730-21731 (2 ports) for c/3/tcp of " + p2 +
		"; extra ports held:\n  1  " + p1 + "  (idle)\nports of the range in use outside the registry:\n  21731  " + selfHolder(t) + "\n" +
		`for more ports, widen the extra range with IRIS_HELPER_EXTRA_RANGE=lo-hi (or "extraRange" in ` + filepath.Join(e.home, ConfigFileName) + ")"
	rpctest.Must(t, "the message", rpctest.Want("error", err.Error(), want), rpctest.Want("key", ex.Key, "c/3/tcp"))
	if _, ok, _ := e.r.Get(ctx, p2); ok {
		t.Fatal("a failed Ensure left an assignment behind")
	}
	// p1's folder goes: its extra port is reclaimed.
	if err := os.RemoveAll(p1); err != nil {
		t.Fatal(err)
	}
	res, err := e.r.Ensure(ctx, p2, EnsureRequest{Extra: []ExtraRequest{{Key: "c/3/tcp"}}})
	if err != nil {
		t.Fatalf("stale extra port not reclaimed: %v", err)
	}
	rpctest.Must(t, "after reclaiming", rpctest.Want("extra", showExtra(res.Assignment.Extra), []string{"c/3/tcp=21730"}),
		rpctest.Want("logged", strings.Contains(e.logs.String(), "reclaimed the ports of a stale project"), true))
}

// TestLookupPortFreeAndSlotsKnowExtraPorts: who holds a port, which ports are free, and which slots
// are free all count extra ports.
func TestLookupPortFreeAndSlotsKnowExtraPorts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExtraLookup, 4, withExtra(21740, 21749))
	ctx := ctxT(t)
	p1, p2 := project(t, "p1"), project(t, "p2")
	// A soft preference may lie anywhere, even on a slot's port.
	if _, err := e.r.Ensure(ctx, p1, EnsureRequest{Extra: []ExtraRequest{{Key: "web/80/tcp", Preferred: 20931}, {Key: "api/8080/tcp"}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		port     int
		project  string
		key      string
		found    bool
		portFree string // PortFree(port, p2)
	}{
		{20930, p1, KeySuperserver, true, "port 20930 is assigned to project " + p1 + "; choose another port, or release it"},
		{25930, p1, KeyWeb, true, "port 25930 is assigned to project " + p1 + "; choose another port, or release it"},
		{20931, p1, "web/80/tcp", true, "port 20931 is assigned to project " + p1 + " (web/80/tcp); choose another port, or release it"},
		{21740, p1, "api/8080/tcp", true, "port 21740 is assigned to project " + p1 + " (api/8080/tcp); choose another port, or release it"},
		{21741, "", "", false, "<nil>"},
	} {
		a, key, ok, err := e.r.Lookup(ctx, tc.port)
		if err != nil {
			t.Fatal(err)
		}
		fa, fok, _ := e.r.Find(ctx, tc.port)
		rpctest.Check(t, fmt.Sprintf("port %d", tc.port), rpctest.Want("Lookup project", a.Project, tc.project),
			rpctest.Want("Lookup key", key, tc.key), rpctest.Want("Lookup found", ok, tc.found),
			rpctest.Want("Find project", fa.Project, tc.project), rpctest.Want("Find found", fok, tc.found),
			rpctest.Want("PortFree for p2", fmt.Sprint(e.r.PortFree(ctx, tc.port, p2)), tc.portFree),
			rpctest.Want("PortFree for p1", e.r.PortFree(ctx, tc.port, p1), nil))
	}
	// A new project skips slot 1, whose superserver port p1 holds as an extra port.
	a, err := e.r.Assign(ctx, p2, Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "p2's slot", rpctest.Want("superserver", a.SuperserverPort, 20932), rpctest.Want("web", a.WebPort, 25932))
	// The pair may not take the project's own extra port.
	_, err = e.r.Assign(ctx, p1, Preferred{Superserver: 21740})
	rpctest.Must(t, "a pair port on the project's own extra port", rpctest.Want("error", fmt.Sprint(err),
		"assign ports for "+p1+": port 21740 is assigned to project "+p1+" (api/8080/tcp); choose another port, or release it"))
	// Moving the pair keeps the extra ports.
	moved, err := e.r.Assign(ctx, p1, Preferred{Web: 25934})
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "moved pair", rpctest.Want("web", moved.WebPort, 25934),
		rpctest.Want("extra", showExtra(moved.Extra), []string{"api/8080/tcp=21740", "web/80/tcp=20931"}))
	re, err := e.r.Reassign(ctx, p1)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "reassigned pair", rpctest.Want("extra", showExtra(re.Extra), []string{"api/8080/tcp=21740", "web/80/tcp=20931"}))
}

// TestInvalidExtraPortEntries: an entry whose extra ports are wrong, or hold a port an earlier entry
// holds, is invalid as a whole (as for pairs): reported, never used, kept byte for byte.
func TestInvalidExtraPortEntries(t *testing.T) {
	t.Parallel()
	const jan, dec = "2026-01-01T00:00:00Z", "2025-12-01T00:00:00Z"
	entry := func(project string, ss, web int, assignedAt, extra string) string {
		return fmt.Sprintf(`{"project": %q, "slot": null, "superserverPort": %d, "webPort": %d, "type": "manual", "status": "idle",`+
			` "container": "", "engine": "", "assignedAt": %q, "lastUsedAt": "2026-01-01T00:00:00Z", "extraPorts": %s}`,
			project, ss, web, assignedAt, extra)
	}
	other := "/nonexistent/other"
	ss, web := baseExtraInvalid, baseExtraInvalid+5000
	cases := []struct {
		name, extra, assignedAt string
		validLoses              bool
		reason                  string
	}{
		{"extra port out of range", `[{"key": "web/80/tcp", "port": 70000}]`, jan, false,
			"its extra port web/80/tcp 70000 is not between 1 and 65535"},
		{"key twice", `[{"key": "web/80/tcp", "port": 21750}, {"key": "web/80/tcp", "port": 21751}]`, jan, false,
			`its extra port key "web/80/tcp" appears twice`},
		{"empty key", `[{"key": "", "port": 21750}]`, jan, false,
			`its extra port 21750's key "" is empty; give service/containerPort/protocol`},
		{"a pair key", `[{"key": "web", "port": 21750}]`, jan, false,
			`its extra port 21750's key "web" names a port of the pair; give service/containerPort/protocol`},
		{"its own web port", fmt.Sprintf(`[{"key": "web/80/tcp", "port": %d}]`, web+1), jan, false,
			fmt.Sprintf("its extra port web/80/tcp is its web port %d", web+1)},
		{"two extra ports on one port", `[{"key": "a/1/tcp", "port": 21750}, {"key": "b/2/tcp", "port": 21750}]`, jan, false,
			"its extra ports a/1/tcp and b/2/tcp are both 21750"},
		{"not a list", `"web/80/tcp"`, jan, false,
			"it is not an assignment: json: cannot unmarshal string into Go struct field Assignment.extraPorts of type []registry.ExtraPort"},
		{"an earlier entry's port, the later loses", fmt.Sprintf(`[{"key": "web/80/tcp", "port": %d}]`, ss), "2026-02-01T00:00:00Z", false,
			fmt.Sprintf("its extra port web/80/tcp %d is held by {valid}, assigned earlier", ss)},
		{"an earlier extra port, the later pair loses", fmt.Sprintf(`[{"key": "web/80/tcp", "port": %d}]`, web), dec, true,
			fmt.Sprintf("its web port %d is held by %s, assigned earlier", web, other)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, baseExtraInvalid, 4, withExtra(21750, 21759))
			ctx := ctxT(t)
			v := project(t, "valid")
			valid := entry(v, ss, web, jan, "[]")
			bad := entry(other, ss+1, web+1, tc.assignedAt, tc.extra)
			orig := `{"version": 1, "assignments": [` + valid + ", " + bad + `]}`
			if err := os.WriteFile(e.r.Path(), []byte(orig), 0o600); err != nil {
				t.Fatal(err)
			}
			loser, index, loserProject := bad, 1, other
			if tc.validLoses {
				loser, index, loserProject = valid, 0, v
			}
			wantReason := strings.ReplaceAll(tc.reason, "{valid}", v)
			inv, err := e.r.Invalid(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := InvalidEntry{Index: index, Project: loserProject, Reason: wantReason, Entry: json.RawMessage(loser)}
			if len(inv) != 1 || fmt.Sprint(inv[0]) != fmt.Sprint(want) {
				t.Fatalf("Invalid\n got %+v\nwant %+v", inv, want)
			}
			// A rewrite keeps it byte for byte.
			if _, err := e.r.Ensure(ctx, project(t, "new"), EnsureRequest{Extra: []ExtraRequest{{Key: "x/1/tcp"}}}); err != nil {
				t.Fatal(err)
			}
			if data, _ := os.ReadFile(e.r.Path()); !strings.Contains(string(data), loser) {
				t.Fatalf("rewrite did not keep the invalid entry:\n%s", data)
			}
		})
	}
}

// TestExtraPortsSurviveAnOlderHelper: to a helper from before extra ports, "extraPorts" is an
// unknown field of an assignment; its rewrite (decodeWith legacy: the old decoder's view, and the
// same encoder) keeps it, and this helper reads the extra ports back unchanged.
func TestExtraPortsSurviveAnOlderHelper(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExtraRestore+5, 3, withExtra(21765, 21769))
	ctx := ctxT(t)
	p := project(t, "compose")
	res, err := e.r.Ensure(ctx, p, EnsureRequest{Extra: []ExtraRequest{{Key: "web/80/tcp"}, {Key: "iris/53773/tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(e.r.Path())
	if err != nil {
		t.Fatal(err)
	}
	old, err := decodeWith(e.r.Path(), data, true)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "the older helper's view", rpctest.Want("records", len(old.records), 1),
		rpctest.Want("extra ports it knows", len(old.records[0].Extra), 0),
		rpctest.Want("kept as an unknown field", old.records[0].extra["extraPorts"] != nil, true))
	// The older helper touches the project and assigns another one.
	old.records[0].LastUsedAt = old.records[0].LastUsedAt.Add(time.Hour)
	slot := 2
	old.records = append(old.records, record{Assignment: Assignment{Project: "/older/other", Slot: &slot, SuperserverPort: e.ss.Lo + 2,
		WebPort: e.web.Lo + 2, Type: TypeAuto, Status: StatusIdle, AssignedAt: now(), LastUsedAt: now()}})
	out, err := old.encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.r.Path(), out, 0o600); err != nil {
		t.Fatal(err)
	}
	got, ok, err := e.r.Get(ctx, p)
	if err != nil || !ok {
		t.Fatalf("Get: %v %v", ok, err)
	}
	rpctest.Must(t, "after the older helper's rewrite", rpctest.Want("extra", showExtraAt(got.Extra), showExtraAt(res.Assignment.Extra)),
		rpctest.Want("invalid entries", len(mustInvalid(t, e.r)), 0))
	again, err := e.r.Ensure(ctx, p, EnsureRequest{Extra: []ExtraRequest{{Key: "web/80/tcp"}, {Key: "iris/53773/tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "still sticky", rpctest.Want("extra", showExtra(again.Assignment.Extra), showExtra(res.Assignment.Extra)))
}

func mustInvalid(t *testing.T, r *Registry) []InvalidEntry {
	t.Helper()
	inv, err := r.Invalid(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestRestoreCarriesExtraPorts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExtraRestore, 5, withExtra(21760, 21764))
	ctx := ctxT(t)
	p1, p2, p3 := project(t, "p1"), project(t, "p2"), project(t, "p3")
	if _, err := e.r.Ensure(ctx, p1, EnsureRequest{Extra: []ExtraRequest{{Key: "a/1/tcp"}}}); err != nil {
		t.Fatal(err)
	}
	err := e.r.Restore(ctx, []Assignment{{Project: p2, SuperserverPort: 20951, WebPort: 25951,
		Extra: []ExtraPort{{Key: "web/80/tcp", Port: 21760}, {Key: "db/5432/tcp", Port: 21761}}}})
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := e.r.Get(ctx, p2)
	rpctest.Must(t, "restored", rpctest.Want("extra (the one p1 holds dropped)", showExtra(a.Extra), []string{"db/5432/tcp=21761"}),
		rpctest.Want("assignedAt filled in", a.Extra[0].AssignedAt.Equal(a.AssignedAt), true),
		rpctest.Want("logged", strings.Contains(e.logs.String(), "restore: extra port already assigned to another project; dropped it"), true))
	err = e.r.Restore(ctx, []Assignment{{Project: p3, SuperserverPort: 20952, WebPort: 25952,
		Extra: []ExtraPort{{Key: "x/1/tcp", Port: 21762}, {Key: "x/1/tcp", Port: 21763}}}})
	rpctest.Must(t, "a bad entry", rpctest.Want("error", fmt.Sprint(err),
		"restore port registry: restore "+p3+`: its extra port key "x/1/tcp" appears twice`))
	// A restored project's extra ports are sticky for Ensure.
	res, err := e.r.Ensure(ctx, p2, EnsureRequest{Extra: []ExtraRequest{{Key: "db/5432/tcp"}, {Key: "web/80/tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "Ensure after Restore", rpctest.Want("extra", showExtra(res.Assignment.Extra), []string{"db/5432/tcp=21761", "web/80/tcp=21762"}))
}

func TestReleaseClearUpdateKnowExtraPorts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExtraRelease, 5, withExtra(21770, 21779))
	ctx := ctxT(t)
	p1, p2 := project(t, "p1"), project(t, "p2")
	if _, err := e.r.Ensure(ctx, p1, EnsureRequest{Extra: []ExtraRequest{{Key: "a/1/tcp"}, {Key: "b/2/tcp"}}}); err != nil {
		t.Fatal(err)
	}
	rel, err := e.r.Release(ctx, p1)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "Release", rpctest.Want("extra", showExtra(rel.Extra), []string{"a/1/tcp=21770", "b/2/tcp=21771"}))
	res, err := e.r.Ensure(ctx, p2, EnsureRequest{Extra: []ExtraRequest{{Key: "c/3/tcp", Preferred: 21771}}})
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "a released extra port is free", rpctest.Want("outcome", show(res.Ports[2]), "c/3/tcp 21771 (preferred 21771, previous 0)"))
	// The returned extra ports are a copy.
	res.Assignment.Extra[0].Port = 1
	// Update may not change extra ports, and keeps them.
	_, err = e.r.Update(ctx, p2, func(a *Assignment) { a.Extra[0].Port = 21779 })
	rpctest.Must(t, "Update of an extra port", rpctest.Want("error", fmt.Sprint(err), "update ports of "+p2+
		": update may change only status, container, engine and lastUsedAt; use Assign, Reassign or Ensure to change ports"))
	up, err := e.r.Update(ctx, p2, func(a *Assignment) { a.Status = StatusActive })
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "Update", rpctest.Want("status", up.Status, StatusActive), rpctest.Want("extra", showExtra(up.Extra), []string{"c/3/tcp=21771"}))
	removed, err := e.r.Clear(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "Clear", rpctest.Want("removed", len(removed), 1), rpctest.Want("extra", showExtra(removed[0].Extra), []string{"c/3/tcp=21771"}))
}

// TestConcurrentEnsureNeverGivesAPortTwice: processes and goroutines (each with its own handle)
// ensure the same keys with the same soft preferences for different projects at once.
func TestConcurrentEnsureNeverGivesAPortTwice(t *testing.T) {
	t.Parallel()
	const procs, goroutines, perWorker = 4, 4, 2
	ss, web := band(baseExtraConc, 20)
	extra := Range{Lo: 21800, Hi: 21999}
	home := filepath.Join(t.TempDir(), "home")
	root := t.TempDir()
	wants := []ExtraRequest{{Key: "web/80/tcp", Preferred: 21800}, {Key: "iris/53773/tcp"}, {Key: "db/5432/tcp", Preferred: 21801}}
	var spec []string
	for _, w := range wants {
		item := w.Key
		if w.Preferred != 0 {
			item += "=" + itoa(w.Preferred)
		}
		spec = append(spec, item)
	}
	names := func(worker int) []string {
		var ps []string
		for j := 0; j < perWorker; j++ {
			d := filepath.Join(root, fmt.Sprintf("w%d-%d", worker, j))
			os.MkdirAll(d, 0o755)
			ps = append(ps, d)
		}
		return ps
	}
	var mu sync.Mutex
	var got []Assignment
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := Open(Options{Home: home, Superserver: &ss, Web: &web, Extra: &extra})
			if err != nil {
				t.Error(err)
				return
			}
			<-start
			for _, p := range names(procs + g) {
				res, err := r.Ensure(context.Background(), p, EnsureRequest{Extra: wants})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, res.Assignment)
				mu.Unlock()
			}
		}()
	}
	// The children start on the start file; the goroutines when the children are started.
	startFile := filepath.Join(filepath.Dir(home), "start")
	var children []*child
	for i := 0; i < procs; i++ {
		children = append(children, startChild(t, "ensure", home, ss, web, childProjectsEnv+"="+envList(names(i)),
			childStartEnv+"="+startFile, EnvExtraRange+"="+extra.String(), childExtrasEnv+"="+strings.Join(spec, ",")))
	}
	if err := os.WriteFile(startFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	close(start)
	wg.Wait()
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v: %s", i, err, c.stderr.String())
		}
		for _, res := range c.results(t) {
			got = append(got, res.Assignment)
		}
	}
	n := (procs + goroutines) * perWorker
	rpctest.Must(t, "results", rpctest.Want("assignments reported", len(got), n))
	checkAllUnique(t, got)
	file := readFile(t, filepath.Join(home, FileName))
	rpctest.Must(t, "the file", rpctest.Want("assignments", len(file.Assignments), n))
	checkAllUnique(t, file.Assignments)
	honoured := map[int]int{}
	for _, a := range file.Assignments {
		if len(a.Extra) != len(wants) {
			t.Errorf("%s has %d extra ports, want %d", a.Project, len(a.Extra), len(wants))
		}
		for _, x := range a.Extra {
			if x.Port == 21800 || x.Port == 21801 {
				honoured[x.Port]++
			}
		}
	}
	rpctest.Must(t, "each preferred port given once", rpctest.Want("21800", honoured[21800], 1), rpctest.Want("21801", honoured[21801], 1))
}

func TestExtraRangeConfiguration(t *testing.T) {
	// Not parallel: uses t.Setenv.
	t.Setenv(EnvSuperserverRange, "")
	t.Setenv(EnvWebRange, "")
	ss, web := band(baseExtraRanges, 2)
	cases := []struct {
		name, env, cfg string
		opt            *Range
		want           Range
		err            string // whole message, {cfg} = config.json's path
	}{
		{name: "default", want: Range{12000, 12999}},
		{name: "config.json", cfg: `{"extraRange": "13000-13099"}`, want: Range{13000, 13099}},
		{name: "the environment over config.json", env: "14000-14000", cfg: `{"extraRange": "13000-13099"}`, want: Range{14000, 14000}},
		{name: "Options over the environment", env: "14000-14000", opt: &Range{15000, 15500}, want: Range{15000, 15500}},
		{name: "not a range", env: "12000", err: `invalid port range "12000" from $IRIS_HELPER_EXTRA_RANGE: expected "lo-hi"; ` +
			"give the extra range as lo-hi with 1 <= lo <= hi <= 65535, not overlapping the superserver and web ranges " +
			"(for example IRIS_HELPER_EXTRA_RANGE=12000-12999)"},
		{name: "overlaps the web range", cfg: `{"extraRange": "25990-26000"}`,
			err: `invalid port range "25990-26000 / 25995-25996" from "extraRange" in {cfg} and Options: the extra range overlaps the web range; ` +
				"give the extra range as lo-hi with 1 <= lo <= hi <= 65535, not overlapping the superserver and web ranges " +
				"(for example IRIS_HELPER_EXTRA_RANGE=12000-12999)"},
		{name: "overlaps the superserver range", opt: &Range{20996, 20996},
			err: `invalid port range "20996-20996 / 20995-20996" from Options and Options: the extra range overlaps the superserver range; ` +
				"give the extra range as lo-hi with 1 <= lo <= hi <= 65535, not overlapping the superserver and web ranges " +
				"(for example IRIS_HELPER_EXTRA_RANGE=12000-12999)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			cfg := filepath.Join(home, ConfigFileName)
			if tc.cfg != "" {
				if err := os.WriteFile(cfg, []byte(tc.cfg), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv(EnvExtraRange, tc.env)
			r, err := Open(Options{Home: home, Superserver: &ss, Web: &web, Extra: tc.opt})
			if tc.err != "" {
				var re *RangeError
				rpctest.Must(t, "Open", rpctest.Want("error", fmt.Sprint(err), strings.ReplaceAll(tc.err, "{cfg}", cfg)),
					rpctest.Want("*RangeError", errors.As(err, &re), true))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rpctest.Must(t, "ExtraRange", rpctest.Want("range", r.ExtraRange(), tc.want))
		})
	}
}

// TestEnsureAvoidMovesAnExtraPort: a port the caller found taken (compose's "port is already
// allocated") moves the key holding it; a preference it names is not honoured meanwhile.
func TestEnsureAvoidMovesAnExtraPort(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseExtraAvoid, 2, withExtra(21780, 21789))
	ctx := ctxT(t)
	p := project(t, "p")
	want := []ExtraRequest{{Key: "web/80/tcp"}, {Key: "db/5432/tcp", Preferred: 21785}}
	steps := []struct {
		name  string
		avoid []int
		want  []string
	}{
		{"first start", nil, []string{"web/80/tcp 21780 (preferred 0, previous 0)", "db/5432/tcp 21785 (preferred 21785, previous 0)"}},
		{"both ports found taken", []int{21780, 21785}, []string{"web/80/tcp 21781 (preferred 0, previous 21780)",
			"db/5432/tcp 21782 (preferred 21785, previous 21785): port 21785 is in use by something else on this host; stop it or choose another port"}},
		{"the preference is free again", nil, []string{"web/80/tcp 21781 (preferred 0, previous 21781)",
			"db/5432/tcp 21785 (preferred 21785, previous 21782)"}},
	}
	for _, s := range steps {
		res, err := e.r.Ensure(ctx, p, EnsureRequest{Extra: want, Avoid: s.avoid})
		if err != nil {
			t.Fatal(err)
		}
		rpctest.Must(t, s.name, rpctest.Want("outcomes", showAll(res.Ports[2:]), s.want))
	}
}

// TestExhaustedErrorNamesExtraPortsInTheRanges: a slot blocked by a pinned extra port is explained.
func TestExhaustedErrorNamesExtraPortsInTheRanges(t *testing.T) {
	slot := 0
	err := &ExhaustedError{Superserver: Range{1972, 1973}, Web: Range{52773, 52774}, ConfigFile: "/h/config.json",
		Assignments: []Assignment{{Project: "/p", Slot: &slot, SuperserverPort: 1972, WebPort: 52773, Type: TypeAuto, Status: StatusIdle,
			Extra: []ExtraPort{{Key: "web/80/tcp", Port: 52774}, {Key: "db/5432/tcp", Port: 12000}}}}}
	want := "no free port pair left in superserver range 1972-1973 / web range 52773-52774 (2 slots); assignments:\n" +
		"  1972/52773  /p  (auto, idle)\n  52774  /p  (extra port web/80/tcp)\n" +
		`for more slots, widen the ranges with IRIS_HELPER_SUPERSERVER_RANGE=lo-hi and IRIS_HELPER_WEB_RANGE=lo-hi (or "superserverRange"/"webRange" in /h/config.json)`
	rpctest.Must(t, "ExhaustedError", rpctest.Want("message", err.Error(), want))
}
