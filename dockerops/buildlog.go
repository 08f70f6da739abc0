package dockerops

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// BuildLogLimit caps the size of a build log file: a build's output is kept whole up to it; a
// longer one keeps its first half (the steps of the build, how it began) and its last bytes (where
// it failed), with one line in between saying how many bytes were left out.
const BuildLogLimit = 10 << 20

// BuildProgressInterval is the shortest time between two progress reports of a build: at most
// four a second, each with the latest line of output.
const BuildProgressInterval = 250 * time.Millisecond

// BuildLastLines is how many of the last output lines a build failure quotes.
const BuildLastLines = 20

// maxLineBytes bounds one line kept for progress and for the last lines (a tool may print a
// megabyte without a newline); the log file keeps the whole.
const maxLineBytes = 4096

// BuildLog is the output of a project's last build (docker build, docker compose build or pull),
// kept as a file that `logs --build` shows. The caller names the file (under IRIS_HELPER_HOME,
// e.g. builds/<8-hex project hash>.log); it is created 0600 and replaces the previous build's.
// Up to limit bytes the output is written through as it comes, so a running build can be followed
// and an output within the limit is kept whole. A longer output is cut at Close to its first
// limit/2 bytes, one line saying how many bytes were left out, and its last bytes (held in memory
// meanwhile): the file keeps the head and the tail, never more than limit bytes. For one writer
// at a time (wrap it for two).
type BuildLog struct {
	f       *os.File
	path    string
	limit   int64
	head    int64  // bytes kept at the start of a cut file
	written int64  // bytes written into the file so far
	total   int64  // bytes of output seen
	tail    []byte // the last tailCap bytes of those after head
	tailCap int
	err     error
}

// CreateBuildLog creates (or replaces) the build log at path, capped at BuildLogLimit.
func CreateBuildLog(path string) (*BuildLog, error) { return createBuildLog(path, BuildLogLimit) }

func createBuildLog(path string, limit int64) (*BuildLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create build log: %w", err)
	}
	// Remove the old log first and create exclusively: a link planted at path is removed, never followed.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("create build log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create build log: %w", err)
	}
	head := limit / 2
	tailCap := int(limit - head - int64(len(omittedLine(1<<62, limit)))) // room for the "left out" line
	if tailCap < 0 {
		tailCap = 0
	}
	return &BuildLog{f: f, path: path, limit: limit, head: head, tailCap: tailCap}, nil
}

// omittedLine is the line between head and tail; n is how many bytes it stands for.
func omittedLine(n, limit int64) string {
	return fmt.Sprintf("\n[iris-helper: %d bytes of build output left out here; a build log keeps at most %s: its first half and its end]\n",
		n, formatSize(limit))
}

func formatSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Path is the log file's path.
func (l *BuildLog) Path() string { return l.path }

// Write keeps p in the log. It fails only when the file could not be written (the build goes on
// without its log: a caller using io.MultiWriter should not stop the build for it).
func (l *BuildLog) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n := len(p)
	start := l.total
	l.total += int64(n)
	if room := l.limit - l.written; room > 0 {
		chunk := p
		if int64(len(chunk)) > room {
			chunk = chunk[:room]
		}
		w, err := l.f.Write(chunk)
		l.written += int64(w)
		if err != nil {
			l.err = fmt.Errorf("write build log %s: %w", l.path, err)
			return 0, l.err
		}
	}
	if start+int64(n) > l.head && l.tailCap > 0 { // bytes past the head: keep the last tailCap of them
		after := p
		if start < l.head {
			after = p[l.head-start:]
		}
		if len(after) >= l.tailCap {
			l.tail = append(l.tail[:0], after[len(after)-l.tailCap:]...)
		} else {
			if over := len(l.tail) + len(after) - l.tailCap; over > 0 {
				l.tail = append(l.tail[:0], l.tail[over:]...)
			}
			l.tail = append(l.tail, after...)
		}
	}
	return n, nil
}

// Close cuts an output longer than the limit to head, the "left out" line and tail, and closes the file.
func (l *BuildLog) Close() error {
	if l.f == nil {
		return l.err
	}
	err := l.err
	if err == nil && l.total > l.limit {
		var b bytes.Buffer
		b.WriteString(omittedLine(l.total-l.head-int64(len(l.tail)), l.limit))
		b.Write(l.tail)
		if terr := l.f.Truncate(l.head); terr != nil {
			err = fmt.Errorf("cut build log %s: %w", l.path, terr)
		} else if _, werr := l.f.WriteAt(b.Bytes(), l.head); werr != nil {
			err = fmt.Errorf("write build log %s: %w", l.path, werr)
		}
	}
	if cerr := l.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close build log %s: %w", l.path, cerr)
	}
	l.f = nil
	l.err = err
	return err
}

// clock is time for the progress throttle (a fake one in tests).
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// BuildProgress turns a build's output into progress reports and keeps its last lines for an error
// message. Write it the output (it splits lines at \n and \r); it reports the latest non-empty
// line as Progress{Phase: PhaseBuilding} at most once per BuildProgressInterval: the first line at
// once, a later one when the interval since the last report has passed — at the next line or by a
// timer, so the line a long step printed last is shown even when nothing follows it. Close
// reports a line still pending and stops the timer; no report follows Close. Safe for concurrent
// use (stdout and stderr of one build may be written from two goroutines).
type BuildProgress struct {
	mu      sync.Mutex
	report  func(Progress)
	clock   clock
	partial []byte   // the line being written, up to maxLineBytes
	long    bool     // partial was cut at maxLineBytes
	last    []string // ring of the last lines
	next    int      // where the next line goes in last once it is full
	keep    int
	pending string // latest line not yet reported
	lastAt  time.Time
	stop    func() bool // the pending timer, nil when none
	gen     int         // the pending timer's number: a timer that fired late after being replaced does nothing
	closed  bool
	// reporting serializes reports: a report is made outside mu, in order.
	reporting sync.Mutex
}

// NewBuildProgress reports through report (nil: none) and keeps the last keep lines (BuildLastLines when keep <= 0).
func NewBuildProgress(report func(Progress), keep int) *BuildProgress {
	return newBuildProgress(report, keep, realClock{})
}

func newBuildProgress(report func(Progress), keep int, c clock) *BuildProgress {
	if keep <= 0 {
		keep = BuildLastLines
	}
	if report == nil {
		report = func(Progress) {}
	}
	return &BuildProgress{report: report, keep: keep, clock: c}
}

// Write takes output; it never fails.
func (b *BuildProgress) Write(p []byte) (int, error) {
	b.mu.Lock()
	var send []string
	for rest := p; len(rest) > 0; {
		i := bytes.IndexAny(rest, "\r\n")
		if i < 0 {
			b.add(rest)
			break
		}
		b.add(rest[:i])
		if line := b.endLine(); line != "" && !b.closed {
			if s, ok := b.offer(line); ok {
				send = append(send, s)
			}
		}
		rest = rest[i+1:]
	}
	b.mu.Unlock()
	b.send(send)
	return len(p), nil
}

func (b *BuildProgress) add(p []byte) {
	if room := maxLineBytes - len(b.partial); room < len(p) {
		p = p[:max(room, 0)]
		b.long = true
	}
	b.partial = append(b.partial, p...)
}

// endLine ends the partial line and keeps it among the last lines; "" for a blank one.
func (b *BuildProgress) endLine() string {
	line := strings.TrimRight(string(b.partial), " \t")
	if b.long {
		line += " …"
	}
	b.partial, b.long = b.partial[:0], false
	if strings.TrimSpace(line) == "" {
		return ""
	}
	if len(b.last) < b.keep {
		b.last = append(b.last, line)
	} else {
		b.last[b.next] = line
		b.next = (b.next + 1) % b.keep
	}
	return line
}

// offer makes line the latest: reported now when the interval has passed, else pending with a
// timer for when it has. Called with mu held.
func (b *BuildProgress) offer(line string) (string, bool) {
	now := b.clock.Now()
	if b.lastAt.IsZero() || now.Sub(b.lastAt) >= BuildProgressInterval {
		b.lastAt, b.pending = now, ""
		b.stopTimer()
		return line, true
	}
	b.pending = line
	if b.stop == nil {
		b.gen++
		gen := b.gen
		b.stop = b.clock.AfterFunc(BuildProgressInterval-now.Sub(b.lastAt), func() { b.fire(gen) })
	}
	return "", false
}

func (b *BuildProgress) stopTimer() {
	if b.stop != nil {
		b.stop()
		b.stop = nil
		b.gen++
	}
}

// fire reports the pending line (the timer numbered gen).
func (b *BuildProgress) fire(gen int) {
	b.mu.Lock()
	if gen != b.gen || b.stop == nil {
		b.mu.Unlock()
		return
	}
	b.stop = nil
	line := b.pending
	if b.closed || line == "" {
		b.mu.Unlock()
		return
	}
	b.pending, b.lastAt = "", b.clock.Now()
	b.mu.Unlock()
	b.send([]string{line})
}

func (b *BuildProgress) send(lines []string) {
	if len(lines) == 0 {
		return
	}
	b.reporting.Lock()
	defer b.reporting.Unlock()
	for _, l := range lines {
		b.report(Progress{Phase: PhaseBuilding, Message: l})
	}
}

// Close ends a last line without newline, reports the line still pending, and stops reporting.
func (b *BuildProgress) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	if len(b.partial) > 0 {
		if line := b.endLine(); line != "" {
			b.pending = line
		}
	}
	b.stopTimer()
	line := b.pending
	b.pending, b.closed = "", true
	b.mu.Unlock()
	if line != "" {
		b.send([]string{line})
	}
	// Wait out a report the timer may be making right now: nothing is reported after Close returns.
	b.reporting.Lock()
	defer b.reporting.Unlock()
	return nil
}

// LastLines is the last lines of output, oldest first (at most keep; blank lines left out).
func (b *BuildProgress) LastLines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.last))
	out = append(out, b.last[b.next:]...)
	out = append(out, b.last[:b.next]...)
	return out
}

// BuildError means building a project's image failed (a Dockerfile step, a missing base image, a
// syntax error). LastLines are the last lines of the build's output; the whole is in Log.
type BuildError struct {
	Image     string   // the tag being built, "" when the build was compose's
	Log       string   // path of the build log file, "" when none could be written
	LastLines []string // last lines of the output
	Err       error    // the build command's failure (exit status, deadline)
}

func (e *BuildError) Error() string {
	msg := "build failed"
	if e.Image != "" {
		msg = "build of " + e.Image + " failed"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if len(e.LastLines) > 0 {
		msg += "; last lines of the build output:\n  " + strings.Join(e.LastLines, "\n  ")
	}
	return msg // where the whole output is shown is the front end's remedy (`logs --build`)
}

func (e *BuildError) Unwrap() error { return e.Err }
