#!/usr/bin/env bash
# Makes sure `docker compose` (v2, 2.24 or later) works: use the one installed; else build Docker
# Compose from its Go module (Debian 12 packages only v1) and install it as a CLI plugin. The binary
# is cached outside the tree (IRIS_HELPER_CACHE, default ~/.cache/iris-helper-dev). Idempotent.
# `go install …@version` refuses this module (its go.mod has exclude directives), so the module is
# downloaded and built inside a copy of its folder, with the version set by -ldflags.
set -euo pipefail
COMPOSE_VERSION=${IRIS_HELPER_COMPOSE_VERSION:-v2.40.3}
CACHE=${IRIS_HELPER_CACHE:-$HOME/.cache/iris-helper-dev}
bin="$CACHE/docker-compose-$COMPOSE_VERSION"
plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins

have_v2() {
  local v
  v=$(timeout 20 docker compose version --short 2>/dev/null) || return 1
  v=${v#v}
  # 2.24 or later (the !override/!reset merge tags)
  [ "${v%%.*}" -gt 2 ] 2>/dev/null && return 0
  [ "${v%%.*}" = 2 ] || return 1
  local minor=${v#*.}; minor=${minor%%.*}
  [ "$minor" -ge 24 ] 2>/dev/null
}

if have_v2; then exit 0; fi

if [ ! -x "$bin" ]; then
  GO=${GO:-go}
  command -v "$GO" >/dev/null || { echo "ensure-compose: no Go toolchain to build Docker Compose; install docker-compose-plugin (v2.24+)" >&2; exit 1; }
  echo "ensure-compose: building Docker Compose $COMPOSE_VERSION from its Go module (about 3 min)" >&2
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  dir=$(cd "$work" && GOFLAGS=-mod=mod timeout 600 "$GO" mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || { echo "ensure-compose: could not download github.com/docker/compose/v2@$COMPOSE_VERSION" >&2; exit 1; }
  cp -r "$dir" "$work/src"
  chmod -R u+w "$work/src"
  (cd "$work/src" && CGO_ENABLED=0 timeout 1200 "$GO" build -trimpath \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
    -o "$work/docker-compose" ./cmd)
  mkdir -p "$CACHE"
  mv "$work/docker-compose" "$bin.tmp" && mv "$bin.tmp" "$bin"
fi
mkdir -p "$plugins"
install -m 0755 "$bin" "$plugins/docker-compose"
if ! have_v2; then
  echo "ensure-compose: installed $bin as $plugins/docker-compose, but 'docker compose version' does not report 2.24+" >&2
  exit 1
fi
echo "ensure-compose: docker compose $(docker compose version --short)" >&2
