package workspace

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// atelierStatus is the answer of HEAD /api/atelier/ on the loopback web port with Basic auth, as
// the ObjectScript extension's first request.
func atelierStatus(t *testing.T, web int, user, password string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, "http://127.0.0.1:"+strconv.Itoa(web)+"/api/atelier/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestNetworkBoundInstanceGetsItsOwnPassword: an instance the user publishes on a non-loopback
// address (here the wildcard, reached on loopback only) does not keep the well-known SYS: its
// predefined accounts take the password kept in the home (0600), set through IRIS's merge file;
// a loopback project keeps SYS and gets no file; the status never carries the password. Ports:
// 31470–31479 / 31970–31979.
func TestNetworkBoundInstanceGetsItsOwnPassword(t *testing.T) {
	f := newFixture(t, 31470)
	ctx := context.Background()

	loop := f.open(f.projectDir(map[string]string{"x.cls": "Class X {}"}))
	t.Cleanup(func() { _, _ = loop.Stop(context.Background(), StopOptions{Remove: true}) })
	st, err := loop.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "loopback project", rpctest.Want("SYS", atelierStatus(t, st.WebPort, "_SYSTEM", "SYS"), http.StatusOK))
	if _, err := os.Stat(credentialsPath(f.home, loop.Root().Dir)); !os.IsNotExist(err) {
		t.Errorf("a loopback project got a password file: %v", err)
	}

	dir := f.projectDir(map[string]string{"x.cls": "Class X {}"})
	p := f.open(dir, func(o *ProjectOptions) { o.BindAddress = "0.0.0.0" }) // the user's own setting
	t.Cleanup(func() { _, _ = p.Stop(context.Background(), StopOptions{Remove: true}) })
	st, err = p.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	file := credentialsPath(f.home, p.Root().Dir)
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file %s: %v %v", file, fi, err)
	}
	c, found, err := loadCredentials(f.home, p.Root().Dir)
	if err != nil || !found || c.Username != "_SYSTEM" || len(c.Password) < 20 {
		t.Fatalf("credentials: %+v %v %v", c, found, err)
	}
	rpctest.Must(t, "network-bound project",
		rpctest.Want("state", st.State, StateReady),
		rpctest.Want("SYS refused", atelierStatus(t, st.WebPort, "_SYSTEM", "SYS"), http.StatusUnauthorized),
		rpctest.Want("its own password", atelierStatus(t, st.WebPort, "_SYSTEM", c.Password), http.StatusOK),
		rpctest.Want("message", st.Message, "IRIS is published on 0.0.0.0, so iris-helper gave its predefined accounts a password of its own "+
			"instead of the well-known SYS; it is kept in "+file+", and the editor's connection uses it"))
	merge, err := os.ReadFile(mergeFilePath(f.home, p.Root().Dir))
	if err != nil || !strings.HasPrefix(string(merge), "[Startup]\nPasswordHash=") || strings.Contains(string(merge), c.Password) {
		t.Errorf("merge file: %q %v", merge, err)
	}
	js, _ := json.Marshal(p.Status(ctx))
	if strings.Contains(string(js), c.Password) {
		t.Errorf("the status carries the password: %s", js)
	}

	// A second start reuses the container: the same merge file, no drift.
	st, err = p.Start(ctx, nil)
	if err != nil || st.RestartNeeded {
		t.Fatalf("second start: %+v %v", st, err)
	}

	// The instance's password changed behind iris-helper's back: the check after a start says so.
	if err := os.WriteFile(file, []byte(strings.Replace(readFile(t, file), c.Password, "not-"+c.Password, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	err = p.checkCredentials(ctx, "0.0.0.0", st.WebPort)
	want := "IRIS of " + p.Root().Dir + " refused _SYSTEM with the password iris-helper keeps in " + file +
		"; if you changed it, connect with yours, or set it back from a terminal in the container " +
		"(`iris session iris -U %SYS`, then `do ##class(Security.Users).ChangePassword(...)`)"
	if err == nil || err.Error() != want {
		t.Errorf("check of a refused password: %v\nwant %s", err, want)
	}
}
