package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// hookTimeout bounds a -b/-a command.
const hookTimeout = 10 * time.Minute

// maxScript bounds what `iris session` reads from stdin.
const maxScript = 1 << 20

// irisCommand implements the iris command: start, stop, session, qlist.
func irisCommand(args []string) int {
	return irisMain(args, os.Stdin, os.Stdout, os.Stderr, sessionLog)
}

func irisMain(args []string, stdin io.Reader, stdout, stderr io.Writer, logPath string) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: iris start|stop <instance> [quietly] | iris session <instance> [-U namespace] [code] | iris merge <instance> <file> | iris qlist [instance]")
		return 2
	}
	if len(args) < 1 {
		return usage()
	}
	cmd := strings.ToLower(args[0])
	if cmd == "qlist" || cmd == "list" {
		if len(args) > 1 && !strings.EqualFold(args[1], "iris") {
			fmt.Fprintf(stderr, "iris: instance %q not found\n", args[1])
			return 1
		}
		fmt.Fprintf(stdout, "IRIS^/usr/irissys^2025.1.0.223.0^running, since %s^iris.cpf^1972^52773^0^ok^IRIS^^/usr/irissys/mgr/^/usr/irissys/mgr/\n",
			time.Now().UTC().Format("Mon Jan 2 15:04:05 2006"))
		return 0
	}
	if len(args) < 2 {
		return usage()
	}
	if !strings.EqualFold(args[1], "iris") {
		fmt.Fprintf(stderr, "iris: instance %q not found\n", args[1])
		return 1
	}
	quietly := len(args) > 2 && strings.EqualFold(args[2], "quietly")
	switch cmd {
	case "start":
		fmt.Fprintln(stdout, "Using 'iris.cpf' configuration file")
		fmt.Fprintln(stdout, "Starting Control Process")
		fmt.Fprintln(stdout, "Allocated 256MB shared memory")
		fmt.Fprintln(stdout, "Instance IRIS started")
		return 0
	case "stop":
		if !quietly {
			fmt.Fprintln(stdout, "Stopping InterSystems IRIS instance IRIS")
		}
		fmt.Fprintln(stdout, "Shutdown complete")
		return 0
	case "session":
		return session(args[2:], stdin, stdout, stderr, logPath)
	case "merge":
		if len(args) != 3 {
			return usage()
		}
		msg, err := applyMerge(args[2], stateDir())
		if err != nil {
			fmt.Fprintln(stderr, "iris merge:", err)
			return 1
		}
		fmt.Fprintln(stdout, msg)
		return 0
	}
	return usage()
}

// session implements `iris session IRIS [-U NS] [CODE]` (also -UNS, as `-U%SYS`).
func session(rest []string, stdin io.Reader, stdout, stderr io.Writer, logPath string) int {
	ns, code, hasCode := "USER", "", false
	for i := 0; i < len(rest); i++ {
		switch {
		case rest[i] == "-U" && i+1 < len(rest):
			ns = rest[i+1]
			i++
		case strings.HasPrefix(rest[i], "-U") && len(rest[i]) > 2:
			ns = rest[i][2:]
		default:
			code, hasCode = rest[i], true
		}
	}
	ns = strings.ToUpper(ns)
	if _, ok := failSwitch("session-refuse"); ok {
		fmt.Fprintln(stdout, "Access Denied (STUB_FAIL=session-refuse)")
		return 1
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o777); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o666)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer f.Close()
	host, _ := os.Hostname()
	if hasCode {
		fmt.Fprintf(f, "%s %s\n", ns, code)
		fmt.Fprintf(stdout, "Node: iris-stub, Instance: IRIS\n%s>\n", ns)
		return 0
	}
	fmt.Fprintf(stdout, "\nNode: %s, Instance: IRIS\n\n", host)
	sc := bufio.NewScanner(io.LimitReader(stdin, maxScript))
	sc.Buffer(make([]byte, 64*1024), maxScript)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		fmt.Fprintf(stdout, "%s>%s\n", ns, line)
		if strings.TrimSpace(line) == "" {
			continue
		}
		fmt.Fprintf(f, "%s %s\n", ns, strings.TrimSpace(line))
		if to, ok := switchNamespace(line); ok {
			ns = to
		}
		if isHalt(line) {
			return 0
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(stderr, "iris session:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s>\n", ns)
	return 0
}

var (
	znRe   = regexp.MustCompile(`(?i)^\s*(?:zn|znspace)\s+"([^"]+)"`)
	setNS  = regexp.MustCompile(`(?i)^\s*s(?:et)?\s+\$namespace\s*=\s*"([^"]+)"`)
	haltRe = regexp.MustCompile(`(?i)^\s*(?:h|halt)\s*$`)
)

func switchNamespace(line string) (string, bool) {
	for _, re := range []*regexp.Regexp{znRe, setNS} {
		if m := re.FindStringSubmatch(line); m != nil {
			return strings.ToUpper(m[1]), true
		}
	}
	return "", false
}

func isHalt(line string) bool { return haltRe.MatchString(line) }

// runHook runs an iris-main -b/-a command with sh -c and returns its exit code.
func runHook(flag, command string) int {
	fmt.Printf("[INFO] Executing command %s...\n", command)
	ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	c.WaitDelay = 5 * time.Second
	c.Stdout, c.Stderr = os.Stdout, os.Stdout
	if err := c.Run(); err != nil {
		code := 1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		fmt.Printf("[ERROR] Command %s %q failed: %v\n", flag, command, err)
		return code
	}
	fmt.Printf("[INFO] ...executed command %s\n", command)
	return 0
}
