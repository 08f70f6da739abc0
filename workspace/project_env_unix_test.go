//go:build unix

package workspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/dotenv"
	"github.com/iris-helper/iris-helper/workspace/sandboxtest"
)

// TestProjectRefusesAnEnvOutsideIt: Project.Start and Project.Watch (the editor helper's auto
// sync) refuse an env.file outside the project: IRIS starts, sync is off with one warning that
// names the knob, the status's envFile is "", nothing outside changes. (351c042: the file was
// rewritten by the start and again by the watcher 2 s after initialized.) Ports 31460-31469.
func TestProjectRefusesAnEnvOutsideIt(t *testing.T) {
	f := newFixture(t, 31460)
	ctx := testCtx(t)
	sandbox := tempDir(t)
	outside := filepath.Join(sandbox, "outside.env")
	writeTree(t, sandbox, map[string]string{"outside.env": "SECRET=s3cret\nIRIS_PORT=1\n", "profile": "export A=1\n"})
	snap := sandboxtest.Take(t, sandbox)
	dir := f.projectDir(map[string]string{ConfigFileName: `{"env": {"file": "` + outside + `", "sync": true}}`})
	logs := &rpctest.Buffer{}
	p := f.open(dir, func(o *ProjectOptions) {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	rec := &recorder{}
	wctx, stopWatch := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Watch(wctx, rec.status, rec.message) }()

	st := mustStart(t, ctx, p)
	if st.State != StateReady || st.EnvFile != "" {
		t.Errorf("after start: state %s, envFile %q; want ready and \"\"", st.State, st.EnvFile)
	}
	// Both the start's sync and the watcher tried; the second was not said again.
	waitFor(t, "the second refusal", func() bool { return strings.Contains(logs.String(), "the .env stays refused") })
	refusal := outside + " is outside the project folder " + dir + ": iris-helper writes a .env there only when the user allows it (allowEnvFileOutsideProject)"
	want := refusal + "; .env sync is off for this project"
	rec.waitMessage(t, "the refusal", func(m Message) bool { return m.Text == want })
	stopWatch()
	<-done
	n := 0
	for _, m := range rec.msgs {
		if strings.Contains(m.Text, string(KnobEnvFileOutsideProject)) {
			n++
			var out *dotenv.OutsideProjectError
			var ke interface{ Knob() Knob }
			if !rpctest.Check(t, fmt.Sprintf("message %q", m.Text), rpctest.Want("level", m.Level, LevelWarning),
				rpctest.Want("carries a *dotenv.OutsideProjectError", errorsAs(m.Err, &out), true),
				rpctest.Want("carries a knob", errorsAs(m.Err, &ke), true)) {
				continue
			}
			rpctest.Check(t, fmt.Sprintf("message %q", m.Text), rpctest.Want("knob", ke.Knob(), KnobEnvFileOutsideProject))
		}
	}
	if n != 1 {
		t.Errorf("%d warnings about the .env, want 1: %+v", n, rec.msgs)
	}
	if st := p.Status(ctx); st.EnvFile != "" {
		t.Errorf("status envFile %q", st.EnvFile)
	}
	if _, err := p.SyncEnv(ctx, EnvSyncOptions{}); fmt.Sprint(err) != refusal {
		t.Errorf("SyncEnv: %v", err)
	}
	snap.AssertUnchanged(t)

	// The user's own choice (an editor user setting, a flag) allows it.
	p2 := f.open(dir, func(o *ProjectOptions) { o.Policy = UserPolicy{AllowEnvFileOutsideProject: true} })
	if res, err := p2.SyncEnv(ctx, EnvSyncOptions{}); err != nil || !res.Written {
		t.Fatalf("allowed: %+v %v", res, err)
	}
	if got := readFile(t, outside); !strings.HasPrefix(got, "SECRET=s3cret\nIRIS_PORT="+itoa(st.SuperserverPort)+"\n") {
		t.Errorf("allowed target %q", got)
	}
	if st := p2.Status(ctx); st.EnvFile != outside {
		t.Errorf("allowed: envFile %q", st.EnvFile)
	}
}

func errorsAs(err error, target any) bool { return err != nil && errors.As(err, target) }

func itoa(n int) string { return strconv.Itoa(n) }
