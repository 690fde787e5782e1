#!/usr/bin/python3
"""The repository writer's instructions per stored alert, from a callgrind profile of a run.

    valgrind --tool=callgrind --callgrind-out-file=cg.out build/ebs-flow run \\
        bench/e2e/reference-files.yaml --set ztf.path=/tmp/e2e/alerts-20000/0000 --quiet \\
        --run-dir /tmp/r
    bench/e2e/writer_instructions.py cg.out /tmp/r/reference.db

The writer is `Writer::add` and `Writer::commit` with everything they call, less the sky events'
maps (`add_sky_event`), per alert row of the run's database (docs/performance.md, "The
repository's writer"). The commit's share varies a little from run to run: how many commits a run
makes depends on timing.
"""
import re
import sqlite3
import subprocess
import sys


def inclusive_costs(profile):
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", profile], capture_output=True,
                          text=True, check=True).stdout
    return text.splitlines()


def largest(lines, pattern):
    """The largest inclusive count on a line naming the function (its own line or a call)."""
    best = 0
    for line in lines:
        if re.search(pattern, line):
            m = re.match(r"\s*([\d,]+)", line)
            if m:
                best = max(best, int(m.group(1).replace(",", "")))
    return best


def main():
    profile, database = sys.argv[1], sys.argv[2]
    stored = sqlite3.connect(database).execute("SELECT count(*) FROM alerts").fetchone()[0]
    lines = inclusive_costs(profile)
    add = largest(lines, r"Writer::add\(ebs::Record const&\)")
    sky = largest(lines, r"Writer::add_sky_event\(ebs::SkyEvent const&\)")
    commit = largest(lines, r"=> .*Writer::commit\(unsigned long, unsigned long\)")
    parts = {
        "annotations": r"Writer::add_annotations\(ebs::Alert const&\)",
        # alerts.raw: Writer::raw_json before raw_format, Writer::stored_raw since (flat or JSON).
        "alerts.raw": r"Writer::(raw_json|stored_raw)\(ebs::AlertCore const&\)",
        "fingerprints": r"=> .*annotation_fingerprint",
        "to_chars(double)": r"=> .*std::to_chars\(char\*, char\*, double\)",
        "write_shortest_double": r"=> .*write_shortest_double",
    }
    k = lambda v: f"{v / stored / 1000:.1f}k"
    print(f"{stored} stored alerts; per stored alert: writer {k(add - sky + commit)} "
          f"(add {k(add - sky)}, commit {k(commit)})")
    print("  " + ", ".join(f"{name} {k(largest(lines, p))}" for name, p in parts.items()))


if __name__ == "__main__":
    main()
