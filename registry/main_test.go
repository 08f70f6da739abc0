package registry

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// The test binary doubles as the child process of the multi-process tests: with childEnv set it
// runs one child role and exits instead of running tests.
const (
	childEnv         = "IRIS_HELPER_REGISTRY_TEST_CHILD" // role: assign | assign-loop | ensure | hold-lock | op
	childOpEnv       = "IRIS_HELPER_REGISTRY_TEST_OP"    // op role: open | list | assign (of the first project)
	childProjectsEnv = "IRIS_HELPER_REGISTRY_TEST_PROJECTS"
	childStartEnv    = "IRIS_HELPER_REGISTRY_TEST_START" // a file to wait for before starting
	childTimeoutEnv  = "IRIS_HELPER_REGISTRY_TEST_LOCK_TIMEOUT"
	childExtrasEnv   = "IRIS_HELPER_REGISTRY_TEST_EXTRAS" // ensure role: key[=preferred],... for every project
)

// exit codes of the assign child
const (
	childOK          = 0
	childFailed      = 1
	childLockTimeout = 3
)

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(childMain(role))
	}
	os.Exit(m.Run())
}

// childMain runs one child role. It reads the home and the ranges from the environment
// (IRIS_HELPER_HOME, IRIS_HELPER_SUPERSERVER_RANGE, IRIS_HELPER_WEB_RANGE), as the CLI does.
func childMain(role string) int {
	ctx := context.Background()
	switch role {
	case "hold-lock":
		// Hold the registry lock until killed (at most two minutes).
		fl := flock.New(filepath.Join(os.Getenv(EnvHome), LockFileName), flock.SetPermissions(0o600))
		if err := fl.Lock(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return childFailed
		}
		fmt.Println("locked")
		time.Sleep(2 * time.Minute)
		return childOK
	case "op":
		return childOp()
	case "assign", "assign-loop", "ensure":
	default:
		fmt.Fprintln(os.Stderr, "unknown child role", role)
		return childFailed
	}
	var timeout time.Duration
	if s := os.Getenv(childTimeoutEnv); s != "" {
		timeout, _ = time.ParseDuration(s)
	}
	r, err := Open(Options{LockTimeout: timeout})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return childFailed
	}
	if start := os.Getenv(childStartEnv); start != "" {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
			if _, err := os.Stat(start); err == nil {
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintln(os.Stderr, "start signal never came")
				return childFailed
			}
		}
	}
	projects := filepath.SplitList(os.Getenv(childProjectsEnv))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for n := 0; ; n++ {
		for _, p := range projects {
			if role == "assign-loop" {
				p = fmt.Sprintf("%s-%d", p, n)
				_ = os.MkdirAll(p, 0o755)
			}
			begin := time.Now()
			var a Assignment
			var err error
			if role == "ensure" {
				var res EnsureResult
				res, err = r.Ensure(ctx, p, EnsureRequest{Extra: parseExtras(os.Getenv(childExtrasEnv))})
				a = res.Assignment
			} else {
				a, err = r.Assign(ctx, p, Preferred{})
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				var lt *LockTimeoutError
				if errors.As(err, &lt) {
					return childLockTimeout
				}
				return childFailed
			}
			_ = enc.Encode(childResult{Assignment: a, Micros: time.Since(begin).Microseconds()})
			if role == "assign-loop" {
				_ = out.Flush() // the parent must see every committed assignment before it kills us
			}
		}
		if role != "assign-loop" {
			return childOK
		}
	}
}

// parseExtras parses "key[=preferred],..." (the ensure child's extra ports).
func parseExtras(s string) []ExtraRequest {
	var out []ExtraRequest
	for _, item := range strings.Split(s, ",") {
		key, pref, _ := strings.Cut(item, "=")
		n, _ := strconv.Atoi(pref)
		out = append(out, ExtraRequest{Key: key, Preferred: n})
	}
	return out
}

// childOp runs one registry operation and prints its outcome as one JSON line (opResult).
func childOp() int {
	var res opResult
	r, err := Open(Options{})
	if err == nil {
		switch op := os.Getenv(childOpEnv); op {
		case "open":
		case "list":
			res.List, err = r.List(context.Background())
		case "assign":
			var a Assignment
			a, err = r.Assign(context.Background(), filepath.SplitList(os.Getenv(childProjectsEnv))[0], Preferred{})
			res.List = []Assignment{a}
		default:
			err = fmt.Errorf("unknown op %q", op)
		}
	}
	if err != nil {
		res.Error, res.Type = err.Error(), errorType(err)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return childOK
}

// opResult is what the op child prints.
type opResult struct {
	Error string       `json:"error,omitempty"`
	Type  string       `json:"type,omitempty"` // the registry error type found with errors.As
	List  []Assignment `json:"list,omitempty"`
}

func errorType(err error) string {
	for _, target := range []any{new(*AccessError), new(*HomeError), new(*CorruptError), new(*LockTimeoutError)} {
		if errors.As(err, target) {
			return fmt.Sprintf("%T", target)[1:]
		}
	}
	return "other"
}

type childResult struct {
	Assignment
	Micros int64 `json:"micros"`
}

// child is a started child process.
type child struct {
	cmd    *exec.Cmd
	stdout rpctest.Buffer
	stderr rpctest.Buffer
}

// startChild runs the test binary in a child role with the given home and ranges.
func startChild(t testing.TB, role, home string, ss, web Range, extraEnv ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(os.Environ(),
		childEnv+"="+role,
		EnvHome+"="+home,
		EnvSuperserverRange+"="+ss.String(),
		EnvWebRange+"="+web.String(),
		EnvExtraRange+"="+childExtra.String(), // a later IRIS_HELPER_EXTRA_RANGE in extraEnv wins
	)
	c.cmd.Env = append(c.cmd.Env, extraEnv...)
	c.cmd.Stdout = &c.stdout
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	return c
}

// results parses the child's JSON lines (a torn last line of a killed child is ignored).
func (c *child) results(t testing.TB) []childResult {
	t.Helper()
	var out []childResult
	sc := bufio.NewScanner(strings.NewReader(c.stdout.String()))
	for sc.Scan() {
		var r childResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue
		}
		out = append(out, r)
	}
	return out
}

// ---- shared helpers ----

// childExtra is the extra range of child processes unless a test gives its own: every range comes
// from the environment, so that config.json is not read.
var childExtra = Range{Lo: 29900, Hi: 29999}

// band returns a superserver range of n ports starting at base and the web range 5000 above it.
// Every test uses its own base inside the registry band 20000-29999.
func band(base, n int) (Range, Range) {
	return Range{Lo: base, Hi: base + n - 1}, Range{Lo: base + 5000, Hi: base + 5000 + n - 1}
}

type env struct {
	home    string
	ss, web Range
	logs    *rpctest.Buffer
	r       *Registry
}

// newEnv opens a registry in a fresh temp home with the given band.
func newEnv(t *testing.T, base, n int, mod ...func(*Options)) *env {
	t.Helper()
	e := &env{home: filepath.Join(t.TempDir(), "home"), logs: &rpctest.Buffer{}}
	e.ss, e.web = band(base, n)
	extra := Range{Lo: 29800, Hi: 29899} // tests that ensure extra ports give their own range (mod)
	opts := Options{Home: e.home, Superserver: &e.ss, Web: &e.web, Extra: &extra,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, m := range mod {
		m(&opts)
	}
	r, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	e.r = r
	return e
}

// project makes a real project folder and returns its path.
func project(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readFile decodes registry.json strictly as a user's tool would (plain encoding/json).
func readFile(t testing.TB, path string) fileJSON {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read registry: %v", err)
	}
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("registry.json is not valid JSON: %v\n%s", err, data)
	}
	return f
}

type fileJSON struct {
	Version     int          `json:"version"`
	Assignments []Assignment `json:"assignments"`
}

// checkUnique fails when two assignments share a port or a project.
func checkUnique(t testing.TB, as []Assignment) {
	t.Helper()
	ports := map[int]string{}
	projects := map[string]bool{}
	for _, a := range as {
		if projects[a.Project] {
			t.Errorf("project %s appears twice", a.Project)
		}
		projects[a.Project] = true
		for _, p := range []int{a.SuperserverPort, a.WebPort} {
			if other, ok := ports[p]; ok {
				t.Errorf("port %d held by both %s and %s", p, other, a.Project)
			}
			ports[p] = a.Project
		}
	}
}

func envList(items []string) string { return strings.Join(items, string(os.PathListSeparator)) }

func itoa(i int) string { return strconv.Itoa(i) }
