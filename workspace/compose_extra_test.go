package workspace

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// Every published port of a compose project on a stable registry port (issue 12 §4, §7, §10): the
// pair from the pair (the file's pinned web port honoured while free), 53773 and the second
// service's 80 from the extra range or their pins; the same after stop/start and after a recreate;
// a pin held by a listener leaves the key on its port and the status names the holder, and once
// free the key moves there (a running project: restartNeeded); a removed service's port is
// released at the next start; an extra port taken at up moves. Band: lo 35640 (superserver 35640–35649, extra
// 35650–35659, web 35890–35899, pins 35900–35903).
func TestComposeExtraPorts(t *testing.T) {
	f := newComposeFixture(t, 35640)
	t.Setenv("IRIS_TEST_HTTP_PIN", "35902")
	dir := f.composeDir("extras", "", "extras")
	ctx := testCtx(t)
	ports := func(state string, httpPin int) []PublishedPort {
		return []PublishedPort{
			{Service: "iris", ContainerPort: 1972, Protocol: "tcp", HostPort: 35640, HostIP: "127.0.0.1", State: state},
			{Service: "iris", ContainerPort: 52773, Protocol: "tcp", HostPort: 35901, HostIP: "127.0.0.1", PinnedHostPort: 35901, State: state},
			{Service: "iris", ContainerPort: 53773, Protocol: "tcp", HostPort: 35650, HostIP: "127.0.0.1", State: state},
			{Service: "web", ContainerPort: 80, Protocol: "tcp", HostPort: 35902, HostIP: "127.0.0.1", PinnedHostPort: httpPin, State: state},
		}
	}
	extra := func(t *testing.T, want ...registry.ExtraPort) {
		t.Helper()
		a, ok, err := f.reg.Get(ctx, dir)
		if err != nil || !ok {
			t.Fatalf("registry entry of %s: %v %v", dir, ok, err)
		}
		got := make([]registry.ExtraPort, len(a.Extra))
		for i, x := range a.Extra {
			got[i] = registry.ExtraPort{Key: x.Key, Port: x.Port}
		}
		rpctest.Must(t, "extra ports in the registry", rpctest.Want("extra", got, want))
	}
	both := []registry.ExtraPort{{Key: "iris/53773/tcp", Port: 35650}, {Key: "web/80/tcp", Port: 35902}}

	p := f.openCompose(dir)
	st := startOK(t, p)
	rpctest.Must(t, "first start", rpctest.Want("state", st.State, StateReady), rpctest.Want("web", st.WebPort, 35901),
		rpctest.Want("ports", st.Ports, ports("running", 35902)), rpctest.Want("message", st.Message, ""))
	extra(t, both...)
	portal(t, "127.0.0.1", 35901)

	// the machine-wide listing: the same ports, from the containers' labels and published ports
	list, err := Machine{Reg: f.reg, Eng: f.eng}.ListPorts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var entry *PortEntry
	for i := range list.Assignments {
		if list.Assignments[i].Project == dir {
			entry = &list.Assignments[i]
		}
	}
	if entry == nil {
		t.Fatalf("no entry of %s in %+v", dir, list)
	}
	rpctest.Must(t, "port entry", rpctest.Want("ports", entry.Ports, ports("running", 35902)))
	a, key, ok, err := f.reg.Lookup(ctx, 35902)
	rpctest.Must(t, "lookup of the extra port", rpctest.Want("found", ok, true), rpctest.Want("err", err, nil),
		rpctest.Want("project", a.Project, dir), rpctest.Want("key", key, "web/80/tcp"))

	// stop, start: the same ports
	if _, err := p.Stop(ctx, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	st = p.Status(ctx)
	rpctest.Must(t, "stopped", rpctest.Want("ports", st.Ports, ports("exited", 35902)))
	st = startOK(t, p)
	rpctest.Must(t, "after stop and start", rpctest.Want("ports", st.Ports, ports("running", 35902)), rpctest.Want("message", st.Message, ""))

	// a recreate: the same ports
	st, err = p.Restart(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Must(t, "after a restart", rpctest.Want("ports", st.Ports, ports("running", 35902)), rpctest.Want("message", st.Message, ""))
	extra(t, both...)

	// the registry forgets the project (ports clear): the next start takes every port back from the
	// containers' labels, the extra ports too
	if _, err := f.reg.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	st = startOK(t, p)
	rpctest.Must(t, "after the registry was cleared", rpctest.Want("ports", st.Ports, ports("running", 35902)), rpctest.Want("message", st.Message, ""))
	extra(t, both...)

	// the file now pins 35903 for web's 80, which a listener holds: the key keeps its port, and says why
	if _, err := p.Stop(ctx, StopOptions{Remove: true}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:35903")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	holder := registry.PortHolder(35903)
	if holder == "" {
		t.Fatal("the test's own listener on 35903 is not named by registry.PortHolder")
	}
	t.Setenv("IRIS_TEST_HTTP_PIN", "35903")
	p = f.openCompose(dir) // a new process: the model is read again
	st = startOK(t, p)
	rpctest.Must(t, "a pin held by a listener", rpctest.Want("ports", st.Ports, ports("running", 35903)),
		rpctest.Want("message", st.Message, fmt.Sprintf("the compose files pin host port 35903 for web/80/tcp; it is on 35902 instead: port 35903 is in use by %s", holder)))
	extra(t, both...)
	if !strings.HasPrefix(holder, "process ") {
		t.Errorf("holder %q", holder)
	}

	// the pin free again: a start of the running project moves the key to it and recreates nothing
	// (the status says a restart applies it); the restart publishes it there
	l.Close()
	st = startOK(t, p)
	rpctest.Must(t, "the pin free again, the project running", rpctest.Want("ports", st.Ports, ports("running", 35903)),
		rpctest.Want("restartNeeded", st.RestartNeeded, true),
		rpctest.Want("message", st.Message, "the container still runs with web/80/tcp on 35902 instead of 35903; restart to apply the project's settings"))
	extra(t, registry.ExtraPort{Key: "iris/53773/tcp", Port: 35650}, registry.ExtraPort{Key: "web/80/tcp", Port: 35903})
	if st, err = p.Restart(ctx, nil); err != nil {
		t.Fatal(err)
	}
	onPin := ports("running", 35903)
	onPin[3].HostPort = 35903
	rpctest.Must(t, "restarted on the pin", rpctest.Want("ports", st.Ports, onPin), rpctest.Want("restartNeeded", st.RestartNeeded, false),
		rpctest.Want("message", st.Message, ""))

	// the web service removed: its port is released at the next start
	if _, err := p.Stop(ctx, StopOptions{Remove: true}); err != nil {
		t.Fatal(err)
	}
	compose := filepath.Join(dir, "docker-compose.yml")
	body, err := os.ReadFile(compose)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(body), "  web:\n")
	if i < 0 {
		t.Fatalf("no web service in\n%s", body)
	}
	if err := os.WriteFile(compose, body[:i], 0o644); err != nil {
		t.Fatal(err)
	}
	p = f.openCompose(dir)
	st = startOK(t, p)
	rpctest.Must(t, "without the web service", rpctest.Want("ports", st.Ports, ports("running", 0)[:3]), rpctest.Want("message", st.Message, ""))
	extra(t, registry.ExtraPort{Key: "iris/53773/tcp", Port: 35650})
	if _, _, ok, err := f.reg.Lookup(ctx, 35903); ok || err != nil {
		t.Errorf("port 35903 is still assigned (%v)", err)
	}

	// an extra port the registry gave, taken by another program before the start (the registry
	// does not probe a port the project holds): compose finds it taken, the start moves it, says so
	if _, err := p.Stop(ctx, StopOptions{Remove: true}); err != nil {
		t.Fatal(err)
	}
	dockertest.HoldPort(t, 35650)
	st = startOK(t, p)
	moved := ports("running", 0)[:3]
	moved[2].HostPort = 35651
	rpctest.Must(t, "an extra port taken at up", rpctest.Want("state", st.State, StateReady), rpctest.Want("ports", st.Ports, moved),
		rpctest.Want("message", st.Message, fmt.Sprintf("port 35650 of iris/53773/tcp was taken by %s between assignment and start; moved it to 35651", registry.PortHolder(35650))))
	extra(t, registry.ExtraPort{Key: "iris/53773/tcp", Port: 35651})
}
