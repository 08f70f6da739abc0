package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/workspace"
)

// recordingPeer records what progress sends, one line per message: "METHOD PARAMS" for a
// notification, "call METHOD PARAMS" for a request (answered with callErr).
type recordingPeer struct {
	sent    []string
	callErr error
}

func (p *recordingPeer) notify(method string, params any) {
	b, _ := json.Marshal(params)
	p.sent = append(p.sent, method+" "+string(b))
}

func (p *recordingPeer) call(_ context.Context, method string, params, _ any) error {
	b, _ := json.Marshal(params)
	p.sent = append(p.sent, "call "+method+" "+string(b))
	return p.callErr
}

// TestProgressOfAStart: what the client gets for a start's steps, with its own token, with one
// the helper creates, when the client refuses to create one, and without progress support.
func TestProgressOfAStart(t *testing.T) {
	ready := workspace.Status{Project: "/home/ada/src/orders", State: workspace.StateReady, BindAddress: "127.0.0.1", SuperserverPort: 1973, WebPort: 52774}
	steps := func(pr *progress) {
		pr.report(dockerops.Progress{Phase: dockerops.PhasePulling, Message: "pulling image iris-helper/iris-stub:dev"})
		pr.report(dockerops.Progress{Phase: dockerops.PhaseCreating, Message: "creating container iris_5f3a9c1e_1973"})
		pr.report(dockerops.Progress{Phase: dockerops.PhaseStarting, Message: "starting container iris_5f3a9c1e_1973", Warning: "port 1972 was taken: moved to 1973"})
		pr.report(dockerops.Progress{Phase: dockerops.PhaseWaiting})
		pr.report(dockerops.Progress{Phase: "tuning", Message: "an unknown step has no percentage"})
		pr.succeeded(ready)
	}
	logs := []string{
		`window/logMessage {"type":4,"message":"pulling: pulling image iris-helper/iris-stub:dev"}`,
		`window/logMessage {"type":4,"message":"creating: creating container iris_5f3a9c1e_1973"}`,
		`window/logMessage {"type":4,"message":"starting: starting container iris_5f3a9c1e_1973"}`,
		`window/logMessage {"type":2,"message":"port 1972 was taken: moved to 1973"}`,
		`window/logMessage {"type":4,"message":"waiting"}`,
		`window/logMessage {"type":4,"message":"tuning: an unknown step has no percentage"}`,
	}
	withToken := func(tok string) []string {
		return []string{
			`$/progress {"token":` + tok + `,"value":{"kind":"begin","title":"Starting IRIS","cancellable":false,"message":"preparing","percentage":0}}`,
			`window/logMessage {"type":3,"message":"Starting IRIS"}`,
			`$/progress {"token":` + tok + `,"value":{"kind":"report","message":"pulling: pulling image iris-helper/iris-stub:dev","percentage":10}}`,
			logs[0],
			`$/progress {"token":` + tok + `,"value":{"kind":"report","message":"creating: creating container iris_5f3a9c1e_1973","percentage":40}}`,
			logs[1],
			`$/progress {"token":` + tok + `,"value":{"kind":"report","message":"starting: starting container iris_5f3a9c1e_1973","percentage":60}}`,
			logs[2], logs[3],
			`$/progress {"token":` + tok + `,"value":{"kind":"report","message":"waiting","percentage":80}}`,
			logs[4],
			`$/progress {"token":` + tok + `,"value":{"kind":"report","message":"tuning: an unknown step has no percentage"}}`,
			logs[5],
			`$/progress {"token":` + tok + `,"value":{"kind":"end","message":"IRIS is ready on superserver port 1973, web port 52774"}}`,
			`window/logMessage {"type":3,"message":"IRIS for /home/ada/src/orders is ready on 127.0.0.1:1973 (web 52774)"}`,
		}
	}
	logsOnly := append(append([]string{`window/logMessage {"type":3,"message":"Starting IRIS"}`}, logs...),
		`window/logMessage {"type":3,"message":"IRIS for /home/ada/src/orders is ready on 127.0.0.1:1973 (web 52774)"}`)
	create := `call window/workDoneProgress/create {"token":"iris-helper-start-3"}`

	tests := []struct {
		name     string
		token    string // the client's workDoneToken; "" = none
		workDone bool
		callErr  error
		want     []string
	}{
		{"the client's token", `42`, true, nil, withToken(`42`)},
		{"a token the helper creates", "", true, nil, append([]string{create}, withToken(`"iris-helper-start-3"`)...)},
		{"the client refuses the token", "", true, errors.New("no"), append([]string{create}, logsOnly...)},
		{"no progress support", "", false, nil, logsOnly},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &recordingPeer{callErr: tc.callErr}
			var token json.RawMessage
			if tc.token != "" {
				token = json.RawMessage(tc.token)
			}
			pr := beginProgress(context.Background(), p, slog.New(slog.DiscardHandler), token, tc.workDone, 3, startTitle(false))
			steps(pr)
			if got, want := strings.Join(p.sent, "\n"), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("sent:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestProgressEnds: a restart's title, and the end of a cancelled and of a failed start.
func TestProgressEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(*progress)
		want string
	}{
		{"cancelled", (*progress).cancelled, `$/progress {"token":"t","value":{"kind":"end","message":"cancelled"}}`},
		{"failed", func(pr *progress) { pr.failed(errors.New("no free port pair left")) },
			`$/progress {"token":"t","value":{"kind":"end","message":"failed: no free port pair left"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &recordingPeer{}
			pr := beginProgress(context.Background(), p, slog.New(slog.DiscardHandler), json.RawMessage(`"t"`), false, 1, startTitle(true))
			tc.end(pr)
			want := strings.Join([]string{
				`$/progress {"token":"t","value":{"kind":"begin","title":"Restarting IRIS","cancellable":false,"message":"preparing","percentage":0}}`,
				`window/logMessage {"type":3,"message":"Restarting IRIS"}`,
				tc.want,
			}, "\n")
			if got := strings.Join(p.sent, "\n"); got != want {
				t.Errorf("sent:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
