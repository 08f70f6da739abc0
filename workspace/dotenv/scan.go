package dotenv

import (
	"bytes"

	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// envLineKind tells what a logical line of a .env file holds.
type envLineKind int

const (
	envBlank envLineKind = iota
	envComment
	envAssignment
	envUnknown // a line no rule understands; kept byte for byte
)

// envLine is one logical line of a .env file as the scanner sees it. A quoted value that
// spans several physical lines makes one logical line. All offsets index the whole file.
type envLine struct {
	kind       envLineKind
	start, end int    // the logical line, without its terminator
	next       int    // start of the following line (after the terminator)
	hasEOL     bool   // the line ends with \n or \r\n
	key        string // set by scanEnvLines; eachEnvLine leaves it "" (see keyStart, keyEnd)
	keyStart   int
	keyEnd     int
	export     bool
	// valStart/valEnd span the value as written, quotes included; for an empty value both
	// point right after the '='. inStart/inEnd span the value without its quotes.
	valStart, valEnd int
	inStart, inEnd   int
	quote            byte // 0, '\'' or '"'
}

func (l envLine) isAssignment() bool { return l.kind == envAssignment }

// scanEnvLines splits a .env file into logical lines. It never fails: whatever it does
// not understand becomes an envUnknown line. A leading BOM is skipped. It holds every line:
// for a whole file of any size, eachEnvLine keeps memory flat.
func scanEnvLines(b []byte) []envLine {
	var lines []envLine
	str := string(b) // one copy; keys are substrings of it, not one allocation each
	eachEnvLine(b, func(l envLine) bool {
		if l.kind == envAssignment {
			l.key = str[l.keyStart:l.keyEnd]
		}
		lines = append(lines, l)
		return true
	})
	return lines
}

// eachEnvLine calls fn with each logical line of b, in order, until fn returns false; the
// lines' key field is not set (keyOf gives it). It allocates nothing per line.
func eachEnvLine(b []byte, fn func(envLine) bool) {
	pos := 0
	if bytes.HasPrefix(b, projfile.BOM) {
		pos = len(projfile.BOM)
	}
	for pos < len(b) {
		l := scanEnvLine(b, pos)
		if !fn(l) {
			return
		}
		pos = l.next
	}
}

// keyOf is the key of an assignment line as bytes of b ("" for other lines).
func (l envLine) keyOf(b []byte) []byte { return b[l.keyStart:l.keyEnd] }

// lastAssignmentsOf returns the winning (last) assignment line of each key in want.
func lastAssignmentsOf(b []byte, want map[string]bool) map[string]envLine {
	last := map[string]envLine{}
	eachEnvLine(b, func(l envLine) bool {
		if l.kind == envAssignment && want[string(l.keyOf(b))] {
			last[string(l.keyOf(b))] = l
		}
		return true
	})
	return last
}

// lineEnd returns the end of the physical line starting at pos (before \r\n or \n) and
// the start of the next one.
func lineEnd(b []byte, pos int) (end, next int, eol bool) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		return len(b), len(b), false
	}
	end = pos + i
	if end > pos && b[end-1] == '\r' {
		end--
	}
	return end, pos + i + 1, true
}

func isSpaceTab(c byte) bool { return c == ' ' || c == '\t' }

func isKeyStart(c byte) bool {
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

func isKeyChar(c byte) bool {
	return isKeyStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'
}

func scanEnvLine(b []byte, start int) envLine {
	end, next, eol := lineEnd(b, start)
	l := envLine{kind: envUnknown, start: start, end: end, next: next, hasEOL: eol}
	i := start
	for i < end && isSpaceTab(b[i]) {
		i++
	}
	switch {
	case i == end || (i == end-1 && b[i] == '\r'):
		l.kind = envBlank
		return l
	case b[i] == '#':
		l.kind = envComment
		return l
	}
	// optional "export " prefix
	if bytes.HasPrefix(b[i:end], []byte("export")) && i+6 < end && isSpaceTab(b[i+6]) {
		j := i + 6
		for j < end && isSpaceTab(b[j]) {
			j++
		}
		if j < end && isKeyStart(b[j]) {
			l.export = true
			i = j
		}
	}
	if !isKeyStart(b[i]) {
		return l
	}
	k := i
	for k < end && isKeyChar(b[k]) {
		k++
	}
	keyEnd := k
	for k < end && isSpaceTab(b[k]) {
		k++
	}
	if k == end || b[k] != '=' {
		return l
	}
	k++ // past '='
	afterEq := k
	for k < end && isSpaceTab(b[k]) {
		k++
	}
	l.keyStart, l.keyEnd = i, keyEnd
	l.kind = envAssignment
	if k < end && (b[k] == '"' || b[k] == '\'') {
		q := b[k]
		// The closing quote is the next unescaped quote character, possibly on a later
		// line (the same rule as github.com/joho/godotenv).
		for c := k + 1; c < len(b); c++ {
			if b[c] != q || b[c-1] == '\\' {
				continue
			}
			l.quote = q
			l.valStart, l.valEnd = k, c+1
			l.inStart, l.inEnd = k+1, c
			if c >= end { // multi-line value: the logical line grows
				l.end, l.next, l.hasEOL = lineEnd(b, c)
			}
			return l
		}
		// Unterminated quote: the value is the rest of the physical line.
		l.valStart, l.valEnd = k, trimRightSpace(b, k, end)
		l.inStart, l.inEnd = l.valStart, l.valEnd
		return l
	}
	// Unquoted: up to the end of the line, a '\r', or a '#' that follows whitespace.
	v := k
	for v < end && b[v] != '\r' && !(b[v] == '#' && v > afterEq && isSpaceTab(b[v-1])) {
		v++
	}
	vEnd := trimRightSpace(b, k, v)
	if vEnd == k {
		k = afterEq // empty value: insert right after '='
		vEnd = afterEq
	}
	l.valStart, l.valEnd = k, vEnd
	l.inStart, l.inEnd = k, vEnd
	return l
}

func trimRightSpace(b []byte, lo, hi int) int {
	for hi > lo && isSpaceTab(b[hi-1]) {
		hi--
	}
	return hi
}

// HasKey reports whether content assigns a key for which match is true (comments, lines inside a
// multi-line value and lines the scanner does not understand are not assignments).
func HasKey(content []byte, match func(key string) bool) bool {
	found := false
	eachEnvLine(content, func(l envLine) bool {
		found = l.isAssignment() && match(string(l.keyOf(content)))
		return !found
	})
	return found
}
