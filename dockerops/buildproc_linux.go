package dockerops

import "syscall"

// setDeathSignal: on Linux the child is killed when the helper dies without cleaning up (SIGKILL,
// a crash), so that no build outlives it. (The signal follows the thread that started the child;
// the helper locks no goroutine to a thread, so its threads live as long as the process.)
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
