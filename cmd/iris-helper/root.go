package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/workspace"
)

// app carries what every subcommand needs: the standard streams and a logger on stderr.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	logger *slog.Logger
	// policy is what the user allows on this command line (--allow-* flags); the environment and
	// $IRIS_HELPER_HOME/config.json are read by workspace.OpenProject.
	policy workspace.UserPolicy
	eng    *dockerops.Engine // the command's engine connection (app.engine), nil until first used
}

// usageError marks a command-line mistake: exit code 2 instead of 1.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageArgs wraps a cobra argument validator so that its errors are usage errors.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

// run executes the command line and returns the process exit code:
// 0 success, 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr,
		logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "iris-helper:", err)
	if r := remedy(err); r != "" {
		fmt.Fprintln(stderr, r)
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "Run 'iris-helper --help' for usage.")
		return 2
	}
	return 1
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "iris-helper",
		Short:         "Per-project ports, containers and .env for InterSystems IRIS development",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          usageArgs(cobra.NoArgs),
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.BoolVar(&a.policy.AllowEnvFileOutsideProject, strings.TrimPrefix(workspace.KnobEnvFileOutsideProject.Flag(), "--"), false,
		"let the project's .env (env.file or a .env link) resolve outside the project folder")
	pf.BoolVar(&a.policy.AllowNetworkBind, strings.TrimPrefix(workspace.KnobNetworkBind.Flag(), "--"), false,
		"let the project's bindAddress publish IRIS on a non-loopback address")
	root.AddCommand(
		newVersionCmd(a),
		newEnvCmd(a),
		newPortsCmd(a),
		newStartCmd(a),
		newStopCmd(a),
		newRestartCmd(a),
		newStatusCmd(a),
		newLogsCmd(a),
		newServeCmd(a),
	)
	return root
}

// writeJSON prints v as indented JSON with a final newline (every --json output).
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
