package rpc

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/iris-helper/iris-helper/workspace"
)

// call is one request as its handler sees it.
type call struct {
	method string
	params *json.RawMessage
	// field names the params in errors: "params", or "params.arguments[0]" for a command's
	// argument.
	field string
	// attempt is the initialize the request arrived in (initialize's own, for initialize).
	attempt *initAttempt
}

// handler runs one request.
type handler func(s *server, ctx context.Context, c call) (any, error)

// method is one request the helper answers. The table methods is the one place that names
// them: Handle takes a request in its states, dispatch runs its handler, the
// executeCommandProvider advertises its command, docs/protocol.md and docs/editors.md list them
// (TestDocsListTheMethods) and testdata/protocol/methods.json gives them to the extension.
type method struct {
	name string
	// command is the workspace/executeCommand command that runs the same handler; "" for none.
	command string
	// states are the lifecycle states in which the request is taken (lifecycle.go); in any other
	// the reader refuses it at once.
	states stateSet
	run    handler
}

// methods are the requests the helper answers, commands in the order they are advertised.
var methods = []method{
	{name: MethodInitialize, states: initializeStates, run: (*server).initialize},
	{name: MethodShutdown, states: shutdownStates, run: func(s *server, _ context.Context, _ call) (any, error) { return s.doShutdown(), nil }},
	{name: MethodStart, command: "iris.start", states: requestStates, run: withProject((*server).runStart)},
	{name: MethodStop, command: "iris.stop", states: requestStates, run: withProject((*server).runStop)},
	{name: MethodRestart, command: "iris.restart", states: requestStates, run: withProject((*server).runStart)},
	{name: MethodStatus, command: "iris.status", states: requestStates, run: withProject((*server).runStatus)},
	{name: MethodPorts, command: "iris.ports", states: requestStates, run: withProject((*server).runPorts)},
	{name: MethodRelease, command: "iris.release", states: requestStates, run: withProject((*server).runRelease)},
	{name: MethodExecuteCommand, states: requestStates, run: (*server).executeCommand},
}

// Indexes of the table, filled by init (the handlers use them, so they cannot be initializers).
var (
	methodsByName    = map[string]*method{}
	methodsByCommand = map[string]*method{}
	commandList      []string // the commands in the table's order
)

func init() {
	for i := range methods {
		m := &methods[i]
		methodsByName[m.name] = m
		if m.command != "" {
			methodsByCommand[m.command] = m
			commandList = append(commandList, m.command)
		}
	}
}

// unknownMethod answers a method the table does not name, in the states of any request.
var unknownMethod = method{states: requestStates, run: func(_ *server, _ context.Context, c call) (any, error) {
	return nil, &jsonrpc2.Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("method not found: %s", c.method)}
}}

// lookupMethod is the table's entry for name, or unknownMethod.
func lookupMethod(name string) *method {
	if m, ok := methodsByName[name]; ok {
		return m
	}
	return &unknownMethod
}

// Commands are the executeCommandProvider commands, in the order they are advertised.
func Commands() []string {
	return append([]string(nil), commandList...)
}

// methodList is the method set as testdata/protocol/methods.json gives it to the extension.
type methodList struct {
	// Requests are the requests the helper answers (client → helper), with their command.
	Requests []methodInfo `json:"requests"`
	// HelperSends are the notifications (and the one request) the helper sends (helper → client).
	HelperSends []string `json:"helperSends"`
}

type methodInfo struct {
	Method  string `json:"method"`
	Command string `json:"command,omitempty"`
}

// helperSends are the methods the helper sends (protocol.go).
var helperSends = []string{MethodStatus, MethodShowMessage, MethodLogMessage, MethodProgressCreate, MethodProgress}

func listMethods() methodList {
	l := methodList{HelperSends: helperSends}
	for _, m := range methods {
		l.Requests = append(l.Requests, methodInfo{Method: m.name, Command: m.command})
	}
	return l
}

// executeCommand runs a command's method with the command's one argument as its params.
func (s *server) executeCommand(ctx context.Context, c call) (any, error) {
	var p ExecuteCommandParams
	if err := decodeParams(c.params, "params", &p); err != nil {
		return nil, err
	}
	m, ok := methodsByCommand[p.Command]
	if !ok {
		return nil, &fieldError{Field: "params.command", Msg: fmt.Sprintf("unknown command %q; the helper runs %v", p.Command, Commands())}
	}
	var args *json.RawMessage
	if len(p.Arguments) > 1 {
		return nil, &fieldError{Field: "params.arguments", Msg: fmt.Sprintf("%s takes at most one argument (an object), got %d", p.Command, len(p.Arguments))}
	}
	if len(p.Arguments) == 1 {
		args = &p.Arguments[0]
	}
	return m.run(s, ctx, call{method: m.name, params: args, field: "params.arguments[0]", attempt: c.attempt})
}

// projectHandler runs a request on the project.
type projectHandler func(s *server, ctx context.Context, p Project, c call) (any, error)

// withProject answers CodeNoProject when the client opened no folder, else runs h.
func withProject(h projectHandler) handler {
	return func(s *server, ctx context.Context, c call) (any, error) {
		s.mu.Lock()
		p := s.project
		s.mu.Unlock()
		if p == nil {
			return nil, &jsonrpc2.Error{Code: CodeNoProject,
				Message: "no workspace folder: the editor opened no folder, so there is no project; open a folder and restart the helper"}
		}
		return h(s, ctx, p, c)
	}
}

func (s *server) runStatus(ctx context.Context, p Project, c call) (any, error) {
	var none struct{}
	if err := decodeParams(c.params, c.field, &none); err != nil {
		return nil, err
	}
	return p.Status(ctx), nil
}

// runStart is iris/start and iris/restart.
func (s *server) runStart(ctx context.Context, p Project, c call) (any, error) {
	var sp StartParams
	if err := decodeParams(c.params, c.field, &sp); err != nil {
		return nil, err
	}
	if sp.Container != "" && !sp.Confirm {
		return nil, &fieldError{Field: c.field + ".container", Msg: "container names the confirmed container and needs confirm: true"}
	}
	confirm := ""
	if sp.Confirm && c.method == MethodRestart {
		confirm = sp.Container
		if confirm == "" {
			s.mu.Lock()
			confirm = s.confirmAsked
			s.mu.Unlock()
		}
	}
	if sp.Build && c.method == MethodRestart {
		return nil, &fieldError{Field: c.field + ".build", Msg: "build is a param of iris/start (a rebuild), not of iris/restart"}
	}
	return s.start(ctx, p, c.method == MethodRestart, confirm, sp.Build, workspace.ConsentChoice{IDs: sp.Allow}, sp.WorkDoneToken)
}

func (s *server) runStop(ctx context.Context, p Project, c call) (any, error) {
	var sp StopParams
	if err := decodeParams(c.params, c.field, &sp); err != nil {
		return nil, err
	}
	if sp.Purge && !sp.Remove {
		return nil, &fieldError{Field: c.field + ".purge", Msg: "purge deletes the data volume and needs remove: true"}
	}
	s.mu.Lock()
	s.stopSeq++
	s.mu.Unlock()
	st, vols, err := p.StopVolumes(ctx, workspace.StopOptions{Remove: sp.Remove, Purge: sp.Purge})
	if err != nil {
		return nil, &opError{err: err, status: &st}
	}
	return StopResult{Status: st, RemovedVolumes: vols}, nil
}

func (s *server) runPorts(ctx context.Context, p Project, c call) (any, error) {
	var none struct{}
	if err := decodeParams(c.params, c.field, &none); err != nil {
		return nil, err
	}
	list, err := p.Ports(ctx)
	if err != nil {
		return nil, &opError{err: err}
	}
	if list.Assignments == nil {
		list.Assignments = []workspace.PortEntry{}
	}
	return PortsResult(list), nil
}

func (s *server) runRelease(ctx context.Context, p Project, c call) (any, error) {
	var rp ReleaseParams
	if err := decodeParams(c.params, c.field, &rp); err != nil {
		return nil, err
	}
	a, err := p.Release(ctx, workspace.ReleaseOptions{Force: rp.Force, Purge: rp.Purge})
	if err != nil {
		return nil, &opError{err: err}
	}
	return ReleaseResult{Released: a}, nil
}

// start runs a start or restart with progress reporting (progress.go).
// confirm names the container the user agreed may be recreated (restart only).
// consent is what the user allowed in the editor's dialog (iris/start's allow); none for the
// automatic start, which therefore never runs a compose project beyond the allow-list.
func (s *server) start(ctx context.Context, p Project, restart bool, confirm string, build bool, consent workspace.ConsentChoice, token json.RawMessage) (workspace.Status, error) {
	s.mu.Lock()
	stopSeq := s.stopSeq
	s.mu.Unlock()
	prog := s.beginProgress(ctx, token, startTitle(restart))
	var st workspace.Status
	var err error
	if restart {
		st, err = p.RestartWith(ctx, workspace.RestartOptions{Confirm: confirm, Consent: consent}, prog.report)
	} else {
		st, err = p.StartWith(ctx, workspace.StartOptions{Build: build, Consent: consent}, prog.report)
	}
	if asked := confirmContainer(err); asked != "" {
		s.mu.Lock()
		s.confirmAsked = asked
		s.mu.Unlock()
	}
	switch {
	case err == nil:
		prog.succeeded(st)
		return st, nil
	case ctx.Err() != nil:
		prog.cancelled()
		return st, ctx.Err()
	default:
		s.mu.Lock()
		stopped := s.stopSeq != stopSeq
		s.mu.Unlock()
		prog.failed(err)
		if stopped {
			return st, &opError{err: err, status: &st, code: CodeStartInterrupted}
		}
		return st, &opError{err: err, status: &st, code: CodeStartFailed}
	}
}
