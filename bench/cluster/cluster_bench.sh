#!/usr/bin/env bash
# Issue 14's cluster figures, each beside the same graph in one process and the target, in one run:
#   1. simulated alerts (history 0: ~1.5 KB each as Cap'n Proto, the closest the simulator comes
#      to the target's 1 KB records) source on node1 -> count sink on node2: records/s;
#   2. the shared ZTF alerts with their cutouts (avro-files, looping for 15 s) on node1 -> count on
#      node2: MB/s of encoded records through the link;
#   3. a CPU-bound graph (a simulator shard, light-curve features with Bazin fits and a count on
#      each node) on 1 node vs 2 nodes.
# The two nodes are `ebs-flow node` processes on loopback with --threads 1 each (the one-process
# runs use --threads 2: the same two cores). Each node's CPU time (user + sys) per record is
# printed too: on a shared machine the wall-clock figures move with the load, the CPU cost much
# less. Read the ratios of one run (docs/cluster.md "Figures").
# Usage: bench/cluster/cluster_bench.sh [BUILD_DIR]   (EBS_TEST_DATA: ../shared/data; ONLY=1, 2 or 3:
#        that figure alone)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
flow=$build/ebs-flow
export EBS_TEST_DATA=${EBS_TEST_DATA:-$root/../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3

count_in() { $py -c 'import json,sys; s=json.load(open(sys.argv[1])); print([a for a in s["actors"] if a["id"]=="count"][0]["in"])' "$1"; }
elapsed() { $py -c 'import json,sys; print(json.load(open(sys.argv[1]))["elapsed_s"])' "$1"; }
bytes_sent() { $py -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sum((n["links"] or {}).get("bytes_sent",0) for n in s["cluster"]["nodes"]))' "$1"; }

# one NAME WORKFLOW [STOP_AFTER_S] ARGS...: the workflow in one process.
one() {
  local name=$1 wf=$2 stop=$3
  shift 3
  local t=(/usr/bin/time -f "%U %S" -o "$work/$name.cpu")
  if [[ $stop == 0 ]]; then
    "${t[@]}" "$flow" run "$wf" -q --no-progress --overwrite --run-dir "$work/$name" --summary-json "$work/$name.json" \
      "$@" >/dev/null
  else
    "${t[@]}" timeout -s INT "$stop" "$flow" run "$wf" -q --no-progress --overwrite --run-dir "$work/$name" \
      --summary-json "$work/$name.json" "$@" >/dev/null || true
  fi
}

# nodes NAME WORKFLOW STOP_AFTER_S: the workflow on two node processes (--threads 1 each) started
# here, so that their CPU time can be read; writes $work/NAME.json and $work/NAME.cpu{1,2}.
nodes() {
  local name=$1 wf=$2 stop=$3 i
  local pids=() addrs=()
  for i in 1 2; do
    /usr/bin/time -f "%U %S" -o "$work/$name.cpu$i" "$flow" node --name node$i --listen 127.0.0.1:0 --threads 1 \
      --cache-dir "$work/cache$i" >"$work/$name.node$i" 2>"$work/$name.node$i.err" &
    pids+=($!)
  done
  for i in 1 2; do
    until [[ -s $work/$name.node$i ]]; do sleep 0.1; done
    addrs+=("node$i=$($py -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listen"])' "$work/$name.node$i")")
  done
  local list
  list=$(IFS=,; echo "${addrs[*]}")
  if [[ $stop == 0 ]]; then
    "$flow" run "$wf" -q --no-progress --overwrite --run-dir "$work/$name" --summary-json "$work/$name.json" \
      --nodes "$list" >/dev/null
  else
    timeout -s INT "$stop" "$flow" run "$wf" -q --no-progress --overwrite --run-dir "$work/$name" \
      --summary-json "$work/$name.json" --nodes "$list" >/dev/null || true
  fi
  wait "${pids[@]}"
}

# cpu ONE TWO: CPU time (user + sys) per record that reached the sink, of the one-process run ONE
# and of each node of TWO.
cpu() {
  $py -c '
import sys
def us(f, n): return sum(map(float, open(f).read().split()[-2:])) / n * 1e6
n1, n2 = int(sys.argv[4]), int(sys.argv[5])
one, a, b = us(sys.argv[1], n1), us(sys.argv[2], n2), us(sys.argv[3], n2)
print(f"one process {one:.1f} us | node1 {a:.1f} us + node2 {b:.1f} us = {a+b:.1f} us")' \
    "$work/$1.cpu" "$work/$2.cpu1" "$work/$2.cpu2" "$(count_in "$work/$1.json")" "$(count_in "$work/$2.json")"
}

want() { [[ -z ${ONLY:-} || ${ONLY:-} == "$1" ]]; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

if want 1; then
cat >"$work/sim.yaml" <<YAML
name: bench-cluster-sim
actors:
  - {id: sim, type: simulator, config: {count: 400000, seed: 3, history: 0}, placement: {nodes: [node1]}}
  - {id: count, type: count, inputs: [sim.alerts], placement: {nodes: [node2]}}
YAML
one sim-one "$work/sim.yaml" 0 --threads 2
nodes sim-two "$work/sim.yaml" 0
$py - "$(count_in "$work/sim-one.json")" "$(elapsed "$work/sim-one.json")" "$(count_in "$work/sim-two.json")" \
  "$(elapsed "$work/sim-two.json")" "$(bytes_sent "$work/sim-two.json")" "$(cpu sim-one sim-two)" <<'PY'
import sys
n1, t1, n2, t2, b, cpu = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
print(f"1. simulator -> count ({n2:,} alerts, {b/n2:,.0f} B each encoded)")
print(f"   one process {n1/t1:>10,.0f} records/s | two nodes {n2/t2:>10,.0f} records/s ({n2/t2/(n1/t1):.2f}x, "
      f"{b/t2/1e6:,.0f} MB/s) | target >= 250,000 1 KB records/s")
print(f"   CPU per record: {cpu}")
PY
fi

if want 2; then
cat >"$work/ztf.yaml" <<YAML
name: bench-cluster-ztf
actors:
  - {id: alerts, type: avro-files, config: {path: "$EBS_TEST_DATA/ztf", loop: true}, placement: {nodes: [node1]}}
  - {id: count, type: count, inputs: [alerts.alerts], placement: {nodes: [node2]}}
YAML
one ztf-one "$work/ztf.yaml" 15 --threads 2
nodes ztf-two "$work/ztf.yaml" 15
$py - "$(count_in "$work/ztf-one.json")" "$(elapsed "$work/ztf-one.json")" "$(count_in "$work/ztf-two.json")" \
  "$(elapsed "$work/ztf-two.json")" "$(bytes_sent "$work/ztf-two.json")" "$(cpu ztf-one ztf-two)" <<'PY'
import sys
n1, t1, n2, t2, b, cpu = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
per = b / n2
print(f"2. ZTF alerts with cutouts, looping for 15 s ({per/1e3:,.1f} KB each encoded)")
print(f"   one process {n1/t1:>8,.0f} alerts/s ({n1/t1*per/1e6:,.0f} MB/s as encoded) | two nodes {n2/t2:>8,.0f} alerts/s "
      f"({b/t2/1e6:,.0f} MB/s through the link, {n2/t2/(n1/t1):.2f}x) | target >= 500 MB/s")
print(f"   CPU per alert: {cpu}")
PY
fi

# CPU-bound, as a cluster user scales it: the simulator split in two shards (one per node) ->
# features with Bazin fits of 30-point light curves (~33 us of CPU per alert) -> count, an
# instance of each per node. An `any` edge prefers the instance on its own node while that one
# has credit, so most records never cross; a remote instance takes at most half its window from a
# sender that has a local one (docs/cluster.md "Figures"). The one-node side is the same workflow
# in one process on one thread; the two nodes have one thread each.
if want 3; then
cat >"$work/cpu.yaml" <<YAML
name: bench-cluster-cpu
actors:
  - id: sim
    type: simulator
    parallelism: 2
    placement: {nodes: [node1, node2], per_node: 1}
    config: {count: 300000, seed: 5, history: 30}
  - id: fe
    type: features
    parallelism: 2
    placement: {nodes: [node1, node2], per_node: 1}
    config: {features: lc-bazin/1}
    inputs: [sim.alerts]
  - {id: count, type: count, parallelism: 2, placement: {nodes: [node1, node2], per_node: 1}, inputs: [fe.out]}
YAML
one cpu-one "$work/cpu.yaml" 0 --threads 1
nodes cpu-two "$work/cpu.yaml" 0
$py - "$(count_in "$work/cpu-one.json")" "$(elapsed "$work/cpu-one.json")" "$(count_in "$work/cpu-two.json")" \
  "$(elapsed "$work/cpu-two.json")" "$(bytes_sent "$work/cpu-two.json")" "$(cpu cpu-one cpu-two)" \
  "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import sys
n1, t1, n2, t2, b, cpu, load = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
print(f"3. simulator (history 30) x2 -> features lc-bazin/1 x2 -> count x2, an instance of each per node ({n2:,} alerts)")
print(f"   one node (1 thread) {n1/t1:>8,.0f} records/s | two nodes (1 thread each) {n2/t2:>8,.0f} records/s "
      f"({n2/t2/(n1/t1):.2f}x) | target >= 1.6x")
print(f"   crossed a link: {b/n2:,.0f} B per alert (a history-30 alert is ~2.2 KB encoded)")
print(f"   CPU per record: {cpu}")
one = float(cpu.split()[2])
two = float(cpu.split("=")[1].split()[0])
print(f"   by CPU: 2 nodes could give {2 * one / two:.2f}x on two idle cores (2 x one process's CPU / the two nodes' sum); "
      f"load average {load} when it ended")
PY
fi
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
