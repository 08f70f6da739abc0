package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/workspace"
	"github.com/iris-helper/iris-helper/workspace/dotenv"
)

// newEnvCmd is `iris-helper env`: keeping the project's .env in step with its ports (docs/env.md).
func newEnvCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Keep the project's .env in step with its ports",
		Long: "The project's .env (\"env\": {\"file\"} in .iris-helper.json, default .env in the project folder)\n" +
			"gets IRIS_HOST, IRIS_PORT and IRIS_WEB_PORT (names configurable) set to the project's assigned\n" +
			"ports. Only those values change; comments, order, quoting, export prefixes, CRLF and every other\n" +
			"byte stay as they are. The file must lie in the project folder (not in IRIS_HELPER_HOME) unless\n" +
			"you allow it (--allow-env-outside-project). See docs/env.md for the rules.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newEnvSyncCmd(a), newEnvWatchCmd(a))
	return cmd
}

// envSyncFlag parses --sync: "" = the project's mode (.iris-helper.json, else auto).
func envSyncFlag(s string) (dotenv.SyncMode, error) {
	if s == "" {
		return "", nil
	}
	m, err := dotenv.ParseSyncMode(s)
	if err != nil {
		return "", &usageError{fmt.Errorf("--sync: %w", err)}
	}
	return m, nil
}

func newEnvSyncCmd(a *app) *cobra.Command {
	var dryRun, asJSON bool
	var syncMode string
	cmd := &cobra.Command{
		Use:   "sync [DIR]",
		Short: "Write the project's ports into its .env once",
		Long: "Write the project's host and ports into its .env once and print what changed. DIR defaults to\n" +
			"the current folder; the project is found from it as everywhere else. A project without ports\n" +
			"gets them assigned first (as 'iris-helper ports assign' does).\n\n" +
			"--sync auto (default) updates an existing file and creates none; true also creates it; false\n" +
			"never touches it. Precedence: --sync > .iris-helper.json \"env\": {\"sync\"} > auto.\n" +
			"--dry-run prints a diff of the lines that would change and writes nothing.",
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			mode, err := envSyncFlag(syncMode)
			if err != nil {
				return err
			}
			p, err := openProjectArg(cmd.Context(), a, args, workspace.ProjectOptions{})
			if err != nil {
				return err
			}
			res, err := p.SyncEnv(cmd.Context(), workspace.EnvSyncOptions{Mode: mode, DryRun: dryRun})
			if err != nil {
				return err
			}
			if res.Assigned {
				fmt.Fprintf(a.stderr, "assigned ports to %s: superserver %d, web %d\n", p.Root().Dir, res.Assignment.SuperserverPort, res.Assignment.WebPort)
			}
			if asJSON {
				return writeJSON(a.stdout, res.Result)
			}
			printEnvResult(a.stdout, res.Result, res.Ports, dryRun)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show a diff of what would change, write nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&syncMode, "sync", "", "auto|true|false: whether to update and create the file (default from .iris-helper.json, else auto)")
	_ = cmd.RegisterFlagCompletionFunc("sync", cobra.FixedCompletions([]string{"auto", "true", "false"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func printEnvResult(w io.Writer, res dotenv.Result, p dotenv.Ports, dryRun bool) {
	ports := fmt.Sprintf("superserver %d, web %d", p.Superserver, p.Web)
	switch {
	case res.Skipped != "":
		fmt.Fprintf(w, "%s: %s (%s)\n", res.Path, res.Skipped, ports)
		return
	case dryRun:
		verb := "would update"
		if res.Created {
			verb = "would create"
		}
		fmt.Fprintf(w, "%s %s (%s):\n", verb, res.Path, ports)
		io.WriteString(w, unifiedDiff(res.Path, res.Before, res.After))
		return
	case res.Created:
		fmt.Fprintf(w, "created %s (%s)\n", res.Path, ports)
	default:
		fmt.Fprintf(w, "updated %s (%s)\n", res.Path, ports)
	}
	for _, c := range res.Changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
}

func newEnvWatchCmd(a *app) *cobra.Command {
	var syncMode string
	cmd := &cobra.Command{
		Use:   "watch [DIR]",
		Short: "Keep the project's .env in step until interrupted",
		Long: "Sync the project's .env, then watch it (for people who do not use an editor with the\n" +
			"iris-helper extension) until Ctrl-C. Reports go to stderr.\n\n" +
			"Setting a managed port key (IRIS_PORT, IRIS_WEB_PORT) in the file to another number asks for\n" +
			"that port: when it is free the project's assignment moves to it (a running container needs a\n" +
			"restart); when another project or process holds it, or the value is not a port number, the\n" +
			"assigned value is written back and the reason is printed. A change of the assignment in the\n" +
			"registry (e.g. 'iris-helper ports assign --port N') is written to the file.",
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mode, err := envSyncFlag(syncMode)
			if err != nil {
				return err
			}
			p, err := openProjectArg(ctx, a, args, workspace.ProjectOptions{})
			if err != nil {
				return err
			}
			log := func(format string, args ...any) {
				fmt.Fprintf(a.stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
			}
			var path string
			err = p.WatchEnv(ctx, workspace.EnvWatchOptions{
				Mode:      mode,
				OnMessage: func(m workspace.Message) { log("%s", m.Text) },
				OnWatching: func(file string, ports dotenv.Ports, mode dotenv.SyncMode) {
					path = file
					log("watching %s for %s (superserver %d, web %d, sync %s); press Ctrl-C to stop",
						path, p.Root().Dir, ports.Superserver, ports.Web, mode)
				},
			})
			if err != nil {
				return err // *workspace.EnvSyncOffError: remedy() names --sync
			}
			if path != "" {
				log("stopped watching %s", path)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&syncMode, "sync", "", "auto|true|false: whether to update and create the file (default from .iris-helper.json, else auto)")
	_ = cmd.RegisterFlagCompletionFunc("sync", cobra.FixedCompletions([]string{"auto", "true", "false"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// unifiedDiff renders the line changes between before and after in unified diff format
// with two lines of context.
func unifiedDiff(path string, before, after []byte) string {
	a, b := diffLines(before), diffLines(after)
	ops := lineDiff(a, b)
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s (after sync)\n", path, path)
	const context = 2
	// Hunks: runs of changes whose gaps are at most 2*context unchanged lines, plus context.
	var changed []int
	for i, op := range ops {
		if op.kind != ' ' {
			changed = append(changed, i)
		}
	}
	for k := 0; k < len(changed); {
		first, last := changed[k], changed[k]
		for k++; k < len(changed) && changed[k]-last-1 <= 2*context; k++ {
			last = changed[k]
		}
		start, end := max(0, first-context), min(len(ops), last+context+1)
		aStart, bStart, aLen, bLen := ops[start].a, ops[start].b, 0, 0
		for _, op := range ops[start:end] {
			if op.kind != '+' {
				aLen++
			}
			if op.kind != '-' {
				bLen++
			}
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(aStart, aLen), hunkRange(bStart, bLen))
		for _, op := range ops[start:end] {
			fmt.Fprintf(&sb, "%c%s\n", op.kind, op.text)
		}
	}
	return sb.String()
}

func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprint(start + 1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// diffLines splits a file into lines for display (without \r\n or \n).
func diffLines(b []byte) []string {
	s := strings.TrimPrefix(string(b), "\ufeff")
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")
	}
	return lines
}

type diffOp struct {
	kind byte // ' ', '-', '+'
	a, b int  // line index in before / after where the op sits
	text string
}

// lineDiff computes a shortest edit script (longest common subsequence) between a and b,
// after trimming the common prefix and suffix; the sync changes few lines, so the middle is small.
func lineDiff(a, b []string) []diffOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var ops []diffOp
	for i := 0; i < pre; i++ {
		ops = append(ops, diffOp{' ', i, i, a[i]})
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	if len(ma)*len(mb) > 4_000_000 { // too big for the table: all out, all in
		for i, l := range ma {
			ops = append(ops, diffOp{'-', pre + i, pre, l})
		}
		for j, l := range mb {
			ops = append(ops, diffOp{'+', pre + len(ma), pre + j, l})
		}
	} else {
		lcs := make([][]int32, len(ma)+1)
		for i := range lcs {
			lcs[i] = make([]int32, len(mb)+1)
		}
		for i := len(ma) - 1; i >= 0; i-- {
			for j := len(mb) - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(ma) || j < len(mb) {
			switch {
			case i < len(ma) && j < len(mb) && ma[i] == mb[j]:
				ops = append(ops, diffOp{' ', pre + i, pre + j, ma[i]})
				i, j = i+1, j+1
			case i < len(ma) && (j == len(mb) || lcs[i+1][j] >= lcs[i][j+1]):
				ops = append(ops, diffOp{'-', pre + i, pre + j, ma[i]})
				i++
			default:
				ops = append(ops, diffOp{'+', pre + i, pre + j, mb[j]})
				j++
			}
		}
	}
	for k := 0; k < suf; k++ {
		ia, ib := len(a)-suf+k, len(b)-suf+k
		ops = append(ops, diffOp{' ', ia, ib, a[ia]})
	}
	return ops
}
