package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	infoJSON     = `{"status":{"errors":[],"summary":""},"console":[],"result":{"content":{"version":"IRIS for UNIX (Ubuntu Server LTS for x86-64 Containers) 2025.1 (Build 223U) Tue Mar 11 2025 18:19:22 EDT","id":"ID","api":8,"features":[{"name":"DEEPSEE","enabled":true},{"name":"ENSEMBLE","enabled":true},{"name":"HEALTHSHARE","enabled":false}],"namespaces":["%SYS","USER"]}}}` + "\n"
	unauthorized = "<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1><p>Access Denied. The user name or password is not valid.</p></body></html>\n"
)

func TestAtelier(t *testing.T) {
	type step struct {
		method, path, body string
		user, pass         string // Basic auth when user != ""
		cookie             string // "": none; "session": the one the previous steps got; else that value
		wantCode           int
		wantBody           string
		wantCookie         bool // a session cookie is set
	}
	login := step{method: "HEAD", path: "/api/atelier/", user: "_SYSTEM", pass: "SYS", wantCode: 200, wantCookie: true}
	for _, tc := range []struct {
		name    string
		pw      string // STUB_PASSWORD; "" = SYS
		refused bool
		steps   []step
	}{
		{name: "HEAD with Basic auth then GET with the cookie only (the extension's connect)", steps: []step{
			login,
			{method: "GET", path: "/api/atelier/", cookie: "session", wantCode: 200, wantBody: infoJSON},
			{method: "GET", path: "/api/atelier/v8/%25SYS/cspapps/USER", cookie: "session", wantCode: 200,
				wantBody: `{"status":{"errors":[],"summary":""},"console":[],"result":{"content":["/csp/user"]}}` + "\n"},
			{method: "POST", path: "/api/atelier/v8/USER/action/query", cookie: "session", body: `{"query":"SELECT 1","parameters":[]}`, wantCode: 200,
				wantBody: `{"status":{"errors":[],"summary":""},"console":[],"result":{"content":[]}}` + "\n"},
		}},
		{name: "GET with Basic auth answers and starts a session", steps: []step{
			{method: "GET", path: "/api/atelier/", user: "_SYSTEM", pass: "SYS", wantCode: 200, wantBody: infoJSON, wantCookie: true},
		}},
		{name: "user names are not case-sensitive; SuperUser and Admin exist", steps: []step{
			{method: "HEAD", path: "/api/atelier/", user: "_system", pass: "SYS", wantCode: 200, wantCookie: true},
			{method: "HEAD", path: "/api/atelier/", user: "SuperUser", pass: "SYS", wantCode: 200, wantCookie: true},
			{method: "HEAD", path: "/api/atelier/", user: "Admin", pass: "SYS", wantCode: 200, wantCookie: true},
		}},
		{name: "no credentials", steps: []step{
			{method: "GET", path: "/api/atelier/", wantCode: 401, wantBody: unauthorized},
			{method: "GET", path: "/api/atelier/v8/%25SYS/cspapps/USER", wantCode: 401, wantBody: unauthorized},
		}},
		{name: "wrong password, unknown user, unknown cookie", steps: []step{
			{method: "HEAD", path: "/api/atelier/", user: "_SYSTEM", pass: "sys", wantCode: 401},
			{method: "GET", path: "/api/atelier/", user: "nobody", pass: "SYS", wantCode: 401, wantBody: unauthorized},
			{method: "GET", path: "/api/atelier/", cookie: "0123456789ABCDEF", wantCode: 401, wantBody: unauthorized},
		}},
		{name: "STUB_PASSWORD replaces SYS", pw: "s3cret", steps: []step{
			{method: "HEAD", path: "/api/atelier/", user: "_SYSTEM", pass: "SYS", wantCode: 401},
			{method: "GET", path: "/api/atelier/", user: "_SYSTEM", pass: "s3cret", wantCode: 200, wantBody: infoJSON, wantCookie: true},
		}},
		{name: "a namespace that does not exist", steps: []step{
			login,
			{method: "POST", path: "/api/atelier/v8/FOO/action/query", cookie: "session", body: `{"query":"SELECT 1"}`, wantCode: 404,
				wantBody: `{"status":{"errors":[{"error":"ERROR #5015: Namespace 'FOO' does not exist","code":5015,"domain":"%ObjectErrors","id":"GeneralError","params":[]}],"summary":"ERROR #5015: Namespace 'FOO' does not exist"},"console":[],"result":{}}` + "\n"},
			{method: "GET", path: "/api/atelier/v8/%25SYS/cspapps/FOO", cookie: "session", wantCode: 404,
				wantBody: `{"status":{"errors":[{"error":"ERROR #5015: Namespace 'FOO' does not exist","code":5015,"domain":"%ObjectErrors","id":"GeneralError","params":[]}],"summary":"ERROR #5015: Namespace 'FOO' does not exist"},"console":[],"result":{}}` + "\n"},
		}},
		{name: "namespaces in lower case are the same", steps: []step{
			login,
			{method: "GET", path: "/api/atelier/v8/%25sys/cspapps/user", cookie: "session", wantCode: 200,
				wantBody: `{"status":{"errors":[],"summary":""},"console":[],"result":{"content":["/csp/user"]}}` + "\n"},
		}},
		{name: "a query without a body, an API version IRIS does not have, an unknown action", steps: []step{
			login,
			{method: "POST", path: "/api/atelier/v8/USER/action/query", cookie: "session", body: `not json`, wantCode: 400,
				wantBody: `{"status":{"errors":[{"error":"ERROR #5001: the body must be JSON with a query","code":5001,"domain":"%ObjectErrors","id":"GeneralError","params":[]}],"summary":"ERROR #5001: the body must be JSON with a query"},"console":[],"result":{}}` + "\n"},
			{method: "GET", path: "/api/atelier/v9/USER/docnames", cookie: "session", wantCode: 404,
				wantBody: `{"status":{"errors":[{"error":"ERROR #8754: Unable to use the URL /api/atelier/v9/USER/docnames","code":8754,"domain":"%ObjectErrors","id":"GeneralError","params":[]}],"summary":"ERROR #8754: Unable to use the URL /api/atelier/v9/USER/docnames"},"console":[],"result":{}}` + "\n"},
			{method: "GET", path: "/api/atelier/v8/USER/nothing", cookie: "session", wantCode: 404,
				wantBody: `{"status":{"errors":[{"error":"ERROR #8754: Unable to use the URL /api/atelier/v8/USER/nothing","code":8754,"domain":"%ObjectErrors","id":"GeneralError","params":[]}],"summary":"ERROR #8754: Unable to use the URL /api/atelier/v8/USER/nothing"},"console":[],"result":{}}` + "\n"},
		}},
		{name: "refused (STUB_FAIL=atelier-refuse or the control file)", refused: true, steps: []step{
			{method: "GET", path: "/api/atelier/", user: "_SYSTEM", pass: "SYS", wantCode: 503,
				wantBody: "<html><head><title>Service Unavailable</title></head><body><h1>503 Service Unavailable</h1><p>The server is temporarily unable to service your request (STUB_FAIL=atelier-refuse).</p></body></html>\n"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pw := tc.pw
			if pw == "" {
				pw = "SYS"
			}
			srv := httptest.NewServer(newAtelier(atelierConfig{
				users: defaultUsers, password: passwordChecker(t.TempDir(), pw), namespaces: []string{"%SYS", "USER"}, id: "ID",
				refused: func() bool { return tc.refused },
			}))
			defer srv.Close()
			session := ""
			for i, s := range tc.steps {
				req, err := http.NewRequest(s.method, srv.URL+s.path, strings.NewReader(s.body))
				if err != nil {
					t.Fatal(err)
				}
				if s.user != "" {
					req.SetBasicAuth(s.user, s.pass)
				}
				switch s.cookie {
				case "":
				case "session":
					req.AddCookie(&http.Cookie{Name: sessionCookie, Value: session})
				default:
					req.AddCookie(&http.Cookie{Name: sessionCookie, Value: s.cookie})
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != s.wantCode || string(body) != s.wantBody {
					t.Errorf("step %d %s %s: %d %q, want %d %q", i, s.method, s.path, resp.StatusCode, body, s.wantCode, s.wantBody)
				}
				var got *http.Cookie
				for _, c := range resp.Cookies() {
					if c.Name == sessionCookie {
						got = c
					}
				}
				if (got != nil) != s.wantCookie {
					t.Errorf("step %d: session cookie %v, want one: %v", i, got, s.wantCookie)
				}
				if got != nil {
					if got.Path != "/api/atelier/" || !got.HttpOnly || len(got.Value) != 32 {
						t.Errorf("step %d: cookie %q", i, got.String())
					}
					session = got.Value
				}
				if wa := resp.Header.Get("WWW-Authenticate"); (s.wantCode == 401) != (wa == `Basic realm="IRIS"`) {
					t.Errorf("step %d: WWW-Authenticate %q", i, wa)
				}
			}
		})
	}
}

// TestConfigFromEnv: STUB_PASSWORD, STUB_NAMESPACES and STUB_FAIL's atelier switches.
func TestConfigFromEnv(t *testing.T) {
	ready := time.Now()
	for _, tc := range []struct {
		name, password, namespaces, fail string
		wantPassword                     string // accepted; "SYS" is refused unless it is this
		wantNS                           []string
		wantRefused                      bool
		wantErr                          string
	}{
		{name: "defaults", wantPassword: "SYS", wantNS: []string{"%SYS", "USER"}},
		{name: "password and namespaces", password: "pw", namespaces: "%SYS, user ,IRISAPP", wantPassword: "pw", wantNS: []string{"%SYS", "USER", "IRISAPP"}},
		{name: "refused", fail: "atelier-refuse", wantPassword: "SYS", wantNS: []string{"%SYS", "USER"}, wantRefused: true},
		{name: "refused for an hour", fail: "session-refuse,atelier-refuse-for=1h", wantPassword: "SYS", wantNS: []string{"%SYS", "USER"}, wantRefused: true},
		{name: "refused for no time", fail: "atelier-refuse-for=0s", wantPassword: "SYS", wantNS: []string{"%SYS", "USER"}},
		{name: "bad duration", fail: "atelier-refuse-for=soon", wantErr: `STUB_FAIL=atelier-refuse-for="soon": time: invalid duration "soon"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STUB_PASSWORD", tc.password)
			t.Setenv("STUB_NAMESPACES", tc.namespaces)
			t.Setenv("STUB_FAIL", tc.fail)
			t.Setenv("ISC_DATA_DIRECTORY", t.TempDir())
			cfg, err := configFromEnv(ready)
			if tc.wantErr != "" || err != nil {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if strings.Join(cfg.users, ",") != "_SYSTEM,SUPERUSER,ADMIN" {
				t.Errorf("users %q", cfg.users)
			}
			if !cfg.password(tc.wantPassword) || (tc.wantPassword != "SYS" && cfg.password("SYS")) || cfg.password("") {
				t.Errorf("password %q not the only one accepted", tc.wantPassword)
			}
			if strings.Join(cfg.namespaces, ",") != strings.Join(tc.wantNS, ",") {
				t.Errorf("namespaces %q, want %q", cfg.namespaces, tc.wantNS)
			}
			if got := cfg.refused(); got != tc.wantRefused {
				t.Errorf("refused %v, want %v", got, tc.wantRefused)
			}
		})
	}
}

// TestHandlerKeepsReadiness: UtilHome.csp answers 200 (the readiness and healthcheck probe) and
// the Atelier API is mounted beside it.
func TestHandlerKeepsReadiness(t *testing.T) {
	var never atomic.Int64
	srv := httptest.NewServer(handler(&never, newAtelier(atelierConfig{users: defaultUsers, password: passwordChecker(t.TempDir(), "SYS"), namespaces: []string{"USER"}, id: "ID"})))
	defer srv.Close()
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/csp/sys/UtilHome.csp", 200, "<html><head><title>Management Portal</title></head><body>IRIS stand-in</body></html>\n"},
		{"/api/atelier/", 401, unauthorized},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || string(body) != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, resp.StatusCode, body, tc.code, tc.body)
		}
	}
}
