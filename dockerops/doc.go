// Package dockerops is everything iris-helper says to the Docker engine: which engine to
// talk to (DOCKER_HOST, the docker CLI context, the default socket), the host ports that
// containers publish, and the lifecycle of one project's IRIS container — ensure the image,
// create or reuse the container with fixed port bindings and a durable volume, wait until
// IRIS really answers, stop, inspect, logs and engine events.
//
// It is a leaf package: it imports neither registry nor workspace. Ownership of containers
// and volumes is decided by labels (LabelProject and friends), never by name patterns.
// Every engine call runs under a context deadline; an engine that cannot be reached is
// reported as *UnavailableError with what to do next.
package dockerops
