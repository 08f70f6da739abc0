package registry

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PortHolder names the process that listens on TCP port on this host, as the OS tells the current
// user: "process 1234 (nginx)". On Linux it reads /proc/net/tcp and tcp6 for a listening socket
// on the port and /proc/<pid>/fd for the process that holds it, which the kernel shows only for
// the user's own processes (all of them for root). "" when it cannot tell: the caller says
// "another process on this host".
func PortHolder(port int) string {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		listeningInodes(table, port, inodes)
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return ""
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // another user's process
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				if name := strings.TrimSpace(string(comm)); name != "" {
					return fmt.Sprintf("process %d (%s)", pid, name)
				}
				return fmt.Sprintf("process %d", pid)
			}
		}
	}
	return ""
}

// listeningInodes adds to inodes the socket inodes of table (/proc/net/tcp or tcp6) that listen on
// port.
func listeningInodes(table string, port int, inodes map[string]bool) {
	f, err := os.Open(table)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	const listen = "0A"
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != listen {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port && fields[9] != "0" {
			inodes[fields[9]] = true
		}
	}
}
