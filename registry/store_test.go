package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// The fast encoder must write exactly what the general one writes, and both must decode back.
func TestEncodeFastMatchesGeneral(t *testing.T) {
	slot := func(i int) *int { return &i }
	t0 := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	berlin := time.FixedZone("CET", 3600)
	cases := []struct {
		name     string
		st       *state
		wantFast bool
	}{
		{"empty", &state{version: 1}, true},
		{"one auto", &state{version: 1, records: []record{{Assignment: Assignment{Project: "/a/b", Slot: slot(0),
			SuperserverPort: 1972, WebPort: 52773, Type: TypeAuto, Status: StatusIdle, AssignedAt: t0, LastUsedAt: t0}}}}, true},
		{"manual, engine, nanos, zone", &state{version: 1, records: []record{
			{Assignment: Assignment{Project: "/x", SuperserverPort: 1990, WebPort: 52790, Type: TypeManual, Status: StatusActive,
				Container: "iris_ab_1990", Engine: "unix:///var/run/docker.sock", AssignedAt: t0.Add(123456789), LastUsedAt: t0.In(berlin)}},
			{Assignment: Assignment{Project: `/Users/ann\shop`, Slot: slot(3), SuperserverPort: 1975, WebPort: 52776}},
		}}, false},
		{"unicode path", &state{version: 1, records: []record{{Assignment: Assignment{Project: "/home/zoë/<proj>&\"q\"", Slot: slot(1), SuperserverPort: 1, WebPort: 65535}}}}, false},
		{"zero times", &state{version: 1, records: []record{{Assignment: Assignment{Project: "/z", SuperserverPort: 1972, WebPort: 52773}}}}, true},
		{"unknown fields", &state{version: 1, extra: map[string]json.RawMessage{"x": json.RawMessage(`{"a":[1,2]}`)},
			records: []record{{Assignment: Assignment{Project: "/u", SuperserverPort: 1972, WebPort: 52773}, extra: map[string]json.RawMessage{"note": json.RawMessage(`"hi"`)}}}}, false},
		{"extra ports", &state{version: 1, records: []record{{Assignment: Assignment{Project: "/c", SuperserverPort: 1972, WebPort: 52773,
			Type: TypeAuto, Status: StatusIdle, Slot: slot(0), AssignedAt: t0, LastUsedAt: t0,
			Extra: []ExtraPort{{Key: "iris/53773/tcp", Port: 12001, AssignedAt: t0}, {Key: "web/80/tcp", Port: 12000}}}},
			{Assignment: Assignment{Project: "/d", SuperserverPort: 1973, WebPort: 52774, Extra: []ExtraPort{{Key: "a/1/udp", Port: 12002, AssignedAt: t0.Add(5)}}}}}}, true},
		{"an extra key that needs escaping", &state{version: 1, records: []record{{Assignment: Assignment{Project: "/c", SuperserverPort: 1972, WebPort: 52773,
			Extra: []ExtraPort{{Key: "web/<80>/tcp", Port: 12000}}}}}}, false},
	}
	// plus random ones
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 20; n++ {
		st := &state{version: 1}
		base := 1 + rng.IntN(65000) // distinct ports: a port held twice makes an entry invalid
		for i := 0; i < rng.IntN(30); i++ {
			a := Assignment{Project: fmt.Sprintf("/p/%d/%x", i, rng.Uint64()), SuperserverPort: base + 2*i, WebPort: base + 2*i + 1,
				Type: TypeAuto, Status: StatusIdle, AssignedAt: time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC(), LastUsedAt: t0}
			if rng.IntN(2) == 0 {
				a.Slot = slot(rng.IntN(100))
			}
			st.records = append(st.records, record{Assignment: a})
		}
		cases = append(cases, struct {
			name     string
			st       *state
			wantFast bool
		}{fmt.Sprintf("random%d", n), st, true})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			general, err := tc.st.encodeGeneral()
			if err != nil {
				t.Fatal(err)
			}
			fast, ok := tc.st.encodeFast()
			if ok != tc.wantFast {
				t.Fatalf("fast path taken = %v, want %v", ok, tc.wantFast)
			}
			if ok && string(fast) != string(general) {
				t.Fatalf("fast encoding differs:\n%s\n--- general\n%s", fast, general)
			}
			back, err := decode("x", general)
			if err != nil {
				t.Fatalf("decode: %v\n%s", err, general)
			}
			if len(back.records) != len(tc.st.records) {
				t.Fatalf("round trip: %d records, want %d", len(back.records), len(tc.st.records))
			}
			for i := range back.records {
				w, g := tc.st.records[i].Assignment, back.records[i].Assignment
				if !w.AssignedAt.Equal(g.AssignedAt) || !w.LastUsedAt.Equal(g.LastUsedAt) {
					t.Fatalf("times changed: %+v vs %+v", w, g)
				}
				w.AssignedAt, w.LastUsedAt, g.AssignedAt, g.LastUsedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
				if !reflect.DeepEqual(w, g) {
					t.Fatalf("round trip changed the assignment:\n%+v\n%+v", w, g)
				}
				if !reflect.DeepEqual(tc.st.records[i].extra, back.records[i].extra) && len(tc.st.records[i].extra) > 0 {
					t.Fatalf("extra fields changed: %v vs %v", tc.st.records[i].extra, back.records[i].extra)
				}
			}
		})
	}
}

// FuzzDecode: any bytes either fail to decode (corrupt) or decode to a state that encodes, decodes
// back, and encodes to the same bytes again (a rewrite loses nothing and is stable).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"assignments":[]}`))
	f.Add([]byte(`{"version":1,"x":{"y":[1]},"assignments":[{"project":"/a","slot":0,"superserverPort":1972,"webPort":52773,"type":"auto","status":"idle","container":"","engine":"","assignedAt":"2026-01-01T00:00:00Z","lastUsedAt":"2026-01-01T00:00:00+01:00","note":"n"}]}`))
	f.Add([]byte(`{"version":2,"assignments":[{"project":"/b","slot":null}]}`))
	f.Add([]byte(`{"version":1,"assignments":[{"project":"/c","Project":"/d"}]}`))
	f.Add([]byte(`{"version":1,"assignments":[{"project":"/zoë <&>","slot":null}]} `))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"version":1,"assignments":[{"project":"/e","slot":0,"superserverPort":1972,"webPort":52773,"extraPorts":[{"key":"web/80/tcp","port":12000},{"key":"db/5432/tcp","port":12001,"assignedAt":"2026-01-01T00:00:00Z"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decode("x", data)
		if err != nil {
			var nv *NewerVersionError
			if errors.As(err, &nv) && st == nil {
				t.Fatal("newer version without a best-effort state")
			}
			return
		}
		out, err := st.encode()
		if err != nil {
			t.Fatalf("decoded state does not encode: %v", err)
		}
		st2, err := decode("x", out)
		if err != nil {
			t.Fatalf("encoded state does not decode: %v\n%s", err, out)
		}
		out2, err := st2.encode()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("rewrite is not stable: %v\n%s\n---\n%s", err, out, out2)
		}
	})
}
