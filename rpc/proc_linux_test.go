package rpc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// ownProcessGroup makes cmd the leader of a new process group, so that every process it starts
// can be found afterwards (children inherit the group, also once re-parented to init).
func ownProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// processGroupMembers lists the processes of group pgid still on the machine, zombies included
// (Linux: /proc/PID/stat field 5).
func processGroupMembers(pgid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended meanwhile
		}
		// "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(data[i+1:])
		if len(f) < 3 {
			continue
		}
		if g, err := strconv.Atoi(string(f[2])); err == nil && g == pgid {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// killProcessGroup kills what is left of group pgid.
func killProcessGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

// TestProcessGroupMembersFindsLeftover: the leftover check of the subprocess tests can fail.
func TestProcessGroupMembersFindsLeftover(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 60 </dev/null >/dev/null 2>&1 & echo $!")
	ownProcessGroup(cmd)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { killProcessGroup(pgid) })
	sleeper, err := strconv.Atoi(string(bytes.TrimSpace(out)))
	if err != nil {
		t.Fatalf("sleep pid %q: %v", out, err)
	}
	if got := processGroupMembers(pgid); !slices.Contains(got, sleeper) {
		t.Fatalf("processGroupMembers(%d) = %v, want it to hold the orphaned sleep %d", pgid, got, sleeper)
	}
}

// TestSubprocessEndsOnSignal: SIGTERM and SIGINT (an editor or a session manager ending the
// helper) end it with code 0, frames only on stdout and no process left behind (subprocess).
func TestSubprocessEndsOnSignal(t *testing.T) {
	scenarioEnv(t, subprocessBand)
	dir := t.TempDir()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			c, code := subprocess(t)
			if res := c.call("initialize", initParams(dir, map[string]any{"autoStart": false})); res.Error != nil {
				t.Fatalf("initialize: %+v", res.Error)
			}
			c.notify("initialized", map[string]any{})
			if m := c.call("iris/status", nil); m.Error != nil {
				t.Fatalf("iris/status: %+v", m.Error)
			}
			if err := c.proc.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-code:
				if got != 0 {
					t.Fatalf("exit code %d after %v, want 0", got, sig)
				}
			case <-time.After(waitLong):
				t.Fatalf("helper did not end on %v", sig)
			}
		})
	}
}
