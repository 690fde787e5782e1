#!/usr/bin/env bash
# libFuzzer runs of the fuzz targets (fuzz/, docs/reliability.md "Fuzzing") in the sanitizer build
# (tools/sanitizer-build.sh: build-sanitizers/, clang-14 with ASan + UBSan, its own ccache).
# Seeds come from the shared data and the repository's workflows at run time; what a run finds
# is kept in build-sanitizers/corpus/.
#   tools/fuzz.sh [--seconds N | --ci] [--rss-mb M] [target...]
#   (targets: avro gzip notice workflow expr skymap catalog http_api model record_wire raw_json; see
#   docs/reliability.md, "Fuzzing")
# --ci (tools/test.sh, hence CI): a fixed seed and a fixed number of runs per target (about 20 s
# each here) from a fresh corpus, so that a CI run is reproducible and a finding in it is the
# change's, not the dice's; --seconds N explores with a random seed and keeps its corpus.
# Exit 1 on a finding: the input is in build-sanitizers/findings/; once fixed, copy it to
# fuzz/regressions/<target>/ so that ctest replays it in every build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${EBS_TEST_DATA:-$root/../shared/data}
export EBS_TEST_DATA=$data
seconds=20
ci=0
rss_mb=2048
targets=()
while (($# > 0)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --ci) ci=1; shift ;;
    --rss-mb) rss_mb=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]} > 0)) || targets=(avro gzip notice workflow expr skymap catalog http_api model record_wire raw_json)

build_dir=$("$root/tools/sanitizer-build.sh" "${targets[@]/%/_fuzz}" | tail -1)

# Seeds: real inputs, read in place (never copied into the repository).
seeds() {
  case $1 in
    avro) mkdir -p "$build_dir/seeds/avro"  # Confluent frames of Rubin's sample alerts (ids 900, 1000, 1100)
          /usr/bin/python3 - "$data/lsst/schema" "$build_dir/seeds/avro" <<'PY'
import io, struct, sys
import avro.datafile, avro.io
schemas, out = sys.argv[1:]
for major in (9, 10, 11):
    with open(f"{schemas}/{major}/0/sample_data/fakeAlert.avro", "rb") as f:
        reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        writer = avro.io.DatumWriter(reader.datum_reader.writers_schema)
        for n, record in enumerate(reader):
            body = io.BytesIO()
            writer.write(record, avro.io.BinaryEncoder(body))
            with open(f"{out}/rubin-v{major}-{n}.frame", "wb") as frame:
                frame.write(b"\0" + struct.pack(">I", major * 100) + body.getvalue())
PY
          echo "$data/ztf/kowalski-v3.3-v4.01 $data/other-surveys $data/lsst/rubin-lsstcam-v9-spark $build_dir/seeds/avro" ;;
    gzip) mkdir -p "$build_dir/seeds/gzip"
          for f in "$data/skymaps/rrt_small_area.fits" "$data/gcn/lvk-fink-mm/S230518h-update.json"; do
            gzip -9 -c "$f" > "$build_dir/seeds/gzip/$(basename "$f").gz"
          done
          echo "$build_dir/seeds/gzip" ;;
    notice) echo "$data/gcn" ;;
    workflow) echo "$root/workflows $root/test/fixtures" ;;
    skymap) echo "$data/skymaps $build_dir/fuzz/seeds/skymap" ;;  # the .fits.gz is made by the build
    catalog) echo "$data/catalogs" ;;
    http_api) echo "$root/fuzz/seeds/http_api" ;;
    model) echo "$root/fuzz/seeds/model" ;;
    record_wire) echo "$build_dir/fuzz/seeds/record_wire" ;;  # made by the build (record_wire_seeds)
    raw_json) echo "$build_dir/fuzz/seeds/raw_json" ;;  # made by the build (raw_json_seeds)
    expr) mkdir -p "$build_dir/seeds/expr"
          grep -rhoE 'expr: .*' "$root/workflows" "$root/test/fixtures" "$root/docs" 2>/dev/null |
            sed 's/^expr: //' | head -200 | split -l 1 - "$build_dir/seeds/expr/e"
          echo "$build_dir/seeds/expr" ;;
  esac
}

# As in tools/test.sh's sanitizers stage (docs/reliability.md "Sanitizers"): a request no
# allocator can meet returns null as glibc's does (cfitsio reports it as an error), and
# libavro's own leak is suppressed with its reason.
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tools/lsan-suppressions.txt:print_suppressions=0}
status=0
# --ci: runs per target, about 20 s each on the 2-core machine under load.
declare -A ci_runs=([avro]=20000 [gzip]=2500 [notice]=2500 [workflow]=5000 [expr]=2500 [skymap]=2000
                    [catalog]=400 [http_api]=15000 [model]=25000 [record_wire]=20000 [raw_json]=10000)
# A target whose input may stand for much more memory than its bytes (raw_json: a reference repeats
# a record shape's names) also has each allocation bounded: one larger is a finding.
declare -A malloc_mb=([raw_json]=64)
for t in "${targets[@]}"; do
  corpus=$build_dir/corpus/$t
  budget=(-max_total_time="$seconds")
  if ((ci)); then
    corpus=$build_dir/corpus-ci/$t
    rm -rf "$corpus"
    budget=(-seed=1 -runs="${ci_runs[$t]}" -max_total_time=45)  # the cap only shortens a slow run
  fi
  mkdir -p "$corpus" "$build_dir/findings"
  start=$SECONDS
  # shellcheck disable=SC2046
  if ! "$build_dir/fuzz/${t}_fuzz" "$corpus" "$root/fuzz/regressions/$t" $(seeds "$t") \
      "${budget[@]}" -rss_limit_mb="$rss_mb" -malloc_limit_mb="${malloc_mb[$t]:-$rss_mb}" -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$build_dir/findings/$t-" > "$build_dir/$t.log" 2>&1; then
    echo "fuzz $t: FINDING (log: $build_dir/$t.log)"; tail -40 "$build_dir/$t.log"; status=1
  else
    echo "fuzz $t: $(grep -E '^stat::number_of_executed_units' "$build_dir/$t.log" | awk '{print $2}') runs in $((SECONDS - start)) s, nothing found"
  fi
done
exit $status
