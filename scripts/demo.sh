#!/usr/bin/env bash
# The main job on the sample project (`make demo`, after `make build`): give testdata/sample-project
# its ports, start its IRIS container on them and show how to connect.
#
# Image: $IRIS_HELPER_IMAGE, else InterSystems' IRIS Community image. When that image is neither
# local nor pullable (no network, or no `docker login containers.intersystems.com`), the demo
# builds the stand-in IRIS image the tests use (testdata/iris-stub) and runs that instead, and
# says so: it behaves like IRIS where iris-helper looks, but it is not IRIS.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=bin/iris-helper
PROJECT=testdata/sample-project
REAL_IMAGE=containers.intersystems.com/intersystems/iris-community:latest-em
IMAGE=${IRIS_HELPER_IMAGE:-$REAL_IMAGE}
STUB_IMAGE=${STUB_IMAGE:-iris-helper/iris-stub:dev}

[ -x "$BIN" ] || { echo "demo: $BIN is missing; run 'make demo' (it builds first)" >&2; exit 1; }

./scripts/ensure-docker.sh

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "demo: using $IMAGE (present locally)"
elif echo "demo: trying to pull $IMAGE ..." && timeout 900 docker pull -q "$IMAGE" >/dev/null 2>&1; then
  echo "demo: pulled $IMAGE"
else
  echo "demo: $IMAGE is neither local nor pullable (no network access to its registry, or no"
  echo "      'docker login containers.intersystems.com'). Using the STAND-IN IRIS image $STUB_IMAGE"
  echo "      instead: it answers like IRIS where iris-helper looks (ports, portal page, logs) but is NOT IRIS."
  go run ./dockerops/dockertest/cmd/buildstub -tag "$STUB_IMAGE"
  IMAGE=$STUB_IMAGE
fi

# The image for every command below (a --image flag on start alone would make the next status
# compare the container with the default image and say a restart is needed).
export IRIS_HELPER_IMAGE=$IMAGE
echo
echo "\$ export IRIS_HELPER_IMAGE=$IMAGE"
echo "\$ iris-helper start $PROJECT"
"$BIN" start "$PROJECT"
echo
echo "\$ iris-helper status $PROJECT"
"$BIN" status "$PROJECT"
echo
echo "\$ grep -E '^(export )?IRIS_' $PROJECT/.env    # kept in step with the assigned ports"
grep -E '^(export )?IRIS_' "$PROJECT/.env" || true
echo
echo "\$ iris-helper ports list"
"$BIN" ports list 2>/dev/null || true
echo
echo "demo: stop it with '$BIN stop $PROJECT' (add --remove to drop the container; the ports stay reserved)."
