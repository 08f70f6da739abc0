//go:build !unix

package compose

import "os/exec"

// ownGroup: on systems without process groups the child is killed when ctx ends.
func ownGroup(*exec.Cmd) {}
