package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/workspace"
)

func newStopCmd(a *app) *cobra.Command {
	var remove, purge, asJSON bool
	cmd := &cobra.Command{
		Use:   "stop [DIR]",
		Short: "Stop the project's IRIS container (kept for a fast next start unless --remove)",
		Long: "Stop the project's IRIS container in order. The container is kept, so the next start is\n" +
			"fast; --remove removes it (its data stays on the project's volume); --remove --purge also\n" +
			"deletes that volume. The project keeps its ports either way (see 'iris-helper ports release').",
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if purge && !remove {
				return &usageError{errors.New("--purge deletes the data volume and needs --remove")}
			}
			p, err := openProjectArg(cmd.Context(), a, args, workspace.ProjectOptions{})
			if err != nil {
				return err
			}
			st, err := p.Stop(cmd.Context(), workspace.StopOptions{Remove: remove, Purge: purge})
			if asJSON {
				if jerr := writeJSON(a.stdout, st); jerr != nil && err == nil {
					err = jerr
				}
				return err
			}
			if err != nil {
				return err
			}
			switch {
			case remove && purge:
				fmt.Fprintf(a.stdout, "removed the IRIS container and data volume of %s\n", st.Project)
			case remove:
				fmt.Fprintf(a.stdout, "removed the IRIS container of %s (data kept on its volume)\n", st.Project)
			case st.Container == "":
				fmt.Fprintf(a.stdout, "%s has no IRIS container; nothing to stop\n", st.Project)
			default:
				fmt.Fprintf(a.stdout, "stopped %s (%s)\n", st.Container, st.Project)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&remove, "remove", false, "remove the container after stopping it")
	f.BoolVar(&purge, "purge", false, "with --remove: also delete the project's data volume")
	f.BoolVar(&asJSON, "json", false, "print the status object (docs/status.md) as JSON")
	return cmd
}
