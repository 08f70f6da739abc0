//go:build !linux

package rpc

import "os/exec"

// ownProcessGroup does nothing here: leftover children are looked for on Linux only.
func ownProcessGroup(*exec.Cmd) {}

// processGroupMembers finds nothing here: leftover children are looked for on Linux only.
func processGroupMembers(int) []int { return nil }

func killProcessGroup(int) {}
