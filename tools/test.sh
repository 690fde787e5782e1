#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: checks the include layering, installs what is missing
# (test oracles included), builds everything, and runs the whole test suite (ctest runs every
# doctest binary and the workflow fixtures). --slow adds the long runs: every fuzz target for
# EBS_FUZZ_SECONDS (300) seconds (tools/fuzz.sh, docs/reliability.md "Fuzzing") and the chaos test
# with EBS_CHAOS_KILLS (20) SIGKILLs instead of ctest's 5 (docs/reliability.md "Chaos tests").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
slow=0
args=()
for a in "$@"; do
  if [[ $a == --slow ]]; then slow=1; else args+=("$a"); fi
done
"$root/tools/check-layering.sh"  # the include rules of docs/architecture.md, before a long build
"$root/tools/install-deps.sh" --with-tests
"$root/tools/build.sh"
build_dir=${EBS_BUILD_DIR:-$root/build}
export EBS_TEST_DATA=${EBS_TEST_DATA:-$root/../shared/data}
ctest --test-dir "$build_dir" --output-on-failure -j "${EBS_TEST_JOBS:-2}" ${args[@]+"${args[@]}"}
if ((slow)); then
  started=$(date +%s)
  EBS_CHAOS_KILLS=${EBS_CHAOS_KILLS:-20} ctest --test-dir "$build_dir" --output-on-failure -R '^chaos_test$'
  echo "slow: chaos_test with ${EBS_CHAOS_KILLS:-20} kills took $(($(date +%s) - started)) s"
  "$root/tools/fuzz.sh" --seconds "${EBS_FUZZ_SECONDS:-300}"
fi
