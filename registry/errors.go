package registry

import (
	"fmt"
	"strings"
	"time"
)

// ExhaustedError says that no slot of the configured ranges is free, even after reclaiming
// stale assignments. It lists every assignment so the user can pick one to release.
type ExhaustedError struct {
	Superserver, Web Range
	Assignments      []Assignment   // every assignment in the registry
	Busy             map[int]string // ports of the range held by something outside the registry: port -> holder
	ConfigFile       string         // $IRIS_HELPER_HOME/config.json
}

func (e *ExhaustedError) Error() string {
	var b strings.Builder
	n := e.Superserver.Len()
	slots := "slots"
	if n == 1 {
		slots = "slot"
	}
	fmt.Fprintf(&b, "no free port pair left in superserver range %s / web range %s (%d %s)",
		e.Superserver, e.Web, n, slots)
	if len(e.Assignments) > 0 {
		b.WriteString("; assignments:")
		for _, a := range e.Assignments {
			fmt.Fprintf(&b, "\n  %d/%d  %s  (%s, %s)", a.SuperserverPort, a.WebPort, a.Project, a.Type, a.Status)
			for _, x := range a.Extra { // a pinned extra port may hold a port of the ranges
				if e.Superserver.Contains(x.Port) || e.Web.Contains(x.Port) {
					fmt.Fprintf(&b, "\n  %d  %s  (extra port %s)", x.Port, a.Project, x.Key)
				}
			}
		}
	}
	if len(e.Busy) > 0 {
		b.WriteString("\nports of the range in use outside the registry:")
		for _, p := range sortedPorts(e.Busy) {
			fmt.Fprintf(&b, "\n  %d  %s", p, e.Busy[p])
		}
	}
	// Freeing a slot is the front end's remedy (its own command); widening the ranges is the same
	// for every front end.
	fmt.Fprintf(&b, "\nfor more slots, widen the ranges with %s=lo-hi and %s=lo-hi (or \"superserverRange\"/\"webRange\" in %s)",
		EnvSuperserverRange, EnvWebRange, e.ConfigFile)
	return b.String()
}

// ConflictError says that a port is not free. Holder names who holds it: "project /abs/dir",
// a container as reported by PortsInUse ("container iris_ab12cd34_1973"), or "another process".
// When HolderProject is set a front end words how to release it (its own command).
type ConflictError struct {
	Port          int
	Holder        string
	HolderProject string // set when another registry assignment holds the port
	HolderKey     string // set when that assignment holds it as an extra port: its key ("web/80/tcp")
}

func (e *ConflictError) Error() string {
	switch {
	case e.HolderProject != "" && e.HolderKey != "":
		return fmt.Sprintf("port %d is assigned to %s (%s); choose another port, or release it", e.Port, e.Holder, e.HolderKey)
	case e.HolderProject != "":
		return fmt.Sprintf("port %d is assigned to %s; choose another port, or release it", e.Port, e.Holder)
	case e.Holder == holderOtherProcess:
		return fmt.Sprintf("port %d is in use by another process on this host; stop that process or choose another port", e.Port)
	default:
		return fmt.Sprintf("port %d is in use by %s; stop it or choose another port", e.Port, e.Holder)
	}
}

// ExtraExhaustedError says that no port of the extra range is free for a project's extra port,
// even after reclaiming stale assignments. It lists the assignments holding extra ports.
type ExtraExhaustedError struct {
	Range       Range
	Project     string
	Key         string         // the extra port's key that got no port
	Assignments []Assignment   // the assignments that hold ports of the extra range
	Busy        map[int]string // ports of the range held by something outside the registry: port -> holder
	ConfigFile  string         // $IRIS_HELPER_HOME/config.json
}

func (e *ExtraExhaustedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no free port left in the extra range %s (%d ports) for %s of %s", e.Range, e.Range.Len(), e.Key, e.Project)
	if len(e.Assignments) > 0 {
		b.WriteString("; extra ports held:")
		for _, a := range e.Assignments {
			n := 0
			for _, x := range a.Extra {
				if e.Range.Contains(x.Port) {
					n++
				}
			}
			fmt.Fprintf(&b, "\n  %d  %s  (%s)", n, a.Project, a.Status)
		}
	}
	if len(e.Busy) > 0 {
		b.WriteString("\nports of the range in use outside the registry:")
		for _, p := range sortedPorts(e.Busy) {
			fmt.Fprintf(&b, "\n  %d  %s", p, e.Busy[p])
		}
	}
	fmt.Fprintf(&b, "\nfor more ports, widen the extra range with %s=lo-hi (or \"extraRange\" in %s)", EnvExtraRange, e.ConfigFile)
	return b.String()
}

// LockTimeoutError says that another process held the registry lock for longer than the timeout.
type LockTimeoutError struct {
	Path    string
	Timeout time.Duration
}

func (e *LockTimeoutError) Error() string {
	return fmt.Sprintf("timed out after %s waiting for the registry lock %s: another iris-helper process holds it; "+
		"wait for it to finish and try again (a lock held by a process that died is released automatically, "+
		"so do not delete the lock file)", e.Timeout, e.Path)
}

// CorruptError says that registry.json could not be read or parsed. The file was moved aside to
// Backup (never overwritten) and the registry starts empty: the operation that met the corrupt file
// was not carried out; call Restore to rebuild entries (e.g. from container labels) and retry.
type CorruptError struct {
	Path   string
	Backup string // "" if the file could not be moved aside
	Err    error
}

func (e *CorruptError) Error() string {
	if e.Backup == "" {
		return fmt.Sprintf("registry %s is unreadable (%v) and could not be moved aside; "+
			"move or delete it yourself, then run the command again", e.Path, e.Err)
	}
	return fmt.Sprintf("registry %s was unreadable (%v); kept it as %s and started an empty registry; "+
		"run the command again (projects get their ports again when they are assigned or started)",
		e.Path, e.Err, e.Backup)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// NewerVersionError says that registry.json was written by a newer iris-helper. It is not corrupt;
// this version refuses to write it.
type NewerVersionError struct {
	Path      string
	Found     int
	Supported int
}

func (e *NewerVersionError) Error() string {
	return fmt.Sprintf("registry %s has format version %d but this iris-helper understands only up to version %d; "+
		"the file was left untouched; upgrade iris-helper", e.Path, e.Found, e.Supported)
}

// NotFoundError says that a project (or port) has no assignment. A front end words how to see
// the assignments or assign ports (its own commands).
type NotFoundError struct {
	Project string // "" when looked up by port
	Port    int
}

func (e *NotFoundError) Error() string {
	if e.Project == "" {
		return fmt.Sprintf("no project is assigned port %d", e.Port)
	}
	return fmt.Sprintf("no ports are assigned to %s", e.Project)
}

// RangeError says that a configured port range is invalid.
type RangeError struct {
	Source string // where the bad value came from: an env var, config.json, Options
	Value  string
	Reason string
	Extra  bool // the extra range is the bad one (IRIS_HELPER_EXTRA_RANGE, "extraRange")
}

func (e *RangeError) Error() string {
	if e.Extra {
		return fmt.Sprintf("invalid port range %q from %s: %s; give the extra range as lo-hi with 1 <= lo <= hi <= 65535, "+
			"not overlapping the superserver and web ranges (for example %s=12000-12999)", e.Value, e.Source, e.Reason, EnvExtraRange)
	}
	return fmt.Sprintf("invalid port range %q from %s: %s; give it as lo-hi with 1 <= lo <= hi <= 65535, "+
		"the superserver and web ranges of equal length and not overlapping (for example %s=1972-1981 and %s=52773-52782)",
		e.Value, e.Source, e.Reason, EnvSuperserverRange, EnvWebRange)
}
