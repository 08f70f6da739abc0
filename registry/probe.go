package registry

import (
	"errors"
	"net"
	"strconv"
	"syscall"
)

// holderOtherProcess is the ConflictError.Holder for a port bound on the host by something that is
// neither a registry assignment nor a container the engine reports.
const holderOtherProcess = "another process"

// holderAvoided is the ConflictError.Holder for a port the caller asked Ensure to avoid.
const holderAvoided = "something else on this host"

// hostPortFreeProto probes a port of proto "tcp" or "udp" by binding it on 127.0.0.1, 0.0.0.0 and
// [::1]. A port held by any process on any of these addresses counts as taken. A host without IPv6
// (or without ::1) answers the last probe with "address not available"/"address family not
// supported", which does not make the port taken.
func hostPortFreeProto(port int, proto string) bool {
	p := strconv.Itoa(port)
	for _, probe := range []struct{ network, addr string }{
		{proto + "4", "127.0.0.1:" + p},
		{proto + "4", "0.0.0.0:" + p},
		{proto + "6", "[::1]:" + p},
	} {
		var c interface{ Close() error }
		var err error
		if proto == "udp" {
			c, err = net.ListenPacket(probe.network, probe.addr)
		} else {
			c, err = net.Listen(probe.network, probe.addr)
		}
		if err != nil {
			if probe.network == proto+"6" && noIPv6(err) {
				continue
			}
			return false
		}
		_ = c.Close()
	}
	return true
}

func noIPv6(err error) bool {
	if errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) ||
		errors.Is(err, syscall.EPROTONOSUPPORT) {
		return true
	}
	// Winsock numbers: WSAEAFNOSUPPORT, WSAEADDRNOTAVAIL.
	var errno syscall.Errno
	return isWindows && errors.As(err, &errno) && (errno == 10047 || errno == 10049)
}
