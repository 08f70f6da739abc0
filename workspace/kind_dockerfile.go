package workspace

// HOOK of the Dockerfile kind: the `dockerfile` helper's branch replaces this file.

// hasIRISDockerfile reports whether root has a Dockerfile whose final stage is an IRIS image
// (the Dockerfile kind, chosen after compose). Placeholder: never.
func hasIRISDockerfile(root string) bool { return false }
