#!/usr/bin/env bash
# tools/check-layering.sh passes on this tree and fails, naming the file and line, on a copy with
# a deliberately wrong include: the engine including a family, and one family including another.
set -euo pipefail
src=${1:?usage: layering_test.sh SOURCE_DIR}
check=$src/tools/check-layering.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$check" "$src" >/dev/null || { echo "FAIL: the tree itself crosses a layering rule"; "$check" "$src"; exit 1; }

expect_failure() {  # file include expected-message
  rm -rf "$tmp/tree" && mkdir "$tmp/tree"
  cp -r "$src/engine" "$src/actors" "$src/app" "$src/plugins" "$tmp/tree/"
  echo "#include \"$2\"" >> "$tmp/tree/$1"
  local line
  line=$(wc -l < "$tmp/tree/$1")
  if out=$("$check" "$tmp/tree" 2>&1); then
    echo "FAIL: $1 including $2 passed the check"; exit 1
  fi
  if ! grep -qF "$1:$line: $3" <<< "$out"; then
    echo "FAIL: expected '$1:$line: $3' in:"; echo "$out"; exit 1
  fi
  echo "ok: $1 -> $2 refused"
}

expect_failure engine/runtime/engine.cpp actors/sources/simulator.h "engine/ may include only engine/"
expect_failure actors/ml/ml_actors.cpp actors/sinks/repository/repository_actors.h "one family may not include another"
expect_failure actors/common/kafka/kafka_client.cpp actors/sources/simulator.h "actors/common/ may include only"
expect_failure plugins/example/bright_tagger.cpp actors/transforms/filter.h "plugins/ may include only engine/"
echo "layering_test: ok"
