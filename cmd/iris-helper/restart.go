package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/workspace"
)

func newRestartCmd(a *app) *cobra.Command {
	var (
		yes     bool
		timeout time.Duration
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "restart [DIR]",
		Short: "Stop and start the project's IRIS container, applying its current ports and settings",
		Long: "Stop the project's IRIS container (DIR, default the current folder) and start it again with the\n" +
			"project's current ports and settings (what the status calls restartNeeded). When that means\n" +
			"recreating a container whose data is not on the durable volume (durable: false, or an image\n" +
			"without ISC_PACKAGE_INSTALLDIR), that data is lost: restart asks first on a terminal, and\n" +
			"otherwise refuses unless --yes is given. Nothing is stopped before the question is answered.",
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return &usageError{fmt.Errorf("--timeout must be positive, e.g. 3m")}
			}
			p, err := openProjectArg(cmd.Context(), a, args, workspace.ProjectOptions{ReadyTimeout: timeout})
			if err != nil {
				return err
			}
			pp := &progressPrinter{w: a.stderr, start: time.Now()}
			st, err := p.RestartWith(cmd.Context(), workspace.RestartOptions{Consent: explicitConsent}, pp.print)
			// A confirmation (--yes or the answer) covers the container the refusal named only.
			var confirm *workspace.ConfirmRequiredError
			if errors.As(err, &confirm) && (yes || isTerminal(a.stdin)) {
				if yes || askYes(a.stdin, a.stderr, confirm.Error()+"\nRecreate it? [y/N] ") {
					st, err = p.RestartWith(cmd.Context(), workspace.RestartOptions{Confirm: confirm.Container, Consent: explicitConsent}, pp.print)
				} else {
					return errors.New("restart cancelled; nothing was changed")
				}
			}
			return finishStart(a, p, st, err, asJSON)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&yes, "yes", "y", false, "recreate a container whose data is not on the durable volume without asking (the data is lost)")
	f.DurationVar(&timeout, "timeout", workspace.DefaultReadyTimeout, "how long to wait for IRIS to answer")
	f.BoolVar(&asJSON, "json", false, "print the status object (docs/status.md) as JSON")
	return cmd
}

// isTerminal reports whether r is a terminal a question can be asked on.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// askYes asks question on w and reads the answer from r: true for y or yes.
func askYes(r io.Reader, w io.Writer, question string) bool {
	fmt.Fprint(w, question)
	line, _ := bufio.NewReader(r).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// finishStart reports the outcome of a start or restart: the status as JSON (asJSON, also after
// an error) or the connection details, the notes, and the error with the command line's remedy.
func finishStart(a *app, p *workspace.Project, st workspace.Status, err error, asJSON bool) error {
	if asJSON {
		if jerr := writeJSON(a.stdout, st); jerr != nil && err == nil {
			err = jerr
		}
	} else if err == nil {
		printConnection(a.stdout, st)
	}
	if err == nil {
		startNotes(a.stderr, st)
	}
	return err // run adds the remedy
}

// startNotes prints what the user should know after a successful start or restart (stderr).
func startNotes(w io.Writer, st workspace.Status) {
	if text := workspace.ExposureWarning(st); text != "" {
		fmt.Fprintln(w, "iris-helper: warning:", text)
	}
	if st.Message != "" {
		fmt.Fprintln(w, "iris-helper:", st.Message)
	}
}
