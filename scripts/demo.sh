#!/usr/bin/env bash
# The main job on the sample project: give it its ports and show them.
set -euo pipefail
cd "$(dirname "$0")/.."
bin/iris-helper ports assign testdata/sample-project
bin/iris-helper ports list
