#!/usr/bin/env bash
# The reference workflow end to end, in one run (docs/performance.md, "End to end"):
#   bench/e2e/e2e.sh [ALERTS] [PYTHON_ALERTS]     (defaults 20000 and 1000)
# prints, as one table: a memory-read pass over the alert files (the limit), ebs-flow decoding
# them into a count (decode + profile only), the reference workflow from the files
# (bench/e2e/reference-files.yaml: every alert a unique id, so the repository stores each), the
# same workflow in the scientific-Python stack (bench/e2e/python_stack.py, on PYTHON_ALERTS of the
# same files: it is ~100x slower) and the latency at 2,000 alerts/s offered with a 10,000-alert
# burst 10 s in (bench/e2e/reference-latency.yaml). alerts/s from wall time after start-up (the
# summary's elapsed_s), CPU µs per alert from user + system time of the whole process, peak RSS.
# The reference workflow also from the embedded broker (bench/e2e/reference-kafka.yaml): the same
# files replayed into a topic of `ebs-flow broker` (librdkafka's mock cluster) running as a process
# of its own, as a Kafka cluster would (its CPU is not the run's), then read to the topic's end.
# With `perf` on PATH (EBS_E2E_PROFILE=0: not), the reference run from files once more under
# `perf record --call-graph dwarf`: where its CPU went, by component (bench/e2e/perf_components.py),
# and the folded stacks of a flame graph in $EBS_E2E_DIR/reference.folded.
# Last, peak RSS against input size: the reference shape from the simulator, unpaced (the
# repository, the slowest stage, holds every credit window full), at EBS_E2E_RSS_ALERTS alerts
# (default "10000 100000 1000000") over a fixed 20,000 objects, so that the simulator's own
# per-object state does not grow with the count; the repository stores every alert.
# Environment: EBS_FLOW (default build/ebs-flow), EBS_TEST_DATA (default ../shared/data),
# EBS_E2E_DIR (scratch, default /tmp/ebs-e2e: ~70 KB per alert, ~3 KB per alert of the RSS runs;
# the broker holds ~70 KB per alert in memory while its pass runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
alerts=${1:-20000}
python_alerts=${2:-1000}
ebs_flow=${EBS_FLOW:-$root/build/ebs-flow}
export EBS_TEST_DATA=${EBS_TEST_DATA:-$(realpath "$root/../shared/data")}
work=${EBS_E2E_DIR:-/tmp/ebs-e2e}
"$ebs_flow" --version  # the build and its allocator (app/allocator.h): RSS and CPU depend on it
files=$work/alerts-$alerts
mkdir -p "$work"
if [[ ! -d $files ]]; then
  /usr/bin/python3 "$root/bench/e2e/unique_alerts.py" "$EBS_TEST_DATA/ztf" "$files.tmp" "$alerts" >/dev/null
  mv "$files.tmp" "$files"
fi
cat >"$work/decode.yaml" <<EOF
name: decode
actors:
  - {id: ztf, type: avro-files, config: {path: "$files"}}
  - {id: n, type: count, inputs: [ztf.alerts]}
EOF

# run NAME ALERTS COMMAND...: one line "NAME ALERTS wall_s cpu_s rss_kb" into $work/figures.
run() {
  local name=$1 n=$2
  shift 2
  /usr/bin/time -f "%e %U %S %M" -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" ||
    { cat "$work/$name.err" >&2; exit 1; }
  echo "$name $n $(cat "$work/$name.time")" >>"$work/figures"
}
: >"$work/figures"

# Every file read whole once (one read per file, as the source reads them): the floor of any
# pass over the files. The first pass puts them into the page cache. (`cat` is no floor here: on
# this machine it takes 10x as long.)
read_all="import pathlib, sys; print(sum(len(p.read_bytes()) for p in pathlib.Path(sys.argv[1]).rglob('*.avro')))"
/usr/bin/python3 -c "$read_all" "$files" >/dev/null
run memory-read "$alerts" /usr/bin/python3 -c "$read_all" "$files"
run decode "$alerts" "$ebs_flow" run "$work/decode.yaml" --quiet --run-dir "$work/decode-run" \
  --summary-json "$work/decode.json"
# The catalogue cache (built on a run dir's first run) is kept: a warm-up run of one alert.
mkdir -p "$work/one" && cp "$(find "$files/" -name '*.avro' -print -quit)" "$work/one/"
run warm-up 1 "$ebs_flow" run "$root/bench/e2e/reference-files.yaml" --set ztf.path="$work/one" --quiet \
  --run-dir "$work/reference-run" --summary-json "$work/warm-up.json"
rm -f "$work"/reference-run/reference.db*
run reference "$alerts" "$ebs_flow" run "$root/bench/e2e/reference-files.yaml" --set ztf.path="$files" \
  --quiet --run-dir "$work/reference-run" --summary-json "$work/reference.json"
# The embedded broker keeps ~5 MiB a partition (docs/kafka.md; older messages are dropped): ~30
# alerts of ~70 KB a partition, on random partitions, keep every one well under it.
"$ebs_flow" broker --partitions $((alerts / 30 + 1)) --topic ztf >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
trap 'kill "$broker_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s $work/broker.out ]] && break; sleep 0.1; done
bootstrap=$(/usr/bin/python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['bootstrap_servers'])" "$work/broker.out")
"$ebs_flow" replay "$files" --topic ztf --brokers "$bootstrap" >"$work/replay.out"
rm -f "$work"/reference-run/reference.db*
run kafka "$alerts" "$ebs_flow" run "$root/bench/e2e/reference-kafka.yaml" --set ztf.bootstrap.servers="$bootstrap" \
  --quiet --run-dir "$work/reference-run" --summary-json "$work/kafka.json"
kill "$broker_pid" && wait "$broker_pid" 2>/dev/null || true
trap - EXIT
if [[ ${EBS_E2E_PROFILE:-1} != 0 ]] && command -v perf >/dev/null; then
  rm -f "$work"/reference-run/reference.db*
  perf record -q -F 499 --call-graph dwarf,16384 -o "$work/reference.perf" "$ebs_flow" run \
    "$root/bench/e2e/reference-files.yaml" --set ztf.path="$files" --quiet --run-dir "$work/reference-run" \
    >/dev/null 2>"$work/perf.err" || { cat "$work/perf.err" >&2; exit 1; }
  perf script -i "$work/reference.perf" --no-inline -F comm,period,ip,sym,dso 2>/dev/null |
    /usr/bin/python3 "$root/bench/e2e/perf_components.py" --folded "$work/reference.folded" >"$work/components.txt"
  rm -f "$work/reference.perf"
fi
run python "$python_alerts" /usr/bin/python3 "$root/bench/e2e/python_stack.py" --alerts "$files" \
  --data "$EBS_TEST_DATA" --model "$root/models/example-transient-lc-basic-1.ubj" --db "$work/python.db" \
  --limit "$python_alerts"
rm -rf "$work/latency-run"
run latency 40000 "$ebs_flow" run "$root/bench/e2e/reference-latency.yaml" --set survey.rate=2000 \
  --set survey.count=40000 --set survey.burst.every_s=10 --set survey.burst.alerts=10000 --quiet \
  --run-dir "$work/latency-run" --summary-json "$work/latency.json"
rss_alerts=${EBS_E2E_RSS_ALERTS:-10000 100000 1000000}
for n in $rss_alerts; do
  rm -rf "$work/rss-run"
  run "rss-$n" "$n" "$ebs_flow" run "$root/bench/e2e/reference-latency.yaml" --set survey.rate=0 \
    --set survey.count="$n" --set survey.objects=20000 --quiet --run-dir "$work/rss-run" \
    --summary-json "$work/rss-$n.json"
  du -sb "$work/rss-run" | cut -f1 >"$work/rss-$n.disk"
done
rm -rf "$work/rss-run"

/usr/bin/python3 - "$work" <<'EOF'
import glob, json, os, sys
work = sys.argv[1]
rows = {}
for line in open(f"{work}/figures"):
    name, n, wall, user, sys_s, rss = line.split()
    rows[name] = dict(n=int(n), wall=float(wall), cpu=float(user) + float(sys_s), rss_mb=int(rss) / 1024)
def elapsed(name):
    return json.load(open(f"{work}/{name}.json"))["elapsed_s"]
rows["decode"]["run_s"] = elapsed("decode")
rows["reference"]["run_s"] = elapsed("reference")
rows["kafka"]["run_s"] = elapsed("kafka")
rows["memory-read"]["run_s"] = rows["memory-read"]["wall"]
py = json.loads(open(f"{work}/python.out").read().splitlines()[-1])
rows["python"]["run_s"] = py["wall_s"]
rows["python"]["cpu"] = py["cpu_s"]  # after start-up, as Python measured itself
print(f"{'pass':<12} {'alerts':>8} {'alerts/s':>10} {'CPU µs/alert':>13} {'peak RSS MB':>12}")
for name in ("memory-read", "decode", "reference", "kafka", "python"):
    r = rows[name]
    print(f"{name:<12} {r['n']:>8} {r['n'] / r['run_s']:>10.0f} {r['cpu'] / r['n'] * 1e6:>13.1f} {r['rss_mb']:>12.0f}")
ref, pyr = rows["reference"], rows["python"]
print(f"ratio to the Python stack: {(ref['n'] / ref['run_s']) / (pyr['n'] / pyr['run_s']):.0f}x alerts/s, "
      f"{(pyr['cpu'] / pyr['n']) / (ref['cpu'] / ref['n']):.0f}x CPU per alert")
stored = json.load(open(f"{work}/reference.json"))
store = [a for a in stored["actors"] if a["id"] == "store"][0]
disk = sum(os.path.getsize(f) for f in glob.glob(f"{work}/reference-run/reference.db*"))
print(f"reference: the repository took in {store['in']} records (alerts past the quality filter, notices, "
      f"coincidences); on disk {disk / 1e6:.1f} MB ({disk / store['in'] / 1e3:.1f} KB a record)")
kafka = json.load(open(f"{work}/kafka.json"))
read = [a for a in kafka["actors"] if a["id"] == "ztf"][0]["in"]
if read != rows["kafka"]["n"]:
    sys.exit(f"kafka: the run read {read} of the {rows['kafka']['n']} alerts replayed (the broker dropped some?)")
print("kafka: the reference workflow from the embedded broker (a process of its own), every alert read once")
if os.path.exists(f"{work}/components.txt"):
    print("where the reference run's CPU went (perf, by component):")
    print(open(f"{work}/components.txt").read().rstrip())
lat = json.load(open(f"{work}/latency.json"))
store = [a for a in lat["actors"] if a["id"] == "store"][0]["latency_ms"]
print(f"latency at 2,000/s offered, 40,000 alerts with a 10,000-alert burst at 10 s: wall {lat['elapsed_s']:.1f} s "
      f"(schedule 15 s), store p50 {store['p50']:.1f} ms, p90 {store['p90']:.1f}, p99 {store['p99']:.1f}, "
      f"max {store['max']:.1f} (the burst's drain is within the max)")
rss = sorted((r["n"], name) for name, r in rows.items() if name.startswith("rss-"))
if rss:
    print("peak RSS, the reference shape from the simulator as fast as it goes (20,000 objects):")
    for n, name in rss:
        r = rows[name]
        elapsed = json.load(open(f"{work}/{name}.json"))["elapsed_s"]
        disk = int(open(f"{work}/{name}.disk").read())
        print(f"  {n:>9} alerts: {r['rss_mb']:6.0f} MB peak RSS, {n / elapsed:7.0f} alerts/s, "
              f"{r['cpu'] / n * 1e6:6.1f} CPU µs/alert, repository {disk / 1e6:.0f} MB on disk")
EOF
