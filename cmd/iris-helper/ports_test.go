package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// Tests of `iris-helper ports` use the cmd band from 32400 (superserver) / 32900 (web), ten slots
// per test, and their own IRIS_HELPER_HOME. They set the environment, so they do not run in parallel.

var updatePortsGolden = flag.Bool("update-ports-golden", false, "rewrite testdata/ports_*.golden")

// assignmentKeys are the fields of a ports entry (the registry's, plus containerState, state and
// ports), all always present in --json output, as in iris/ports.
var assignmentKeys = []string{"assignedAt", "container", "containerState", "engine", "lastUsedAt", "ports", "project", "slot", "state",
	"superserverPort", "type", "status", "webPort"}

type portsEnv struct {
	t    *testing.T
	home string
	lo   int // superserver range lo..lo+9, web lo+500..lo+509
}

func newPortsEnv(t *testing.T, lo, slots int) *portsEnv {
	t.Helper()
	e := &portsEnv{t: t, home: t.TempDir(), lo: lo}
	t.Setenv(registry.EnvHome, e.home)
	t.Setenv(registry.EnvSuperserverRange, fmt.Sprintf("%d-%d", lo, lo+slots-1))
	t.Setenv(registry.EnvWebRange, fmt.Sprintf("%d-%d", lo+500, lo+500+slots-1))
	return e
}

// irisProject makes an IRIS project folder (module.xml) with a subfolder, canonical path.
func irisProject(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "module.xml"), []byte("<Export/>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "src", "Demo"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// assignmentJSON decodes one assignment object and checks that it has exactly the registry's fields.
func assignmentJSON(t *testing.T, raw []byte) registry.Assignment {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, raw)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := append([]string(nil), assignmentKeys...)
	sort.Strings(want)
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("assignment keys %v, want %v", keys, want)
	}
	var a registry.Assignment
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func listJSON(t *testing.T) []registry.Assignment {
	t.Helper()
	out, _ := mustRun(t, 0, "ports", "list", "--json")
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf(`want {"assignments": [...]}, got %v\n%s`, err, out)
	}
	rpctest.Must(t, "ports list --json "+out, rpctest.Want("number of keys", len(m), 1), rpctest.Want(`has "assignments"`, m["assignments"] != nil, true))
	var raws []json.RawMessage
	if err := json.Unmarshal(m["assignments"], &raws); err != nil || raws == nil {
		t.Fatalf("assignments is not an array: %v\n%s", err, out)
	}
	var as []registry.Assignment
	for _, r := range raws {
		as = append(as, assignmentJSON(t, r))
	}
	return as
}

// slotOf is the assignment's slot, or nil for a manual one.
func slotOf(a registry.Assignment) any {
	if a.Slot == nil {
		return nil
	}
	return *a.Slot
}

func TestPortsAssignInspectListReleaseFlow(t *testing.T) {
	e := newPortsEnv(t, 32400, 10)
	dir := irisProject(t)

	out, _ := mustRun(t, 0, "ports", "assign", dir, "--json")
	a := assignmentJSON(t, []byte(out))
	rpctest.Must(t, "assign --json", rpctest.Want("project", a.Project, dir), rpctest.Want("superserverPort", a.SuperserverPort, e.lo),
		rpctest.Want("webPort", a.WebPort, e.lo+500), rpctest.Want("slot", slotOf(a), 0), rpctest.Want("type", a.Type, "auto"))
	// Idempotent, from a subfolder, through a symlink, and from the current folder.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{dir}, {filepath.Join(dir, "src", "Demo")}, {link}} {
		out, _ := mustRun(t, 0, append([]string{"ports", "assign", "--json"}, args...)...)
		b := assignmentJSON(t, []byte(out))
		rpctest.Must(t, fmt.Sprintf("assign %v (the same as the first)", args), rpctest.Want("project", b.Project, dir),
			rpctest.Want("superserverPort", b.SuperserverPort, a.SuperserverPort), rpctest.Want("assignedAt", b.AssignedAt, a.AssignedAt))
	}
	t.Chdir(filepath.Join(dir, "src"))
	out, _ = mustRun(t, 0, "ports", "assign")
	for _, want := range []string{"project      " + dir, "superserver  " + strconv.Itoa(e.lo), "web          " + strconv.Itoa(e.lo+500), "slot         0", "type         auto"} {
		if !strings.Contains(out, want) {
			t.Errorf("assign output lacks %q:\n%s", want, out)
		}
	}

	// A second project gets the next slot.
	other := irisProject(t)
	out, _ = mustRun(t, 0, "ports", "assign", other, "--json")
	if b := assignmentJSON(t, []byte(out)); b.SuperserverPort != e.lo+1 {
		t.Fatalf("second project got %d", b.SuperserverPort)
	}

	// inspect by folder (default: current folder) and by either port.
	for _, args := range [][]string{{}, {dir}, {strconv.Itoa(e.lo)}, {strconv.Itoa(e.lo + 500)}} {
		out, _ := mustRun(t, 0, append([]string{"ports", "inspect", "--json"}, args...)...)
		if b := assignmentJSON(t, []byte(out)); b.Project != dir {
			t.Fatalf("inspect %v = %+v", args, b)
		}
	}

	list := listJSON(t)
	var projects []string
	for _, a := range list {
		projects = append(projects, a.Project)
	}
	rpctest.Must(t, "list --json", rpctest.Want("projects", projects, []string{dir, other}))
	out, _ = mustRun(t, 0, "ports", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "PROJECT") || !strings.Contains(lines[0], "LAST USED") ||
		!strings.Contains(lines[1], dir) || !strings.Contains(lines[1], strconv.Itoa(e.lo+500)) || !strings.Contains(lines[1], "idle") {
		t.Fatalf("list table:\n%s", out)
	}

	// release by port, then the port is unknown (exit 1 with the remedy).
	out, _ = mustRun(t, 0, "ports", "release", strconv.Itoa(e.lo+501))
	if !strings.Contains(out, "Released superserver "+strconv.Itoa(e.lo+1)) || !strings.Contains(out, other) {
		t.Fatalf("release output: %s", out)
	}
	_, errOut := mustRun(t, 1, "ports", "inspect", strconv.Itoa(e.lo+1))
	if !strings.Contains(errOut, "no project is assigned port") || !strings.Contains(errOut, "ports list") {
		t.Fatalf("inspect of a released port: %s", errOut)
	}
	_, errOut = mustRun(t, 1, "ports", "release", other)
	if !strings.Contains(errOut, "no ports are assigned to "+other) {
		t.Fatalf("second release: %s", errOut)
	}
	// release the current folder's project
	mustRun(t, 0, "ports", "release")
	if list := listJSON(t); len(list) != 0 {
		t.Fatalf("after releasing both: %+v", list)
	}
}

func TestPortsAssignPreferredAndConflicts(t *testing.T) {
	e := newPortsEnv(t, 32410, 10)
	dir, other := irisProject(t), irisProject(t)
	out, _ := mustRun(t, 0, "ports", "assign", dir, "--port", "32419", "--web-port", "32919", "--json")
	a := assignmentJSON(t, []byte(out))
	rpctest.Must(t, "manual assign", rpctest.Want("type", a.Type, "manual"), rpctest.Want("slot", slotOf(a), nil),
		rpctest.Want("superserverPort", a.SuperserverPort, 32419), rpctest.Want("webPort", a.WebPort, 32919))
	if !strings.Contains(out, `"slot": null`) {
		t.Fatalf("slot not null: %s", out)
	}
	_, errOut := mustRun(t, 1, "ports", "assign", other, "--port", "32419")
	if !strings.Contains(errOut, "assigned to project "+dir) || !strings.Contains(errOut, "iris-helper ports release "+dir) {
		t.Fatalf("conflict message: %s", errOut)
	}
	l, err := net.Listen("tcp", "127.0.0.1:32418")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, errOut = mustRun(t, 1, "ports", "assign", other, "--port", "32418")
	// the test process holds it: named by its pid where the OS tells (registry.PortHolder)
	holder := "another process on this host; stop that process"
	if runtime.GOOS == "linux" {
		holder = fmt.Sprintf("process %d (", os.Getpid())
	}
	if !strings.Contains(errOut, "port 32418 is in use by "+holder) || !strings.Contains(errOut, "choose another port") {
		t.Fatalf("listener conflict message: %s", errOut)
	}
	// Moving the project to another preferred port.
	out, _ = mustRun(t, 0, "ports", "assign", dir, "--port", "32417", "--json")
	if b := assignmentJSON(t, []byte(out)); b.SuperserverPort != 32417 || b.WebPort != 32919 {
		t.Fatalf("move = %+v", b)
	}
	_ = e
}

func TestPortsUsageErrorsExit2(t *testing.T) {
	newPortsEnv(t, 32420, 10)
	dir := irisProject(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ports", "clear"}, "add --yes"},
		{[]string{"ports", "assign", dir, "--port", "0"}, "--port 0 is out of range"},
		{[]string{"ports", "assign", dir, "--web-port", "70000"}, "--web-port 70000 is out of range"},
		{[]string{"ports", "assign", dir, "--port", "x"}, "invalid argument"},
		{[]string{"ports", "assign", dir, "--port", "32421", "--web-port", "32421"}, "two different ports"},
		{[]string{"ports", "list", "--bogus"}, "unknown flag"},
		{[]string{"ports", "list", "extra"}, "unknown command"},
		{[]string{"ports", "inspect", "a", "b"}, "accepts at most 1 arg"},
		{[]string{"ports", "inspect", "70000"}, "port 70000 is out of range"},
		{[]string{"ports", "release", "0"}, "port 0 is out of range"},
		{[]string{"ports", "cleanup", "now"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut := mustRun(t, 2, tc.args...)
			if !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr lacks %q:\n%s", tc.want, errOut)
			}
		})
	}
}

func TestPortsClearCleanupAndExhaustion(t *testing.T) {
	newPortsEnv(t, 32430, 2)
	p1, p2, p3 := irisProject(t), irisProject(t), irisProject(t)
	mustRun(t, 0, "ports", "assign", p1)
	mustRun(t, 0, "ports", "assign", p2)
	_, errOut := mustRun(t, 1, "ports", "assign", p3)
	for _, want := range []string{"no free port pair", p1, p2, "iris-helper ports release <dir>", "IRIS_HELPER_SUPERSERVER_RANGE", "config.json"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("exhaustion message lacks %q:\n%s", want, errOut)
		}
	}
	// p2's folder disappears: cleanup --dry-run reports it, cleanup removes it.
	if err := os.RemoveAll(p2); err != nil {
		t.Fatal(err)
	}
	out, _ := mustRun(t, 0, "ports", "list")
	if !strings.Contains(out, "stale") {
		t.Fatalf("list does not show the stale project:\n%s", out)
	}
	out, _ = mustRun(t, 0, "ports", "cleanup", "--dry-run")
	if !strings.Contains(out, "Would release 1 stale assignment(s)") || !strings.Contains(out, p2) {
		t.Fatalf("dry run: %s", out)
	}
	if list := listJSON(t); len(list) != 2 {
		t.Fatalf("dry run removed entries: %+v", list)
	}
	out, _ = mustRun(t, 0, "ports", "cleanup")
	if !strings.Contains(out, "Released 1 stale assignment(s)") {
		t.Fatalf("cleanup: %s", out)
	}
	out, _ = mustRun(t, 0, "ports", "cleanup")
	if !strings.Contains(out, "Nothing to clean up.") {
		t.Fatalf("second cleanup: %s", out)
	}
	mustRun(t, 0, "ports", "assign", p3)
	out, _ = mustRun(t, 0, "ports", "clear", "--yes")
	if !strings.Contains(out, "Removed 2 assignment(s)") {
		t.Fatalf("clear: %s", out)
	}
	out, _ = mustRun(t, 0, "ports", "list", "--json")
	if strings.TrimSpace(out) != "{\n  \"assignments\": []\n}" {
		t.Fatalf("empty list --json: %q", out)
	}
	out, _ = mustRun(t, 0, "ports", "list")
	if !strings.Contains(out, "No ports assigned yet") {
		t.Fatalf("empty list: %q", out)
	}
}

func TestPortsCorruptAndNewerRegistry(t *testing.T) {
	e := newPortsEnv(t, 32440, 10)
	path := filepath.Join(e.home, registry.FileName)
	os.WriteFile(path, []byte("{not json"), 0o600)
	// moved aside and rebuilt (from no containers: the engine does not answer), then listed
	t.Setenv("DOCKER_HOST", "unix://"+dockertest.SocketPath(t))
	out, errOut := mustRun(t, 0, "ports", "list")
	if !strings.Contains(errOut, "registry.json.corrupt-") || !strings.Contains(errOut, "could not rebuild it from containers") {
		t.Fatalf("corrupt registry message: %s", errOut)
	}
	if !strings.HasPrefix(out, "No ports assigned yet") {
		t.Fatalf("list after the rebuild: %s", out)
	}
	_, errOut = mustRun(t, 0, "ports", "list")
	if errOut != "" {
		t.Fatalf("second list: %s", errOut)
	}
	newer := `{"version":7,"assignments":[]}`
	os.WriteFile(path, []byte(newer), 0o600)
	_, errOut = mustRun(t, 1, "ports", "assign", irisProject(t))
	if !strings.Contains(errOut, "version 7") || !strings.HasSuffix(strings.TrimSpace(errOut), "upgrade iris-helper") {
		t.Fatalf("newer version message: %s", errOut)
	}
	if got, _ := os.ReadFile(path); string(got) != newer {
		t.Fatalf("newer registry was changed: %s", got)
	}
	// A bad range is a clear error.
	t.Setenv(registry.EnvWebRange, "32940-32941")
	_, errOut = mustRun(t, 1, "ports", "list")
	if !strings.Contains(errOut, "has 10 ports but the web range has 2") {
		t.Fatalf("bad range message: %s", errOut)
	}
}

// TestPortsListRestoresACorruptRegistryFromLabels: every ports verb follows the one restore rule
// of a Project (workspace's restoreCorrupt). A corrupt registry.json is moved aside, the entry of
// a project with a labelled container comes back from its labels, and the user is told once.
// Ports: 32130 / 32630.
func TestPortsListRestoresACorruptRegistryFromLabels(t *testing.T) {
	e := newCLIEnv(t, 32130)
	t.Setenv(registry.EnvSuperserverRange, "32130-32130")
	t.Setenv(registry.EnvWebRange, "32630-32630")
	mustRun(t, 0, "start", e.project, "--image", e.img)
	if err := os.WriteFile(filepath.Join(e.home, registry.FileName), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut := mustRun(t, 0, "ports", "list", "--json")
	// Other tests' containers on the same engine may come back too: the count is a placeholder.
	scrub := rpctest.NewScrubber().Home(e.home)
	got := regexp.MustCompile(`rebuilt \d+ assignment\(s\)`).ReplaceAllString(scrub.Scrub(errOut), "rebuilt <n> assignment(s)")
	want := "time=<time> level=ERROR msg=\"REGISTRY WAS CORRUPT: moved it aside and started an empty registry\" path=<home>/registry.json " +
		"backup=<home>/registry.json.corrupt-<time> error=\"invalid character 'n' looking for beginning of object key string\"\n" +
		"iris-helper: warning: registry <home>/registry.json was unreadable (invalid character 'n' looking for beginning of object key string); " +
		"kept it as <home>/registry.json.corrupt-<time> and started an empty registry; run the command again (projects get their ports " +
		"again when they are assigned or started); rebuilt <n> assignment(s) from the labels of iris-helper containers\n"
	if got != want {
		t.Errorf("stderr:\n got %q\nwant %q", got, want)
	}
	var list struct {
		Assignments []map[string]any `json:"assignments"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var mine map[string]any
	for _, x := range list.Assignments {
		if x["project"] == e.project {
			mine = x
		}
	}
	rpctest.Must(t, "the restored entry", rpctest.Want("found", mine != nil, true),
		rpctest.Want("superserverPort", mine["superserverPort"], 32130.0), rpctest.Want("webPort", mine["webPort"], 32630.0),
		rpctest.Want("slot", mine["slot"], 0.0), rpctest.Want("type", mine["type"], "auto"), rpctest.Want("status", mine["status"], "active"),
		rpctest.Want("containerState", mine["containerState"], "running"), rpctest.Want("state", mine["state"], "ready"))
	// the registry is whole again: the next command says nothing of it
	if _, errOut := mustRun(t, 0, "ports", "inspect", e.project); errOut != "" {
		t.Errorf("inspect after the restore: %s", errOut)
	}
}

func TestPortsHelpAndCompletion(t *testing.T) {
	e := newPortsEnv(t, 32450, 10)
	dir := irisProject(t)
	mustRun(t, 0, "ports", "assign", dir)
	for _, args := range [][]string{
		{"ports", "--help"}, {"ports", "list", "--help"}, {"ports", "inspect", "--help"}, {"ports", "assign", "--help"},
		{"ports", "release", "--help"}, {"ports", "cleanup", "--help"}, {"ports", "clear", "--help"}, {"help", "ports"},
	} {
		out, _ := mustRun(t, 0, args...)
		if !strings.Contains(out, "Usage:") {
			t.Errorf("%v: no usage:\n%s", args, out)
		}
	}
	out, _ := mustRun(t, 0, "ports", "assign", "--help")
	if !strings.Contains(out, "--web-port") || !strings.Contains(out, "--json") {
		t.Fatalf("assign help lacks flags:\n%s", out)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, _ := mustRun(t, 0, "completion", shell)
		if !strings.Contains(out, "iris-helper") {
			t.Errorf("completion %s: %.200s", shell, out)
		}
	}
	out, _ = mustRun(t, 0, "__complete", "ports", "")
	for _, sub := range []string{"list", "inspect", "assign", "release", "cleanup", "clear"} {
		if !strings.Contains(out, sub+"\t") {
			t.Errorf("subcommand %s not completed:\n%s", sub, out)
		}
	}
	out, _ = mustRun(t, 0, "__complete", "ports", "inspect", "")
	if !strings.Contains(out, dir) || !strings.Contains(out, strconv.Itoa(e.lo)+"\t") {
		t.Fatalf("inspect does not complete assigned projects and ports:\n%s", out)
	}
	// Nothing assigned matches what was typed: the shell completes folders (directive 16, FilterDirs).
	out, _ = mustRun(t, 0, "__complete", "ports", "release", "./sr")
	if strings.TrimSpace(out) != ":16" {
		t.Fatalf("release does not fall back to folders:\n%s", out)
	}
}

// TestPortsGolden compares list, list --json and inspect with golden files, on a seeded registry
// with fixed projects (whose folders do not exist, so they show as stale) and fixed times.
//
// The engine does not answer (a missing socket), so that the entries' containerState and state do
// not depend on the machine: "unknown" and "docker-unavailable".
func TestPortsGolden(t *testing.T) {
	e := newPortsEnv(t, 32460, 10)
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	seed, err := os.ReadFile(filepath.Join("testdata", "ports_registry.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.home, registry.FileName), seed, 0o600); err != nil {
		t.Fatal(err)
	}
	// Times are shown in local time: replace them with a placeholder of the same width.
	var times []string
	for _, ts := range []string{"2026-03-01T09:30:00Z", "2026-03-02T10:45:00Z", "2026-03-03T11:00:00Z", "2026-03-04T12:15:00Z"} {
		tm, _ := time.Parse(time.RFC3339, ts)
		times = append(times, showTime(tm))
	}
	normalize := func(s string) string {
		for i, tm := range times {
			s = strings.ReplaceAll(s, tm, fmt.Sprintf("%-*s", len(tm), fmt.Sprintf("<time %d>", i)))
		}
		lines := strings.Split(s, "\n")
		for i := range lines {
			lines[i] = strings.TrimRight(lines[i], " ")
		}
		return strings.Join(lines, "\n")
	}
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"ports_list.golden", []string{"ports", "list"}},
		{"ports_list_json.golden", []string{"ports", "list", "--json"}},
		{"ports_inspect.golden", []string{"ports", "inspect", "1975"}},
		{"ports_inspect_json.golden", []string{"ports", "inspect", "52773", "--json"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, _ := mustRun(t, 0, tc.args...)
			got := normalize(out)
			rpctest.Golden(t, filepath.Join("testdata", tc.golden), got, *updatePortsGolden)
		})
	}
	// The seeded unknown fields survive a rewrite made through the CLI.
	mustRun(t, 0, "ports", "release", "1972")
	data, _ := os.ReadFile(filepath.Join(e.home, registry.FileName))
	if !strings.Contains(string(data), `"addedBy": "hand"`) || !strings.Contains(string(data), `"owner": "team-b"`) {
		t.Fatalf("unknown fields lost on rewrite:\n%s", data)
	}
}

// TestPortsRealProcesses runs the built binary: exit codes from a real process, and several
// processes assigning at once get distinct ports.
func TestPortsRealProcesses(t *testing.T) {
	newPortsEnv(t, 32470, 10)
	bin := filepath.Join(t.TempDir(), "iris-helper")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := exec.Command(bin, "ports", "clear").Run(); err == nil {
		t.Fatal("ports clear without --yes succeeded")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("ports clear without --yes: %v, want exit 2", err)
	}
	var wg sync.WaitGroup
	outs := make([][]byte, 6)
	errs := make([]error, 6)
	dirs := make([]string, 6)
	for i := range dirs {
		dirs[i] = irisProject(t)
	}
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = exec.Command(bin, "ports", "assign", dirs[i], "--json").Output()
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for i := range outs {
		if errs[i] != nil {
			t.Fatalf("process %d: %v", i, errs[i])
		}
		a := assignmentJSON(t, outs[i])
		if seen[a.SuperserverPort] || seen[a.WebPort] {
			t.Fatalf("port reused: %+v", a)
		}
		seen[a.SuperserverPort], seen[a.WebPort] = true, true
	}
	if list := listJSON(t); len(list) != 6 {
		t.Fatalf("registry holds %d, want 6", len(list))
	}
}

// TestPortsAssignUsesProjectSettingsPorts: `ports assign` applies the precedence of docs/config.md,
// flag > .iris-helper.json "ports" > next free slot, as `start` and `env` do.
func TestPortsAssignUsesProjectSettingsPorts(t *testing.T) {
	home := t.TempDir()
	t.Setenv(registry.EnvHome, home)
	t.Setenv(registry.EnvSuperserverRange, "32500-32509")
	t.Setenv(registry.EnvWebRange, "32750-32759")
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	settings := `{"ports": {"superserver": 32520, "web": 32770}}`
	if err := os.WriteFile(filepath.Join(dir, ".iris-helper.json"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	// From a subfolder: the file's ports make a manual assignment outside the ranges.
	out, _ := mustRun(t, 0, "ports", "assign", filepath.Join(dir, "src"), "--json")
	a := assignmentJSON(t, []byte(out))
	rpctest.Must(t, "assign with .iris-helper.json ports", rpctest.Want("project", a.Project, dir), rpctest.Want("type", a.Type, "manual"),
		rpctest.Want("slot", slotOf(a), nil), rpctest.Want("superserverPort", a.SuperserverPort, 32520), rpctest.Want("webPort", a.WebPort, 32770))
	// Idempotent: asking again keeps the assignment.
	out, _ = mustRun(t, 0, "ports", "assign", dir, "--json")
	b := assignmentJSON(t, []byte(out))
	rpctest.Must(t, "re-assign", rpctest.Want("superserverPort", b.SuperserverPort, 32520), rpctest.Want("webPort", b.WebPort, 32770),
		rpctest.Want("assignedAt", b.AssignedAt, a.AssignedAt))
	// A flag wins over the file.
	out, _ = mustRun(t, 0, "ports", "assign", dir, "--port", "32521", "--json")
	if b := assignmentJSON(t, []byte(out)); b.SuperserverPort != 32521 || b.Type != "manual" {
		t.Fatalf("assign --port 32521 = %+v, want the flag's port", b)
	}
	// A bad settings file is an error naming the field (nothing is assigned).
	bad := irisProject(t)
	if err := os.WriteFile(filepath.Join(bad, ".iris-helper.json"), []byte(`{"ports": {"superservr": 32522}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut := mustRun(t, 1, "ports", "assign", bad)
	if !strings.Contains(errOut, `unknown field "ports.superservr"`) {
		t.Fatalf("bad settings message: %s", errOut)
	}
	if list := listJSON(t); len(list) != 1 {
		t.Fatalf("registry holds %+v, want only %s", list, dir)
	}
}

// TestPortsReleaseAndInspectAProjectWhoseFolderIsGone: the path `ports list` shows for a stale
// project (its folder deleted) names it for inspect and release, as the exhaustion and conflict
// messages advise ('iris-helper ports release <dir>').
func TestPortsReleaseAndInspectAProjectWhoseFolderIsGone(t *testing.T) {
	home := t.TempDir()
	t.Setenv(registry.EnvHome, home)
	t.Setenv(registry.EnvSuperserverRange, "32530-32531")
	t.Setenv(registry.EnvWebRange, "32780-32781")
	gone, kept := irisProject(t), irisProject(t)
	mustRun(t, 0, "ports", "assign", gone)
	mustRun(t, 0, "ports", "assign", kept)
	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	out, _ := mustRun(t, 0, "ports", "inspect", gone, "--json")
	if a := assignmentJSON(t, []byte(out)); a.Project != gone || a.Status != "stale" {
		t.Fatalf("inspect of a gone folder = %+v", a)
	}
	// Through a symlink to its (existing) parent folder, as the registry key has it resolved.
	link := filepath.Join(t.TempDir(), "parent-link")
	if err := os.Symlink(filepath.Dir(gone), link); err != nil {
		t.Fatal(err)
	}
	out, _ = mustRun(t, 0, "ports", "release", filepath.Join(link, filepath.Base(gone)))
	if !strings.Contains(out, "Released superserver 32530 and web 32780 of "+gone) {
		t.Fatalf("release of a gone folder: %s", out)
	}
	if list := listJSON(t); len(list) != 1 || list[0].Project != kept {
		t.Fatalf("after release: %+v", list)
	}
	// A missing folder that the registry does not know is still reported as missing.
	_, errOut := mustRun(t, 1, "ports", "release", gone)
	rpctest.Must(t, "release of an unknown missing folder", rpctest.Want("stderr", errOut,
		"iris-helper: find the project of "+gone+": no such folder\n"))
}

// TestVersionCommand: `iris-helper version` prints the version (set by the Makefile with
// -X main.version) and takes no arguments.
func TestVersionCommand(t *testing.T) {
	out, _ := mustRun(t, 0, "version")
	if out != version+"\n" || strings.TrimSpace(version) == "" {
		t.Fatalf("version printed %q, want %q", out, version+"\n")
	}
	_, errOut := mustRun(t, 2, "version", "extra")
	if !strings.Contains(errOut, "unknown command") && !strings.Contains(errOut, "accepts 0 arg") {
		t.Fatalf("version with an argument: %s", errOut)
	}
	out, _ = mustRun(t, 0, "version", "--help")
	if !strings.Contains(out, "Usage:") {
		t.Fatalf("version --help: %s", out)
	}
}

// TestPortsTargetNumberNamingAFolder: for inspect and release, a number that names an existing
// folder is that folder; any other number is a port.
func TestPortsTargetNumberNamingAFolder(t *testing.T) {
	home := t.TempDir()
	t.Setenv(registry.EnvHome, home)
	t.Setenv(registry.EnvSuperserverRange, "32540-32541")
	t.Setenv(registry.EnvWebRange, "32790-32791")
	byPort := irisProject(t)
	mustRun(t, 0, "ports", "assign", byPort) // takes 32540/32790
	parent, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	numbered := filepath.Join(parent, "32540")
	if err := os.MkdirAll(numbered, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(numbered, "module.xml"), []byte("<Export/>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, "ports", "assign", numbered) // takes 32541/32791
	t.Chdir(parent)
	for _, tc := range []struct{ arg, want string }{{"32540", numbered}, {"32790", byPort}, {"32541", numbered}} {
		out, _ := mustRun(t, 0, "ports", "inspect", tc.arg, "--json")
		if a := assignmentJSON(t, []byte(out)); a.Project != tc.want {
			t.Errorf("inspect %s = %s, want %s", tc.arg, a.Project, tc.want)
		}
	}
	out, _ := mustRun(t, 0, "ports", "release", "32540")
	if !strings.Contains(out, "of "+numbered) {
		t.Fatalf("release 32540 in a folder holding 32540/: %s", out)
	}
	if list := listJSON(t); len(list) != 1 || list[0].Project != byPort {
		t.Fatalf("after release: %+v", list)
	}
}

// A port that a container which is not ours publishes is skipped by `ports assign`, and asking for
// it names that container (the engine's published ports reach the registry).
func TestPortsAssignSkipsAndNamesAForeignContainer(t *testing.T) {
	e := newPortsEnv(t, 32480, 3)
	img := dockertest.StubImage(t)
	name := fmt.Sprintf("iris-helper-test-foreign-%d", time.Now().UnixNano())
	out, err := exec.Command("docker", "run", "-d", "--name", name, "--label", "dev.iris-helper.test=cmd",
		"-p", fmt.Sprintf("127.0.0.1:%d:1972", e.lo), img).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })

	stdout, _ := mustRun(t, 0, "ports", "assign", irisProject(t), "--json")
	var a registry.Assignment
	if err := json.Unmarshal([]byte(stdout), &a); err != nil {
		t.Fatalf("assign --json: %v\n%s", err, stdout)
	}
	if a.SuperserverPort != e.lo+1 {
		t.Errorf("assigned %d, want %d (the first is published by %s)", a.SuperserverPort, e.lo+1, name)
	}
	_, stderr := mustRun(t, 1, "ports", "assign", irisProject(t), "--port", strconv.Itoa(e.lo))
	if !strings.Contains(stderr, name) {
		t.Errorf("conflict on a port %s publishes does not name it:\n%s", name, stderr)
	}
}

// An entry of registry.json that fails validation is not used, and `ports list` says so (rule 6);
// `ports list --json` and the editor's iris/ports give the same whole listing, its notes and
// invalid entries included.
func TestPortsListSaysWhichEntriesAreInvalid(t *testing.T) {
	e := newPortsEnv(t, 32490, 5) // no port is bound: the list only reads
	dir := irisProject(t)
	valid := fmt.Sprintf(`{"project":%q,"slot":0,"superserverPort":32490,"webPort":32990,"type":"auto","status":"idle","container":"","engine":"","assignedAt":"2026-01-01T00:00:00Z","lastUsedAt":"2026-01-01T00:00:00Z"}`, dir)
	// a key detection no longer reaches: the subfolder now resolves to dir (a note)
	sub := filepath.Join(dir, "src")
	noted := fmt.Sprintf(`{"project":%q,"superserverPort":32492,"webPort":32992,"type":"manual","status":"idle","container":"","engine":"","assignedAt":"2026-01-01T00:00:00Z","lastUsedAt":"2026-01-01T00:00:00Z"}`, sub)
	bad := `{"project":"/gone/shop","superserverPort":32491,"webPort":70000}`
	path := filepath.Join(e.home, registry.FileName)
	if err := os.WriteFile(path, []byte(`{"version":1,"assignments":[`+valid+`,`+bad+`,"x",`+noted+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := mustRun(t, 0, "ports", "list")
	want := "\nNote: " + sub + " is no longer a project root: it now resolves to " + dir + ", so its ports are unused; 'iris-helper ports release 32492' frees them.\n" +
		"Invalid entries in " + path + " (not used; iris-helper keeps them as they are: fix or delete them by hand):\n" +
		"  entry 1 (/gone/shop): its web port 70000 is not between 1 and 65535\n" +
		"  entry 2: it is not an assignment: json: cannot unmarshal string into Go value of type registry.Assignment\n"
	if !strings.HasPrefix(out, "PROJECT") || !strings.Contains(out, dir) || !strings.HasSuffix(out, want) || strings.Contains(out, "32491") {
		t.Fatalf("ports list:\n%s\nwant it to end with\n%s", out, want)
	}
	out, _ = mustRun(t, 0, "ports", "list", "--json")
	var got struct {
		Assignments []registry.Assignment   `json:"assignments"`
		Notes       []map[string]string     `json:"notes"`
		Invalid     []registry.InvalidEntry `json:"invalid"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	var entry bytes.Buffer
	if len(got.Invalid) > 0 {
		_ = json.Compact(&entry, got.Invalid[0].Entry)
	}
	rpctest.Must(t, "ports list --json", rpctest.Want("len(assignments)", len(got.Assignments), 2), rpctest.Want("len(invalid)", len(got.Invalid), 2),
		rpctest.Want("invalid[0].entry", entry.String(), bad), rpctest.Want("notes", fmt.Sprint(got.Notes), fmt.Sprint([]map[string]string{{"project": sub, "resolvesTo": dir}})))
	rpctest.Must(t, "ports list --json", rpctest.Want("invalid[1].index", got.Invalid[1].Index, 2))
	// the editor gets the same listing, key for key
	_, ports := helperAnswers(t, dir)
	if cli := compactJSON(t, []byte(out)); cli != ports {
		t.Errorf("ports list --json:\n got %s\nwant %s (iris/ports)", cli, ports)
	}
}
