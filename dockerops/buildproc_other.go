//go:build !unix

package dockerops

import "os/exec"

// ownProcessGroup: outside Unix the child is killed alone when ctx ends (os/exec's default).
func ownProcessGroup(*exec.Cmd) {}
