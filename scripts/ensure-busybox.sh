#!/usr/bin/env bash
# Makes sure a statically linked busybox is installed (/usr/bin/busybox or /bin/busybox): the
# stand-in IRIS image (testdata/iris-stub, built FROM scratch) copies it in as its shell, so that
# real projects' Dockerfiles can RUN on it. Installs Debian's busybox-static when missing (root on
# Debian/Ubuntu); else fails with what to do. Idempotent.
set -euo pipefail

# Debian's busybox package is dynamically linked and conflicts with busybox-static; where dpkg is,
# ask it; elsewhere take the binary as it is (dockerops/dockertest checks the ELF before use).
have() {
  if command -v dpkg-query >/dev/null 2>&1; then
    [ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] || return 1
  fi
  [ -x /usr/bin/busybox ] || [ -x /bin/busybox ]
}

if have; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-busybox: no static busybox at /usr/bin/busybox or /bin/busybox." >&2
  echo "  Install it (Debian/Ubuntu: apt-get install busybox-static), then re-run." >&2
  exit 1
fi
echo "ensure-busybox: installing Debian's busybox-static" >&2
"$(dirname "$0")/apt-install.sh" busybox-static
if have; then exit 0; fi
echo "ensure-busybox: busybox-static is installed but no static busybox was found" >&2
exit 1
