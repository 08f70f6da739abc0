package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIrisCommand(t *testing.T) {
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string
		fail       string // STUB_FAIL
		wantCode   int
		wantStdout string
		wantStderr string
		wantLog    string
	}{
		{name: "start", args: []string{"start", "IRIS"},
			wantStdout: "Using 'iris.cpf' configuration file\nStarting Control Process\nAllocated 256MB shared memory\nInstance IRIS started\n"},
		{name: "stop quietly", args: []string{"stop", "IRIS", "quietly"}, wantStdout: "Shutdown complete\n"},
		{name: "stop", args: []string{"stop", "iris"}, wantStdout: "Stopping InterSystems IRIS instance IRIS\nShutdown complete\n"},
		{name: "session with code (dockerops' unexpire)", args: []string{"session", "iris", "-U", "%SYS", `##class(Security.Users).UnExpireUserPasswords("*")`},
			wantStdout: "Node: iris-stub, Instance: IRIS\n%SYS>\n", wantLog: "%SYS ##class(Security.Users).UnExpireUserPasswords(\"*\")\n"},
		{name: "session -U%SYS joined, as compose's -a commands write it", args: []string{"session", "iris", "-U%SYS", "write 1"},
			wantStdout: "Node: iris-stub, Instance: IRIS\n%SYS>\n", wantLog: "%SYS write 1\n"},
		{name: "session reading iris.script from stdin", args: []string{"session", "IRIS"},
			stdin: " zn \"USER\"\n do $SYSTEM.OBJ.LoadDir(\"/home/irisowner/dev/src\",\"ck\",,1)\n\n set $namespace=\"%SYS\"\n do ##class(Security.Users).UnExpireUserPasswords(\"*\")\n halt\n write \"not run\"\n",
			wantStdout: "\nNode: " + host + ", Instance: IRIS\n\n" +
				"USER> zn \"USER\"\nUSER> do $SYSTEM.OBJ.LoadDir(\"/home/irisowner/dev/src\",\"ck\",,1)\nUSER>\n" +
				"USER> set $namespace=\"%SYS\"\n%SYS> do ##class(Security.Users).UnExpireUserPasswords(\"*\")\n%SYS> halt\n",
			wantLog: "USER zn \"USER\"\nUSER do $SYSTEM.OBJ.LoadDir(\"/home/irisowner/dev/src\",\"ck\",,1)\n" +
				"USER set $namespace=\"%SYS\"\n%SYS do ##class(Security.Users).UnExpireUserPasswords(\"*\")\n%SYS halt\n"},
		{name: "session from stdin without halt, in a namespace", args: []string{"session", "IRIS", "-U", "user"}, stdin: "write 1\r\n",
			wantStdout: "\nNode: " + host + ", Instance: IRIS\n\nUSER>write 1\nUSER>\n", wantLog: "USER write 1\n"},
		{name: "session refused", args: []string{"session", "IRIS", "-U", "%SYS", "x"}, fail: "session-refuse",
			wantCode: 1, wantStdout: "Access Denied (STUB_FAIL=session-refuse)\n"},
		{name: "qlist", args: []string{"qlist", "IRIS"}, wantStdout: "IRIS^/usr/irissys^2025.1.0.223.0^running, since "},
		{name: "another instance", args: []string{"session", "CACHE"}, wantCode: 1, wantStderr: "iris: instance \"CACHE\" not found\n"},
		{name: "no command", args: nil, wantCode: 2,
			wantStderr: "usage: iris start|stop <instance> [quietly] | iris session <instance> [-U namespace] [code] | iris merge <instance> <file> | iris qlist [instance]\n"},
		{name: "unknown command", args: []string{"all", "IRIS"}, wantCode: 2,
			wantStderr: "usage: iris start|stop <instance> [quietly] | iris session <instance> [-U namespace] [code] | iris merge <instance> <file> | iris qlist [instance]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STUB_FAIL", tc.fail)
			logPath := filepath.Join(t.TempDir(), "tmp", "iris-session.log")
			var stdout, stderr bytes.Buffer
			code := irisMain(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr, logPath)
			out := stdout.String()
			if tc.name == "qlist" {
				out, _, _ = strings.Cut(out, "since ")
				out += "since "
			}
			if code != tc.wantCode || out != tc.wantStdout || stderr.String() != tc.wantStderr {
				t.Errorf("iris %q: exit %d\nstdout %q\nstderr %q\nwant exit %d\nstdout %q\nstderr %q",
					tc.args, code, stdout.String(), stderr.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
			data, _ := os.ReadFile(logPath)
			if string(data) != tc.wantLog {
				t.Errorf("session log %q, want %q", data, tc.wantLog)
			}
		})
	}
}
