// Package workspacetest holds the test fixtures that workspace's tests and those of its
// subpackages (workspace/dotenv) share, written once.
package workspacetest

import (
	"path/filepath"
	"testing"

	"github.com/iris-helper/iris-helper/registry"
)

// TempDir is t.TempDir with its links resolved (project keys are canonical paths).
func TempDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Registry is a registry in a temp home on the workspace band (31000-31049 / 31500-31549). It only
// reads and writes its file: no test port is bound by it.
func Registry(t testing.TB) *registry.Registry {
	t.Helper()
	reg, err := registry.Open(registry.Options{Home: filepath.Join(TempDir(t), "home"),
		Superserver: &registry.Range{Lo: 31000, Hi: 31049}, Web: &registry.Range{Lo: 31500, Hi: 31549}})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}
