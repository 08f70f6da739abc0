package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace"
)

func newStartCmd(a *app) *cobra.Command {
	var (
		image         string
		port, webPort int
		timeout       time.Duration
		asJSON        bool
		build         bool
	)
	cmd := &cobra.Command{
		Use:   "start [DIR]",
		Short: "Assign the project its ports and start its IRIS container",
		Long: "Assign the project (DIR, default the current folder) its port pair, start its IRIS container\n" +
			"on exactly those ports (bound on 127.0.0.1 unless .iris-helper.json says otherwise), wait\n" +
			"until IRIS answers, and sync .env. The container is kept across stop/start. A running\n" +
			"container is left as it is (apply new ports or settings with 'iris-helper restart').\n\n" +
			"Image: --image > .iris-helper.json \"image\" > $IRIS_HELPER_IMAGE > " + workspace.DefaultImage + ".\n" +
			"A project built from its own Dockerfile is built first when its image is missing; --build\n" +
			"rebuilds it (the output: 'iris-helper logs --build').",
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if port < 0 || port > 65535 || webPort < 0 || webPort > 65535 {
				return &usageError{fmt.Errorf("--port and --web-port take a port number between 1 and 65535")}
			}
			if timeout < 0 {
				return &usageError{fmt.Errorf("--timeout must be positive, e.g. 3m")}
			}
			p, err := openProjectArg(cmd.Context(), a, args, workspace.ProjectOptions{
				FlagImage:    image,
				FlagPorts:    registry.Preferred{Superserver: port, Web: webPort},
				ReadyTimeout: timeout,
			})
			if err != nil {
				return err
			}
			pp := &progressPrinter{w: a.stderr, start: time.Now()}
			st, err := p.StartWith(cmd.Context(), workspace.StartOptions{Build: build, Consent: explicitConsent}, pp.print)
			return finishStart(a, p, st, err, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&image, "image", "", "IRIS image to run (highest precedence)")
	f.IntVar(&port, "port", 0, "superserver port to use (a manual assignment)")
	f.IntVar(&webPort, "web-port", 0, "web port to use (a manual assignment)")
	f.DurationVar(&timeout, "timeout", workspace.DefaultReadyTimeout, "how long to wait for IRIS to answer")
	f.BoolVar(&asJSON, "json", false, "print the status object (docs/status.md) as JSON")
	f.BoolVar(&build, "build", false, "rebuild the project's images (compose and Dockerfile projects; a compose project's containers are recreated)")
	return cmd
}

// progressPrinter writes one line on stderr per start phase (a line, not a redraw, so that logs
// and pipes stay readable).
type progressPrinter struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
	last  string
}

func (p *progressPrinter) print(pr dockerops.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := string(pr.Phase)
	if pr.Message != "" {
		line += ": " + pr.Message
	}
	if line == "" || line == p.last {
		return
	}
	p.last = line
	fmt.Fprintf(p.w, "iris-helper: [%4.1fs] %s\n", time.Since(p.start).Seconds(), line)
}

// explicitConsent: a start the user runs on the command line counts as consent to what a compose
// project does beyond the allow-list; the start lists each item it allowed on stderr
// (docs/config.md, "What a repository's compose file may do on its own").
var explicitConsent = workspace.ConsentChoice{All: true}
