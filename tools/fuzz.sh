#!/usr/bin/env bash
# libFuzzer runs of the fuzz targets (fuzz/, docs/reliability.md "Fuzzing") in their own build
# folder (clang-14 with ASan + UBSan, ccache). Seeds come from the shared data and the
# repository's workflows at run time; what a run finds is kept in build-fuzz/corpus/.
#   tools/fuzz.sh [--seconds N] [--rss-mb M] [target...]   (targets: avro gzip notice workflow expr)
# Exit 1 on a finding: the input is in build-fuzz/findings/; once fixed, copy it to
# fuzz/regressions/<target>/ so that ctest replays it in every build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${EBS_FUZZ_BUILD_DIR:-$root/build-fuzz}
data=${EBS_TEST_DATA:-$root/../shared/data}
seconds=20
rss_mb=2048
targets=()
while (($# > 0)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --rss-mb) rss_mb=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]} > 0)) || targets=(avro gzip notice workflow expr)

export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEBS_FUZZ=ON \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DEBS_TEST_DATA="$data" >/dev/null
fi
for t in "${targets[@]}"; do cmake --build "$build_dir" -j "${EBS_JOBS:-$(nproc)}" --target "${t}_fuzz"; done

# Seeds: real inputs, read in place (never copied into the repository).
seeds() {
  case $1 in
    avro) echo "$data/ztf/kowalski-v3.3-v4.01 $data/other-surveys $data/lsst/rubin-lsstcam-v9-spark" ;;
    gzip) mkdir -p "$build_dir/seeds/gzip"
          for f in "$data/skymaps/rrt_small_area.fits" "$data/gcn/lvk-fink-mm/S230518h-update.json"; do
            gzip -9 -c "$f" > "$build_dir/seeds/gzip/$(basename "$f").gz"
          done
          echo "$build_dir/seeds/gzip" ;;
    notice) echo "$data/gcn" ;;
    workflow) echo "$root/workflows $root/test/fixtures" ;;
    expr) mkdir -p "$build_dir/seeds/expr"
          grep -rhoE 'expr: .*' "$root/workflows" "$root/test/fixtures" "$root/docs" 2>/dev/null |
            sed 's/^expr: //' | head -200 | split -l 1 - "$build_dir/seeds/expr/e"
          echo "$build_dir/seeds/expr" ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  corpus=$build_dir/corpus/$t
  mkdir -p "$corpus" "$build_dir/findings"
  # shellcheck disable=SC2046
  if ! "$build_dir/fuzz/${t}_fuzz" "$corpus" "$root/fuzz/regressions/$t" $(seeds "$t") \
      -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$build_dir/findings/$t-" > "$build_dir/$t.log" 2>&1; then
    echo "fuzz $t: FINDING (log: $build_dir/$t.log)"; tail -40 "$build_dir/$t.log"; status=1
  else
    echo "fuzz $t: $(grep -E '^stat::number_of_executed_units' "$build_dir/$t.log" | awk '{print $2}') runs in ${seconds} s, nothing found"
  fi
done
exit $status
