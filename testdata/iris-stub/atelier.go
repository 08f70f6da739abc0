package main

// The Atelier REST API as the ObjectScript extension uses it (issue 13, "How the ObjectScript
// extension behaves"): HEAD /api/atelier/ with Basic auth answers 200 and a session cookie; GET
// /api/atelier/ with that cookie (or Basic auth) answers the server information; under
// /api/atelier/v{N}/{NS}/ the extension's follow-up requests (cspapps, action/query) answer in the
// same envelope. The shapes follow real IRIS; texts IRIS writes that are not documented (the 401
// body, the error of a missing namespace) are close to it, not verified against it.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Version is the server version the stand-in reports, in IRIS's form.
const Version = "IRIS for UNIX (Ubuntu Server LTS for x86-64 Containers) 2025.1 (Build 223U) Tue Mar 11 2025 18:19:22 EDT"

// apiVersion is the Atelier API version of IRIS 2025.1.
const apiVersion = 8

// sessionCookie is the name of the session cookie IRIS sets for the /api/atelier/ web application
// on the private web server's port.
const sessionCookie = "CSPSESSIONID-SP-52773-UP-api-atelier-"

// atelierRefuseFile, when it exists in the container, makes the Atelier API answer 503 (a test
// creates and removes it with `docker exec … iris-stub write` / `rm`, to make it fail for a while).
const atelierRefuseFile = "/tmp/iris-stub-atelier-refuse"

// unauthorizedBody is the body of a 401.
const unauthorizedBody = "<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1>" +
	"<p>Access Denied. The user name or password is not valid.</p></body></html>\n"

// atelierConfig is what the Atelier API answers with.
type atelierConfig struct {
	users      []string          // upper-case names of the accounts
	password   func(string) bool // whether a password is the accounts' (one for all, as in IRIS's default setup)
	namespaces []string          // upper case, as IRIS lists them
	id         string            // instance id in the server information
	// refused reports whether the API is made to fail now (STUB_FAIL / atelierRefuseFile).
	refused func() bool
}

// defaultUsers are the predefined accounts of a development instance that log in with a password.
var defaultUsers = []string{"_SYSTEM", "SUPERUSER", "ADMIN"}

// configFromEnv reads STUB_PASSWORD (the password of every account; default SYS; a PasswordHash
// applied from a merge file wins, see password.go), STUB_NAMESPACES (comma-separated; default
// %SYS,USER) and STUB_FAIL's atelier-refuse / atelier-refuse-for=DUR.
func configFromEnv(readyAt time.Time) (atelierConfig, error) {
	pw := os.Getenv("STUB_PASSWORD")
	if pw == "" {
		pw = "SYS"
	}
	ns := []string{"%SYS", "USER"}
	if v := os.Getenv("STUB_NAMESPACES"); v != "" {
		ns = nil
		for _, n := range strings.Split(v, ",") {
			if n = strings.ToUpper(strings.TrimSpace(n)); n != "" {
				ns = append(ns, n)
			}
		}
	}
	var until time.Time
	_, always := failSwitch("atelier-refuse")
	if v, ok := failSwitch("atelier-refuse-for"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return atelierConfig{}, fmt.Errorf("STUB_FAIL=atelier-refuse-for=%q: %v", v, err)
		}
		until = readyAt.Add(d)
	}
	host, _ := os.Hostname()
	return atelierConfig{
		users: defaultUsers, password: passwordChecker(stateDir(), pw), namespaces: ns, id: instanceID(host),
		refused: func() bool {
			if always || time.Now().Before(until) {
				return true
			}
			_, err := os.Lstat(atelierRefuseFile)
			return err == nil
		},
	}, nil
}

// instanceID is a GUID-shaped id derived from name (IRIS reports its instance GUID).
func instanceID(name string) string {
	sum := sha256.Sum256([]byte("iris-stub instance " + name))
	h := strings.ToUpper(hex.EncodeToString(sum[:16]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// atelier serves /api/atelier/. Sessions live in memory, so a restart ends them (as in IRIS: the
// next request with the old cookie gets a 401 and the client logs in again).
type atelier struct {
	cfg      atelierConfig
	mu       sync.Mutex
	sessions map[string]string // cookie value -> user
}

func newAtelier(cfg atelierConfig) *atelier {
	if cfg.refused == nil {
		cfg.refused = func() bool { return false }
	}
	return &atelier{cfg: cfg, sessions: map[string]string{}}
}

// envelope is the JSON every Atelier answer has.
type envelope struct {
	Status  status   `json:"status"`
	Console []string `json:"console"`
	Result  any      `json:"result"`
}

type status struct {
	Errors  []atelierError `json:"errors"`
	Summary string         `json:"summary"`
}

type atelierError struct {
	Error  string   `json:"error"`
	Code   int      `json:"code"`
	Domain string   `json:"domain"`
	ID     string   `json:"id"`
	Params []string `json:"params"`
}

type content struct {
	Content any `json:"content"`
}

type feature struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

type serverInfo struct {
	Version    string    `json:"version"`
	ID         string    `json:"id"`
	API        int       `json:"api"`
	Features   []feature `json:"features"`
	Namespaces []string  `json:"namespaces"`
}

func (a *atelier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.cfg.refused() {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "<html><head><title>Service Unavailable</title></head><body><h1>503 Service Unavailable</h1>"+
			"<p>The server is temporarily unable to service your request (STUB_FAIL=atelier-refuse).</p></body></html>\n")
		return
	}
	if !a.authenticate(w, r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="IRIS"`)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, unauthorizedBody)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/api/atelier/")
	if rest == "" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			a.fail(w, http.StatusMethodNotAllowed, "ERROR #5001: method "+r.Method+" is not allowed on /api/atelier/")
			return
		}
		a.reply(w, content{serverInfo{
			Version: Version, ID: a.cfg.id, API: apiVersion,
			Features: []feature{
				{Name: "DEEPSEE", Enabled: true}, {Name: "ENSEMBLE", Enabled: true},
				{Name: "HEALTHSHARE", Enabled: false},
			},
			Namespaces: a.cfg.namespaces,
		}})
		return
	}
	// v{N}/{NS}/{action...}
	parts := strings.SplitN(rest, "/", 3)
	v, err := strconv.Atoi(strings.TrimPrefix(parts[0], "v"))
	if !strings.HasPrefix(parts[0], "v") || err != nil || v < 1 || v > apiVersion || len(parts) < 3 {
		a.fail(w, http.StatusNotFound, "ERROR #8754: Unable to use the URL "+r.URL.Path)
		return
	}
	ns, action := parts[1], parts[2]
	if !a.hasNamespace(ns) {
		a.fail(w, http.StatusNotFound, fmt.Sprintf("ERROR #5015: Namespace '%s' does not exist", ns))
		return
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(action, "cspapps"):
		target := strings.TrimPrefix(strings.TrimPrefix(action, "cspapps"), "/")
		if target == "" {
			target = ns
		}
		if !a.hasNamespace(target) {
			a.fail(w, http.StatusNotFound, fmt.Sprintf("ERROR #5015: Namespace '%s' does not exist", target))
			return
		}
		a.reply(w, content{cspApps(strings.ToUpper(target))})
	case r.Method == http.MethodPost && action == "action/query":
		var q struct {
			Query      string `json:"query"`
			Parameters []any  `json:"parameters"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&q); err != nil || q.Query == "" {
			a.fail(w, http.StatusBadRequest, "ERROR #5001: the body must be JSON with a query")
			return
		}
		a.reply(w, content{[]any{}})
	case r.Method == http.MethodGet && action == "docnames":
		a.reply(w, content{[]any{}})
	default:
		a.fail(w, http.StatusNotFound, "ERROR #8754: Unable to use the URL "+r.URL.Path)
	}
}

// authenticate accepts a live session cookie, else Basic credentials (then starting a session).
func (a *atelier) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		_, ok := a.sessions[c.Value]
		a.mu.Unlock()
		if ok {
			return true
		}
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	if !slices.Contains(a.cfg.users, strings.ToUpper(user)) || !a.cfg.password(pass) {
		return false
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	token := strings.ToUpper(hex.EncodeToString(b))
	a.mu.Lock()
	a.sessions[token] = user
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/api/atelier/", HttpOnly: true})
	return true
}

func (a *atelier) hasNamespace(ns string) bool {
	return slices.Contains(a.cfg.namespaces, strings.ToUpper(ns))
}

func (a *atelier) reply(w http.ResponseWriter, result any) {
	a.write(w, http.StatusOK, envelope{Status: status{Errors: []atelierError{}}, Console: []string{}, Result: result})
}

// fail answers code with text ("ERROR #N: …") as the one error of the envelope.
func (a *atelier) fail(w http.ResponseWriter, code int, text string) {
	n, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(text, ":", 2)[0], "ERROR #"))
	a.write(w, code, envelope{
		Status:  status{Errors: []atelierError{{Error: text, Code: n, Domain: "%ObjectErrors", ID: "GeneralError", Params: []string{}}}, Summary: text},
		Console: []string{}, Result: map[string]any{},
	})
}

func (a *atelier) write(w http.ResponseWriter, code int, e envelope) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(e)
}

// cspApps are the web applications of a namespace, as /cspapps/{NS} lists them.
func cspApps(ns string) []string {
	switch ns {
	case "%SYS":
		return []string{"/csp/broker", "/csp/documatic", "/csp/sys", "/csp/sys/exp", "/csp/sys/mgr", "/csp/sys/op", "/csp/sys/sec"}
	default:
		return []string{"/csp/" + strings.ToLower(ns)}
	}
}
