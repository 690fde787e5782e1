#!/usr/bin/env bash
# The sanitizer build of the tree (docs/reliability.md, "Sanitizers"): clang-14 with ASan and
# UBSan (UBSan errors abort) and libFuzzer's coverage instrumentation, in its own folder
# (build-sanitizers/, EBS_SANITIZER_BUILD_DIR) with its own ccache (EBS_SANITIZER_CCACHE_DIR,
# default ~/.cache/ccache-sanitizers, 8 GB) so that its objects never evict the main build's.
# One build serves both: tools/test.sh runs its unit and fixture tests (the sanitizers stage), and
# tools/fuzz.sh its libFuzzer targets (the fuzzing stage).
#   tools/sanitizer-build.sh [target...]   (no target: everything)
# Prints the build folder's path on its last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${EBS_SANITIZER_BUILD_DIR:-$root/build-sanitizers}
data=${EBS_TEST_DATA:-$root/../shared/data}
jobs=${EBS_JOBS:-$(nproc)}

export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
export CCACHE_DIR=${EBS_SANITIZER_CCACHE_DIR:-$HOME/.cache/ccache-sanitizers}
export CCACHE_MAXSIZE=${EBS_SANITIZER_CCACHE_SIZE:-8G}
# lld links the instrumented binaries several times faster than ld.bfd.
# -O1 and line tables only: what ASan recommends, and about half the compile time and cache size
# of -O2 -g; NDEBUG as in the product's build, so the code tested is the code shipped.
flags="-O1 -gline-tables-only -fno-omit-frame-pointer -DNDEBUG"
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEBS_FUZZ=ON \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld \
    -DEBS_TEST_DATA="$data" >&2
fi
# -k 0: clang 14 refuses some code gcc accepts; report every such file in one build, not one per run.
if (($# > 0)); then
  cmake --build "$build_dir" -j "$jobs" --target "$@" -- -k 0 >&2
else
  cmake --build "$build_dir" -j "$jobs" -- -k 0 >&2
fi
echo "$build_dir"
