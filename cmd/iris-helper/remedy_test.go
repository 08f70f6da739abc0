package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace"
)

// TestRemedy: the command line's remedy for each typed error that has one, whole (the failures
// the goldens do not produce included); wrapped as the callers wrap them.
func TestRemedy(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("start IRIS for /p: %w", err) }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wrap(&workspace.ConfirmRequiredError{Project: "/p", Container: "iris_x_1"}), "To confirm, run 'iris-helper restart --yes /p'."},
		{wrap(&dockerops.KeepError{Project: "/p", Container: "iris_x_1"}), "To recreate it, run 'iris-helper restart --yes /p'."},
		{&workspace.RunningError{Project: "/p", Starting: true},
			"Stop it first ('iris-helper stop /p'), or run 'iris-helper ports release --force /p' to stop it and release its ports."},
		{&registry.ConflictError{Port: 1972, Holder: "project /q", HolderProject: "/q"}, "To release it, run 'iris-helper ports release /q'."},
		{&registry.ConflictError{Port: 1972, Holder: "another process"}, ""},
		{&registry.NotFoundError{Project: "/p"}, "Run 'iris-helper ports assign' in that folder, or 'iris-helper ports list' to see the assignments."},
		{&registry.NotFoundError{Port: 1972}, "Run 'iris-helper ports list' to see the assignments."},
		{wrap(&dockerops.PullError{Image: "x", Err: errors.New("denied")}), "Or choose another image with --image."},
		{wrap(&dockerops.ExitedError{Container: "iris_x_1", Code: 3}), "See the full output with 'iris-helper logs'."},
		{wrap(&dockerops.NotReadyError{Container: "iris_x_1"}), ""},
		{wrap(&workspace.ComposeConsentError{Project: "/p"}), "To allow them for this project, run 'iris-helper start /p' (an explicit start allows what it lists)."},
		{&workspace.EnvSyncOffError{Project: "/p"}, `To keep .env in step, pass --sync auto or --sync true (or set "env": {"sync": "auto"} in .iris-helper.json).`},
		{wrap(&dockerops.BuildError{Image: "iris-helper/x:local", Log: "/h/builds/x.log"}), "See the whole build output with 'iris-helper logs --build'."},
		{errors.New("anything else"), ""},
	} {
		if got := remedy(tc.err); got != tc.want {
			t.Errorf("remedy(%v):\n got %q\nwant %q", tc.err, got, tc.want)
		}
	}
}

// lastLines is the last n lines of s (without the final newline).
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
