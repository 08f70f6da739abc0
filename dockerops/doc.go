// Package dockerops is everything iris-helper says to the Docker engine: which engine to
// talk to (DOCKER_HOST, the docker CLI context, the default socket), the host ports that
// containers publish, and the lifecycle of one project's IRIS container — ensure the image,
// create or reuse the container with fixed port bindings and a durable volume, wait until
// IRIS really answers, stop, inspect, logs and engine events.
//
// It is a leaf package: it imports neither registry nor workspace. Ownership of containers
// and volumes is decided by labels (LabelProject and friends), never by name patterns.
// Every engine call runs under a context deadline; an engine that cannot be reached, refuses
// us, or does not answer is reported as *UnavailableError with what to do next.
//
// Decisions worth knowing:
//
//   - Reuse: a container is reused when a digest of image name and ID, bind address, ports,
//     environment, arguments and durable mount (label dev.iris-helper.config) matches. A start
//     removes only what it created in the same call, or a stopped container whose data is on the
//     durable volume (replaced by one that mounts the same volume). A running container is never
//     stopped or recreated by a start (Container.Outdated says how it differs); a stopped one
//     whose data is not on the volume is kept (*KeepError) unless Spec.ConfirmRecreate names it.
//   - Readiness: the "Enabling logons" line logged after the current start AND any HTTP answer
//     from the web port. A TCP connect to a published port proves nothing: docker-proxy accepts
//     it before IRIS listens (measured: connect succeeds, first read is EOF, HTTP is reset).
//     The image healthcheck is not waited for; its status is reported in Container.Health.
//   - Real IRIS images (ISC_PACKAGE_INSTALLDIR in the image env) get `--check-caps false`, and
//     after readiness `iris session iris -U %SYS '##class(Security.Users).UnExpireUserPasswords("*")'`
//     (Spec.UnexpirePasswords); a failing session is a warning, not an error.
//   - Durable data (Spec.Durable, IRIS images only): the named volume VolumeName(project) is
//     mounted at /durable with ISC_DATA_DIRECTORY=/durable/iris. Until the volume carries
//     PreparedMarker, a one-shot container from the same image runs `chown -R 51773:51773 /durable`
//     as root at each create and before each start of a stopped container, so IRIS (irisowner, UID 51773) can create its data directory there;
//     on success the marker is written into the volume through that container (volume labels
//     cannot change after creation). Only Stop with purge deletes the volume.
//   - Builds (Build, for Dockerfile projects) run the docker CLI, not the API: BuildKit needs a
//     client session (build contexts, RUN --mount) that the CLI carries. `DOCKER_BUILDKIT=1 docker
//     build` first; a CLI 23+ without the buildx plugin refuses BuildKit, and then `docker compose
//     build` (whose plugin has its own BuildKit client) builds instead, said in the log. The child
//     runs in its own process group under a deadline, killed with its children when the context
//     ends (and on Linux when the helper dies). The output is kept by BuildLog and reported by
//     BuildProgress; a failure is *BuildError with the last lines.
package dockerops
