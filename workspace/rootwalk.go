package workspace

import (
	"os"
	"path/filepath"

	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// A WalkStop is why root detection does not walk up into a folder: a file there is not the
// project's to decide with (docs/config.md, "Which folder is the project"). The folder a command
// names, or the editor opens, is looked at whatever its WalkStop; only the walk above it stops.
type WalkStop string

// The reasons a walk stops before a folder.
const (
	StopNone WalkStop = ""
	// StopHome: the folder is the user's home ($HOME, %USERPROFILE%) or holds it.
	StopHome WalkStop = "home"
	// StopFilesystemRoot: the folder is "/" or a drive root.
	StopFilesystemRoot WalkStop = "filesystemRoot"
	// StopNotOwned: the folder is owned by neither the effective user nor root (Unix).
	StopNotOwned WalkStop = "notOwned"
	// StopWritableByOthers: any user may create files in the folder, such as /tmp (Unix).
	StopWritableByOthers WalkStop = "writableByOthers"
	// StopUnreadable: the folder's owner and mode cannot be read.
	StopUnreadable WalkStop = "unreadable"
)

// walkLimits are what the walk compares each folder above the start with.
type walkLimits struct {
	homes []string // $HOME as given and with its links resolved; none when unset
	uid   int      // the effective user; -1 where there are no owners to check (Windows)
}

// currentLimits are the limits of this process: its $HOME (%USERPROFILE%) and effective user.
func currentLimits() walkLimits {
	lim := walkLimits{uid: os.Geteuid()}
	if h, err := os.UserHomeDir(); err == nil && filepath.IsAbs(h) {
		h = filepath.Clean(h)
		lim.homes = append(lim.homes, h)
		if real, err := filepath.EvalSymlinks(h); err == nil && real != h {
			lim.homes = append(lim.homes, real)
		}
	}
	return lim
}

// stopAt says why a walk coming up from below does not enter dir (canonical), or StopNone.
func (l walkLimits) stopAt(dir string) WalkStop {
	if filepath.Dir(dir) == dir {
		return StopFilesystemRoot
	}
	for _, h := range l.homes {
		if projfile.Within(h, dir) {
			return StopHome
		}
	}
	return folderStop(dir, l.uid)
}

// KeyNote says that a port registry key is no longer a folder root detection finds, so that its
// assignment is listed as such rather than silently orphaned. A key is the project folder
// FindRoot chose when the ports were assigned; detection rules change (the walk stops at the
// repository, at $HOME, …) and folders change.
type KeyNote struct {
	Project string `json:"project"`
	// Stop is set when detection no longer walks up into Project from its subfolders: only a
	// command or editor naming Project itself still uses its ports.
	Stop WalkStop `json:"reason,omitempty"`
	// ResolvesTo is set when Project itself now resolves to another folder.
	ResolvesTo string `json:"resolvesTo,omitempty"`
}

// CheckProjectKey reports whether key (a registry assignment's project) is still a project root
// that detection reaches. A folder that is gone is not checked: the registry lists it as stale.
// The check reads markers as FindRoot does but skips its source scan.
func CheckProjectKey(key string) (KeyNote, bool) {
	return checkProjectKey(key, currentLimits())
}

func checkProjectKey(key string, lim walkLimits) (KeyNote, bool) {
	if !filepath.IsAbs(key) {
		return KeyNote{}, false
	}
	if fi, err := os.Stat(key); err != nil || !fi.IsDir() {
		return KeyNote{}, false
	}
	n := KeyNote{Project: key, Stop: lim.stopAt(key)}
	if r, err := findRoot(key, lim, false); err == nil && r.Dir != key {
		n.ResolvesTo = r.Dir
	}
	if n.Stop == StopNone && n.ResolvesTo == "" {
		return KeyNote{}, false
	}
	return n, true
}
