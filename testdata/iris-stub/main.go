// Command iris-stub is a stand-in for InterSystems IRIS in iris-helper's tests: a tiny static
// program in a FROM scratch image that behaves like IRIS where the helper looks.
//
// One binary, chosen by the name it is started as (argv[0]) or by its first argument:
//
//	iris-stub [--check-caps false]   the "instance": after STUB_READY_DELAY (default 0) it listens on
//	                                 1972 (superserver: accepts TCP and keeps it open) and 52773 (HTTP:
//	                                 /csp/sys/UtilHome.csp 200, /api/atelier/ 401 unless _SYSTEM:SYS),
//	                                 prints IRIS-like lines ending with "Enabling logons", and shuts
//	                                 down in an orderly way on SIGTERM (exit 0)
//	iris-stub probe                  healthcheck: exit 0 when UtilHome.csp answers 200
//	iris-stub cat FILE               print FILE (scratch images have no cat)
//	iris-stub write FILE TEXT        write TEXT to FILE, creating directories
//	iris session iris -U NS 'CODE'   (as /usr/irissys/bin/iris) append "NS CODE" to /tmp/iris-session.log
//	chown [-R] UID:GID PATH...       (as /usr/irissys/bin/chown) numeric chown, for volume preparation
//
// Environment: STUB_READY_DELAY (Go duration), ISC_DATA_DIRECTORY (created; a marker line is
// appended to iris-stub.marker there on each start), STUB_FAIL (comma-separated):
//
//	exit                 print an error and exit 3 right away
//	never-ready          never listen, never print "Enabling logons"
//	unhealthy-after=DUR  UtilHome.csp answers 503 from DUR after readiness on (healthcheck fails)
//	session-refuse       `iris session` fails with exit 1
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	sessionLog  = "/tmp/iris-session.log"
	markerFile  = "iris-stub.marker"
	superserver = ":1972"
	webserver   = ":52773"
)

func main() {
	switch filepath.Base(os.Args[0]) {
	case "iris":
		os.Exit(irisCommand(os.Args[1:]))
	case "chown":
		os.Exit(chownCommand(os.Args[1:]))
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "probe":
			os.Exit(probe())
		case "cat":
			os.Exit(catCommand(os.Args[2:]))
		case "write":
			os.Exit(writeCommand(os.Args[2:]))
		case "iris":
			os.Exit(irisCommand(os.Args[2:]))
		}
	}
	os.Exit(serve(os.Args[1:]))
}

// failSwitch returns whether STUB_FAIL contains name, and the value after "name=".
func failSwitch(name string) (string, bool) {
	for _, f := range strings.Split(os.Getenv("STUB_FAIL"), ",") {
		f = strings.TrimSpace(f)
		if f == name {
			return "", true
		}
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func logf(format string, args ...any) {
	now := time.Now().UTC()
	ts := fmt.Sprintf("%s:%03d", now.Format("01/02/06-15:04:05"), now.Nanosecond()/1e6)
	fmt.Printf("%s (%d) 0 [Utility.Event] %s\n", ts, os.Getpid(), fmt.Sprintf(format, args...))
}

func serve(args []string) int {
	fmt.Println("[INFO] Starting InterSystems IRIS instance IRIS...")
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--check-caps":
			if i+1 >= len(args) {
				fmt.Println("[ERROR] --check-caps needs a value (true|false)")
				return 2
			}
			fmt.Printf("[INFO] Startup argument --check-caps %s\n", args[i+1])
			i++
		default:
			fmt.Printf("[WARN] ignoring unknown startup argument %q\n", args[i])
		}
	}
	if _, ok := failSwitch("exit"); ok {
		fmt.Println("[ERROR] Startup failed: STUB_FAIL=exit (simulated license or configuration error)")
		return 3
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	fmt.Println("[INFO] Starting Control Process")
	fmt.Println("Allocated 256MB shared memory")
	if dir := os.Getenv("ISC_DATA_DIRECTORY"); dir != "" {
		if err := os.MkdirAll(dir, 0o775); err != nil {
			fmt.Printf("[ERROR] Cannot create durable data directory %s: %v\n", dir, err)
			return 1
		}
		f, err := os.OpenFile(filepath.Join(dir, markerFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Printf("[ERROR] Durable data directory %s is not writable: %v\n", dir, err)
			return 1
		}
		fmt.Fprintf(f, "started %s\n", time.Now().UTC().Format(time.RFC3339Nano))
		f.Close()
		owner := -1
		if st, err := os.Stat(filepath.Dir(dir)); err == nil {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				owner = int(sys.Uid)
			}
		}
		fmt.Printf("[INFO] Using durable %%SYS in %s (parent owned by uid %d)\n", dir, owner)
	}
	logf("Private webserver started on 52773")

	if d := os.Getenv("STUB_READY_DELAY"); d != "" {
		delay, err := time.ParseDuration(d)
		if err != nil {
			fmt.Printf("[ERROR] STUB_READY_DELAY=%q: %v\n", d, err)
			return 2
		}
		select {
		case <-time.After(delay):
		case <-stop:
			return shutdown()
		}
	}
	if _, ok := failSwitch("never-ready"); ok {
		logf("Waiting for journal daemon (STUB_FAIL=never-ready)")
		<-stop
		return shutdown()
	}

	var unhealthyAt atomic.Int64 // unix nanos; 0 = never
	if v, ok := failSwitch("unhealthy-after"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			fmt.Printf("[ERROR] STUB_FAIL=unhealthy-after=%q: %v\n", v, err)
			return 2
		}
		unhealthyAt.Store(time.Now().Add(d).UnixNano())
	}
	ss, err := net.Listen("tcp", superserver)
	if err != nil {
		fmt.Printf("[ERROR] superserver: %v\n", err)
		return 1
	}
	web, err := net.Listen("tcp", webserver)
	if err != nil {
		fmt.Printf("[ERROR] web server: %v\n", err)
		return 1
	}
	go acceptForever(ss)
	go func() { _ = http.Serve(web, handler(&unhealthyAt)) }()
	logf("Master initialized system")
	logf("Enabling logons")
	<-stop
	return shutdown()
}

func shutdown() int {
	fmt.Println("[INFO] Shutting down InterSystems IRIS instance IRIS")
	logf("Disabling logons")
	time.Sleep(100 * time.Millisecond)
	logf("Shutdown complete")
	fmt.Println("[INFO] ...shut down InterSystems IRIS instance IRIS")
	return 0
}

// acceptForever accepts superserver connections and keeps each open until the client closes it.
func acceptForever(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}()
	}
}

func handler(unhealthyAt *atomic.Int64) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/csp/sys/UtilHome.csp", func(w http.ResponseWriter, r *http.Request) {
		if at := unhealthyAt.Load(); at != 0 && time.Now().UnixNano() >= at {
			http.Error(w, "Service Unavailable (STUB_FAIL=unhealthy-after)", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintln(w, "<html><head><title>Management Portal</title></head><body>IRIS stand-in</body></html>")
	})
	mux.HandleFunc("/api/atelier/", func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "_SYSTEM" || pass != "SYS" {
			w.Header().Set("WWW-Authenticate", `Basic realm="IRIS"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":{"errors":[],"summary":""},"console":[],"result":{"content":{"version":"IRIS for UNIX (stand-in) 2024.1","id":"iris-stub","api":8,"namespaces":["%SYS","USER"]}}}`)
	})
	mux.HandleFunc("/stub/session-log", func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(sessionLog)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(data)
	})
	return mux
}

func probe() int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://127.0.0.1" + webserver + "/csp/sys/UtilHome.csp")
	if err != nil {
		fmt.Println("probe:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Println("probe: status", resp.Status)
		return 1
	}
	return 0
}

// irisCommand implements `iris session <instance> -U <namespace> '<code>'`.
func irisCommand(args []string) int {
	if len(args) < 2 || args[0] != "session" {
		fmt.Fprintln(os.Stderr, "usage: iris session <instance> [-U namespace] [code]")
		return 2
	}
	if !strings.EqualFold(args[1], "iris") {
		fmt.Fprintf(os.Stderr, "iris: instance %q not found\n", args[1])
		return 1
	}
	ns, code := "USER", ""
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		if rest[i] == "-U" && i+1 < len(rest) {
			ns = rest[i+1]
			i++
			continue
		}
		code = rest[i]
	}
	if _, ok := failSwitch("session-refuse"); ok {
		fmt.Println("Access Denied (STUB_FAIL=session-refuse)")
		return 1
	}
	if err := os.MkdirAll(filepath.Dir(sessionLog), 0o777); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, err := os.OpenFile(sessionLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o666)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %s\n", ns, code)
	fmt.Printf("Node: iris-stub, Instance: IRIS\n%s>\n", ns)
	return 0
}

// chownCommand implements `chown [-R] UID:GID PATH...` with numeric ids.
func chownCommand(args []string) int {
	recursive := false
	if len(args) > 0 && args[0] == "-R" {
		recursive, args = true, args[1:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: chown [-R] UID:GID PATH...")
		return 2
	}
	u, g, _ := strings.Cut(args[0], ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil {
		fmt.Fprintf(os.Stderr, "chown: only numeric UID:GID is supported, got %q\n", args[0])
		return 2
	}
	for _, p := range args[1:] {
		walk := func(path string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, uid, gid)
		}
		var err error
		if recursive {
			err = filepath.WalkDir(p, walk)
		} else {
			err = os.Lchown(p, uid, gid)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "chown:", err)
			return 1
		}
	}
	return 0
}

func catCommand(args []string) int {
	for _, p := range args {
		data, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cat:", err)
			return 1
		}
		_, _ = os.Stdout.Write(data)
	}
	return 0
}

func writeCommand(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: iris-stub write FILE TEXT")
		return 2
	}
	if err := os.MkdirAll(filepath.Dir(args[0]), 0o777); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		return 1
	}
	if err := os.WriteFile(args[0], []byte(args[1]), 0o666); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		return 1
	}
	return 0
}
