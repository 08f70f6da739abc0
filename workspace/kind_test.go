package workspace

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/sandboxtest"
	"github.com/iris-helper/iris-helper/workspace/workspacetest"
)

// messages records what a watcher was told.
type messages struct {
	mu   sync.Mutex
	seen []Message
	ch   chan struct{}
}

func newMessages() *messages { return &messages{ch: make(chan struct{}, 64)} }

func (m *messages) add(msg Message) {
	m.mu.Lock()
	m.seen = append(m.seen, msg)
	m.mu.Unlock()
	m.ch <- struct{}{}
}

// until waits until a message with text arrives and returns all seen so far.
func (m *messages) until(t *testing.T, text string) []Message {
	t.Helper()
	ctx := testCtx(t)
	for {
		m.mu.Lock()
		for _, s := range m.seen {
			if s.Text == text {
				out := append([]Message(nil), m.seen...)
				m.mu.Unlock()
				return out
			}
		}
		m.mu.Unlock()
		select {
		case <-m.ch:
		case <-ctx.Done():
			t.Fatalf("message %q not seen; seen %+v", text, m.seen)
		}
	}
}

// TestSettingsThatDoNotApplyWarnOnce (issue 12 §1): a setting of .iris-helper.json that does not
// apply to the project's kind is a warning said once per Project — one log line (the CLI's stderr)
// and one Message to each watcher, also to one that comes after it was said — and never a standing
// status message. No container is started.
func TestSettingsThatDoNotApplyWarnOnce(t *testing.T) {
	t.Setenv(registry.EnvHome, t.TempDir())
	for _, tc := range []struct {
		name  string
		files map[string]string
		kind  Kind
		want  func(dir string) string
	}{
		{"an image for the Dockerfile kind", map[string]string{"Dockerfile": templateDockerfile, ConfigFileName: `{"kind": "dockerfile", "image": "x/iris:1"}`},
			KindDockerfile, func(dir string) string {
				return "the image setting (x/iris:1) does not apply to a project built from its Dockerfile: it runs the image it builds, " + dockerops.BuildTag(dir)
			}},
		{"durable for the compose kind", map[string]string{"docker-compose.yml": "services:\n  iris:\n    image: x/iris:1\n", ConfigFileName: `{"kind": "compose", "durable": false}`},
			KindCompose, func(string) string {
				return "durable and iris.unexpirePasswords in .iris-helper.json apply to the image and Dockerfile kinds only: a compose project's own command and volumes decide"
			}},
		{"a compose service for the image kind", map[string]string{"docker-compose.yml": "services:\n  iris:\n    image: x/iris:1\n", ConfigFileName: `{"kind": "image", "compose": {"service": "iris"}}`},
			KindImage, func(string) string {
				return "compose.files and compose.service in .iris-helper.json apply to the compose kind only: the project runs on the image kind"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			dir := workspacetest.TempDir(t)
			sandboxtest.WriteTree(t, dir, tc.files)
			var log rpctest.Buffer
			p, err := OpenProject(ctx, dir, ProjectOptions{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want(dir)
			st := p.Status(ctx) // says it (no watcher yet: the log)
			st = p.Status(ctx)
			rpctest.Must(t, "status", rpctest.Want("kind", st.Kind, tc.kind), rpctest.Want("message", st.Message, ""))

			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			first, second := newMessages(), newMessages()
			go func() { _ = p.Watch(wctx, nil, first.add) }()
			first.until(t, want)
			go func() { _ = p.Watch(wctx, nil, second.add) }()
			second.until(t, want)
			p.Status(ctx)
			p.message(Message{Level: LevelInfo, Text: "marker"}) // after everything that could say it again
			wantMsgs := []Message{{Level: LevelWarning, Text: want}, {Level: LevelInfo, Text: "marker"}}
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
				if strings.Contains(l, "level=WARN") {
					lines = append(lines, l)
				}
			}
			rpctest.Check(t, "said once",
				rpctest.Want("first watcher", first.until(t, "marker"), wantMsgs),
				rpctest.Want("second watcher", second.until(t, "marker"), wantMsgs),
				rpctest.Want("warnings logged", len(lines), 1),
				rpctest.Want("the log line names it", len(lines) == 1 && strings.Contains(lines[0], "msg="+strconv.Quote(want)), true))
		})
	}
}

// TestCheckAutoStart: the automatic start refuses only a compose project whose bind address is not
// loopback (iris-helper gives the image and Dockerfile kinds a password of their own there).
func TestCheckAutoStart(t *testing.T) {
	t.Setenv(registry.EnvHome, t.TempDir())
	for _, tc := range []struct {
		name, kind, bind string
		refused          bool
	}{
		{"compose on loopback", "compose", "127.0.0.1", false},
		{"compose on every interface", "compose", "0.0.0.0", true},
		{"compose on another address", "compose", "10.1.2.3", true},
		{"image on every interface", "image", "0.0.0.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := workspacetest.TempDir(t)
			sandboxtest.WriteTree(t, dir, map[string]string{"docker-compose.yml": "services:\n  iris:\n    image: x/iris:1\n",
				ConfigFileName: `{"kind": "` + tc.kind + `"}`})
			p, err := OpenProject(testCtx(t), dir, ProjectOptions{BindAddress: tc.bind})
			if err != nil {
				t.Fatal(err)
			}
			err = p.CheckAutoStart(testCtx(t))
			want := ""
			if tc.refused {
				want = "IRIS for " + dir + " is not started automatically: its compose project would be reachable from the network on " + tc.bind +
					", and iris-helper does not change a compose project's passwords, so its accounts may keep well-known ones"
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			rpctest.Check(t, "CheckAutoStart", rpctest.Want("error", got, want),
				rpctest.Want("remedy", RemedyFor(err).Kind, map[bool]RemedyKind{true: RemedyStartExplicitly, false: RemedyNone}[tc.refused]))
		})
	}
}
