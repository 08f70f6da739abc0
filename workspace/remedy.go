package workspace

import (
	"errors"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// RemedyKind names what the user can do about a failure. The library's messages say what went
// wrong, naming their context once; each front end words the remedy in its own terms (the CLI its
// flags and commands, the editor its command titles and settings) from the Remedy of the error.
type RemedyKind string

const (
	RemedyNone            RemedyKind = ""
	RemedyAllow           RemedyKind = "allow"            // a knob lifts the refusal: Knob
	RemedyConfirm         RemedyKind = "confirm"          // a restart must be confirmed: Project, Container
	RemedyRecreate        RemedyKind = "recreate"         // a kept container may be recreated: Project, Container
	RemedyStopOrForce     RemedyKind = "stop-or-force"    // the container runs (or starts): stop it, or force: Project
	RemedyReleaseHolder   RemedyKind = "release-holder"   // another project holds the port: Project is the holder
	RemedyFreeSlot        RemedyKind = "free-slot"        // no slot is free: release one
	RemedyAssignOrList    RemedyKind = "assign-or-list"   // the project has no ports: Project
	RemedyListAssignments RemedyKind = "list-assignments" // no project has the port
	RemedyOtherImage      RemedyKind = "other-image"      // the image cannot be pulled
	RemedyShowOutput      RemedyKind = "show-output"      // the container exited: its full output, Container
	RemedyAllowCompose    RemedyKind = "allow-compose"    // the compose project needs the user's consent: Project
	RemedySyncOn          RemedyKind = "sync-on"          // .env sync is false, so a watch has nothing to do: Project
	RemedyShowBuildLog    RemedyKind = "show-build-log"   // the build failed: its whole output, Path (the build log)
	RemedyStartExplicitly RemedyKind = "start-explicitly" // only an explicit start runs it: Project
)

// Remedy is what a front end needs to word the remedy of an error.
type Remedy struct {
	Kind               RemedyKind
	Project, Container string
	Knob               Knob
	Path               string // RemedyShowBuildLog: the build log file ("" when none was written)
}

// RemedyFor is the remedy of err (through wrapping); Kind is RemedyNone when the message says all
// there is.
func RemedyFor(err error) Remedy {
	var (
		ke        interface{ Knob() Knob }
		confirm   *ConfirmRequiredError
		keep      *dockerops.KeepError
		running   *RunningError
		conflict  *registry.ConflictError
		exhausted *registry.ExhaustedError
		notFound  *registry.NotFoundError
		pull      *dockerops.PullError
		exited    *dockerops.ExitedError
		consent   *ComposeConsentError
		syncOff   *EnvSyncOffError
		build     *dockerops.BuildError
		auto      *AutoStartRefusedError
	)
	switch {
	case err == nil:
	case errors.As(err, &ke) && ke.Knob() != "":
		return Remedy{Kind: RemedyAllow, Knob: ke.Knob()}
	case errors.As(err, &confirm):
		return Remedy{Kind: RemedyConfirm, Project: confirm.Project, Container: confirm.Container}
	case errors.As(err, &keep):
		return Remedy{Kind: RemedyRecreate, Project: keep.Project, Container: keep.Container}
	case errors.As(err, &running):
		return Remedy{Kind: RemedyStopOrForce, Project: running.Project, Container: running.Container}
	case errors.As(err, &conflict) && conflict.HolderProject != "":
		return Remedy{Kind: RemedyReleaseHolder, Project: conflict.HolderProject}
	case errors.As(err, &exhausted):
		return Remedy{Kind: RemedyFreeSlot}
	case errors.As(err, &notFound) && notFound.Project != "":
		return Remedy{Kind: RemedyAssignOrList, Project: notFound.Project}
	case errors.As(err, &notFound):
		return Remedy{Kind: RemedyListAssignments}
	case errors.As(err, &pull):
		return Remedy{Kind: RemedyOtherImage}
	case errors.As(err, &exited):
		return Remedy{Kind: RemedyShowOutput, Container: exited.Container}
	case errors.As(err, &consent):
		return Remedy{Kind: RemedyAllowCompose, Project: consent.Project}
	case errors.As(err, &syncOff):
		return Remedy{Kind: RemedySyncOn, Project: syncOff.Project}
	case errors.As(err, &build):
		return Remedy{Kind: RemedyShowBuildLog, Path: build.Log}
	case errors.As(err, &auto):
		return Remedy{Kind: RemedyStartExplicitly, Project: auto.Project}
	}
	return Remedy{}
}
