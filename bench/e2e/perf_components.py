#!/usr/bin/python3
"""Where a run's CPU went, by component of the reference workflow, from perf's call-graph samples
(docs/performance.md, "Where the time goes (perf, by component)"):

    perf record -F 499 --call-graph dwarf,16384 -o perf.data build/ebs-flow run ...
    perf script -i perf.data --no-inline -F comm,period,ip,sym,dso | \\
        /usr/bin/python3 bench/e2e/perf_components.py [--folded FILE]

(dwarf call graphs: the libraries have no frame pointers.) Each sample is put in the first
component (RULES, in order) one of whose markers appears among its frames; the "of which kernel"
column counts the component's samples whose innermost frame is in the kernel. `--folded FILE` also writes the samples as folded stacks (one line per
stack: frames root first, `;`-separated, then the sample count), the input of flamegraph.pl,
inferno-flamegraph or speedscope (no Debian 12 package draws a flame graph).
"""
import argparse
import collections
import sys

# (component, markers): a sample belongs to the first component with a marker among its frames'
# symbols; a marker "thread:NAME" matches the sample's thread name (comm) by prefix, "dso:NAME" a
# frame's shared object. Start-up goes first: an actor's open() (catalogues, models, maps) is
# start-up whatever the actor.
RULES = [
    ("start-up: loading libraries, validation, actors' open()", [
        "_dl_start", "_dl_init", "dl_main", "::open(ebs::ActorContext", "LocalGraph::spawn", "ebs::validate",
        "check_workflow", "BuiltinProfiles", "CatalogStore::open", "Classifier::Classifier", "XgboostModel::load",
        "repository::Writer::Writer", "__run_exit_handlers", "__libc_start_call_main"]),
    ("notices: GCN notices and their sky maps", ["NoticeFilesSource", "parse_notice", "CoincidenceLogic::on_event"]),
    ("source: Avro decode", ["ebs::avro::"]),
    ("source: profile mapping (Avro record -> Alert)", ["ebs::profiles::"]),
    ("source: reading files (open, read, close)", ["AvroFilesSource", "ContainerFileStream", "FileWalk"]),
    ("source: Kafka consumer (librdkafka threads, message copies)", ["thread:rdk:", "KafkaSource", "dso:librdkafka"]),
    ("quality filter", ["Filter::on_batch", "ebs::expr::", "compile_alert_field"]),
    ("crossmatch", ["CrossmatchActor::on_batch"]),
    ("classify (Sherlock rules)", ["ClassifyActor::on_batch", "Classifier::classify"]),
    ("coincidence (GW maps)", ["CoincidenceLogic::on_batch", "ebs::coincidence::"]),
    ("features", ["FeaturesLogic::on_batch", "FeatureExtractor"]),
    ("score (XGBoost)", ["ScorerLogic::on_batch", "XGBooster", "xgboost::", "dso:libgomp"]),
    ("repository: alerts.raw (compact or JSON)", ["append_raw_json", "append_raw_compact", "Writer::raw_json", "Writer::stored_raw"]),
    ("repository: SQLite (statements, commits, WAL)", ["sqlite3", "dso:libsqlite3", "WalCheckpointer"]),
    ("repository: rows, light-curve cache", ["RepositorySink", "ebs::repository::"]),
    ("jsonl sink", ["JsonlSink"]),
    ("allocator (jemalloc background purge)", ["thread:jemalloc_bg_thd"]),
    ("engine: messages, credits, scheduling (CAF)", ["ebs::NodeActor", "caf::", "ebs::BatchView", "thread:caf."]),
]


def samples(lines):
    """(comm, period, frames innermost first as (sym, dso)) per sample of `perf script`."""
    comm, period, frames = None, 0, []
    for line in lines:
        line = line.rstrip("\n")
        if not line:
            if comm is not None:
                yield comm, period, frames
            comm, period, frames = None, 0, []
        elif line[0] in " \t":
            parts = line.strip().split(" ", 1)
            rest = parts[1] if len(parts) > 1 else ""
            sym, _, dso = rest.rpartition(" (")
            frames.append((sym or rest, dso.rstrip(")")))
        else:
            # "comm  period" (comm may hold spaces: the period is the last field)
            head = line.rsplit(None, 1)
            comm = head[0].strip() if len(head) == 2 else line.strip()
            period = int(head[1]) if len(head) == 2 and head[1].isdigit() else 1
    if comm is not None:
        yield comm, period, frames


def component(comm, frames):
    for name, markers in RULES:
        for marker in markers:
            if marker.startswith("thread:"):
                if comm.startswith(marker[len("thread:"):]):
                    return name
            elif marker.startswith("dso:"):
                if any(marker[len("dso:"):] in dso for _, dso in frames):
                    return name
            elif any(marker in sym for sym, _ in frames):
                return name
    return "other"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--folded", help="write folded stacks here")
    args = parser.parse_args()
    totals = collections.Counter()
    kernel = collections.Counter()
    folded = collections.Counter()
    all_samples = 0
    for comm, period, frames in samples(sys.stdin):
        all_samples += 1
        name = component(comm, frames)
        totals[name] += 1
        if frames and "kernel" in frames[0][1]:
            kernel[name] += 1
        if args.folded:
            folded[";".join([comm] + [s for s, _ in reversed(frames)])] += 1
    if not all_samples:
        sys.exit("no samples on stdin")
    print(f"{'component':<62} {'% of CPU':>8} {'of which kernel':>16}")
    for name, n in totals.most_common():
        print(f"{name:<62} {100 * n / all_samples:>7.1f}% {100 * kernel[name] / all_samples:>15.1f}%")
    print(f"{'(samples)':<62} {all_samples:>8}")
    if args.folded:
        with open(args.folded, "w") as out:
            for stack, n in folded.most_common():
                out.write(f"{stack} {n}\n")


if __name__ == "__main__":
    main()
