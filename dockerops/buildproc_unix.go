//go:build unix

package dockerops

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup runs cmd in a process group of its own (a Ctrl-C at the terminal does not reach
// it half-way) and makes the kill on ctx's end take the whole group: the docker CLI and whatever it
// started (a compose or buildx plugin).
func ownProcessGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setDeathSignal(cmd.SysProcAttr)
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
