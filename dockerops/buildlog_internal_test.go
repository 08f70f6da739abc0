package dockerops

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBuildLogCapped: the file holds the whole output up to the limit; past it, the first half
// and the last bytes with one line saying how much was left out, never more than the limit.
func TestBuildLogCapped(t *testing.T) {
	const limit = 1000
	marker := func(n int) string {
		return "\n[iris-helper: " + strconv.Itoa(n) + " bytes of build output left out here; a build log keeps at most 1000 bytes: its first half and its end]\n"
	}
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"small", []string{"#1 load\n", "#2 done\n"}, "#1 load\n#2 done\n"},
		{"exactly the limit", []string{strings.Repeat("a", 500), strings.Repeat("b", 500)},
			strings.Repeat("a", 500) + strings.Repeat("b", 500)},
		{"head and tail", []string{strings.Repeat("h", 500), strings.Repeat("m", 2000), strings.Repeat("t", 300)},
			strings.Repeat("h", 500) + marker(2800-500-(500-len(marker(1<<62)))) +
				strings.Repeat("m", 500-len(marker(1<<62))-300) + strings.Repeat("t", 300)},
		{"many small writes", repeat("0123456789", 300), // 3000 bytes
			strings.Repeat("0123456789", 50) + marker(3000-500-(500-len(marker(1<<62)))) +
				strings.Repeat("0123456789", 50)[500-(500-len(marker(1<<62))):]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "builds", "0123abcd.log")
			l, err := createBuildLog(path, limit)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.writes {
				if n, err := l.Write([]byte(w)); err != nil || n != len(w) {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(w))
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("log file =\n%q\nwant\n%q", got, tt.want)
			}
			if len(got) > limit {
				t.Errorf("log file has %d bytes, more than the limit %d", len(got), limit)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}

// TestBuildLogReplacesAndFollowsNoLink: a new build's log replaces the last one, and a link
// planted at the log's path is replaced, not written through.
func TestBuildLogReplacesAndFollowsNoLink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{"first build\n", "second\n"} {
		l, err := CreateBuildLog(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Write([]byte(out)); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(path)
	v, _ := os.ReadFile(victim)
	if string(got) != "second\n" || string(v) != "keep me" {
		t.Errorf("log = %q, link target = %q; want %q, %q", got, v, "second\n", "keep me")
	}
}

// fakeClock runs timers when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, tm)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !tm.stopped
		tm.stopped = true
		return was
	}
}

// advance moves time on by d and runs the timers that are due, in the test's goroutine.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	keep := c.timers[:0]
	for _, tm := range c.timers {
		switch {
		case tm.stopped:
		case !tm.at.After(c.now):
			tm.stopped = true
			due = append(due, tm.f)
		default:
			keep = append(keep, tm)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// TestBuildProgressThrottle: at most one report per 250 ms, each the latest line; the line a long
// step printed last is reported when the interval is over even if nothing follows; Close reports
// what is pending and nothing after.
func TestBuildProgressThrottle(t *testing.T) {
	type step struct {
		write   string        // output written
		advance time.Duration // then time moves on by this much
	}
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"first line at once, a burst shows its last line after the interval",
			[]step{{"#1 [internal] load build definition\n", 0}, {"#1 DONE 0.0s\n#2 [1/3] FROM iris\n#3 [2/3] RUN iris start\n", 0},
				{"", 250 * time.Millisecond}},
			[]string{"#1 [internal] load build definition", "#3 [2/3] RUN iris start"}},
		{"lines far apart are each reported",
			[]step{{"a\n", time.Second}, {"b\n", time.Second}, {"c\n", 0}},
			[]string{"a", "b", "c"}},
		{"a line after the interval is reported at once and stops the timer",
			[]step{{"a\n", 0}, {"b\n", 100 * time.Millisecond}, {"", 200 * time.Millisecond}, {"c\n", 300 * time.Millisecond}, {"", time.Second}},
			[]string{"a", "b", "c"}},
		{"\\r and blank lines, a last line without newline on Close",
			[]step{{"x\r\n\n   \ry", 0}},
			[]string{"x", "y"}},
		{"lines split across writes",
			[]step{{"#5 [3/3] RU", 0}, {"N echo\n", 0}},
			[]string{"#5 [3/3] RUN echo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			var got []string
			var times []time.Time
			b := newBuildProgress(func(p Progress) {
				if p.Phase != PhaseBuilding {
					t.Errorf("phase = %q, want %q", p.Phase, PhaseBuilding)
				}
				got = append(got, p.Message)
				times = append(times, c.Now())
			}, 0, c)
			for _, s := range tt.steps {
				if s.write != "" {
					if _, err := b.Write([]byte(s.write)); err != nil {
						t.Fatal(err)
					}
				}
				c.advance(s.advance)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			b.Write([]byte("after close\n"))
			c.advance(time.Second)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("reports = %q, want %q", got, tt.want)
			}
			for i := 1; i < len(times)-1; i++ { // the last may be Close's
				if d := times[i].Sub(times[i-1]); d < BuildProgressInterval {
					t.Errorf("reports %d and %d only %s apart", i-1, i, d)
				}
			}
		})
	}
}

// TestBuildProgressLastLines: the last N non-blank lines, oldest first; a very long line is cut.
func TestBuildProgressLastLines(t *testing.T) {
	b := NewBuildProgress(nil, 3)
	b.Write([]byte("1\n2\n\n3\n4\n5 no newline"))
	b.Close()
	if got, want := b.LastLines(), []string{"3", "4", "5 no newline"}; !reflect.DeepEqual(got, want) {
		t.Errorf("LastLines = %q, want %q", got, want)
	}
	b = NewBuildProgress(nil, 0)
	b.Write([]byte(strings.Repeat("x", 10000) + "\nERROR: failed to solve\n"))
	if got, want := b.LastLines(), []string{strings.Repeat("x", maxLineBytes) + " …", "ERROR: failed to solve"}; !reflect.DeepEqual(got, want) {
		t.Errorf("LastLines = %q, want %q", got, want)
	}
}

// TestBuildErrorMessage: the whole text a user reads.
func TestBuildErrorMessage(t *testing.T) {
	err := &BuildError{Image: "iris-helper/0123abcd:local", Log: "/h/builds/0123abcd.log",
		LastLines: []string{"#6 [2/2] RUN false", "ERROR: process \"/bin/sh -c false\" did not complete successfully: exit code: 1"},
		Err:       errString("docker build exited with status 1")}
	want := "build of iris-helper/0123abcd:local failed: docker build exited with status 1; last lines of the build output:\n" +
		"  #6 [2/2] RUN false\n  ERROR: process \"/bin/sh -c false\" did not complete successfully: exit code: 1"
	if got := err.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
