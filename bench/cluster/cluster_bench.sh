#!/usr/bin/env bash
# Records/s through one link between two `ebs-flow node` processes on loopback (--threads 1 each),
# beside the same graph in one process (--threads 2: the same two cores):
#   1. simulated alerts (~1 KB each as Cap'n Proto) source on node1 -> count sink on node2;
#   2. the shared ZTF alerts with their cutouts (avro-files, looping) on node1 -> count on node2,
#      in MB/s of encoded records;
#   3. a CPU-bound graph (crossmatch with a wide radius, 2 instances) on 1 node vs 2 nodes.
# Usage: bench/cluster/cluster_bench.sh [BUILD_DIR]   (EBS_TEST_DATA: ../shared/data)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
flow=$build/ebs-flow
export EBS_TEST_DATA=${EBS_TEST_DATA:-$root/../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3

field() {  # field SUMMARY ACTOR KEY
  $py -c 'import json,sys; s=json.load(open(sys.argv[1])); a=[x for x in s["actors"] if x["id"]==sys.argv[2]][0]; print(a[sys.argv[3]])' "$@"
}
elapsed() { $py -c 'import json,sys; print(json.load(open(sys.argv[1]))["elapsed_s"])' "$1"; }
bytes_sent() { $py -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sum((n["links"] or {}).get("bytes_sent",0) for n in s["cluster"]["nodes"]))' "$1"; }

run() {  # run NAME WORKFLOW ARGS...: prints records/s of the sink `count`
  local name=$1 wf=$2
  shift 2
  "$flow" run "$wf" -q --no-progress --overwrite --run-dir "$work/$name" --summary-json "$work/$name.json" "$@" >/dev/null
  local n t
  n=$(field "$work/$name.json" count in)
  t=$(elapsed "$work/$name.json")
  $py -c "print(f'{\"$name\":<34} {$n:>9} records in {$t:6.2f} s: {$n/$t:>10,.0f} records/s')"
}

cat >"$work/sim.yaml" <<YAML
name: bench-cluster-sim
actors:
  - {id: sim, type: simulator, config: {count: 400000, seed: 3, history: 4}, placement: {nodes: [node1]}}
  - {id: count, type: count, inputs: [sim.alerts], placement: {nodes: [node2]}}
YAML
echo "== 1. simulated alerts, source on node1 -> sink on node2"
run sim-one-process "$work/sim.yaml" --threads 2
run sim-two-nodes "$work/sim.yaml" --local-cluster 2 --threads 1
b=$(bytes_sent "$work/sim-two-nodes.json")
n=$(field "$work/sim-two-nodes.json" count in)
$py -c "print(f'   encoded size per record: {$b/$n:,.0f} bytes')"

cat >"$work/ztf.yaml" <<YAML
name: bench-cluster-ztf
actors:
  - {id: alerts, type: avro-files, config: {path: "$EBS_TEST_DATA/ztf", loop: true}, placement: {nodes: [node1]}}
  - {id: count, type: count, inputs: [alerts.alerts], placement: {nodes: [node2]}}
YAML
echo "== 2. ZTF alerts with cutouts (looping for 15 s), source on node1 -> sink on node2"
ztf() {  # ztf NAME ARGS...: 15 s, then SIGINT (the run drains and writes its summary)
  local name=$1
  shift
  timeout -s INT 15 "$flow" run "$work/ztf.yaml" -q --no-progress --run-dir "$work/$name" --summary-json "$work/$name.json" "$@" >/dev/null || true
  local n t
  n=$(field "$work/$name.json" count in)
  t=$(elapsed "$work/$name.json")
  $py -c "print(f'{\"$name\":<34} {$n:>9} alerts in {$t:6.2f} s: {$n/$t:>10,.0f} alerts/s')"
}
ztf ztf-one-process --threads 2
ztf ztf-two-nodes --local-cluster 2 --threads 1
b=$(bytes_sent "$work/ztf-two-nodes.json")
n=$(field "$work/ztf-two-nodes.json" count in)
t=$(elapsed "$work/ztf-two-nodes.json")
$py -c "print(f'   through the link: {$b/$n/1e3:,.1f} KB per alert, {$b/$t/1e6:,.1f} MB/s')"

cat >"$work/cpu.yaml" <<YAML
name: bench-cluster-cpu
actors:
  - {id: sim, type: simulator, config: {count: 60000, seed: 5, history: 4}, placement: {nodes: [node1]}}
  - id: xm
    type: crossmatch
    parallelism: 2
    placement: {nodes: [node1, node2], per_node: 1}
    config: {catalogues: [{file: $root/catalogs/gcvs.yaml, radius_arcsec: 600}]}
    inputs: [sim.alerts]
  - {id: count, type: count, inputs: [xm.out], placement: {nodes: [node1]}}
YAML
echo "== 3. CPU-bound graph (crossmatch x2): one node vs two nodes, --threads 1 each"
run cpu-one-node "$work/cpu.yaml" --threads 1
run cpu-two-nodes "$work/cpu.yaml" --local-cluster 2 --threads 1
