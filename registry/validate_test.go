package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// Port bases of these tests (registry band).
const (
	baseInvalid     = 20740 // 12 cases x 4
	baseSameVersion = 20800
)

// Rule 6: entries are validated when read; an invalid one is reported, never used for conflicts or
// returned as valid, and kept byte for byte on rewrite.
func TestInvalidEntriesAreReportedNeverUsedAndKept(t *testing.T) {
	t.Parallel()
	entry := func(project string, ss, web int, assignedAt string) string {
		return fmt.Sprintf(`{"project": %q, "slot": null, "superserverPort": %d, "webPort": %d, "type": "manual",  "status": "idle",`+
			` "container": "", "engine": "", "assignedAt": %q, "lastUsedAt": "2026-01-01T00:00:00Z", "note": "hand edited"}`,
			project, ss, web, assignedAt)
	}
	const jan, feb, dec = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2025-12-01T00:00:00Z"
	type tcase struct {
		name        string
		bad         func(v string, ss, web Range) string // the invalid entry's JSON
		first       bool                                 // the bad entry comes first in the file
		loser       string                               // "" = the bad entry; "valid" = the entry named v (it lost to the other)
		reason      func(v string, ss, web Range) string
		newSlot     int    // the slot a new project gets: an invalid entry's ports are free
		project     string // the invalid entry's project
		sameProject bool   // it is the valid entry's project
	}
	other := "/nonexistent/other"
	cases := []tcase{
		{name: "web port out of range", bad: func(_ string, ss, _ Range) string { return entry(other, ss.Lo+1, 70000, jan) },
			reason:  func(string, Range, Range) string { return "its web port 70000 is not between 1 and 65535" },
			newSlot: 1, project: other},
		{name: "superserver port 0", bad: func(_ string, _, web Range) string { return entry(other, 0, web.Lo+1, jan) },
			reason:  func(string, Range, Range) string { return "its superserver port 0 is not between 1 and 65535" },
			newSlot: 1, project: other},
		{name: "negative port", bad: func(_ string, ss, _ Range) string { return entry(other, ss.Lo+1, -5, jan) },
			reason:  func(string, Range, Range) string { return "its web port -5 is not between 1 and 65535" },
			newSlot: 1, project: other},
		{name: "superserver equals web", bad: func(_ string, ss, _ Range) string { return entry(other, ss.Lo+1, ss.Lo+1, jan) },
			reason: func(_ string, ss, _ Range) string {
				return fmt.Sprintf("its superserver and web ports are both %d", ss.Lo+1)
			},
			newSlot: 1, project: other},
		{name: "relative project key", bad: func(_ string, ss, web Range) string { return entry("src/shop", ss.Lo+1, web.Lo+1, jan) },
			reason:  func(string, Range, Range) string { return `its project "src/shop" is not an absolute path` },
			newSlot: 1, project: "src/shop"},
		{name: "no project", bad: func(_ string, ss, web Range) string {
			return fmt.Sprintf(`{"superserverPort": %d, "webPort": %d}`, ss.Lo+1, web.Lo+1)
		},
			reason:  func(string, Range, Range) string { return "it has no project" },
			newSlot: 1},
		{name: "not an object", bad: func(string, Range, Range) string { return `42` },
			reason: func(string, Range, Range) string {
				return "it is not an assignment: json: cannot unmarshal number into Go value of type registry.Assignment"
			},
			newSlot: 1},
		{name: "a field of the wrong type", bad: func(string, Range, Range) string { return `{"project": "/x", "webPort": "52773"}` },
			reason: func(string, Range, Range) string {
				return "it is not an assignment: json: cannot unmarshal string into Go struct field Assignment.webPort of type int"
			},
			newSlot: 1, project: "/x"},
		{name: "port held twice: the later assignedAt loses, wherever it is in the file", first: true,
			bad: func(_ string, ss, web Range) string { return entry(other, ss.Lo, web.Lo+2, feb) },
			reason: func(v string, ss, _ Range) string {
				return fmt.Sprintf("its superserver port %d is held by %s, assigned earlier", ss.Lo, v)
			},
			newSlot: 1, project: other},
		{name: "web port held twice, as the other's superserver port",
			bad: func(_ string, ss, web Range) string { return entry(other, ss.Lo+2, ss.Lo, feb) },
			reason: func(v string, ss, _ Range) string {
				return fmt.Sprintf("its web port %d is held by %s, assigned earlier", ss.Lo, v)
			},
			newSlot: 1, project: other},
		{name: "port held twice: the earlier assignedAt wins even after the later one in the file", loser: "valid",
			bad: func(_ string, ss, web Range) string { return entry(other, ss.Lo+2, web.Lo, dec) },
			reason: func(_ string, _, web Range) string {
				return fmt.Sprintf("its web port %d is held by %s, assigned earlier", web.Lo, other)
			},
			newSlot: 1},
		{name: "project twice", bad: func(v string, ss, web Range) string { return entry(v, ss.Lo+2, web.Lo+2, feb) },
			reason:  func(string, Range, Range) string { return "its project has an earlier assignment" },
			newSlot: 1, sameProject: true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, baseInvalid+4*i, 4)
			ctx := ctxT(t)
			v := project(t, "valid")
			valid := entry(v, e.ss.Lo, e.web.Lo, jan)
			bad := tc.bad(v, e.ss, e.web)
			entries := []string{valid, bad}
			if tc.first {
				entries = []string{bad, valid}
			}
			orig := `{"version": 1, "assignments": [` + strings.Join(entries, ", ") + `], "top": "kept"}`
			if err := os.WriteFile(e.r.Path(), []byte(orig), 0o600); err != nil {
				t.Fatal(err)
			}
			badIndex, loserRaw, loserProject := 1, bad, tc.project
			if tc.first {
				badIndex = 0
			}
			wantReason := tc.reason(v, e.ss, e.web)
			winner := v
			if tc.loser == "valid" {
				badIndex, loserRaw, loserProject, winner = 0, valid, v, other
			}
			if tc.sameProject {
				loserProject = v
			}
			check := func(when string, index int) {
				t.Helper()
				list, err := e.r.List(ctx)
				if err != nil {
					t.Fatalf("%s: List: %v", when, err)
				}
				var projects []string
				for _, a := range list {
					projects = append(projects, a.Project)
				}
				rpctest.Must(t, fmt.Sprintf("%s: List %v", when, projects),
					rpctest.Want("lists the winner "+winner, strings.Contains(strings.Join(projects, " "), winner), true),
					rpctest.Want(fmt.Sprintf("lists the invalid entry's project %q", loserProject), loserProject != "" && loserProject != winner &&
						strings.Contains(" "+strings.Join(projects, " ")+" ", " "+loserProject+" "), false))
				inv, err := e.r.Invalid(ctx)
				if err != nil {
					t.Fatal(err)
				}
				want := InvalidEntry{Index: index, Project: loserProject, Reason: wantReason, Entry: json.RawMessage(loserRaw)}
				if len(inv) != 1 || fmt.Sprint(inv[0]) != fmt.Sprint(want) {
					t.Fatalf("%s: Invalid\n got %+v\nwant %+v", when, inv, want)
				}
				if loserProject != "" && loserProject != winner {
					if _, ok, err := e.r.Get(ctx, loserProject); ok || err != nil {
						t.Fatalf("%s: Get returned the invalid entry: %v %v", when, ok, err)
					}
				}
			}
			check("as read", badIndex)
			// Not used for conflicts: a new project gets the first slot the valid entries leave free.
			a, err := e.r.Assign(ctx, project(t, "new"), Preferred{})
			if err != nil || *a.Slot != tc.newSlot {
				t.Fatalf("Assign of a new project = slot %v, %v; want slot %d", a.Slot, err, tc.newSlot)
			}
			if err := e.r.Touch(ctx, winner); err != nil && !errors.As(err, new(*NotFoundError)) {
				t.Fatal(err)
			}
			data, err := os.ReadFile(e.r.Path())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), loserRaw) || !strings.Contains(string(data), `"top": "kept"`) {
				t.Fatalf("rewrite did not keep the invalid entry byte for byte:\n%s\n--- want it to contain\n%s", data, loserRaw)
			}
			check("after two rewrites", 2)
		})
	}
}

// Rule 7: a change by another process is seen even when the file keeps its size, its mtime and its
// inode (inodes are reused on nearly every rename). The file is rewritten in place with other ports
// of the same length and its mtime set back with os.Chtimes; d65fd46 kept serving its cached state.
func TestChangeWithSameSizeMtimeAndInodeIsSeen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, baseSameVersion, 5, func(o *Options) { o.ChangesInterval = 10 * time.Millisecond })
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	dir := project(t, "p")
	a, err := e.r.Assign(ctx, dir, Preferred{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.r.Get(ctx, dir); err != nil { // cached now
		t.Fatal(err)
	}
	changes := e.r.Changes(ctx)
	before, err := os.Stat(e.r.Path())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(e.r.Path())
	edited := strings.NewReplacer(
		fmt.Sprintf(`"superserverPort": %d`, a.SuperserverPort), fmt.Sprintf(`"superserverPort": %d`, a.SuperserverPort+1),
		fmt.Sprintf(`"webPort": %d`, a.WebPort), fmt.Sprintf(`"webPort": %d`, a.WebPort+1),
		`"slot": 0`, `"slot": 1`).Replace(string(data))
	if len(edited) != len(data) || edited == string(data) {
		t.Fatalf("edit changed the size or nothing:\n%s", edited)
	}
	f, err := os.OpenFile(e.r.Path(), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(edited); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(e.r.Path(), before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(e.r.Path())
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "the test keeps the file's identity, size and mtime", rpctest.Want("same file", os.SameFile(before, after), true),
		rpctest.Want("size", after.Size(), before.Size()), rpctest.Want("mtime", after.ModTime(), before.ModTime()))
	want := fmt.Sprintf("%d/%d", a.SuperserverPort+1, a.WebPort+1)
	got, ok, err := e.r.Get(ctx, dir)
	if err != nil {
		t.Fatalf("Get after the change: %v", err)
	}
	rpctest.Must(t, "Get after the change", rpctest.Want("found", ok, true), rpctest.Want("ports", fmt.Sprintf("%d/%d", got.SuperserverPort, got.WebPort), want))
	if got, err := e.r.Assign(ctx, dir, Preferred{}); err != nil || fmt.Sprintf("%d/%d", got.SuperserverPort, got.WebPort) != want {
		t.Fatalf("idempotent Assign after the change = %+v %v, want ports %s", got, err, want)
	}
	if _, ok, err := e.r.Find(ctx, a.SuperserverPort); ok || err != nil {
		t.Fatalf("Find of the old port still finds it: %v %v", ok, err)
	}
	select {
	case <-changes:
	case <-time.After(30 * time.Second):
		t.Fatal("Changes did not fire for the change")
	}
}
