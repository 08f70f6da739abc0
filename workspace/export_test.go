package workspace

// walkStopOf says why root detection, walking up from a subfolder, does not enter dir (a canonical
// folder path, such as a port registry key), or StopNone when it may: this process's limits.
func walkStopOf(dir string) WalkStop {
	return currentLimits().stopAt(dir)
}
