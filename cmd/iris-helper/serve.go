package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/rpc"
	"github.com/iris-helper/iris-helper/workspace"
)

func newServeCmd(a *app) *cobra.Command {
	var (
		stdio           bool
		logLevel        string
		logFile         string
		clientProcessID int
	)
	cmd := &cobra.Command{
		Use:   "serve [--stdio]",
		Short: "Serve one workspace folder to an editor: JSON-RPC 2.0 with LSP framing on stdin/stdout",
		Long: "Run the per-workspace helper that editors spawn (shaped like a language server): JSON-RPC 2.0\n" +
			"with Content-Length framing on stdin/stdout. stdout carries protocol frames only; logs go to\n" +
			"stderr or --log-file. The protocol is described in docs/protocol.md; editor set-up in\n" +
			"docs/editors.md. It ends on exit, at the end of stdin, or when the editor process is gone.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return &usageError{fmt.Errorf("--log-level must be debug, info, warn or error, not %q", logLevel)}
			}
			var logOut io.Writer = a.stderr
			if logFile != "" {
				f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
				if err != nil {
					return fmt.Errorf("open --log-file: %w", err)
				}
				defer f.Close()
				logOut = f
			}
			logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))
			// Go kills a process that writes to a broken pipe on fd 1 or 2 unless SIGPIPE is
			// handled. Handled, the write fails with EPIPE, and a client that closed its end of
			// stdout ends the session like the end of stdin (stopOnExit, exit code 0).
			sigpipe := make(chan os.Signal, 1)
			signal.Notify(sigpipe, syscall.SIGPIPE)
			defer signal.Stop(sigpipe)
			code := rpc.Serve(cmd.Context(), a.stdin, a.stdout, rpc.Options{
				Version:         version,
				Logger:          logger,
				ClientProcessID: clientProcessID,
				// the --allow-* flags of this command line count as the user's choice, as for the CLI
				Project: workspace.ProjectOptions{Policy: a.policy},
			})
			if code != rpc.ExitOK {
				return errors.New("exit without shutdown")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&stdio, "stdio", true, "use stdin/stdout (the only transport; accepted because LSP clients pass it)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&logFile, "log-file", "", "append logs to this file instead of stderr")
	f.IntVar(&clientProcessID, "clientProcessId", 0, "end when this process is gone (also read from initialize.processId)")
	_ = f.MarkHidden("clientProcessId")
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		// help goes to stderr too: in serve mode stdout is reserved for frames
		c.SetOut(a.stderr)
		c.Root().HelpFunc()(c, args)
	})
	return cmd
}
