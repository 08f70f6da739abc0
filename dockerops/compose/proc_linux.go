//go:build linux

package compose

import "syscall"

// setDeathSignal: the child is killed when the helper dies, even by SIGKILL.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
