#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: checks the include layering, installs what is missing
# (test oracles included), builds everything, and runs the whole test suite (ctest runs every
# doctest binary and the workflow fixtures).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/check-layering.sh"  # the include rules of docs/architecture.md, before a long build
"$root/tools/install-deps.sh" --with-tests
"$root/tools/build.sh"
build_dir=${EBS_BUILD_DIR:-$root/build}
export EBS_TEST_DATA=${EBS_TEST_DATA:-$root/../shared/data}
ctest --test-dir "$build_dir" --output-on-failure -j "${EBS_TEST_JOBS:-2}" "$@"
