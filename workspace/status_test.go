package workspace

import "testing"

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
