package workspace

// HOOK of the Dockerfile kind: the `dockerfile` helper's branch replaces this file (same
// signature as its dockerfileKind).

// dockerfileKind tells whether the project at root is of the Dockerfile kind by its files (a root
// Dockerfile whose final stage is an IRIS image, and no compose file). Placeholder: never.
func dockerfileKind(root string) (ok bool, reason string, err error) { return false, "", nil }
