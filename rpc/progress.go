package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/workspace"
)

// progressCreateTimeout bounds the wait for the client's answer to window/workDoneProgress/create.
const progressCreateTimeout = 5 * time.Second

// peer is what progress reporting needs of the connection (the server is one; the unit tests
// record what it is given).
type peer interface {
	// notify sends a notification; a failure is logged, not returned.
	notify(method string, params any)
	// call sends a request and waits for its answer.
	call(ctx context.Context, method string, params, result any) error
}

// progress reports one start to the client: $/progress when a token exists, window/logMessage
// for every step.
type progress struct {
	c     peer
	token json.RawMessage // nil: no $/progress
}

// phasePercent are the percentages of a start's steps in its $/progress reports.
var phasePercent = map[dockerops.Phase]int{
	dockerops.PhasePulling:  10,
	dockerops.PhaseBuilding: 20, // each report the build's latest line, at most four a second
	dockerops.PhaseCreating: 40,
	dockerops.PhaseStarting: 60,
	dockerops.PhaseWaiting:  80,
}

// startTitle is the title of a start's progress (and its first log line).
func startTitle(restart bool) string {
	if restart {
		return "Restarting IRIS"
	}
	return "Starting IRIS"
}

// progressToken is the token the helper creates for its seq-th start.
func progressToken(seq int) json.RawMessage {
	tok, _ := json.Marshal(fmt.Sprintf("iris-helper-start-%d", seq))
	return tok
}

// beginProgress sends begin: with the client's token when it gave one, else (when the client
// supports window.workDoneProgress, workDone) with a token the client is asked to create,
// progressToken(seq); without either, the steps are log messages only.
func beginProgress(ctx context.Context, c peer, log *slog.Logger, token json.RawMessage, workDone bool, seq int, title string) *progress {
	pr := &progress{c: c}
	switch {
	case len(token) > 0:
		pr.token = token
	case workDone:
		tok := progressToken(seq)
		cctx, cancel := context.WithTimeout(ctx, progressCreateTimeout)
		err := c.call(cctx, MethodProgressCreate, map[string]json.RawMessage{"token": tok}, nil)
		cancel()
		if err != nil {
			log.Warn("client refused a progress token; reporting progress as log messages only", "err", err)
		} else {
			pr.token = tok
		}
	}
	zero, no := 0, false
	pr.send(ProgressValue{Kind: "begin", Title: title, Cancellable: &no, Message: "preparing", Percentage: &zero})
	pr.log(MessageInfo, title)
	return pr
}

// report is the Project's progress callback.
func (pr *progress) report(p dockerops.Progress) {
	text := string(p.Phase)
	if p.Message != "" {
		text = text + ": " + p.Message
	}
	v := ProgressValue{Kind: "report", Message: text}
	if pct, ok := phasePercent[p.Phase]; ok {
		v.Percentage = &pct
	}
	pr.send(v)
	pr.log(MessageLog, text)
	if p.Warning != "" {
		pr.log(MessageWarning, p.Warning)
	}
}

// succeeded ends the progress of a start that reached st, and logs the outcome.
func (pr *progress) succeeded(st workspace.Status) {
	pr.end(fmt.Sprintf("IRIS is %s on superserver port %d, web port %d", st.State, st.SuperserverPort, st.WebPort))
	pr.log(MessageInfo, fmt.Sprintf("IRIS for %s is %s on %s:%d (web %d)", st.Project, st.State, st.BindAddress, st.SuperserverPort, st.WebPort))
}

// cancelled ends the progress of a start the client cancelled.
func (pr *progress) cancelled() { pr.end("cancelled") }

// failed ends the progress of a start that failed (the failure itself reaches the user as the
// error answer and as window/showMessage).
func (pr *progress) failed(err error) { pr.end("failed: " + err.Error()) }

func (pr *progress) end(text string) {
	pr.send(ProgressValue{Kind: "end", Message: text})
}

func (pr *progress) send(v ProgressValue) {
	if pr.token == nil {
		return
	}
	pr.c.notify(MethodProgress, ProgressParams{Token: pr.token, Value: v})
}

func (pr *progress) log(typ int, text string) {
	pr.c.notify(MethodLogMessage, ShowMessageParams{Type: typ, Message: text})
}
