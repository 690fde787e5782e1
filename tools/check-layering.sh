#!/usr/bin/env bash
# Checks the include rules of docs/architecture.md ("Map of the tree") on the source tree at
# ROOT (default: this checkout). Prints each include that crosses a rule as FILE:LINE: message
# and exits 1 if there is one.
#   engine/              includes engine/ only (its tests may use test/support/)
#   actors/common/X/     includes engine/ and actors/common/ (tests: test/support/ too)
#   actors/FAMILY/       includes engine/, actors/common/ and its own family (tests: test/support/)
#   plugins/             includes engine/ only
#   app/                 includes anything but test/; test/ and bench/ include anything
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

status=0
crossing() {  # file line message
  echo "$1:$2: $3"
  status=1
}

while IFS= read -r file; do
  case "$file" in
    engine/*) layer=engine ;;
    actors/common/*) layer=common ;;
    actors/*/*) layer=family; family=${file#actors/}; family=${family%%/*} ;;
    actors/*) layer=family; family="" ;;
    plugins/*) layer=plugins ;;
    app/*) layer=app ;;
    *) continue ;;
  esac
  is_test=0
  [[ "$file" == *_test.cpp ]] && is_test=1
  while IFS=: read -r line target; do
    case "$target" in
      engine/*|schemas/*) continue ;;  # the bottom floor: everyone may include it
    esac
    case "$layer" in
      engine|plugins)
        if [[ "$target" == test/support/* && $is_test == 1 ]]; then continue; fi
        crossing "$file" "$line" "$layer/ may include only engine/, not $target" ;;
      common)
        [[ "$target" == actors/common/* ]] && continue
        if [[ "$target" == test/support/* && $is_test == 1 ]]; then continue; fi
        crossing "$file" "$line" "actors/common/ may include only engine/ and actors/common/, not $target" ;;
      family)
        [[ "$target" == actors/common/* ]] && continue
        [[ -n "$family" && "$target" == actors/"$family"/* ]] && continue
        if [[ "$target" == test/support/* && $is_test == 1 ]]; then continue; fi
        if [[ "$target" == actors/* ]]; then
          crossing "$file" "$line" "one family may not include another: actors/$family/ includes $target"
        else
          crossing "$file" "$line" "actors/$family/ may include only engine/, actors/common/ and actors/$family/, not $target"
        fi ;;
      app)
        [[ "$target" == test/* ]] && crossing "$file" "$line" "app/ may not include test code: $target" ;;
    esac
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' "$file" |
           sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/' || true)
done < <(find engine actors plugins app -type f \( -name '*.cpp' -o -name '*.h' \) 2>/dev/null | sort)

if ((status == 0)); then
  echo "layering: ok (engine at the bottom, actors/common above it, families side by side, app/ on top)"
fi
exit $status
