package rpctest

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Scrubber puts placeholders into a text a user sees, so that a golden file holds the whole text
// of a message whatever the test's folders, ports and timings were: the CLI's and the editor's
// tests share it. Add the values a test knows (its project folder, its ports, the registry home,
// the engine endpoint); Scrub also replaces every duration (`2s`, `1.5s`, `3m0s`, `250ms`) and the
// project hash of a container name (iris_<hash>_<port>).
type Scrubber struct {
	pairs []pair
}

type pair struct{ old, placeholder string }

// NewScrubber is a scrubber that knows no value yet.
func NewScrubber() *Scrubber { return &Scrubber{} }

// Add replaces value with placeholder (e.g. "<project>", "<port>", "<home>", "<endpoint>").
// An empty value is ignored. A path is replaced also in its symlink-resolved form.
func (s *Scrubber) Add(value, placeholder string) *Scrubber {
	if value == "" {
		return s
	}
	s.pairs = append(s.pairs, pair{value, placeholder})
	if filepath.IsAbs(value) {
		if real, err := filepath.EvalSymlinks(value); err == nil && real != value {
			s.pairs = append(s.pairs, pair{real, placeholder})
		}
	}
	return s
}

// Project replaces a project folder with <project>.
func (s *Scrubber) Project(dir string) *Scrubber { return s.Add(dir, "<project>") }

// Home replaces the registry home ($IRIS_HELPER_HOME) with <home>.
func (s *Scrubber) Home(dir string) *Scrubber { return s.Add(dir, "<home>") }

// Endpoint replaces an engine endpoint (unix:///…, or the socket path alone) with <endpoint>.
func (s *Scrubber) Endpoint(endpoint string) *Scrubber {
	s.Add(endpoint, "<endpoint>")
	if path, ok := strings.CutPrefix(endpoint, "unix://"); ok {
		s.Add(path, "<endpoint>")
	}
	return s
}

// Port replaces each port number (as a whole number, not inside a longer one) with <port>.
func (s *Scrubber) Port(ports ...int) *Scrubber {
	for _, p := range ports {
		s.Add(strconv.Itoa(p), "<port>")
	}
	return s
}

var (
	// RFC 3339, the registry backup's compact form, and IRIS's messages.log (12/01/26-19:05:31:001)
	timeRE      = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})|\d{8}T\d{6}(\.\d+)?Z|\d{2}/\d{2}/\d{2}-\d{2}:\d{2}:\d{2}:\d{3}`)
	numberRE    = regexp.MustCompile(`\d+`)
	durationRE  = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m\d+(\.\d+)?s|m|h\d+m\d+(\.\d+)?s)\b`)
	containerRE = regexp.MustCompile(`\biris_[0-9a-f]{8}_`)
	// the last failed probe of a start that was never ready: a deadline, an EOF or a reset
	probeRE = regexp.MustCompile(`(no HTTP answer from \S+) \([^)]*\)`)
	// the CLI's progress lines: "[ 0.1s]" and "[12.3s]" alike
	elapsedRE = regexp.MustCompile(`\[ *<duration>\]`)
	// a port's holder as the OS names it (registry.PortHolder): the test process's pid varies
	processRE = regexp.MustCompile(`\bprocess \d+ \(`)
)

// Scrub returns text with every known value replaced by its placeholder (the longest value
// first, so a folder goes before its parent), then the times (<time>), the known numbers (a
// whole number only: 32600 is not found inside 132600), the container hashes, a port holder's pid, the cause of a
// failed readiness probe (<probe error>) and the durations (the CLI's elapsed "[ 1.2s]" too).
func (s *Scrubber) Scrub(text string) string {
	pairs := append([]pair(nil), s.pairs...)
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i].old) > len(pairs[j].old) })
	numbers := map[string]string{}
	for _, p := range pairs {
		if isNumber(p.old) {
			numbers[p.old] = p.placeholder
			continue
		}
		text = strings.ReplaceAll(text, p.old, p.placeholder)
	}
	text = timeRE.ReplaceAllString(text, "<time>")
	text = numberRE.ReplaceAllStringFunc(text, func(n string) string {
		if ph, ok := numbers[n]; ok {
			return ph
		}
		return n
	})
	text = containerRE.ReplaceAllString(text, "iris_<hash>_")
	text = processRE.ReplaceAllString(text, "process <pid> (")
	text = probeRE.ReplaceAllString(text, "${1} (<probe error>)")
	text = durationRE.ReplaceAllString(text, "<duration>")
	return elapsedRE.ReplaceAllString(text, "[<duration>]")
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// Golden compares got, whole, with the file at path and fails naming the file and showing both
// texts; update (the test package's -update flag) rewrites the file first.
func Golden(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with its -update flag to create it)", err)
	}
	if got != string(want) {
		t.Errorf("text differs from %s (run with its -update flag to accept it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
