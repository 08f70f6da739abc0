#!/usr/bin/env bash
# Makes sure a Docker engine answers: use the one that answers; else, when root on Debian/Ubuntu,
# install Debian's docker.io, start dockerd in the background and wait for `docker info`;
# else fail with a message that says what to do.
set -euo pipefail
CACHE=${IRIS_HELPER_CACHE:-$HOME/.cache/iris-helper-dev}
mkdir -p "$CACHE"

if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-docker: no Docker engine answers and we are not root." >&2
  echo "  Start Docker (or Docker Desktop / colima), or on Linux join the 'docker' group, then re-run." >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-docker: no Docker engine and no apt-get to install one; install Docker and re-run." >&2
    exit 1
  fi
  echo "ensure-docker: installing Debian's docker.io" >&2
  "$(dirname "$0")/apt-install.sh" docker.io
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "ensure-docker: starting dockerd (log: $CACHE/dockerd.log)" >&2
  setsid dockerd >"$CACHE/dockerd.log" 2>&1 < /dev/null &
fi
for _ in $(seq 1 120); do
  if timeout 10 docker info >/dev/null 2>&1; then
    echo "ensure-docker: engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))" >&2
    exit 0
  fi
  sleep 0.5
done
echo "ensure-docker: dockerd did not answer within 60 s; see $CACHE/dockerd.log" >&2
tail -20 "$CACHE/dockerd.log" >&2 || true
exit 1
