//go:build unix && !linux

package compose

import "syscall"

func setDeathSignal(*syscall.SysProcAttr) {}
