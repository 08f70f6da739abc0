package workspace

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
)

// A `docker compose up` run in a terminal without iris-helper's override (issue 12 §6): its
// containers lack iris-helper's labels, so they are found by compose's project label and working
// folder, reported as started without iris-helper with the ports they really publish and how to
// put them back, and a stop stops them too. Ports: the terminal's compose publishes 35725/35726
// (free in the workspace band); the fixture's registry ranges are never bound here.
func TestComposeStartedWithoutIrisHelper(t *testing.T) {
	f := newComposeFixture(t, 35640)
	ctx := testCtx(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(dir, "byhand")
	compose := "services:\n  iris:\n    image: ${IRIS_TEST_IMAGE:-intersystemsdc/iris-community}\n" +
		"    ports: [\"127.0.0.1:35725:52773\", \"127.0.0.1:35726:1972\"]\n"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeComposeProjects(t, f.eng, dir) })
	terminalCompose(t, dir, "up", "-d")

	p := f.openCompose(dir)
	st := p.Status(ctx)
	rpctest.Must(t, "status of containers a terminal's compose started",
		rpctest.Want("kind", st.Kind, KindCompose), rpctest.Want("composeProject", st.ComposeProject, "byhand"),
		rpctest.Want("container", st.Container, "byhand-iris-1"),
		rpctest.Want("ports", st.Ports, []PublishedPort{
			{Service: "iris", ContainerPort: 1972, Protocol: "tcp", HostPort: 35726, HostIP: "127.0.0.1", State: "running"},
			{Service: "iris", ContainerPort: 52773, Protocol: "tcp", HostPort: 35725, HostIP: "127.0.0.1", State: "running"},
		}),
		rpctest.Want("message", st.Message, "the containers of compose project byhand were started without iris-helper (a docker compose up without its override): "+
			"they publish their own ports and lack iris-helper's labels; stop them and start with iris-helper to put them back on the registry's ports"))

	if _, err := p.Stop(ctx, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	cs, err := f.eng.Containers(ctx, dockerops.LabelComposeWorkingDir+"="+dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Running() {
			t.Errorf("a stop left %s running", c.Name)
		}
	}
	if len(cs) != 1 {
		t.Errorf("containers of the folder after the stop: %d, want 1 (stopped, kept)", len(cs))
	}
}
