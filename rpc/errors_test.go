package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace"
)

// TestCodeFor: each typed error of registry, dockerops and workspace gets its code, also wrapped
// the way its callers wrap it.
func TestCodeFor(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("start IRIS for /p: %w", err) }
	tests := []struct {
		err  error
		want int64
	}{
		{&dockerops.UnavailableError{Endpoint: "unix:///var/run/docker.sock", Err: errors.New("refused")}, CodeDockerUnavailable},
		{wrap(&registry.ConflictError{Port: 1972, Holder: "/q"}), CodePortConflict},
		{wrap(&dockerops.PortTakenError{Port: 1972, Err: errors.New("taken")}), CodePortConflict},
		{&registry.ExhaustedError{}, CodePortsExhausted},
		{&registry.LockTimeoutError{Path: "/h/registry.lock"}, CodeRegistryLocked},
		{&workspace.ProjectLockError{Path: "/h/locks/x.lock"}, CodeRegistryLocked},
		{&registry.CorruptError{Path: "/h/registry.json", Err: errors.New("bad")}, CodeRegistryCorrupt},
		{&registry.NewerVersionError{Path: "/h/registry.json", Found: 9, Supported: 1}, CodeRegistryCorrupt},
		{wrap(&dockerops.PullError{Image: "x", Err: errors.New("denied")}), CodeStartFailed},
		{wrap(&dockerops.NotReadyError{Container: "iris_x_1"}), CodeStartFailed},
		{wrap(&dockerops.ExitedError{Container: "iris_x_1", Code: 1}), CodeStartFailed},
		{wrap(&dockerops.NameConflictError{Name: "iris_x_1"}), CodeStartFailed},
		{&workspace.RunningError{Project: "/p", Container: "iris_x_1"}, CodeContainerRunning},
		{&workspace.ConfigError{Path: "/p/.iris-helper.json", Field: "image", Msg: "bad"}, CodeOpenProject},
		{&workspace.ConfirmRequiredError{Container: "iris_x_1"}, CodeConfirmRequired},
		{wrap(&dockerops.KeepError{Container: "iris_x_1"}), CodeConfirmRequired},
		{fmt.Errorf("open project /p: %w", &registry.AccessError{Path: "/h/registry.json"}), CodeRegistryAccess},
		{&registry.HomeError{Path: "/h"}, CodeRegistryAccess},
		{wrap(&workspace.ComposeConsentError{Project: "/p"}), CodeConsentRequired},
		{&workspace.NetworkBindError{Address: "0.0.0.0"}, CodeInternalError}, // iris/start answers it as CodeStartFailed
		{errors.New("anything else"), CodeInternalError},
	}
	for _, tc := range tests {
		if got := codeFor(tc.err); got != tc.want {
			t.Errorf("codeFor(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestToRPCError: the whole error answer (code, message, error.data) for each kind of failure,
// without a connection.
func TestToRPCError(t *testing.T) {
	st := workspace.Status{Project: "/p", State: workspace.StateStopped}
	now := workspace.Status{Project: "/p", State: workspace.StateReady}
	current := func() *workspace.Status { return &now }
	stJSON, _ := json.Marshal(st)
	nowJSON, _ := json.Marshal(now)
	confirm := &workspace.ConfirmRequiredError{Project: "/p", Container: "iris_x_1", Reason: "host port 1972 is taken", NotOnVolume: "it was created with durable off"}
	keep := &dockerops.KeepError{Container: "iris_x_1", Reason: "it was created with image a instead of b", NotOnVolume: "it was created with durable off"}
	bind := &workspace.NetworkBindError{Address: "0.0.0.0", File: "/p/.iris-helper.json"}
	exhausted := &registry.ExhaustedError{}
	exhaustedText := exhausted.Error() + `. To free a slot, run "IRIS: Release Port" in one of the projects listed.`
	own := &jsonrpc2.Error{Code: CodeNoProject, Message: "no workspace folder"}
	consent := &workspace.ComposeConsentError{Project: "/p", Items: []workspace.ConsentItem{
		{ID: "bind:iris:/home/ada/iris.key", Service: "iris", Text: "service iris mounts /home/ada/iris.key (outside the project)"},
		{ID: "privileged:tools:", Service: "tools", Text: "service tools runs privileged"}}}
	tests := []struct {
		name    string
		err     error
		current func() *workspace.Status
		code    int64
		message string
		data    string // "" = no error.data
	}{
		{"an answer made by the server", fmt.Errorf("x: %w", own), current, CodeNoProject, "no workspace folder", ""},
		{"params", &fieldError{Field: "params.remove", Msg: "expected a boolean, got string"}, current, CodeInvalidParams,
			"invalid params: params.remove: expected a boolean, got string", ""},
		{"no typed error", errors.New("boom"), current, CodeInternalError, "boom", ""},
		{"a typed error, with its status", &opError{err: exhausted, status: &st}, current, CodePortsExhausted, exhaustedText,
			`{"status":` + string(stJSON) + `}`},
		{"no status: the current one", &opError{err: exhausted}, current, CodePortsExhausted, exhaustedText,
			`{"status":` + string(nowJSON) + `}`},
		{"no status and no project", &opError{err: exhausted}, func() *workspace.Status { return nil }, CodePortsExhausted, exhaustedText, ""},
		{"a failed start without a typed error", &opError{err: errors.New("boom"), status: &st, code: CodeStartFailed}, current, CodeStartFailed, "boom",
			`{"status":` + string(stJSON) + `}`},
		{"a typed error's code wins over the start's", &opError{err: exhausted, status: &st, code: CodeStartFailed}, current, CodePortsExhausted,
			exhaustedText, `{"status":` + string(stJSON) + `}`},
		{"a start cancelled by a stop, whatever the error", &opError{err: &dockerops.UnavailableError{Endpoint: "unix:///x", Err: errors.New("gone")},
			status: &st, code: CodeStartInterrupted}, current, CodeStartInterrupted, (&dockerops.UnavailableError{Endpoint: "unix:///x", Err: errors.New("gone")}).Error(),
			`{"status":` + string(stJSON) + `}`},
		{"confirmation required", &opError{err: confirm, status: &st}, current, CodeConfirmRequired, confirm.Error(),
			`{"status":` + string(stJSON) + `,"container":"iris_x_1","reason":"host port 1972 is taken"}`},
		{"a kept container", &opError{err: fmt.Errorf("start IRIS for /p: %w", keep)}, current, CodeConfirmRequired, "start IRIS for /p: " + keep.Error(),
			`{"status":` + string(nowJSON) + `,"container":"iris_x_1","reason":"it was created with image a instead of b"}`},
		{"confirmation required outside a project operation", confirm, current, CodeConfirmRequired, confirm.Error(),
			`{"container":"iris_x_1","reason":"host port 1972 is taken"}`},
		{"consent required: the items, no remedy (the extension asks)", &opError{err: consent, status: &st, code: CodeStartFailed}, current, CodeConsentRequired,
			"the compose project of /p does what a repository's files may not do on their own:\n  - service iris mounts /home/ada/iris.key (outside the project)\n  - service tools runs privileged",
			`{"status":` + string(stJSON) + `,"items":[{"id":"bind:iris:/home/ada/iris.key","service":"iris","text":"service iris mounts /home/ada/iris.key (outside the project)"},{"id":"privileged:tools:","service":"tools","text":"service tools runs privileged"}]}`},
		{"a network bind refused: the editor's remedy", &opError{err: bind, status: &st, code: CodeStartFailed}, current, CodeStartFailed,
			bind.Error() + ". To allow it, turn on irisHelper.allowNetworkBind in your user settings (not the workspace's) and restart the helper.", `{"status":` + string(stJSON) + `}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := toRPCError(tc.err, tc.current)
			if got.Code != tc.code {
				t.Errorf("code %d, want %d", got.Code, tc.code)
			}
			if got.Message != tc.message {
				t.Errorf("message:\n got %s\nwant %s", got.Message, tc.message)
			}
			data := ""
			if got.Data != nil {
				data = string(*got.Data)
			}
			if data != tc.data {
				t.Errorf("data:\n got %s\nwant %s", data, tc.data)
			}
		})
	}
}

// TestRemedy: the editor's remedy for each typed error that has one, whole, by the extension's
// command titles and settings; wrapped as the callers wrap them.
func TestRemedy(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("start IRIS for /p: %w", err) }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wrap(&workspace.ConfirmRequiredError{Project: "/p", Container: "iris_x_1"}), `To recreate it, run "IRIS: Restart" (it asks first).`},
		{wrap(&dockerops.KeepError{Project: "/p", Container: "iris_x_1"}), `To recreate it, run "IRIS: Restart" (it asks first).`},
		{&workspace.RunningError{Project: "/p", Starting: true}, `Stop it first ("IRIS: Stop"), or choose "Stop and Release".`},
		{&registry.ConflictError{Port: 1972, Holder: "project /q", HolderProject: "/q"}, `To release it, run "IRIS: Release Port" in /q.`},
		{&registry.ConflictError{Port: 1972, Holder: "another process"}, ""},
		{&registry.NotFoundError{Project: "/p"}, `Run "IRIS: Show Ports" to see the assignments.`},
		{wrap(&dockerops.PullError{Image: "x", Err: errors.New("denied")}), "Or choose another image with the irisHelper.image setting."},
		{wrap(&dockerops.ExitedError{Container: "iris_x_1", Code: 3}), "See the full output with `docker logs iris_x_1`."},
		{wrap(&dockerops.BuildError{Image: "iris-helper/x:local", Log: "/h/builds/x.log"}), "The whole build output is in /h/builds/x.log."},
		{wrap(&dockerops.BuildError{Image: "iris-helper/x:local"}), ""},
		{wrap(&dockerops.NotReadyError{Container: "iris_x_1"}), ""},
		{wrap(&workspace.ComposeConsentError{Project: "/p"}), `To allow them for this project, run "IRIS: Start" and choose "Allow and Start".`},
		{&workspace.EnvSyncOffError{Project: "/p"}, `To keep .env in step, set "env": {"sync": "auto"} in .iris-helper.json, or the irisHelper.syncEnv setting when the file does not say.`},
		{errors.New("anything else"), ""},
	} {
		if got := remedy(tc.err); got != tc.want {
			t.Errorf("remedy(%v):\n got %q\nwant %q", tc.err, got, tc.want)
		}
	}
}
