#!/usr/bin/env bash
# apt-get update + install of the Debian packages named, for the ensure-* scripts (root only). One
# install at a time across processes (flock), so `make -j setup` can run those scripts at once: two
# apt-gets side by side fail on dpkg's lock instead of waiting for it.
set -euo pipefail
exec 9>"${TMPDIR:-/tmp}/iris-helper-apt.lock"
flock 9
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
