package projfile_test

import (
	"encoding/json"
	"flag"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/projfile"
)

var updateKinds = flag.Bool("update", false, "rewrite testdata/file-kinds.json")

// fileKinds is every kind a message names, by the name the extension's test gives its fake stat.
var fileKinds = []struct {
	name string
	mode fs.FileMode
}{
	{"symlink", fs.ModeSymlink},
	{"directory", fs.ModeDir},
	{"fifo", fs.ModeNamedPipe},
	{"socket", fs.ModeSocket},
	{"charDevice", fs.ModeDevice | fs.ModeCharDevice},
	{"blockDevice", fs.ModeDevice},
	{"regular", 0},
	{"irregular", fs.ModeIrregular},
}

// TestFileKindWords: one wording of file kinds in every message. projfile.Describe (project
// files), registry.DescribeKind (the registry's files: registry is a leaf and keeps its own copy
// of the table) and the extension's describeKind (extension/src/core/projectFile.ts, whose unit
// test reads testdata/file-kinds.json, written here) say the same words, whole.
func TestFileKindWords(t *testing.T) {
	words := map[string]string{}
	for _, k := range fileKinds {
		got := projfile.Describe(k.mode)
		if reg := registry.DescribeKind(k.mode); reg != got {
			t.Errorf("%s: registry.DescribeKind says %q, projfile.Describe %q", k.name, reg, got)
		}
		words[k.name] = got
	}
	b, err := json.MarshalIndent(words, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Golden(t, filepath.Join("..", "..", "testdata", "file-kinds.json"), string(b)+"\n", *updateKinds)
}
