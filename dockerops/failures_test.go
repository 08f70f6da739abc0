package dockerops_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/moby/moby/client"
)

// TestStartFailures: a stand-in that fails on purpose gives the error or report a user needs.
func TestStartFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ss, web    int
		env        []string
		timeout    time.Duration // Spec.ReadyTimeout
		ctxTimeout time.Duration // deadline of the caller's context
		check      func(t *testing.T, c dockerops.Container, err error, warnings []string)
	}{
		{name: "exits early", ss: 30100, web: 30101, env: []string{"STUB_FAIL=exit"},
			check: func(t *testing.T, _ dockerops.Container, err error, _ []string) {
				var ee *dockerops.ExitedError
				if !errors.As(err, &ee) || ee.Code != 3 {
					t.Fatalf("Start() = %v, want *ExitedError with code 3", err)
				}
				if !slices.ContainsFunc(ee.LastLines, func(l string) bool { return strings.Contains(l, "Startup failed") }) ||
					!strings.Contains(err.Error(), "exited with code 3") {
					t.Fatalf("error does not show the last log lines: %v", err)
				}
			}},
		{name: "never ready", ss: 30102, web: 30103, env: []string{"STUB_FAIL=never-ready"}, timeout: 4 * time.Second,
			check: func(t *testing.T, _ dockerops.Container, err error, _ []string) {
				var nr *dockerops.NotReadyError
				if !errors.As(err, &nr) {
					t.Fatalf("Start() = %v, want *NotReadyError", err)
				}
				if !strings.Contains(nr.LastSeen, `no "Enabling logons" log line yet`) || !strings.Contains(err.Error(), "not ready after 4") ||
					!slices.ContainsFunc(nr.LastLines, func(l string) bool { return strings.Contains(l, "never-ready") }) {
					t.Fatalf("error does not say what was last seen: %v", err)
				}
			}},
		{name: "caller deadline", ss: 30108, web: 30109, env: []string{"STUB_FAIL=never-ready"}, ctxTimeout: 4 * time.Second,
			check: func(t *testing.T, _ dockerops.Container, err error, _ []string) {
				var nr *dockerops.NotReadyError
				if !errors.As(err, &nr) || !strings.Contains(nr.LastSeen, "Enabling logons") {
					t.Fatalf("Start() = %v, want *NotReadyError when the caller's deadline passes", err)
				}
			}},
		{name: "ready after a delay", ss: 30104, web: 30105, env: []string{"STUB_READY_DELAY=3s"},
			check: func(t *testing.T, c dockerops.Container, err error, _ []string) {
				if err != nil {
					t.Fatal(err)
				}
				if since := time.Since(c.StartedAt); since < 3*time.Second {
					t.Fatalf("Start returned %s after the container started, before the stand-in listened (3s delay)", since)
				}
			}},
		{name: "session refused", ss: 30106, web: 30107, env: []string{"STUB_FAIL=session-refuse"},
			check: func(t *testing.T, c dockerops.Container, err error, warnings []string) {
				if err != nil {
					t.Fatalf("a failing exec must not fail Start: %v", err)
				}
				rpctest.Must(t, fmt.Sprintf("warnings %q", c.Warnings), rpctest.Want("count", len(c.Warnings), 1))
				if !strings.Contains(c.Warnings[0], "exited 1") || !strings.Contains(c.Warnings[0], "Access Denied") {
					t.Fatalf("warnings %q, want the failed iris session", c.Warnings)
				}
				if !slices.Equal(warnings, c.Warnings) {
					t.Fatalf("progress warnings %q, container warnings %q", warnings, c.Warnings)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, img, p := setup(t)
			ctx := testCtx(t)
			s := spec(p, img, tt.ss, tt.web, tt.env...)
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			if tt.timeout > 0 {
				s.ReadyTimeout = tt.timeout
			}
			var warnings []string
			c, err := e.Start(ctx, s, func(pr dockerops.Progress) {
				if pr.Warning != "" {
					warnings = append(warnings, pr.Warning)
				}
			})
			tt.check(t, c, err, warnings)
		})
	}
}

// TestUnhealthyReported: a container whose healthcheck fails later shows Health "unhealthy".
func TestUnhealthyReported(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	c, err := e.Start(ctx, spec(p, img, 30110, 30111, "STUB_FAIL=unhealthy-after=1s"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != "running" {
		t.Fatalf("container %+v", c)
	}
	waitFor(t, 90*time.Second, "health unhealthy", func() bool {
		c, _, err := e.Inspect(ctx, p)
		return err == nil && c.Health == "unhealthy"
	})
}

// TestRealIRISPath: an image with ISC_PACKAGE_INSTALLDIR gets --check-caps false and the
// password-unexpire session after readiness, unless the spec says not to.
func TestRealIRISPath(t *testing.T) {
	t.Parallel()
	for _, unexpire := range []bool{true, false} {
		t.Run(map[bool]string{true: "unexpire", false: "no unexpire"}[unexpire], func(t *testing.T) {
			t.Parallel()
			e, img, p := setup(t)
			ctx := testCtx(t)
			ss := 30120
			if !unexpire {
				ss = 30122
			}
			s := spec(p, img, ss, ss+1)
			s.UnexpirePasswords = unexpire
			c, err := e.Start(ctx, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !c.IRIS || len(c.Warnings) != 0 {
				t.Fatalf("container %+v", c)
			}
			ins, err := e.Client().ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ins.Container.Args, []string{"--check-caps", "false"}) {
				t.Fatalf("container args %q, want --check-caps false", ins.Container.Args)
			}
			r, err := e.Exec(ctx, p, "iris-stub", "cat", "/tmp/iris-session.log")
			if err != nil {
				t.Fatal(err)
			}
			want := `%SYS ##class(Security.Users).UnExpireUserPasswords("*")`
			if unexpire {
				rpctest.Must(t, "session log", rpctest.Want("exitCode", r.ExitCode, 0), rpctest.Want("output", strings.TrimSpace(r.Output), want))
			}
			if !unexpire && r.ExitCode == 0 {
				t.Fatalf("a session ran although UnexpirePasswords is off: %q", r.Output)
			}
			if st := httpStatusAuth(t, s.Web, "/api/atelier/", "_SYSTEM", "SYS"); st != 200 {
				t.Fatalf("atelier with _SYSTEM:SYS: %d", st)
			}
		})
	}
}
