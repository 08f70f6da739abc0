package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace"
)

// newPortsCmd is `iris-helper ports`: the machine-wide port registry (docs/registry.md).
func newPortsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ports",
		Short: "List, inspect, assign and release the per-project port pairs",
		Long: "Every project (the folder iris-helper finds from DIR, as everywhere else) gets its own pair of host\n" +
			"ports: a superserver port and a web port. The pairs live in the machine-wide registry\n" +
			"$IRIS_HELPER_HOME/registry.json (default ~/.iris-helper). See docs/registry.md for the rules.\n\n" +
			"Ranges: IRIS_HELPER_SUPERSERVER_RANGE=lo-hi and IRIS_HELPER_WEB_RANGE=lo-hi, or\n" +
			`{"superserverRange":"lo-hi","webRange":"lo-hi"} in $IRIS_HELPER_HOME/config.json.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newPortsListCmd(a),
		newPortsInspectCmd(a),
		newPortsAssignCmd(a),
		newPortsReleaseCmd(a),
		newPortsCleanupCmd(a),
		newPortsClearCmd(a),
	)
	return cmd
}

// projectDir resolves DIR (default: the current folder) to the project key with FindRoot.
func projectDir(args []string) (string, error) {
	dir := "."
	if len(args) > 0 {
		dir = args[0]
	}
	root, err := workspace.FindRoot(dir)
	if err != nil {
		return "", err // names dir
	}
	return root.Dir, nil
}

// parseTarget reads [DIR|PORT] (workspace.ResolvePortTarget); a port out of range is a usage error.
func parseTarget(args []string) (workspace.PortTarget, error) {
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	t, err := workspace.ResolvePortTarget(arg)
	var bad *workspace.PortRangeError
	if errors.As(err, &bad) {
		return t, &usageError{err}
	}
	return t, err
}

// machine is the machine-wide view of the port verbs: the registry, the engine when it answers,
// and a warning (a corrupt registry rebuilt from container labels) printed to stderr.
func machine(ctx context.Context, a *app) (workspace.Machine, error) {
	reg, err := openPortRegistry(a)
	if err != nil {
		return workspace.Machine{}, err
	}
	return workspace.Machine{Reg: reg, Eng: engineIfUp(ctx, a), OnMessage: func(m workspace.Message) {
		fmt.Fprintln(a.stderr, "iris-helper: warning:", m.Text)
	}}, nil
}

func newPortsListCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every port assignment on this machine",
		Long: "List every port assignment: project, superserver port, web port, type (auto: a slot of the\n" +
			"ranges; manual: ports the project asked for), status (active, idle, or stale: the project\n" +
			"folder is gone) and when it was last used. --json prints {\"assignments\": [...]}: the\n" +
			"registry's fields and the container's live state (containerState, state), as the editor\n" +
			"sees them. A note under the table names an assignment whose folder project detection no\n" +
			"longer reaches (docs/config.md); --json lists them as \"notes\".",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := machine(cmd.Context(), a)
			if err != nil {
				return err
			}
			ports, err := m.ListPorts(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, ports)
			}
			reg := m.Reg
			list := make([]registry.Assignment, len(ports.Assignments))
			for i, x := range ports.Assignments {
				list[i] = x.Assignment
			}
			notes, invalid := ports.Notes, ports.Invalid
			if len(list) == 0 {
				_, err = fmt.Fprintf(a.stdout, "No ports assigned yet (registry %s).\n", reg.Path())
			} else {
				err = printAssignmentTable(a.stdout, list)
			}
			if err != nil {
				return err
			}
			if err := printRootNotes(a.stdout, list, notes); err != nil || len(invalid) == 0 {
				return err
			}
			// Entries that failed validation are never used; say so, so that nobody wonders where they went.
			fmt.Fprintf(a.stdout, "Invalid entries in %s (not used; iris-helper keeps them as they are: fix or delete them by hand):\n", reg.Path())
			for _, x := range invalid {
				if x.Project != "" {
					fmt.Fprintf(a.stdout, "  entry %d (%s): %s\n", x.Index, x.Project, x.Reason)
				} else {
					fmt.Fprintf(a.stdout, "  entry %d: %s\n", x.Index, x.Reason)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"assignments": [...]} as JSON`)
	return cmd
}

// walkStopWhy words a workspace.WalkStop for `ports list`.
var walkStopWhy = map[workspace.WalkStop]string{
	workspace.StopHome:             "it is your home folder (or holds it)",
	workspace.StopFilesystemRoot:   "it is a filesystem root",
	workspace.StopNotOwned:         "it is owned by another user",
	workspace.StopWritableByOthers: "other users may write to it",
	workspace.StopUnreadable:       "its owner and mode cannot be read",
}

// printRootNotes words the notes under the table. The remedy names the superserver port: a DIR that
// now resolves to another folder would name that folder's assignment.
func printRootNotes(w io.Writer, list []registry.Assignment, notes []workspace.KeyNote) error {
	port := map[string]int{}
	for _, x := range list {
		port[x.Project] = x.SuperserverPort
	}
	for _, n := range notes {
		text := fmt.Sprintf("%s is no longer a project root: it now resolves to %s, so its ports are unused", n.Project, n.ResolvesTo)
		if n.ResolvesTo == "" {
			text = fmt.Sprintf("%s is no longer a project root for its subfolders: %s, and project detection "+
				"does not walk up into such a folder. Only a command or editor that names %s itself uses its ports",
				n.Project, walkStopWhy[n.Stop], n.Project)
		}
		if _, err := fmt.Fprintf(w, "\nNote: %s; 'iris-helper ports release %d' frees them.\n", text, port[n.Project]); err != nil {
			return err
		}
	}
	return nil
}

// timeLayout is how the CLI shows registry times (local time, minutes).
const timeLayout = "2006-01-02 15:04"

func showTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(timeLayout)
}

func printAssignmentTable(w io.Writer, list []registry.Assignment) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tSUPERSERVER\tWEB\tTYPE\tSTATUS\tLAST USED")
	extra := false
	for _, x := range list {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", x.Project, x.SuperserverPort, x.WebPort, x.Type, x.Status, showTime(x.LastUsedAt))
		extra = extra || len(x.Extra) > 0
	}
	if err := tw.Flush(); err != nil || !extra {
		return err
	}
	// a compose project's other published ports, one a line (docs/registry.md "Extra ports")
	fmt.Fprintln(w, "\nExtra ports:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  PROJECT\tKEY\tPORT")
	for _, x := range list {
		for _, e := range x.Extra {
			fmt.Fprintf(tw, "  %s\t%s\t%d\n", x.Project, e.Key, e.Port)
		}
	}
	return tw.Flush()
}

// portKeyOf is the key under which a holds port: superserver, web or an extra port's key ("" none).
func portKeyOf(a registry.Assignment, port int) string {
	switch port {
	case a.SuperserverPort:
		return registry.KeySuperserver
	case a.WebPort:
		return registry.KeyWeb
	}
	for _, e := range a.Extra {
		if e.Port == port {
			return e.Key
		}
	}
	return ""
}

// printAssignment prints one assignment; port (0: none) is the port the user named: an extra port is
// said with its key.
func printAssignment(w io.Writer, x registry.Assignment, port int) error {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	slot := "none (manual)"
	if x.Slot != nil {
		slot = strconv.Itoa(*x.Slot)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if k := portKeyOf(x, port); port != 0 && k != "" && k != registry.KeySuperserver && k != registry.KeyWeb {
		fmt.Fprintf(tw, "port\t%d (%s)\n", port, k)
	}
	fmt.Fprintf(tw, "project\t%s\n", x.Project)
	fmt.Fprintf(tw, "superserver\t%d\n", x.SuperserverPort)
	fmt.Fprintf(tw, "web\t%d\n", x.WebPort)
	fmt.Fprintf(tw, "slot\t%s\n", slot)
	fmt.Fprintf(tw, "type\t%s\n", x.Type)
	fmt.Fprintf(tw, "status\t%s\n", x.Status)
	fmt.Fprintf(tw, "container\t%s\n", dash(x.Container))
	fmt.Fprintf(tw, "engine\t%s\n", dash(x.Engine))
	fmt.Fprintf(tw, "assigned\t%s\n", showTime(x.AssignedAt))
	fmt.Fprintf(tw, "last used\t%s\n", showTime(x.LastUsedAt))
	for _, e := range x.Extra {
		fmt.Fprintf(tw, "extra\t%d (%s)\n", e.Port, e.Key)
	}
	return tw.Flush()
}

func newPortsInspectCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect [DIR|PORT]",
		Short: "Show the assignment of a project folder or of a port",
		Long: "Show one assignment. The argument is a project folder (default: the current folder,\n" +
			"resolved to its project root) or a port number (either the superserver or the web port).\n" +
			"A number that names an existing folder is taken as the folder. Exit code 1 when nothing is\n" +
			"assigned. --json prints the assignment with its container's live state (containerState, state).",
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeTarget(a),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTarget(args)
			if err != nil {
				return err
			}
			m, err := machine(cmd.Context(), a)
			if err != nil {
				return err
			}
			x, err := m.InspectPorts(cmd.Context(), t)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, x)
			}
			return printAssignment(a.stdout, x.Assignment, t.Port)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the assignment object as JSON")
	return cmd
}

func newPortsAssignCmd(a *app) *cobra.Command {
	var asJSON bool
	var port, webPort int
	cmd := &cobra.Command{
		Use:   "assign [DIR]",
		Short: "Give the project its port pair (or return the one it has)",
		Long: "Give the project (found from DIR, default the current folder) its port pair. Without flags\n" +
			"it is idempotent: a project that has ports keeps them; a new one gets the lowest free slot\n" +
			"of the ranges. --port and/or --web-port ask for specific ports (a manual assignment, which\n" +
			"may lie outside the ranges); they are refused when another project, a container or another\n" +
			"process holds them. Asking for different ports moves the project to them. Without the flags,\n" +
			"the \"ports\" of the project's .iris-helper.json apply (flags win over the file).\n" +
			"--json prints the assignment with its container's live state (containerState, state).",
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range []struct {
				name string
				v    int
			}{{"--port", port}, {"--web-port", webPort}} {
				if cmd.Flags().Changed(strings.TrimPrefix(f.name, "--")) && (f.v < 1 || f.v > 65535) {
					return &usageError{fmt.Errorf("%s %d is out of range: give a port between 1 and 65535", f.name, f.v)}
				}
			}
			if port != 0 && port == webPort {
				return &usageError{fmt.Errorf("--port and --web-port are both %d: give two different ports", port)}
			}
			dir, err := projectDir(args)
			if err != nil {
				return err
			}
			m, err := machine(cmd.Context(), a)
			if err != nil {
				return err
			}
			// Flags > the project's .iris-helper.json "ports" > the next free slot, as for `start`.
			x, err := m.AssignPorts(cmd.Context(), dir, registry.Preferred{Superserver: port, Web: webPort})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, x)
			}
			return printAssignment(a.stdout, x.Assignment, 0)
		},
	}
	cmd.Flags().IntVar(&port, "port", 0, "superserver port to use (manual assignment)")
	cmd.Flags().IntVar(&webPort, "web-port", 0, "web port to use (manual assignment)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the assignment object as JSON")
	return cmd
}

func newPortsReleaseCmd(a *app) *cobra.Command {
	var force, purge bool
	cmd := &cobra.Command{
		Use:   "release [DIR|PORT]",
		Short: "Give a project's port pair back to the registry",
		Long: "Remove the assignment of a project folder (default: the current folder, resolved to its\n" +
			"project root) or of the project holding a port. Its slot becomes free for other projects;\n" +
			"the project gets a pair again the next time it is assigned or started. A folder that no\n" +
			"longer exists names the assignment of exactly that path (a stale project in 'ports list').\n" +
			"Exit code 1 when nothing is assigned.",
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeTarget(a),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTarget(args)
			if err != nil {
				return err
			}
			m, err := machine(cmd.Context(), a)
			if err != nil {
				return err
			}
			// Refused while the project's container runs unless --force (stop and remove it first);
			// --purge also deletes its data volume. Without Docker only the registry entry goes.
			released, err := m.ReleasePorts(cmd.Context(), t, workspace.ReleaseOptions{Force: force, Purge: purge})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "Released superserver %d and web %d of %s.\n",
				released.SuperserverPort, released.WebPort, released.Project)
			return err
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "stop and remove the project's running IRIS container first (refused without it)")
	cmd.Flags().BoolVar(&purge, "purge", false, "also remove the project's container and delete its IRIS data volume")
	return cmd
}

func newPortsCleanupCmd(a *app) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Release the assignments of projects whose folder is gone",
		Long: "Remove stale assignments: projects whose folder no longer exists and that have no\n" +
			"iris-helper container left (when the Docker engine does not answer, only the folders are\n" +
			"checked, and it says so). --dry-run only lists what would be removed.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := machine(cmd.Context(), a)
			if err != nil {
				return err
			}
			// Stale = folder gone AND no iris-helper container (containers checked when Docker answers).
			stale, warning, err := m.CleanupPorts(cmd.Context(), dryRun)
			if err != nil {
				return err
			}
			if warning != "" {
				fmt.Fprintln(a.stderr, "iris-helper:", warning)
			}
			return printCleanup(a.stdout, stale, dryRun)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only list what would be removed")
	return cmd
}

func printCleanup(w io.Writer, stale []registry.Assignment, dryRun bool) error {
	if len(stale) == 0 {
		_, err := fmt.Fprintln(w, "Nothing to clean up.")
		return err
	}
	verb := "Released"
	if dryRun {
		verb = "Would release"
	}
	fmt.Fprintf(w, "%s %d stale assignment(s):\n", verb, len(stale))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, x := range stale {
		fmt.Fprintf(tw, "  %d/%d\t%s\n", x.SuperserverPort, x.WebPort, x.Project)
	}
	return tw.Flush()
}

func newPortsClearCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "clear --yes",
		Short: "Remove every port assignment (asks for --yes)",
		Long: "Remove every assignment from the registry. Running containers keep their ports until they\n" +
			"stop, but the registry forgets them. Requires --yes.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return &usageError{errors.New("ports clear removes every port assignment on this machine; add --yes to confirm")}
			}
			m, err := machine(cmd.Context(), a)
			if err != nil {
				return err
			}
			removed, err := m.ClearPorts(cmd.Context())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "Removed %d assignment(s) from %s.\n", len(removed), m.Reg.Path())
			return err
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm that every assignment is removed")
	return cmd
}

// completeDirs completes DIR arguments with folders.
func completeDirs(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// completeTarget completes [DIR|PORT] with the assigned projects and ports; when none of them
// matches what was typed (or the registry cannot be read), with folders.
func completeTarget(a *app) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		reg, err := openPortRegistry(a)
		if err != nil {
			return nil, cobra.ShellCompDirectiveFilterDirs
		}
		list, err := reg.List(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveFilterDirs
		}
		var out []cobra.Completion
		for _, x := range list {
			desc := fmt.Sprintf("%d/%d %s", x.SuperserverPort, x.WebPort, x.Type)
			for _, c := range []string{x.Project, strconv.Itoa(x.SuperserverPort), strconv.Itoa(x.WebPort)} {
				if strings.HasPrefix(c, toComplete) {
					out = append(out, cobra.CompletionWithDesc(c, desc))
				}
			}
		}
		if len(out) == 0 {
			return nil, cobra.ShellCompDirectiveFilterDirs
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
