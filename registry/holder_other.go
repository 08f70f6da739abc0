//go:build !linux

package registry

// PortHolder names the process that listens on TCP port on this host where the OS tells the
// current user; on this OS iris-helper does not ask it, so "" (the caller says "another process
// on this host").
func PortHolder(port int) string { return "" }
