#!/usr/bin/env bash
# The long variant of test/cluster_run_test's kill run (docs/cluster.md "Failures"): N simulated
# alerts (default 1,000,000) from node a through crossmatch (2 instances, both on node b) to a jsonl
# sink on node a; node b is killed (kill -9, or SIGSTOP with STOP=1) once the sink holds 40 % of the
# alerts. Prints the run's exit code, whether every alert reached the sink, the duplicates the
# sink holds beside what the summary says was sent again and the documented bound, and the time.
# Usage: bench/cluster/failover_bench.sh [BUILD_DIR] [N]   (EBS_TEST_DATA: ../shared/data)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
count=${2:-1000000}
flow=$build/ebs-flow
signal=KILL
[[ ${STOP:-0} == 1 ]] && signal=STOP
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
py=/usr/bin/python3
cd "$work"
cat >wf.yaml <<YAML
name: bench-cluster-failover
actors:
  - {id: sim, type: simulator, config: {count: $count, seed: 7}, placement: {nodes: [a]}}
  - id: xm
    type: crossmatch
    parallelism: 2
    placement: {nodes: [b], per_node: 2}
    config: {catalogues: [{file: $root/catalogs/gaia-dr3-1000.yaml, radius_arcsec: 60, name: gaia}]}
    inputs: [sim.alerts]
  - {id: out, type: jsonl, config: {path: out.jsonl, with_raw: false}, inputs: [xm.out], placement: {nodes: [a]}}
YAML
for n in a b; do
  "$flow" node --name "$n" --listen 127.0.0.1:0 --threads 1 >"$n.out" 2>"$n.err" &
  pids+=($!)
  echo $! >"$n.pid"
done
for n in a b; do for _ in $(seq 200); do [[ -s $n.out ]] && break; sleep 0.1; done; done
port() { sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$1.out" | head -1; }
start=$(date +%s.%N)
"$flow" run wf.yaml -q --no-progress --nodes "a=127.0.0.1:$(port a),b=127.0.0.1:$(port b)" --run-dir out \
  --summary-json summary.json >run.out 2>run.err &
run=$!
target=$((count * 40 / 100))
while kill -0 $run 2>/dev/null; do
  lines=$( (wc -l <out/out.jsonl) 2>/dev/null || echo 0)
  ((lines >= target)) && break
  sleep 0.2
done
kill -$signal "$(cat b.pid)"
echo "node b: SIG$signal with $lines of $count alerts at the sink"
if [[ $signal == STOP ]]; then
  for _ in $(seq 300); do grep -q 'lost during the run' run.err && break; sleep 0.05; done
  kill -CONT "$(cat b.pid)"
fi
rc=0
wait $run || rc=$?
end=$(date +%s.%N)
$py - "$rc" "$start" "$end" <<'PY'
import json, sys
rc, start, end = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
ids = set(); rows = 0
for line in open("out/out.jsonl"):
    rows += 1; ids.add(json.loads(line)["alert_id"])
s = json.load(open("summary.json")); c = s["cluster"]
total = [a for a in s["actors"] if a["id"] == "sim"][0]["in"]
bound = 2 * 16 * 1024  # two edges into b (sim -> xm/0, sim -> xm/1), 16 batches of 1,024
print(f"run exit {rc} in {end - start:.1f} s; lost: {[l['name'] for l in c['lost_nodes']]}")
print(f"alerts at the sink: {len(ids):,} distinct of {total:,} ({'all' if len(ids) == total else 'MISSING'}); "
      f"rows {rows:,}: duplicates {rows - len(ids):,}")
print(f"sent again: {c['replayed_batches']} batches, {c['duplicates_sent']:,} records; documented bound {bound:,}")
PY
