#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: checks the include layering, installs what is missing
# (test oracles included), builds everything, runs the whole test suite (ctest runs every doctest
# binary and the workflow fixtures); with --sanitize (and --slow), then the unit and fixture tests
# again under ASan + UBSan and every fuzz target for 20 s (docs/reliability.md, "Sanitizers" and
# "Fuzzing"). Each stage's wall time is printed as it ends, and all of them at the end.
#   tools/test.sh [--sanitize] [--slow] [ctest arguments...]
# The sanitizer and fuzzing stages are not yet part of CI (.ci/run): their cold build (a clang
# tree of its own) has not been measured on an idle machine, and CI must stay under 30 minutes.
# --slow runs every fuzz target for EBS_FUZZ_SECONDS (300) seconds instead of 20, and the chaos
# test with EBS_CHAOS_KILLS (20) SIGKILLs instead of ctest's 5 (docs/reliability.md "Chaos tests").
# EBS_SKIP_STAGES="sanitizers fuzzing" leaves stages out (a developer's quick run; CI runs all).
# Stages: layering, deps, build, tests, sanitizers, fuzzing. A failing layering, deps or build
# stage stops the run; the later stages all run, and the exit status is the first failure's.
# The sanitizer build has a budget (EBS_SANITIZER_BUILD_BUDGET, 900 s, for the sanitizers and the
# fuzzing stage each): with a warm ccache it takes a few minutes, but a cold one (a new machine)
# would take most of an hour and push CI past its limit. Beyond the budget the stage stops, is
# reported INCOMPLETE (not failed) and what it compiled stays cached for the next run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
slow=0
sanitize=0
args=()
for a in "$@"; do
  case $a in
    --slow) slow=1; sanitize=1 ;;
    --sanitize) sanitize=1 ;;
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
sanitizer_excluded='^(layering_test|dashboard_browser_test|repository_pages_browser_test|followup_test|honest_runs_test)$'
# Builds the sanitizer tree (or the given targets) within the budget; `incomplete` beyond it.
sanitizer_build() {
  local budget=${EBS_SANITIZER_BUILD_BUDGET:-900} status=0
  timeout "$budget" "$root/tools/sanitizer-build.sh" "$@" >/dev/null || status=$?
  if ((status == 124)); then
    echo "sanitizer build: not finished within ${budget} s (a cold ccache?); what it compiled is cached"
    return $incomplete
  fi
  return $status
}

run_sanitizer_tests() {
  sanitizer_build || return
  local dir
  dir=$("$root/tools/sanitizer-build.sh" | tail -1)
  # Leaks are findings too (detect_leaks); UBSan stops at the first error with its stack.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ctest --test-dir "$dir" --output-on-failure -j "${EBS_TEST_JOBS:-2}" -E "$sanitizer_excluded"
}

run_slow_chaos() {
  EBS_CHAOS_KILLS=${EBS_CHAOS_KILLS:-20} ctest --test-dir "$build_dir" --output-on-failure -R '^chaos_test$'
}

run_fuzzers() {
  local seconds=20
  ((slow)) && seconds=${EBS_FUZZ_SECONDS:-300}
  sanitizer_build avro_fuzz gzip_fuzz notice_fuzz workflow_fuzz expr_fuzz skymap_fuzz catalog_fuzz http_api_fuzz || return
  "$root/tools/fuzz.sh" --seconds "$seconds"
}

stage layering fatal "$root/tools/check-layering.sh"  # the include rules of docs/architecture.md, before a long build
stage deps fatal "$root/tools/install-deps.sh" --with-tests
stage build fatal "$root/tools/build.sh"
stage tests go-on run_tests
if ((sanitize)); then
  stage sanitizers go-on run_sanitizer_tests
  stage fuzzing go-on run_fuzzers
fi
if ((slow)); then stage chaos-slow go-on run_slow_chaos; fi
print_times
exit "$failed"
