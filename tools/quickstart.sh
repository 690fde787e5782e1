#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: installs what is missing, builds, and runs the
# quickstart workflow (built-in simulator -> filter -> sinks; no external service).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install-deps.sh"
"$root/tools/build.sh" ebs-flow
build_dir=${EBS_BUILD_DIR:-$root/build}
cd "$root"
"$build_dir/ebs-flow" validate workflows/quickstart.yaml
# --overwrite: the demo owns run/quickstart; a second run replaces the first one's outputs.
"$build_dir/ebs-flow" run workflows/quickstart.yaml --run-dir run/quickstart --summary-json run/quickstart/summary.json --overwrite "$@"
echo "outputs in $root/run/quickstart:"
ls -l run/quickstart
