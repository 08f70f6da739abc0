package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/workspace"
)

func newLogsCmd(a *app) *cobra.Command {
	var follow, build bool
	cmd := &cobra.Command{
		Use:   "logs [DIR]",
		Short: "Print the output of the project's IRIS container",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProjectArg(cmd.Context(), a, args, workspace.ProjectOptions{})
			if err != nil {
				return err
			}
			if build {
				return printBuildLog(a, p)
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
	cmd.Flags().BoolVar(&build, "build", false, "print the output of the project's last build instead (compose and Dockerfile projects)")
	return cmd
}

// printBuildLog copies the project's last build log to stdout.
func printBuildLog(a *app, p *workspace.Project) error {
	path := p.BuildLog()
	if path == "" {
		return fmt.Errorf("%s runs a plain IRIS image and builds nothing: there is no build log", p.Root().Dir)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s has no build log yet (a start writes it)", p.Root().Dir)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(a.stdout, f)
	return err
}
