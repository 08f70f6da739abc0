package rpc

import (
	"errors"
	"fmt"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace"
)

// opError is a failed project operation with the status to attach as error.data.
type opError struct {
	err    error
	status *workspace.Status
	code   int64 // 0 = derived from err
}

func (e *opError) Error() string { return e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// rpcError is the error answer to err, with the project's current status when err carries none.
func (s *server) rpcError(err error) *jsonrpc2.Error {
	return toRPCError(err, s.currentStatus)
}

// currentStatus is the project's status now; nil when the client opened no folder.
func (s *server) currentStatus() *workspace.Status {
	s.mu.Lock()
	p := s.project
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	fresh := p.Status(s.ctx)
	return &fresh
}

// toRPCError gives every error an explicit code (see codes.go) and its remedy in the editor's
// words. An *opError without a status gets current()'s (nil: none) as error.data.
func toRPCError(err error, current func() *workspace.Status) *jsonrpc2.Error {
	var re *jsonrpc2.Error
	if errors.As(err, &re) {
		return re
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return &jsonrpc2.Error{Code: CodeInvalidParams, Message: "invalid params: " + fe.Error()}
	}
	out := &jsonrpc2.Error{Code: codeFor(err), Message: err.Error()}
	// A CodeConfirmRequired answer is the extension's cue to ask (a modal with the container's
	// name), so it carries no remedy; the same error as a message (the auto-start) does.
	if r := remedy(err); r != "" && out.Code != CodeConfirmRequired && out.Code != CodeConsentRequired {
		out.Message += ". " + r
	}
	var data ErrorData
	var confirm *workspace.ConfirmRequiredError
	var keep *dockerops.KeepError
	var consent *workspace.ComposeConsentError
	switch {
	case errors.As(err, &confirm):
		data.Container, data.Reason = confirm.Container, confirm.Reason
	case errors.As(err, &keep):
		data.Container, data.Reason = keep.Container, keep.Reason
	case errors.As(err, &consent):
		data.Items = consent.Items
	}
	var oe *opError
	if errors.As(err, &oe) {
		if oe.code != 0 && out.Code == CodeInternalError {
			out.Code = oe.code
		}
		if oe.code == CodeStartInterrupted {
			out.Code = oe.code
		}
		st := oe.status
		if st == nil && current != nil {
			st = current()
		}
		data.Status = st
	}
	if data.Status != nil || data.Container != "" || data.Items != nil {
		out.SetError(data)
	}
	return out
}

// codeFor maps the typed errors of registry, dockerops and workspace to error codes.
func codeFor(err error) int64 {
	var (
		unavailable *dockerops.UnavailableError
		taken       *dockerops.PortTakenError
		pull        *dockerops.PullError
		notReady    *dockerops.NotReadyError
		exited      *dockerops.ExitedError
		nameTaken   *dockerops.NameConflictError
		conflict    *registry.ConflictError
		exhausted   *registry.ExhaustedError
		locked      *registry.LockTimeoutError
		corrupt     *registry.CorruptError
		newer       *registry.NewerVersionError
		running     *workspace.RunningError
		config      *workspace.ConfigError
		confirm     *workspace.ConfirmRequiredError
		keep        *dockerops.KeepError
		projLock    *workspace.ProjectLockError
		access      *registry.AccessError
		home        *registry.HomeError
		consent     *workspace.ComposeConsentError
	)
	switch {
	case errors.As(err, &unavailable):
		return CodeDockerUnavailable
	case errors.As(err, &conflict), errors.As(err, &taken):
		return CodePortConflict
	case errors.As(err, &exhausted):
		return CodePortsExhausted
	case errors.As(err, &locked), errors.As(err, &projLock):
		return CodeRegistryLocked
	case errors.As(err, &corrupt), errors.As(err, &newer):
		return CodeRegistryCorrupt
	case errors.As(err, &pull), errors.As(err, &notReady), errors.As(err, &exited), errors.As(err, &nameTaken):
		return CodeStartFailed
	case errors.As(err, &running):
		return CodeContainerRunning
	case errors.As(err, &config):
		return CodeOpenProject
	case errors.As(err, &confirm), errors.As(err, &keep):
		return CodeConfirmRequired
	case errors.As(err, &access), errors.As(err, &home):
		return CodeRegistryAccess
	case errors.As(err, &consent):
		return CodeConsentRequired
	}
	return CodeInternalError
}

// remedy words, for the editor, what the user can do about err (workspace.RemedyFor), by the
// titles of the extension's commands and settings (extension/package.json); "" when the library's
// message says all there is. The error answer and window/showMessage append it once, as a sentence
// of its own. The command line's words for the same errors are cmd/iris-helper's remedy.
func remedy(err error) string {
	r := workspace.RemedyFor(err)
	switch r.Kind {
	case workspace.RemedyAllow:
		return fmt.Sprintf("To allow it, turn on %s in your user settings (not the workspace's) and restart the helper.", r.Knob.EditorSetting())
	case workspace.RemedyConfirm, workspace.RemedyRecreate:
		// a start (the auto-start) kept a container whose data is not on a volume
		return "To recreate it, run \"IRIS: Restart\" (it asks first)."
	case workspace.RemedyStopOrForce:
		return "Stop it first (\"IRIS: Stop\"), or choose \"Stop and Release\"."
	case workspace.RemedyReleaseHolder:
		return fmt.Sprintf("To release it, run \"IRIS: Release Port\" in %s.", r.Project)
	case workspace.RemedyFreeSlot:
		return "To free a slot, run \"IRIS: Release Port\" in one of the projects listed."
	case workspace.RemedyAssignOrList, workspace.RemedyListAssignments:
		return "Run \"IRIS: Show Ports\" to see the assignments."
	case workspace.RemedyOtherImage:
		return "Or choose another image with the irisHelper.image setting."
	case workspace.RemedyShowOutput:
		return fmt.Sprintf("See the full output with `docker logs %s`.", r.Container)
	case workspace.RemedyAllowCompose:
		return "To allow them for this project, run \"IRIS: Start\" and choose \"Allow and Start\"."
	case workspace.RemedySyncOn:
		return "To keep .env in step, set \"env\": {\"sync\": \"auto\"} in .iris-helper.json, or the irisHelper.syncEnv setting when the file does not say."
	case workspace.RemedyStartExplicitly:
		return "To start it anyway, run \"IRIS: Start\"."
	case workspace.RemedyShowBuildLog:
		if r.Path == "" {
			return ""
		}
		return fmt.Sprintf("The whole build output is in %s.", r.Path)
	}
	return ""
}

// confirmContainer is the container a CodeConfirmRequired answer to err names ("" for none).
func confirmContainer(err error) string {
	var confirm *workspace.ConfirmRequiredError
	var keep *dockerops.KeepError
	switch {
	case errors.As(err, &confirm):
		return confirm.Container
	case errors.As(err, &keep):
		return keep.Container
	}
	return ""
}
