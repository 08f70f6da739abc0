#!/usr/bin/env bash
# End-to-end test of the VS Code extension in a real VS Code (code-server + headless Chromium +
# playwright-core, installed by scripts/ensure-e2e.sh into the cache outside the tree), with the
# helper bundled in the linux-x64 .vsix and the stand-in IRIS image on the real Docker engine.
# Screenshots and logs: test-artifacts/e2e/. Takes 3-6 min on a busy 2-core machine.
# A missing prerequisite that cannot be installed is a failure (never a skip).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/ensure-e2e.sh"
docker info >/dev/null 2>&1 || "$root/scripts/ensure-docker.sh"
make --no-print-directory build
VSIX_TARGETS=linux-x64 "$root/scripts/vsix.sh"
make --no-print-directory stub-image
exec node "$root/extension/test/e2e/run.js"
