package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The import rules of docs/architecture.md ("Import rules"), for non-test code, checked on every
// GOOS the binary is built for (some files are per-OS). A package's rule is its top-level tree's
// (workspace/projfile follows workspace). Within its own tree a package imports freely; a test
// helper (a path element ending in "test", such as dockerops/dockertest) may also import its
// parent, and no other package may import a test helper.
var importRules = map[string][]string{ // tree -> the other trees it may import
	"registry":  nil,
	"dockerops": nil,
	"workspace": {"registry", "dockerops"},
	"rpc":       {"workspace", "registry", "dockerops"},
	"cmd":       {"rpc", "workspace", "registry", "dockerops"},
}

const modulePath = "github.com/iris-helper/iris-helper"

func TestImportRules(t *testing.T) {
	var bad []string
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, p := range listPackages(t, goos) {
			from, ok := strings.CutPrefix(p.ImportPath, modulePath+"/")
			if !ok {
				t.Fatalf("%s: package %s is outside the module", goos, p.ImportPath)
			}
			tree := strings.Split(from, "/")[0]
			may, ok := importRules[tree]
			if !ok {
				bad = append(bad, goos+": "+from+" is in a tree without an import rule (add it to docs/architecture.md and this test)")
				continue
			}
			for _, imp := range p.Imports {
				to, ok := strings.CutPrefix(imp, modulePath+"/")
				if !ok {
					continue
				}
				if why := importViolation(from, to, may); why != "" {
					bad = append(bad, goos+": "+from+" imports "+to+": "+why)
				}
			}
		}
	}
	slices.Sort(bad)
	if bad = slices.Compact(bad); len(bad) > 0 {
		t.Errorf("import rules of docs/architecture.md broken:\n%s", strings.Join(bad, "\n"))
	}
}

// importViolation says why package from (whose tree may import the trees in may) must not import
// package to, or "" when it may. Both are paths inside the module.
func importViolation(from, to string, may []string) string {
	fromTree, toTree := strings.Split(from, "/")[0], strings.Split(to, "/")[0]
	if testHelper(to) && !testHelper(from) {
		return "test support in product code"
	}
	if fromTree == toTree || slices.Contains(may, toTree) {
		return ""
	}
	if len(may) == 0 {
		return fromTree + " imports nothing of the module"
	}
	return fromTree + " may import only " + strings.Join(may, ", ")
}

func testHelper(pkg string) bool {
	return slices.ContainsFunc(strings.Split(pkg, "/"), func(e string) bool { return strings.HasSuffix(e, "test") })
}

type listedPackage struct {
	ImportPath string
	Imports    []string // non-test imports
}

// listPackages lists the module's packages as built for goos (go list, run from the module root).
func listPackages(t *testing.T, goos string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", modulePath+"/...")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("GOOS=%s go list: %v\n%s", goos, err, stderr.Bytes())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("GOOS=%s go list output: %v", goos, err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatalf("GOOS=%s go list found no packages", goos)
	}
	return pkgs
}

// The rule itself, on the cases docs/architecture.md names.
func TestImportViolation(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		{"registry", "dockerops", "registry imports nothing of the module"},
		{"dockerops", "registry", "dockerops imports nothing of the module"},
		{"dockerops", "workspace", "dockerops imports nothing of the module"},
		{"workspace", "rpc", "workspace may import only registry, dockerops"},
		{"workspace/projfile", "cmd/iris-helper", "workspace may import only registry, dockerops"},
		{"rpc", "cmd/iris-helper", "rpc may import only workspace, registry, dockerops"},
		{"rpc", "dockerops/dockertest", "test support in product code"},
		{"cmd/iris-helper", "dockerops/dockertest", "test support in product code"},
		{"rpc", "rpc/rpctest", "test support in product code"},
		{"workspace", "rpc/rpctest", "test support in product code"},
		{"dockerops/dockertest", "dockerops", ""},
		{"dockerops/dockertest/cmd/buildstub", "dockerops/dockertest", ""},
		{"dockerops/dockertest", "workspace", "dockerops imports nothing of the module"},
		{"workspace", "workspace/projfile", ""},
		{"workspace", "dockerops", ""},
		{"rpc", "workspace", ""},
		{"cmd/iris-helper", "rpc", ""},
	} {
		if got := importViolation(tc.from, tc.to, importRules[strings.Split(tc.from, "/")[0]]); got != tc.want {
			t.Errorf("%s imports %s: got %q, want %q", tc.from, tc.to, got, tc.want)
		}
	}
}
