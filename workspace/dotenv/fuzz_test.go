package dotenv

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// fuzzKeySets are the key-name configurations the fuzz test chooses from.
var fuzzKeySets = []Keys{
	{Host: "IRIS_HOST", Superserver: "IRIS_PORT", Web: "IRIS_WEB_PORT"},
	{Host: "IRIS_HOSTNAME", Superserver: "IRIS_SUPERSERVER_PORT", Web: "IRIS_WEB_SERVER_PORT"},
	{Host: "", Superserver: "IRIS_PORT", Web: ""},
	{Host: "A", Superserver: "B", Web: "C"},
}

const maskedValue = "\x00V\x00"

// maskManaged replaces the winning value of every managed key with a placeholder, so
// that two files can be compared "except for the managed values".
func maskManaged(b []byte, keys Keys) []byte {
	lines := scanEnvLines(b)
	last := lastAssignments(lines)
	var spans [][2]int
	for _, k := range []string{keys.Host, keys.Superserver, keys.Web} {
		if i, ok := last[k]; ok && k != "" {
			spans = append(spans, [2]int{lines[i].valStart, lines[i].valEnd})
		}
	}
	// apply from the end so offsets stay valid
	for i := 0; i < len(spans); i++ {
		for j := i + 1; j < len(spans); j++ {
			if spans[j][0] > spans[i][0] {
				spans[i], spans[j] = spans[j], spans[i]
			}
		}
	}
	out := append([]byte(nil), b...)
	for _, s := range spans {
		out = append(out[:s[0]], append([]byte(maskedValue), out[s[1]:]...)...)
	}
	return out
}

// checkRender asserts the Render contract for one input.
func checkRender(t *testing.T, in []byte, keys Keys, p Ports) {
	t.Helper()
	out, changes := Render(in, keys, p)

	// 1. Outside the managed values, out is in plus at most one block of added lines.
	mi, mo := maskManaged(in, keys), maskManaged(out, keys)
	if !bytes.Equal(mi, mo) {
		pre := 0
		for pre < len(mi) && pre < len(mo) && mi[pre] == mo[pre] {
			pre++
		}
		suf := 0
		for suf < len(mi)-pre && suf < len(mo)-pre && mi[len(mi)-1-suf] == mo[len(mo)-1-suf] {
			suf++
		}
		if pre+suf != len(mi) {
			t.Fatalf("output differs from input outside the managed values and an added block\nin:  %q\nout: %q", in, out)
		}
		block := mo[pre : len(mo)-suf]
		valid := addedBlock(keys)
		ok := false
		// The same insertion can be seen at several offsets when the block's edges repeat
		// the text next to it; accept it if any of them is a well-formed block.
		for shift := 0; shift <= pre && shift <= len(block); shift++ {
			if valid.Match(mo[pre-shift : pre-shift+len(block)]) {
				ok = true
				break
			}
		}
		if !ok {
			t.Fatalf("added text %q is not a block of managed keys\nin:  %q\nout: %q", block, in, out)
		}
	}
	// 2. A BOM stays.
	if bytes.HasPrefix(in, projfile.BOM) != bytes.HasPrefix(out, projfile.BOM) {
		t.Fatalf("BOM added or lost\nin:  %q\nout: %q", in, out)
	}
	// 3. The managed ports read back as asked; an existing host value is untouched.
	got := ParseValues(out, keys)
	if keys.Superserver != "" && p.Superserver > 0 && got.Superserver.Port != p.Superserver {
		t.Fatalf("%s reads back as %+v, want %d\nin:  %q\nout: %q", keys.Superserver, got.Superserver, p.Superserver, in, out)
	}
	if keys.Web != "" && p.Web > 0 && got.Web.Port != p.Web {
		t.Fatalf("%s reads back as %+v, want %d\nin:  %q\nout: %q", keys.Web, got.Web, p.Web, in, out)
	}
	before := ParseValues(in, keys)
	if keys.Host != "" && before.Host.Present && got.Host.Raw != before.Host.Raw {
		t.Fatalf("host value changed from %q to %q", before.Host.Raw, got.Host.Raw)
	}
	if keys.Host != "" && p.Host != "" && !got.Host.Present {
		t.Fatalf("host key %s missing after render\nout: %q", keys.Host, out)
	}
	// 4. Rendering again changes nothing; no change reported means no byte changed.
	if again, ch := Render(out, keys, p); !bytes.Equal(again, out) || len(ch) != 0 {
		t.Fatalf("second render changed the file: %v\nout:   %q\nagain: %q", ch, out, again)
	}
	if (len(changes) == 0) != bytes.Equal(in, out) {
		t.Fatalf("changes %v do not match the bytes (equal %v)", changes, bytes.Equal(in, out))
	}
}

// addedBlock matches what Render may add: an optional line break (file without a
// final newline), an optional comment line, then managed keys with masked values.
func addedBlock(keys Keys) *regexp.Regexp {
	var names []string
	for _, k := range []string{keys.Host, keys.Superserver, keys.Web} {
		if k != "" {
			names = append(names, regexp.QuoteMeta(k))
		}
	}
	return regexp.MustCompile(`^(\r?\n)?(` + regexp.QuoteMeta(ManagedComment) + `\r?\n)?((` +
		strings.Join(names, "|") + `)=` + regexp.QuoteMeta(maskedValue) + `\r?\n)+$`)
}

func FuzzRender(f *testing.F) {
	// Seeds: every golden input, plus the corpus under testdata/fuzz/FuzzRender.
	inputs, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "env", "*", "input.env"))
	for i, path := range inputs {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(1980+i), uint16(52781+i), uint8(i))
	}
	f.Fuzz(func(t *testing.T, in []byte, ss, web uint16, keySet uint8) {
		keys := fuzzKeySets[int(keySet)%len(fuzzKeySets)]
		checkRender(t, in, keys, Ports{Host: "localhost", Superserver: int(ss), Web: int(web)})
	})
}

func TestRenderEnvContractOnTrickyInputs(t *testing.T) {
	inputs := []string{
		"", "\n", "\r\n", "\r", "\ufeff", "\ufeffIRIS_PORT=1", "IRIS_PORT", "IRIS_PORT=", "IRIS_PORT=\"",
		"IRIS_PORT='1\n2'\nIRIS_WEB_PORT=\"\\\"\"\n", "X=\"\nIRIS_PORT=1\n\"\nIRIS_PORT=2",
		"# Managed by iris-helper\n", "# Managed by iris-helper\nIRIS_PORT=1", "IRIS_PORT=1\r\rIRIS_WEB_PORT=2",
		"export IRIS_PORT = 1 # c\nexport IRIS_PORT=2 #c2\n", "IRIS_PORT=\\\"1", "\ufeff\ufeffIRIS_PORT=1\n",
		"IRIS_PORT=1\nIRIS_PORT", "A='x\\'\nIRIS_PORT=1\n'\n",
	}
	for _, s := range inputs {
		for _, keys := range fuzzKeySets {
			for _, p := range []Ports{{Host: "localhost", Superserver: 31001, Web: 31002}, {Superserver: 1}, {Host: "localhost", Web: 65535}} {
				checkRender(t, []byte(s), keys, p)
			}
		}
	}
}

// lastAssignments returns, for each key, the index of its last (winning) assignment: the
// reference the streaming scans (scanForRender, lastAssignmentsOf) are checked against.
func lastAssignments(lines []envLine) map[string]int {
	last := map[string]int{}
	for i, l := range lines {
		if l.isAssignment() {
			last[l.key] = i
		}
	}
	return last
}
