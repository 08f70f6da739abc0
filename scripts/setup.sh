#!/usr/bin/env bash
# Installs what the tests need when it is missing; downloads are cached outside the tree
# (IRIS_HELPER_CACHE, default ~/.cache/iris-helper-dev). Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/ensure-docker.sh"
"$here/ensure-compose.sh"
"$here/ensure-editors.sh"
if [ -x "$here/ensure-e2e.sh" ]; then "$here/ensure-e2e.sh"; fi
"$here/reserve-test-ports.sh"
