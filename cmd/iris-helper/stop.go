package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/workspace"
)

func newStopCmd(a *app) *cobra.Command {
	var remove, purge, asJSON, yes bool
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
			if purge && p.Status(cmd.Context()).Kind == workspace.KindCompose && !yes {
				// a compose project's named volumes hold its data: ask first, naming them
				vols, err := p.PurgeVolumes(cmd.Context())
				if err != nil {
					return err
				}
				if len(vols) > 0 {
					q := fmt.Sprintf("--purge deletes the volumes of %s: %s", p.Root().Dir, strings.Join(vols, ", "))
					if !isTerminal(a.stdin) {
						return fmt.Errorf("%s; pass --yes to delete them without a terminal to ask on", q)
					}
					if !askYes(a.stdin, a.stderr, q+"\nDelete them? [y/N] ") {
						return errors.New("nothing was deleted")
					}
				}
			}
			st, vols, err := p.StopVolumes(cmd.Context(), workspace.StopOptions{Remove: remove, Purge: purge})
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
			case remove && purge && st.Kind == workspace.KindCompose:
				fmt.Fprintf(a.stdout, "removed the containers of %s and its volumes: %s\n", st.Project, strings.Join(append([]string{}, vols...), ", "))
			case remove && st.Kind == workspace.KindCompose:
				fmt.Fprintf(a.stdout, "removed the containers of %s (docker compose down; its volumes are kept)\n", st.Project)
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
	f.BoolVarP(&yes, "yes", "y", false, "with --purge: delete a compose project's volumes without asking")
	return cmd
}
