package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/workspace"
)

func newStatusCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [DIR]",
		Short: "Show the state of the project's IRIS container (docs/status.md)",
		Long: "Show the project's ports and the state of its IRIS container. DIR defaults to the current\n" +
			"folder; the project is found from it as everywhere else. --json prints the status object\n" +
			"described in docs/status.md. The exit code is 0 whatever the state; 1 only when the project\n" +
			"cannot be opened.",
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProjectArg(cmd.Context(), a, args, workspace.ProjectOptions{})
			if err != nil {
				return err
			}
			st := p.Status(cmd.Context())
			if asJSON {
				return writeJSON(a.stdout, st)
			}
			printStatus(a.stdout, st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status object as JSON")
	return cmd
}

// openProjectArg opens the project that holds DIR (default: the current folder).
func openProjectArg(ctx context.Context, a *app, args []string, opts workspace.ProjectOptions) (*workspace.Project, error) {
	dir := "."
	if len(args) > 0 {
		dir = args[0]
	}
	opts.Logger = a.logger
	opts.Policy = opts.Policy.Or(a.policy)
	if eng, err := a.engine(ctx); err == nil {
		opts.Engine = eng // Connect does not contact the engine; a stopped one shows in Status
	}
	reg, err := openPortRegistry(a) // the registry's errors name its home
	if err != nil {
		return nil, err
	}
	opts.Registry = reg
	return workspace.OpenProject(ctx, dir, opts)
}

// printConnection prints the block a user needs to connect to the project's IRIS.
func printConnection(w io.Writer, st workspace.Status) {
	host := st.Host
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "IRIS is %s for %s\n", st.State, st.Project)
	fmt.Fprintf(tw, "  superserver\t%s\n", net.JoinHostPort(host, strconv.Itoa(st.SuperserverPort)))
	fmt.Fprintf(tw, "  portal\thttp://%s/csp/sys/UtilHome.csp\n", net.JoinHostPort(host, strconv.Itoa(st.WebPort)))
	fmt.Fprintf(tw, "  container\t%s\n", st.Container)
	fmt.Fprintf(tw, "  image\t%s\n", st.Image)
	if st.EnvFile != "" {
		fmt.Fprintf(tw, "  env file\t%s\n", st.EnvFile)
	}
	_ = tw.Flush()
}

// printStatus prints the status object for people.
func printStatus(w io.Writer, st workspace.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	state := string(st.State)
	if st.Phase != "" {
		state += " (" + string(st.Phase) + ")"
	}
	fmt.Fprintf(tw, "project\t%s\n", st.Project)
	fmt.Fprintf(tw, "state\t%s\n", state)
	if st.SuperserverPort != 0 {
		host := st.Host
		fmt.Fprintf(tw, "superserver\t%s\n", net.JoinHostPort(host, strconv.Itoa(st.SuperserverPort)))
		fmt.Fprintf(tw, "portal\thttp://%s/csp/sys/UtilHome.csp\n", net.JoinHostPort(host, strconv.Itoa(st.WebPort)))
	} else {
		fmt.Fprintf(tw, "ports\tnone assigned yet ('iris-helper start' or 'iris-helper ports assign')\n")
	}
	fmt.Fprintf(tw, "bind address\t%s\n", st.BindAddress)
	if st.Container != "" {
		fmt.Fprintf(tw, "container\t%s\n", st.Container)
	}
	fmt.Fprintf(tw, "image\t%s\n", st.Image)
	if st.StartedAt != nil {
		fmt.Fprintf(tw, "started\t%s\n", st.StartedAt.Local().Format(time.RFC3339))
	}
	if st.ExitCode != nil {
		fmt.Fprintf(tw, "exit code\t%d\n", *st.ExitCode)
	}
	if st.EnvFile != "" {
		fmt.Fprintf(tw, "env file\t%s\n", st.EnvFile)
	}
	if st.RestartNeeded {
		fmt.Fprintf(tw, "restart needed\tyes\n")
	}
	if !st.IsIrisProject {
		fmt.Fprintf(tw, "note\tnot recognised as an IRIS project (editors do not start it automatically)\n")
	}
	if st.Message != "" {
		fmt.Fprintf(tw, "message\t%s\n", strings.ReplaceAll(st.Message, "\n", "\n\t"))
	}
	_ = tw.Flush()
}
