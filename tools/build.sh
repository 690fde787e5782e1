#!/usr/bin/env bash
# Configures and builds ebs-flow in build/ (ccache when present). Arguments: extra targets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${EBS_BUILD_DIR:-$root/build}
jobs=${EBS_JOBS:-$(nproc)}
# ccache hits across checkouts (CI builds a fresh clone elsewhere): paths relative to the root.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
# The plain, sanitizer and fuzzing builds together outgrow ccache's default 5 GB, and a cache
# that evicts makes every CI run a cold build.
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-20G}
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
