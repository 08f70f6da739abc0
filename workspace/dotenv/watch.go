package dotenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long the watcher waits after the last file event before it
// looks at the file: editors save in several steps (write swap, rename, write).
const DefaultDebounce = 100 * time.Millisecond

// EventKind tells what an Event reports.
type EventKind string

const (
	// EventSynced: the helper wrote the file (Changes says what); Created for a new file.
	EventSynced EventKind = "synced"
	// EventPortsChanged: the user set a managed port key to a free port and the project's
	// assignment now uses it; a running container needs a restart (RestartNeeded).
	EventPortsChanged EventKind = "portsChanged"
	// EventRestored: the user's value for a managed port key was refused (not a port number,
	// or a port someone else holds) and the assigned value was written back; Reason says why.
	EventRestored EventKind = "restored"
	// EventDeleted: the file was deleted and sync "auto" does not create it again. A file
	// missing from the start is not reported.
	EventDeleted EventKind = "deleted"
	// EventError: the file could not be read, written or watched; Reason says why.
	EventError EventKind = "error"
)

// Event is one report of the .env watcher, for the owner to log or turn into a notification.
type Event struct {
	Kind          EventKind `json:"kind"`
	Path          string    `json:"path"`
	Key           string    `json:"key,omitempty"`   // the managed key concerned, if one
	Value         string    `json:"value,omitempty"` // what the user wrote there (quotes included)
	Ports         Ports     `json:"ports"`           // the ports in effect after the event
	RestartNeeded bool      `json:"restartNeeded,omitempty"`
	Created       bool      `json:"created,omitempty"`
	Changes       []Change  `json:"changes,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	Message       string    `json:"message"` // one line for a human
}

// WatcherOptions configure an Watcher.
type WatcherOptions struct {
	Path  string   // the .env file (absolute); its folder is watched
	Scope Scope    // where the file may resolve (Sync); zero = inside its own folder
	Mode  SyncMode // "" = auto; under false the watcher does nothing
	Names Names    // configured key names (.iris-helper.json "env")
	Ports Ports    // the project's assigned ports
	// RequestPort is asked when the user sets a managed port key to another port number:
	// superserver and web are the ports asked for, 0 for the one not changed. It returns
	// the ports in effect after granting the request, or an error saying why not (naming
	// who holds the port), upon which the assigned value is written back. nil refuses all.
	RequestPort func(ctx context.Context, superserver, web int) (Ports, error)
	// OnEvent receives the reports, from the watcher's goroutine, never under its lock; its owner
	// shows them (the watcher then logs them at debug level only).
	OnEvent  func(Event)
	Debounce time.Duration // 0 = DefaultDebounce
	Logger   *slog.Logger  // nil = discard

	beforeRename func() // tests: runs right before the last check and the rename of each write
}

// Watcher keeps a .env file in step with the project's ports while the project is open:
// it syncs once at start, then watches the file's folder with fsnotify (editors save by
// rename, which would drop a watch on the file itself) and reconciles after each burst of
// events. Its own writes cause no second write: it compares the wanted bytes with the file.
type Watcher struct {
	opts    WatcherOptions
	path    string          // cleaned absolute path
	targets map[string]bool // cleaned paths whose events count: path and a symlink's target
	fsw     *fsnotify.Watcher
	cancel  context.CancelFunc
	done    chan struct{}

	mu      sync.Mutex // serialises reconciles and guards the fields below
	ports   Ports
	existed bool // the file existed at the last look (a deletion is reported once, on the change)
}

// NewWatcher syncs the file once and starts watching it until ctx ends or Close. A file that
// may not be synced at all (it resolves outside Scope, *OutsideProjectError; it is a
// directory or device, *NotRegularError) is an error: nothing is watched.
func NewWatcher(ctx context.Context, opts WatcherOptions) (*Watcher, error) {
	if opts.Mode == "" {
		opts.Mode = SyncAuto
	}
	if _, err := ParseSyncMode(string(opts.Mode)); err != nil {
		return nil, err
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", opts.Path, err)
	}
	w := &Watcher{opts: opts, path: filepath.Clean(abs), ports: opts.Ports,
		targets: map[string]bool{}, done: make(chan struct{})}
	ctx, w.cancel = context.WithCancel(ctx)
	if opts.Mode == SyncFalse {
		close(w.done)
		return w, nil
	}
	f, err := resolve(w.path, opts.Mode, opts.Scope)
	if err != nil {
		w.cancel()
		return nil, err
	}
	w.fsw, err = fsnotify.NewWatcher()
	if err != nil {
		w.cancel()
		return nil, fmt.Errorf("watch %s: %w", w.path, err)
	}
	w.targets[w.path] = true
	dirs := map[string]bool{filepath.Dir(w.path): true}
	if f.target != w.path {
		w.targets[f.target] = true // a symlinked .env: its target's saves count too
		dirs[filepath.Dir(f.target)] = true
	}
	for d := range dirs {
		if err := w.fsw.Add(d); err != nil {
			w.fsw.Close()
			w.cancel()
			return nil, fmt.Errorf("watch folder %s for changes of %s: %w", d, filepath.Base(w.path), err)
		}
	}
	w.emit(w.reconcile(ctx, false))
	go w.loop(ctx)
	return w, nil
}

// Path is the watched .env file.
func (w *Watcher) Path() string { return w.path }

// Ports returns the ports the watcher currently writes.
func (w *Watcher) Ports() Ports {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ports
}

// SetPorts tells the watcher the project's assignment changed (by the owner, not by the
// user's edit) and syncs the file to it.
func (w *Watcher) SetPorts(ctx context.Context, p Ports) {
	w.mu.Lock()
	w.ports = p
	w.mu.Unlock()
	w.emit(w.reconcile(ctx, false))
}

// Sync reconciles the file now, as after a file event but without treating differences
// as the user's requests.
func (w *Watcher) Sync(ctx context.Context) {
	w.emit(w.reconcile(ctx, false))
}

// Close stops watching and waits for the watcher's goroutine to end.
func (w *Watcher) Close() error {
	w.cancel()
	<-w.done
	return nil
}

func (w *Watcher) loop(ctx context.Context) {
	defer close(w.done)
	defer w.fsw.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			if !w.targets[filepath.Clean(ev.Name)] {
				continue
			}
			w.opts.Logger.Debug("env file event", "path", ev.Name, "op", ev.Op.String())
			timer.Reset(w.opts.Debounce)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.emit([]Event{{Kind: EventError, Path: w.path, Ports: w.Ports(), Reason: err.Error(),
				Message: fmt.Sprintf("watching %s: %v; checking the file again", w.path, err)}})
			timer.Reset(w.opts.Debounce) // events may have been lost: look again
		case <-timer.C:
			w.emit(w.reconcile(ctx, true))
		}
	}
}

// emit hands the reports to OnEvent, whose owner shows them (the CLI prints them, the helper
// sends them to the editor), and logs them at debug level; without OnEvent the log is where
// they show, at info (warn for a restore or an error).
func (w *Watcher) emit(events []Event) {
	for _, e := range events {
		level := slog.LevelDebug // OnEvent's owner shows it
		if w.opts.OnEvent == nil {
			level = slog.LevelInfo
			if e.Kind == EventError || e.Kind == EventRestored {
				level = slog.LevelWarn
			}
		}
		w.opts.Logger.Log(context.Background(), level, e.Message, "kind", string(e.Kind), "path", e.Path)
		if w.opts.OnEvent != nil {
			w.opts.OnEvent(e)
		}
	}
}

// reconcile brings the file in step with the ports. With userEdit, a managed port key set
// to another valid port number is the user's request for it.
func (w *Watcher) reconcile(ctx context.Context, userEdit bool) []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var events []Event
	fail := func(err error) []Event {
		return append(events, Event{Kind: EventError, Path: w.path, Ports: w.ports, Reason: err.Error(), Message: err.Error()})
	}
	for attempt := 0; attempt < 10; attempt++ {
		if ctx.Err() != nil {
			return events
		}
		f, err := resolve(w.path, w.opts.Mode, w.opts.Scope)
		if err != nil {
			return fail(err)
		}
		in, exists, err := f.read()
		if errors.Is(err, errFileMoved) {
			continue
		}
		if err != nil {
			return fail(err)
		}
		if !exists {
			return append(events, w.missing(ctx)...)
		}
		w.existed = true
		keys := ResolveKeys(w.opts.Names, in)
		if out, _ := Render(in, keys, w.ports); bytes.Equal(out, in) {
			return events // in step (this is also how the helper's own write ends here)
		}
		if err := checkConfiguredKeys(f.target, in, w.opts.Names, keys); err != nil {
			return fail(err)
		}
		if userEdit {
			events = append(events, w.userRequests(ctx, in, keys)...)
		}
		out, changes := Render(in, keys, w.ports)
		if bytes.Equal(out, in) {
			return events
		}
		err = f.replace(out, in, true, w.opts.beforeRename)
		if errors.Is(err, errFileMoved) {
			continue // saved again meanwhile: start over from the new content
		}
		if err != nil {
			return fail(err)
		}
		return append(events, Event{Kind: EventSynced, Path: w.path, Ports: w.ports, Changes: changes,
			Message: fmt.Sprintf("updated %s: %s", w.path, describeChanges(changes))})
	}
	return append(events, Event{Kind: EventError, Path: w.path, Ports: w.ports, Reason: errFileMoved.Error(),
		Message: fmt.Sprintf("%s keeps changing; will update it after the next save", w.path)})
}

// missing handles a file that does not exist: created under sync true, left alone under auto.
func (w *Watcher) missing(ctx context.Context) []Event {
	if w.opts.Mode != SyncTrue {
		if !w.existed {
			return nil // missing from the start, or already reported
		}
		w.existed = false
		return []Event{{Kind: EventDeleted, Path: w.path, Ports: w.ports,
			Message: fmt.Sprintf("%s does not exist; env sync \"auto\" creates none (set \"env\": {\"sync\": true} to have it created)", w.path)}}
	}
	res, err := syncOp{path: w.path, scope: w.opts.Scope, mode: SyncTrue, names: w.opts.Names, ports: w.ports,
		beforeRename: w.opts.beforeRename}.sync()
	if err != nil {
		return []Event{{Kind: EventError, Path: w.path, Ports: w.ports, Reason: err.Error(), Message: err.Error()}}
	}
	w.existed = true
	if !res.Written {
		return nil
	}
	return []Event{{Kind: EventSynced, Path: w.path, Ports: w.ports, Created: res.Created, Changes: res.Changes,
		Message: fmt.Sprintf("created %s: %s", w.path, describeChanges(res.Changes))}}
}

// userRequests looks at the managed port keys the user changed: a valid port number is
// asked for through RequestPort (w.ports follows when granted); anything else is reported
// and left for the caller's render to restore.
func (w *Watcher) userRequests(ctx context.Context, in []byte, keys Keys) []Event {
	vals := parseValues(in, keys, false) // Raw, Port and Err only: memory stays near the file's size
	var events []Event
	var reqSS, reqWeb int
	type slot struct {
		v        Value
		assigned int
		req      *int
	}
	for _, s := range []slot{{vals.Superserver, w.ports.Superserver, &reqSS}, {vals.Web, w.ports.Web, &reqWeb}} {
		if s.v.Key == "" || !s.v.Present || s.assigned == 0 {
			continue // a deleted key is simply added back
		}
		if s.v.Err != nil {
			events = append(events, Event{Kind: EventRestored, Path: w.path, Key: s.v.Key, Value: s.v.Raw, Reason: s.v.Err.Error(),
				Message: fmt.Sprintf("%s: %v; restored %s=%d", w.path, s.v.Err, s.v.Key, s.assigned)})
			continue
		}
		if s.v.Port != s.assigned {
			*s.req = s.v.Port
		}
	}
	if reqSS == 0 && reqWeb == 0 {
		return fillPorts(events, w.ports)
	}
	asked := describeRequest(keys, reqSS, reqWeb)
	var granted Ports
	err := errors.New("changing ports from the .env file is not supported here")
	if w.opts.RequestPort != nil {
		granted, err = w.opts.RequestPort(ctx, reqSS, reqWeb)
	}
	if err != nil {
		for _, r := range []struct {
			key       string
			req, port int
			raw       string
		}{{keys.Superserver, reqSS, w.ports.Superserver, vals.Superserver.Raw}, {keys.Web, reqWeb, w.ports.Web, vals.Web.Raw}} {
			if r.req == 0 {
				continue
			}
			events = append(events, Event{Kind: EventRestored, Path: w.path, Key: r.key, Value: r.raw, Reason: err.Error(),
				Message: fmt.Sprintf("%s: %s=%d refused: %v; restored %s=%d", w.path, r.key, r.req, err, r.key, r.port)})
		}
		return fillPorts(events, w.ports)
	}
	if granted.Host == "" {
		granted.Host = w.ports.Host
	}
	if granted.Extra == nil {
		granted.Extra = w.ports.Extra
	}
	old := w.ports
	w.ports = granted
	key := keys.Superserver
	if reqSS == 0 {
		key = keys.Web
	} else if reqWeb != 0 {
		key = ""
	}
	events = append(events, Event{Kind: EventPortsChanged, Path: w.path, Key: key, RestartNeeded: true,
		Message: fmt.Sprintf("%s asks for %s: granted; the project now uses superserver %d and web %d (was %d and %d); a running IRIS container needs a restart to use them",
			w.path, asked, granted.Superserver, granted.Web, old.Superserver, old.Web)})
	return fillPorts(events, w.ports)
}

func fillPorts(events []Event, p Ports) []Event {
	for i := range events {
		events[i].Ports = p
	}
	return events
}

func describeRequest(keys Keys, ss, web int) string {
	switch {
	case ss != 0 && web != 0:
		return fmt.Sprintf("%s=%d and %s=%d", keys.Superserver, ss, keys.Web, web)
	case ss != 0:
		return fmt.Sprintf("%s=%d", keys.Superserver, ss)
	}
	return fmt.Sprintf("%s=%d", keys.Web, web)
}

func describeChanges(changes []Change) string {
	if len(changes) == 0 {
		return "no change"
	}
	var b bytes.Buffer
	for i, c := range changes {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.String())
	}
	return b.String()
}
