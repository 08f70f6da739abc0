package workspace

import (
	"fmt"
	"net/netip"
	"path/filepath"
)

// The network-bind rule: a project file cannot publish IRIS beyond this machine on its own.

// NetworkBindError means the project's .iris-helper.json asks to publish IRIS on a non-loopback
// address, which only the user may allow (Knob; front ends word the remedy).
type NetworkBindError struct {
	Address string // the bindAddress asked for
	File    string // the .iris-helper.json that asks for it
}

// Knob is what the user turns on to allow it: KnobNetworkBind.
func (e *NetworkBindError) Knob() Knob { return KnobNetworkBind }

func (e *NetworkBindError) Error() string {
	return fmt.Sprintf("%s asks for bindAddress %s, which makes IRIS reachable from the network; a project file cannot choose that, so the start was refused",
		e.File, e.Address)
}

// IsLoopback reports whether addr is a loopback address (127.0.0.0/8, ::1): reachable from this
// machine only.
func IsLoopback(addr string) bool {
	a, err := netip.ParseAddr(addr)
	return err == nil && a.Unmap().IsLoopback()
}

// checkBind refuses a non-loopback bindAddress that comes from the project (not the user's own
// flag or editor setting) unless the user allows it.
func (p *Project) checkBind() error {
	if IsLoopback(p.bindAddress) || p.bindAddress != p.cfg.BindAddress || p.bindAddress == p.opts.BindAddress ||
		p.policy.Allows(KnobNetworkBind) {
		return nil
	}
	return &NetworkBindError{Address: p.bindAddress, File: filepath.Join(p.root.Dir, ConfigFileName)}
}

// ExposureWarning is the warning front ends show when st's ports are published on a
// non-loopback address; "" when IRIS is reachable from this machine only.
func ExposureWarning(st Status) string {
	if st.BindAddress == "" || IsLoopback(st.BindAddress) || st.SuperserverPort == 0 {
		return ""
	}
	return fmt.Sprintf("IRIS for %s is reachable from the network: its ports %d and %d are published on %s, not only on this machine",
		st.Project, st.SuperserverPort, st.WebPort, st.BindAddress)
}
