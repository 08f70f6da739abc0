package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace"
)

// Project is what the server needs of a project; *workspace.Project satisfies it.
type Project interface {
	Root() workspace.Root
	Status(ctx context.Context) workspace.Status
	StartWith(ctx context.Context, opts workspace.StartOptions, progress func(dockerops.Progress)) (workspace.Status, error)
	Stop(ctx context.Context, opts workspace.StopOptions) (workspace.Status, error)
	StopVolumes(ctx context.Context, opts workspace.StopOptions) (workspace.Status, []string, error)
	RestartWith(ctx context.Context, opts workspace.RestartOptions, progress func(dockerops.Progress)) (workspace.Status, error)
	Release(ctx context.Context, opts workspace.ReleaseOptions) (registry.Assignment, error)
	Ports(ctx context.Context) (workspace.PortList, error)
	Watch(ctx context.Context, onStatus func(workspace.Status), onMessage func(workspace.Message)) error
	// CheckAutoStart: nil when the auto-start may run the project (*workspace.AutoStartRefusedError
	// otherwise: a compose project published beyond loopback).
	CheckAutoStart(ctx context.Context) error
}

var _ Project = (*workspace.Project)(nil)

// OpenFunc opens the project that holds dir.
type OpenFunc func(ctx context.Context, dir string, opts workspace.ProjectOptions) (Project, error)

// OpenWorkspaceProject opens a real workspace.Project.
func OpenWorkspaceProject(ctx context.Context, dir string, opts workspace.ProjectOptions) (Project, error) {
	p, err := workspace.OpenProject(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Options configure Serve. Every field is optional.
type Options struct {
	Version string       // serverInfo.version
	Logger  *slog.Logger // nil = discard
	// Open opens the project; nil = OpenWorkspaceProject.
	Open OpenFunc
	// Project holds the base options for Open (Registry, Engine, ReadyTimeout...); the editor's
	// initializationOptions fill EditorImage, BindAddress and EditorSync.
	Project workspace.ProjectOptions
	// ParentCheck is how often the client process named in initialize.processId is checked;
	// 0 = 2 s.
	ParentCheck time.Duration
	// MaxBody caps a frame's body; 0 = MaxBodySize.
	MaxBody int64
	// ClientProcessID, when > 0, is watched like initialize.processId from the start
	// (the --clientProcessId flag some clients pass).
	ClientProcessID int
	// WriteTimeout: output blocked this long (a client that does not read) ends the session as
	// when the client closes its end; 0 = DefaultWriteTimeout (30 s).
	WriteTimeout time.Duration
	// OutputQueue bounds the bytes of frames waiting for the client to read them;
	// 0 = DefaultQueueBytes (4 MiB).
	OutputQueue int
}

// MaxInFlight is how many requests run at once; a request past that is answered at once with
// CodeRequestFailed (the first shutdown is always run).
const MaxInFlight = 64

// Exit codes of Serve.
const (
	ExitOK         = 0 // exit after shutdown, end of input, or the client process gone
	ExitNoShutdown = 1 // exit without shutdown
)

// shutdownGrace bounds how long shutdown waits for a stopOnExit stop to reach the engine.
const shutdownGrace = time.Second

// endGrace bounds how long Serve waits for its goroutines once the session has ended.
const endGrace = 3 * time.Second

// Serve speaks the protocol on r/w until the client sends exit, the input ends, the client
// process disappears or ctx is done, and returns the process exit code. See docs/protocol.md.
func Serve(ctx context.Context, r io.Reader, w io.Writer, opts Options) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := newServer(ctx, r, w, opts)
	opts = s.opts
	if opts.ClientProcessID > 0 {
		s.spawn(func() { s.watchParent(opts.ClientProcessID) })
	}

	code := ExitOK
	reason := ""
	select {
	case code = <-s.exit:
		reason = "exit notification"
	case <-s.conn.DisconnectNotify():
		reason = "end of input"
	case <-s.parent:
		reason = "client process gone"
	case <-s.stream.Broken():
		// EPIPE (the client closed its end) or a client that stopped reading: the end of the
		// session, as at the end of input.
		reason = "client output gone"
		s.log.Warn("cannot write to the client; ending the session", "err", s.stream.Err())
	case <-ctx.Done():
		reason = "cancelled"
	}
	s.log.Info("helper stopping", "reason", reason, "code", code)
	s.mu.Lock()
	shutdown, stopOnExit, p := s.life.shutDown(), s.stopOnExit, s.project
	s.mu.Unlock()
	if !shutdown && stopOnExit && p != nil {
		// The editor went away without shutdown: still honour stopOnExit, briefly.
		s.requestStop(p)
	}
	cancel()
	_ = s.conn.Close()
	// Handlers end with ctx; only a write to a client that stopped reading can hang: do not wait
	// for it forever.
	grace, cancelGrace := context.WithTimeout(context.Background(), endGrace)
	defer cancelGrace()
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-grace.Done():
		s.log.Warn("ending with requests still writing to a client that does not read")
	}
	// What was queued before the end (answers to the last frames) still reaches the client.
	select {
	case <-s.stream.Drained():
	case <-s.stream.Broken():
	case <-grace.Done():
		s.log.Warn("ending with answers the client has not read")
	}
	return code
}

// newServer starts a connection on r/w that lives until ctx is done.
func newServer(ctx context.Context, r io.Reader, w io.Writer, opts Options) *server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Open == nil {
		opts.Open = OpenWorkspaceProject
	}
	if opts.ParentCheck <= 0 {
		opts.ParentCheck = 2 * time.Second
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &server{
		opts:     opts,
		log:      opts.Logger,
		ctx:      ctx,
		exit:     make(chan int, 1),
		parent:   make(chan struct{}),
		ready:    make(chan struct{}),
		inflight: map[string]*inflight{},
	}
	s.stream = NewStream(r, w, nil, StreamOptions{MaxBody: opts.MaxBody, Logger: opts.Logger, WriteTimeout: opts.WriteTimeout, QueueBytes: opts.OutputQueue})
	s.conn = jsonrpc2.NewConn(ctx, s.stream, s, jsonrpc2.SetLogger(slogPrinter{opts.Logger}))
	close(s.ready)
	return s
}

// inflight is a running request.
type inflight struct{ cancel context.CancelFunc }

// server is one connection's state.
type server struct {
	opts   Options
	log    *slog.Logger
	ctx    context.Context // the connection's lifetime
	conn   *jsonrpc2.Conn
	stream *Stream
	wg     sync.WaitGroup // handler, watcher and auto-start goroutines

	exit     chan int
	parent   chan struct{} // closed when the client process is gone
	goneOnce sync.Once
	ready    chan struct{} // closed once conn is set

	mu            sync.Mutex
	life          lifecycle // lifecycle.go
	project       Project   // nil: no folder
	autoStart     bool
	stopOnExit    bool
	workDone      bool                 // client supports window.workDoneProgress
	inflight      map[string]*inflight // running requests by id
	running       int                  // requests running (ids may repeat: not len(inflight))
	stopSeq       int                  // incremented by every stop, to tell a start cancelled by a stop
	autoPending   bool                 // the auto-start failed because the engine was down: retry on recovery
	lastState     workspace.State      // the last state other than starting (onStatus)
	lastRestart   bool
	progressSeq   int
	exposureShown bool   // the "reachable from the network" warning was shown (once per session)
	confirmAsked  string // the container named in the last CodeConfirmRequired answer
}

// spawn runs f on the server's wait group.
func (s *server) spawn(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Handle implements jsonrpc2.Handler. It runs on the connection's reader: bookkeeping is done
// here, in order; everything that waits runs in its own goroutine.
func (s *server) Handle(_ context.Context, _ *jsonrpc2.Conn, req *jsonrpc2.Request) {
	<-s.ready
	s.log.Debug("received", "method", req.Method, "id", req.ID.String(), "notification", req.Notif)
	if req.Notif {
		s.handleNotification(req)
		return
	}
	m := lookupMethod(req.Method)
	s.mu.Lock()
	moved, refusal := s.life.request(req.Method, m.states)
	// The first shutdown and initialize move the lifecycle and are never refused as too many.
	full := refusal == nil && !moved && s.running >= MaxInFlight
	attempt := s.life.attempt
	s.mu.Unlock()
	// Answers given here are refusals sent without waiting (ReplyNow): the reader must go on
	// reading whatever the client does, so that $/cancelRequest, shutdown and exit get through.
	switch {
	case refusal != nil:
		s.stream.ReplyNow(req.ID, refusal)
		return
	case full:
		s.stream.ReplyNow(req.ID, &jsonrpc2.Error{Code: CodeRequestFailed,
			Message: fmt.Sprintf("%s refused: too many requests in flight (the helper runs at most %d at once); send it again once one has been answered", req.Method, MaxInFlight)})
		return
	}

	ctx, cancel := context.WithCancel(s.ctx)
	key := req.ID.String()
	entry := &inflight{cancel: cancel}
	s.mu.Lock()
	s.inflight[key] = entry // a reused id: $/cancelRequest reaches the latest request
	s.running++
	s.mu.Unlock()
	s.spawn(func() {
		defer func() {
			s.mu.Lock()
			if s.inflight[key] == entry {
				delete(s.inflight, key)
			}
			s.running--
			s.mu.Unlock()
			cancel()
		}()
		c := call{method: req.Method, params: req.Params, field: "params", attempt: attempt}
		if req.Method != MethodInitialize {
			// Taken while initialize is answered: wait for it. (Cancelled meanwhile, the
			// request runs on its ended context and is answered as cancelled.)
			select {
			case <-attempt.done:
				if !attempt.ok && ctx.Err() == nil {
					s.replyError(req.ID, initializeFailedError(req.Method))
					return
				}
			case <-ctx.Done():
			}
		}
		result, err := m.run(s, ctx, c)
		// The slot is given back only once the answer is queued: a request whose answer waits
		// for a client that does not read still counts, so memory stays bounded (a client that
		// sends its next request the moment it reads an answer may find the slot still taken).
		s.answer(ctx, req, result, err)
	})
}

// answer sends the response for req: -32800 when the client cancelled it.
func (s *server) answer(ctx context.Context, req *jsonrpc2.Request, result any, err error) {
	if ctx.Err() != nil && s.ctx.Err() == nil {
		s.replyError(req.ID, &jsonrpc2.Error{Code: CodeRequestCancelled, Message: fmt.Sprintf("%s cancelled by the client", req.Method)})
		return
	}
	if err != nil {
		s.replyError(req.ID, s.rpcError(err))
		return
	}
	if err := s.conn.Reply(s.ctx, req.ID, result); sendFailed(err) {
		s.log.Warn("send response", "method", req.Method, "err", err)
	}
}

func (s *server) replyError(id jsonrpc2.ID, e *jsonrpc2.Error) {
	if err := s.conn.ReplyWithError(s.ctx, id, e); sendFailed(err) {
		s.log.Warn("send error response", "err", err)
	}
}

// sendFailed reports a send error worth logging: not the end of the connection or its output
// (Serve logs that once).
func sendFailed(err error) bool {
	return err != nil && !errors.Is(err, jsonrpc2.ErrClosed) && !errors.Is(err, ErrStreamClosed)
}

// handleNotification handles what the client tells without expecting an answer.
func (s *server) handleNotification(req *jsonrpc2.Request) {
	switch req.Method {
	case MethodExit:
		s.mu.Lock()
		code, first := s.life.exit()
		s.mu.Unlock()
		if first {
			s.exit <- code // buffered: the only send
		}
	case MethodCancelRequest:
		var p CancelParams
		if err := decodeParams(req.Params, "params", &p); err != nil || len(p.ID) == 0 {
			s.log.Debug("ignored malformed $/cancelRequest", "err", err)
			return
		}
		id, ok := s.stream.RequestID(p.ID)
		if !ok {
			return
		}
		s.mu.Lock()
		entry := s.inflight[id.String()]
		s.mu.Unlock()
		if entry != nil {
			s.log.Debug("cancelling request", "id", id.String())
			entry.cancel()
		}
	case MethodInitialized:
		s.mu.Lock()
		first := s.life.initializedNotification()
		attempt := s.life.attempt
		s.mu.Unlock()
		if first {
			s.spawn(func() { s.afterInitialized(attempt) })
		}
	default:
		// textDocument/*, workspace/didChangeConfiguration, $/setTrace, anything else: accepted
		// and ignored.
	}
}

// initialize opens the project of the client's first folder and answers with the first status.
func (s *server) initialize(ctx context.Context, c call) (result any, err error) {
	defer func() {
		s.mu.Lock()
		s.life.initializeAnswered(c.attempt, err == nil)
		s.mu.Unlock()
	}()
	var params InitializeParams
	if err := decodeParams(c.params, "params", &params); err != nil {
		return nil, err
	}
	dir, err := params.folder()
	if err != nil {
		return nil, paramsError("params", err)
	}
	o := params.InitializationOptions
	client := ""
	if params.ClientInfo != nil {
		client = params.ClientInfo.Name + " " + params.ClientInfo.Version
	}
	s.log.Info("initialize", "client", client, "folder", dir, "processId", derefInt(params.ProcessID))

	var p Project
	var first *workspace.Status
	if dir != "" {
		popts := s.opts.Project
		popts.EditorImage = o.Image
		popts.BindAddress = o.BindAddress
		popts.EditorSync = string(o.SyncEnv)
		popts.DockerPath = o.DockerPath
		popts.Policy = popts.Policy.Or(workspace.UserPolicy{
			AllowEnvFileOutsideProject: o.AllowEnvFileOutsideProject, AllowNetworkBind: o.AllowNetworkBind})
		if popts.Logger == nil {
			popts.Logger = s.log
		}
		if popts.Version == "" {
			popts.Version = s.opts.Version
		}
		p, err = s.opts.Open(ctx, dir, popts)
		if err != nil {
			return nil, &jsonrpc2.Error{Code: CodeOpenProject, Message: fmt.Sprintf("%v; fix it and restart the helper", err)}
		}
		st := p.Status(ctx)
		first = &st
	}
	s.mu.Lock()
	s.project = p
	s.autoStart = boolOr(o.AutoStart, true)
	s.stopOnExit = boolOr(o.StopOnExit, false)
	s.workDone = params.Capabilities.Window.WorkDoneProgress
	if first != nil {
		s.lastState, s.lastRestart = first.State, first.RestartNeeded
	}
	s.mu.Unlock()

	if pid := derefPID(params.ProcessID); pid > 0 {
		if processAlive(pid) {
			s.spawn(func() { s.watchParent(pid) })
		} else {
			// A client in another PID namespace (a container, a remote host) names a process
			// that does not exist here: watching it would end the helper at once.
			s.log.Warn("initialize.processId names no process visible here; not watching it", "processId", pid)
		}
	}

	res := InitializeResult{
		Capabilities: ServerCapabilities{Experimental: Experimental{IrisStatus: true}},
		ServerInfo:   ServerInfo{Name: "iris-helper", Version: s.opts.Version},
		Status:       first,
	}
	if boolOr(o.CommandProvider, true) {
		res.Capabilities.ExecuteCommandProvider = &ExecuteCommandOptions{Commands: Commands()}
	}
	return res, nil
}

// afterInitialized starts forwarding the project's changes and, when asked, starts IRIS.
// It waits for the initialize it belongs to, and does nothing when that failed.
func (s *server) afterInitialized(attempt *initAttempt) {
	select {
	case <-attempt.done:
	case <-s.ctx.Done():
		return
	}
	if !attempt.ok {
		return
	}
	s.mu.Lock()
	p, auto := s.project, s.autoStart
	s.mu.Unlock()
	if p == nil {
		return
	}
	s.spawn(func() {
		if err := p.Watch(s.ctx, s.onStatus, s.onMessage); err != nil && s.ctx.Err() == nil {
			s.log.Warn("watch project", "err", err)
		}
	})
	if auto && p.Root().IsIrisProject {
		s.autoStartNow(p)
	} else if auto {
		s.log.Info("auto-start skipped: not an IRIS project", "folder", p.Root().Dir)
	}
}

// autoStartNow runs the automatic start (in the server's lifetime, not a request's).
func (s *server) autoStartNow(p Project) {
	if err := p.CheckAutoStart(s.ctx); err != nil {
		// A compose project published beyond loopback keeps its own passwords: said, not started
		// (an explicit iris/start runs it).
		s.log.Warn("auto-start refused", "project", p.Root().Dir, "err", err)
		s.showMessage(MessageWarning, err.Error()+". "+remedy(err))
		return
	}
	s.log.Info("auto-start", "project", p.Root().Dir)
	_, err := s.start(s.ctx, p, false, "", false, workspace.ConsentChoice{}, nil)
	if err == nil || s.ctx.Err() != nil {
		return
	}
	var ue *dockerops.UnavailableError
	if errors.As(err, &ue) {
		s.mu.Lock()
		s.autoPending = true
		s.mu.Unlock()
		s.logMessage(MessageWarning, "auto-start waits for the Docker engine: "+err.Error())
	}
	// The failure itself reaches the user as window/showMessage through the project's messages.
}

// onStatus forwards a status change as iris/status and reacts to what the user must know.
func (s *server) onStatus(st workspace.Status) {
	s.notify(MethodStatus, st)
	s.mu.Lock()
	prevState, prevRestart := s.lastState, s.lastRestart
	s.lastRestart = st.RestartNeeded
	// "starting" says nothing about the engine: a start's status may arrive after the start found
	// the engine down (notifications are coalesced). The retry waits for a status that does.
	engineSaid := st.State != workspace.StateStarting
	if engineSaid {
		s.lastState = st.State
	}
	retry := s.autoPending && engineSaid && prevState == workspace.StateDockerUnavailable && st.State != workspace.StateDockerUnavailable
	if retry {
		s.autoPending = false
	}
	p := s.project
	exposure := workspace.ExposureWarning(st)
	showExposure := exposure != "" && st.Running() && !s.exposureShown
	s.exposureShown = s.exposureShown || showExposure
	s.mu.Unlock()
	if showExposure {
		s.showMessage(MessageWarning, exposure)
	}
	if st.RestartNeeded && !prevRestart {
		s.showMessage(MessageWarning, restartText(st))
	}
	if retry && !st.Running() && st.State != workspace.StateStarting {
		s.spawn(func() { s.autoStartNow(p) })
	}
}

// restartText is the warning shown when a restart becomes needed: why (the status message says
// whether ports, settings or both differ) and the command, by the title the user sees.
func restartText(st workspace.Status) string {
	why := st.Message
	if why == "" {
		why = "the container does not run with the project's current ports and settings"
	}
	return fmt.Sprintf("IRIS for %s needs a restart: %s. Run \"IRIS: Restart\".", st.Project, why)
}

// onMessage forwards the project's messages: errors and warnings (what the user must act on)
// as window/showMessage, information (.env updated, engine back) as window/logMessage.
func (s *server) onMessage(m workspace.Message) {
	if r := remedy(m.Err); r != "" {
		m.Text += ". " + r
	}
	switch m.Level {
	case workspace.LevelError:
		s.showMessage(MessageError, m.Text)
	case workspace.LevelWarning:
		s.showMessage(MessageWarning, m.Text)
	default:
		s.logMessage(MessageInfo, m.Text)
	}
}

func (s *server) showMessage(typ int, text string) {
	s.notify(MethodShowMessage, ShowMessageParams{Type: typ, Message: text})
}

func (s *server) logMessage(typ int, text string) {
	s.notify(MethodLogMessage, ShowMessageParams{Type: typ, Message: text})
}

func (s *server) notify(method string, params any) {
	if err := s.conn.Notify(s.ctx, method, params); sendFailed(err) {
		s.log.Warn("send notification", "method", method, "err", err)
	}
}

// doShutdown prepares for exit: with stopOnExit it asks the engine to stop the container,
// waiting at most shutdownGrace; the watchers stop at exit.
func (s *server) doShutdown() any {
	s.mu.Lock()
	p, stop := s.project, s.stopOnExit
	s.mu.Unlock()
	if stop && p != nil {
		s.requestStop(p)
	}
	return nil
}

// requestStop asks the project to stop its container and waits at most shutdownGrace: long
// enough for the request to reach the engine, which finishes the stop on its own.
func (s *server) requestStop(p Project) {
	s.log.Info("stopOnExit: asking the engine to stop the container", "project", p.Root().Dir)
	s.mu.Lock()
	s.stopSeq++
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { // deliberately outlives the connection: the process may exit first
		defer close(done)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 90*time.Second)
		defer cancel()
		if _, err := p.Stop(ctx, workspace.StopOptions{}); err != nil {
			s.log.Warn("stop on exit", "err", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		s.log.Info("stop on exit continues in the engine")
	}
}

// watchParent ends the server when the client process disappears.
func (s *server) watchParent(pid int) {
	t := time.NewTicker(s.opts.ParentCheck)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if !processAlive(pid) {
				s.log.Info("client process is gone", "pid", pid)
				s.goneOnce.Do(func() { close(s.parent) })
				return
			}
		}
	}
}

// beginProgress reports a start's progress to the client (progress.go).
func (s *server) beginProgress(ctx context.Context, token json.RawMessage, title string) *progress {
	s.mu.Lock()
	workDone := s.workDone
	s.progressSeq++
	seq := s.progressSeq
	s.mu.Unlock()
	return beginProgress(ctx, s, s.log, token, workDone, seq, title)
}

// call sends a request to the client and waits for its answer (peer).
func (s *server) call(ctx context.Context, method string, params, result any) error {
	return s.conn.Call(ctx, method, params, result)
}

// slogPrinter routes the library's log lines to slog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, args ...any) {
	p.l.Warn(fmt.Sprintf(format, args...))
}

func derefInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func derefPID(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
