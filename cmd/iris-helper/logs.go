package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/workspace"
)

func newLogsCmd(a *app) *cobra.Command {
	var follow, build bool
	cmd := &cobra.Command{
		Use:   "logs [DIR]",
		Short: "Print the output of the project's IRIS container (--build: of its last build)",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProjectArg(cmd.Context(), a, args, workspace.ProjectOptions{})
			if err != nil {
				return err
			}
			if build {
				if follow {
					return &usageError{fmt.Errorf("--build prints the last build's output as kept; it does not take --follow")}
				}
				return p.BuildLog(a.stdout) // names the project
			}
			if err := p.Logs(cmd.Context(), follow, a.stdout); err != nil {
				if follow && cmd.Context().Err() != nil {
					return nil // interrupted while following: a normal end
				}
				return fmt.Errorf("logs of %s: %w", p.Root().Dir, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until interrupted")
	cmd.Flags().BoolVar(&build, "build", false, "print the output of the project's last image build (Dockerfile and compose projects)")
	return cmd
}
