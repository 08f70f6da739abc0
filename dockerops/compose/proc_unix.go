//go:build unix

package compose

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the child into a process group of its own and makes ctx's end kill the whole
// group (compose's own children, such as buildx, included).
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr)
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
