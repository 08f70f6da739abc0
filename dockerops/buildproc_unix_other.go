//go:build unix && !linux

package dockerops

import "syscall"

// setDeathSignal: no parent-death signal outside Linux; the kill on ctx's end is what stops a build.
func setDeathSignal(*syscall.SysProcAttr) {}
