// Command iris-stub is a stand-in for InterSystems IRIS in iris-helper's tests: a tiny static
// program in an image built FROM scratch with Debian's static busybox as its shell, which behaves
// like IRIS where the helper, the ObjectScript extension and real projects' Dockerfiles look.
//
// One binary, chosen by the name it is started as (argv[0]) or by its first argument:
//
//	iris-stub [ARGS]                 the "instance": after STUB_READY_DELAY (default 0) it listens on
//	                                 1972 (superserver: accepts TCP and keeps it open) and 52773 (HTTP:
//	                                 /csp/sys/UtilHome.csp 200; /api/atelier/ the Atelier API, see
//	                                 atelier.go), prints IRIS-like lines ending with "Enabling logons",
//	                                 and shuts down in an orderly way on SIGTERM (exit 0). ARGS as
//	                                 iris-main takes them: --check-caps V, --ISCAgent V, --key FILE,
//	                                 -b CMD / -a CMD (run by sh -c before start / after "Enabling logons")
//	iris-stub probe                  healthcheck: exit 0 when UtilHome.csp answers 200
//	iris-stub cat FILE               print FILE
//	iris-stub write FILE TEXT        write TEXT to FILE, creating directories
//	iris start IRIS [quietly]        (as /usr/irissys/bin/iris) print what IRIS prints, exit 0
//	iris stop IRIS [quietly]         likewise
//	iris session IRIS [-U NS] [CODE] with CODE: append "NS CODE" to /tmp/iris-session.log; without:
//	                                 read the script from stdin (1 MiB at most), append "NS LINE" for
//	                                 each line, print prompts as a terminal session does (zn/set
//	                                 $namespace switch NS; halt ends it); exit 0
//	iris merge IRIS FILE             apply FILE's [Startup] PasswordHash (once, as at start)
//	iris qlist [IRIS]                one line in iris qlist's form
//	tini [--] PROGRAM ARGS           (as /tini) exec PROGRAM; /iris-main is the instance
//	chown, sh, ls, …                 busybox applets (/usr/bin, /bin -> usr/bin)
//
// Environment: STUB_READY_DELAY (Go duration), ISC_DATA_DIRECTORY (created; a marker line is
// appended to iris-stub.marker there on each start), ISC_CPF_MERGE_FILE (its [Startup]
// PasswordHash is applied once, see password.go), STUB_PASSWORD (the password of _SYSTEM,
// SuperUser and Admin; default SYS), STUB_NAMESPACES (default %SYS,USER), STUB_FAIL
// (comma-separated):
//
//	exit                    print an error and exit 3 right away
//	never-ready             never listen, never print "Enabling logons"
//	unhealthy-after=DUR     UtilHome.csp answers 503 from DUR after readiness on (healthcheck fails)
//	session-refuse          `iris session` fails with exit 1
//	atelier-refuse          /api/atelier/ answers 503 (also while /tmp/iris-stub-atelier-refuse exists)
//	atelier-refuse-for=DUR  /api/atelier/ answers 503 for DUR after readiness
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
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
	case "tini":
		os.Exit(tini(os.Args[1:]))
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
	var before, after []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--check-caps", "--ISCAgent", "--key", "-a", "-b":
			if i+1 >= len(args) {
				fmt.Printf("[ERROR] %s needs a value\n", args[i])
				return 2
			}
			switch args[i] {
			case "-a":
				after = append(after, args[i+1])
			case "-b":
				before = append(before, args[i+1])
			}
			fmt.Printf("[INFO] Startup argument %s %s\n", args[i], args[i+1])
			i++
		default:
			fmt.Printf("[WARN] ignoring unknown startup argument %q\n", args[i])
		}
	}
	if _, ok := failSwitch("exit"); ok {
		fmt.Println("[ERROR] Startup failed: STUB_FAIL=exit (simulated license or configuration error)")
		return 3
	}
	for _, c := range before {
		if code := runHook("-b", c); code != 0 {
			return code
		}
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
	if f := os.Getenv("ISC_CPF_MERGE_FILE"); f != "" {
		if msg, err := applyMerge(f, stateDir()); err != nil {
			fmt.Printf("[ERROR] Configuration merge: %v\n", err)
		} else {
			fmt.Printf("[INFO] %s\n", msg)
		}
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
	cfg, err := configFromEnv(time.Now())
	if err != nil {
		fmt.Println("[ERROR]", err)
		return 2
	}
	go acceptForever(ss)
	go func() { _ = http.Serve(web, handler(&unhealthyAt, newAtelier(cfg))) }()
	logf("Master initialized system")
	logf("Enabling logons")
	for _, c := range after {
		_ = runHook("-a", c) // iris-main logs a failed -a command and keeps the instance up
	}
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

func handler(unhealthyAt *atomic.Int64, api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/csp/sys/UtilHome.csp", func(w http.ResponseWriter, r *http.Request) {
		if at := unhealthyAt.Load(); at != 0 && time.Now().UnixNano() >= at {
			http.Error(w, "Service Unavailable (STUB_FAIL=unhealthy-after)", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintln(w, "<html><head><title>Management Portal</title></head><body>IRIS stand-in</body></html>")
	})
	mux.Handle("/api/atelier/", api)
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

// tini runs `tini [-s] [--] PROGRAM ARGS...` as InterSystems images' entrypoint does: it becomes
// PROGRAM (no reaping: the stand-in starts no children that outlive it).
func tini(args []string) int {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		dashdash := args[0] == "--"
		args = args[1:]
		if dashdash {
			break
		}
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: tini [--] PROGRAM [ARGS...]")
		return 2
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tini:", err)
		return 127
	}
	err = syscall.Exec(path, args, os.Environ())
	fmt.Fprintln(os.Stderr, "tini:", err)
	return 126
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
