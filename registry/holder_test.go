package registry

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
)

// TestPortHolder: a port this test process listens on is named as this process, by the name the
// kernel gives it; a free port has no holder.
func TestPortHolder(t *testing.T) {
	if runtime.GOOS != "linux" {
		if got := PortHolder(29990); got != "" {
			t.Fatalf("PortHolder = %q, want \"\" off Linux", got)
		}
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:29990")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("process %d (%s)", os.Getpid(), string(comm[:len(comm)-1]))
	if got := PortHolder(29990); got != want {
		t.Errorf("PortHolder(29990) = %q, want %q", got, want)
	}
	if got := PortHolder(29991); got != "" {
		t.Errorf("PortHolder(29991) of a free port = %q, want \"\"", got)
	}
}

// selfHolder is how a conflict names a port this test process listens on: by its process where
// the OS tells (Linux), else "another process".
func selfHolder(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		return holderOtherProcess
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("process %d (%s)", os.Getpid(), string(comm[:len(comm)-1]))
}

// inUseText is the ConflictError text of port held by this test process.
func inUseText(t testing.TB, port int) string {
	return (&ConflictError{Port: port, Holder: selfHolder(t)}).Error()
}
