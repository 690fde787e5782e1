#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: checks the include layering, installs what is missing
# (test oracles included), builds everything, runs the whole test suite (ctest runs every doctest
# binary and the workflow fixtures), then the unit and fixture tests again under ASan + UBSan and
# every fuzz target for 20 s (docs/reliability.md, "Sanitizers" and "Fuzzing"). Each stage's wall
# time is printed as it ends, and all of them at the end. CI (.ci/run) runs exactly this.
#   tools/test.sh [--slow] [ctest arguments...]
# --slow runs every fuzz target for EBS_FUZZ_SECONDS (300) seconds instead of 20, and the chaos
# test with EBS_CHAOS_KILLS (20) SIGKILLs instead of ctest's 5 (docs/reliability.md "Chaos tests").
# EBS_SKIP_STAGES="sanitizers fuzzing" leaves stages out (a developer's quick run; CI runs all).
# Stages: layering, deps, build, tests, sanitizers, fuzzing. A failing layering, deps or build
# stage stops the run; the later stages all run, and the exit status is the first failure's.
# The sanitizer build has a budget (EBS_SANITIZER_BUILD_BUDGET, 600 s, shared by the sanitizers
# and fuzzing stages): with a warm ccache it takes a few minutes, but a cold one (a new machine)
# takes over an hour on two cores and would push CI past its 30 minutes. Beyond the budget both
# stages are reported INCOMPLETE (not failed) and what was compiled stays cached for the next
# run, which goes on from there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
slow=0
args=()
for a in "$@"; do
  case $a in
    --slow) slow=1 ;;
    *) args+=("$a") ;;
  esac
done
build_dir=${EBS_BUILD_DIR:-$root/build}
export EBS_TEST_DATA=${EBS_TEST_DATA:-$root/../shared/data}

times=()
failed=0
incomplete=75  # a stage's status when the sanitizer build ran out of its budget
print_times() {
  echo "== stage times (wall)"
  printf '   %s\n' "${times[@]}"
  printf '   %-11s %5d s\n' total "$SECONDS"
}
# stage NAME fatal|go-on COMMAND...: runs one stage and records its wall time.
stage() {
  local name=$1 on_failure=$2
  shift 2
  if [[ " ${EBS_SKIP_STAGES:-} " == *" $name "* ]]; then
    times+=("$(printf '%-11s  skipped (EBS_SKIP_STAGES)' "$name")")
    return 0
  fi
  echo "== stage $name"
  local start=$SECONDS status=0
  "$@" || status=$?
  local took=$((SECONDS - start)) note=""
  if ((status == incomplete)); then
    note="  INCOMPLETE (sanitizer build over its budget; cached for the next run)"
    status=0
  fi
  ((status == 0)) || note="  FAILED (exit $status)"
  times+=("$(printf '%-11s %5d s%s' "$name" "$took" "$note")")
  echo "== stage $name: ${took} s${note}"
  if ((status != 0)); then
    ((failed != 0)) || failed=$status
    if [[ $on_failure == fatal ]]; then
      print_times
      exit "$status"
    fi
  fi
}

run_tests() {
  ctest --test-dir "$build_dir" --output-on-failure -j "${EBS_TEST_JOBS:-2}" ${args[@]+"${args[@]}"}
}

# The unit and fixture tests under ASan + UBSan (tools/sanitizer-build.sh). Left out, and why
# (docs/reliability.md, "Sanitizers"):
#   layering_test                      compiles headers; nothing of ours runs
#   *_browser_test                     Chromium drives the pages; the C++ they reach runs in the
#                                      other tests, and the browser's time would dominate
#   *_fuzz_replay                      not built there: the fuzzing stage runs the targets
#   followup_test, honest_runs_test    the longest runs (4 and 1 minutes unsanitized): whole
#                                      workflows through the binary, whose code the fixtures and
#                                      unit tests already reach under the sanitizers
#   cluster_run_test                   several node processes per case with heartbeat time-outs:
#                                      sanitized, it outran its 3 minutes; cluster_test runs the
#                                      links and the coordinator's units under the sanitizers
sanitizer_excluded='^(layering_test|dashboard_browser_test|dashboard_cluster_browser_test|repository_pages_browser_test|followup_test|honest_runs_test|cluster_run_test)$'
sanitizer_tree=unknown  # complete or incomplete, once the sanitizers stage has built it
# Builds the sanitizer tree (or the given targets) within the budget; `incomplete` beyond it.
sanitizer_build() {
  local budget=${EBS_SANITIZER_BUILD_BUDGET:-600} status=0
  timeout "$budget" "$root/tools/sanitizer-build.sh" "$@" >/dev/null || status=$?
  if ((status == 124)); then
    echo "sanitizer build: not finished within ${budget} s (a cold ccache?); what it compiled is cached"
    return $incomplete
  fi
  return $status
}

run_sanitizer_tests() {
  local status=0
  sanitizer_build || status=$?
  if ((status == incomplete)); then sanitizer_tree=incomplete; fi
  ((status == 0)) || return $status
  sanitizer_tree=complete
  local dir
  dir=$("$root/tools/sanitizer-build.sh" | tail -1)
  # Leaks are findings too (detect_leaks; libavro's own leak is suppressed, with its reason, in
  # tools/lsan-suppressions.txt); UBSan stops at the first error with its stack. A request no
  # allocator can meet returns null as glibc's malloc does (cfitsio, given a corrupt header's
  # 22 PB table, reports it as an error), instead of ASan's abort.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:allocator_may_return_null=1} \
  LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tools/lsan-suppressions.txt:print_suppressions=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ctest --test-dir "$dir" --output-on-failure -j "${EBS_TEST_JOBS:-2}" -E "$sanitizer_excluded"
}

run_slow_chaos() {
  EBS_CHAOS_KILLS=${EBS_CHAOS_KILLS:-20} ctest --test-dir "$build_dir" --output-on-failure -R '^chaos_test$'
}

run_fuzzers() {
  # One build budget for both stages: when the sanitizers stage ran out of it, this one does not
  # spend another (CI's 30 minutes); the next run goes on from the cache.
  if [[ $sanitizer_tree == incomplete ]]; then
    echo "fuzzing: the sanitizer build is not complete yet (see the sanitizers stage)"
    return $incomplete
  fi
  sanitizer_build avro_fuzz gzip_fuzz notice_fuzz workflow_fuzz expr_fuzz skymap_fuzz catalog_fuzz http_api_fuzz raw_json_fuzz || return
  if ((slow)); then
    "$root/tools/fuzz.sh" --seconds "${EBS_FUZZ_SECONDS:-300}"
  else
    "$root/tools/fuzz.sh" --ci  # a fixed seed and number of runs: reproducible (docs/reliability.md)
  fi
}

stage layering fatal "$root/tools/check-layering.sh"  # the include rules of docs/architecture.md, before a long build
stage deps fatal "$root/tools/install-deps.sh" --with-tests
stage build fatal "$root/tools/build.sh"
stage tests go-on run_tests
stage sanitizers go-on run_sanitizer_tests
stage fuzzing go-on run_fuzzers
if ((slow)); then stage chaos-slow go-on run_slow_chaos; fi
print_times
exit "$failed"
