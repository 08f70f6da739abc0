package main

import (
	"fmt"
	"path/filepath"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace"
)

// remedy words, for the command line, what the user can do about err (workspace.RemedyFor): the
// flag, command or setting that lifts it. run prints it on its own line after the error; "" when
// the library's message says all there is. The editor's words for the same errors are rpc's remedy.
func remedy(err error) string {
	r := workspace.RemedyFor(err)
	switch r.Kind {
	case workspace.RemedyAllow:
		config := filepath.Join("$"+registry.EnvHome, registry.ConfigFileName)
		if home, herr := registry.DefaultHome(); herr == nil {
			config = filepath.Join(home, registry.ConfigFileName)
		}
		return fmt.Sprintf("To allow it, pass %s, or set %s=1, or put \"%s\": true in %s.", r.Knob.Flag(), r.Knob.Env(), r.Knob, config)
	case workspace.RemedyConfirm:
		return fmt.Sprintf("To confirm, run 'iris-helper restart --yes %s'.", r.Project)
	case workspace.RemedyRecreate:
		return fmt.Sprintf("To recreate it, run 'iris-helper restart --yes %s'.", r.Project)
	case workspace.RemedyStopOrForce:
		return fmt.Sprintf("Stop it first ('iris-helper stop %[1]s'), or run 'iris-helper ports release --force %[1]s' to stop it and release its ports.", r.Project)
	case workspace.RemedyReleaseHolder:
		return fmt.Sprintf("To release it, run 'iris-helper ports release %s'.", r.Project)
	case workspace.RemedyFreeSlot:
		return "To free a slot, run 'iris-helper ports release <dir>' (or 'iris-helper ports cleanup')."
	case workspace.RemedyAssignOrList:
		return "Run 'iris-helper ports assign' in that folder, or 'iris-helper ports list' to see the assignments."
	case workspace.RemedyListAssignments:
		return "Run 'iris-helper ports list' to see the assignments."
	case workspace.RemedyOtherImage:
		return "Or choose another image with --image."
	case workspace.RemedyShowOutput:
		return "See the full output with 'iris-helper logs'."
	case workspace.RemedyAllowCompose:
		return fmt.Sprintf("To allow them for this project, run 'iris-helper start %s' (an explicit start allows what it lists).", r.Project)
	case workspace.RemedySyncOn:
		return "To keep .env in step, pass --sync auto or --sync true (or set \"env\": {\"sync\": \"auto\"} in .iris-helper.json)."
	case workspace.RemedyShowBuildLog:
		return "See the whole build output with 'iris-helper logs --build'."
	case workspace.RemedyStartExplicitly:
		return fmt.Sprintf("To start it, run 'iris-helper start %s'.", r.Project)
	}
	return ""
}
