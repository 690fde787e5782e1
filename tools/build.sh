#!/usr/bin/env bash
# Configures and builds ebs-flow in build/ (ccache when present). Arguments: extra targets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${EBS_BUILD_DIR:-$root/build}
jobs=${EBS_JOBS:-$(nproc)}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
if (($# > 0)); then
  for target in "$@"; do cmake --build "$build_dir" -j "$jobs" --target "$target"; done
else
  cmake --build "$build_dir" -j "$jobs"
fi
