package workspace

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/iris-helper/iris-helper/workspace/workspacetest"
)

// TestConnectHost: localhost only where a port published on the bind address answers at
// localhost; any other address is the host itself.
func TestConnectHost(t *testing.T) {
	for bind, want := range map[string]string{
		"":          "localhost",
		"127.0.0.1": "localhost",
		"::1":       "localhost",
		"0.0.0.0":   "localhost",
		"::":        "localhost",
		"127.0.0.2": "127.0.0.2",
		"10.1.2.3":  "10.1.2.3",
		"fd00::5":   "fd00::5",
	} {
		if got := ConnectHost(bind); got != want {
			t.Errorf("ConnectHost(%q) = %q, want %q", bind, got, want)
		}
	}
}

// TestStatusCarriesNamespaceAndUser: the status says the project's namespace and user, with the
// defaults applied here, also for a .iris-helper.json that starts with a byte-order mark (which
// the extension's JSON.parse refused, so it silently fell back to USER: issue 11, §7). The host
// follows the bind address.
func TestStatusCarriesNamespaceAndUser(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	reg := workspacetest.Registry(t)
	for _, tc := range []struct {
		name, config              string
		namespace, username, host string
	}{
		{"no project file", "", "USER", "_SYSTEM", "localhost"},
		{"iris settings", `{"iris": {"namespace": "APP", "username": "dev"}}`, "APP", "dev", "localhost"},
		{"byte-order mark", "\ufeff" + `{"iris": {"namespace": "APP"}, "bindAddress": "127.0.0.2"}`, "APP", "_SYSTEM", "127.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := workspacetest.TempDir(t)
			if err := os.WriteFile(filepath.Join(dir, "module.xml"), []byte("<Export/>\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.config != "" {
				if err := os.WriteFile(filepath.Join(dir, ConfigFileName), []byte(tc.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p, err := OpenProject(context.Background(), dir, ProjectOptions{Registry: reg})
			if err != nil {
				t.Fatal(err)
			}
			st := p.Status(context.Background())
			if got := [3]string{st.Namespace, st.Username, st.Host}; got != [3]string{tc.namespace, tc.username, tc.host} {
				t.Errorf("namespace, username, host = %q, want %q", got, [3]string{tc.namespace, tc.username, tc.host})
			}
		})
	}
}
