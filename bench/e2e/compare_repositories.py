#!/usr/bin/python3
"""Whether two repositories (SQLite) hold the same rows: every table as a multiset of rows.

    bench/e2e/compare_repositories.py [--sky-map-tolerance 0.05] old/reference.db new/reference.db

Left out: what depends on time or arrival order, not on the writer (sink_progress, the
schema_version's applied_unix, the annotations' row ids). The sky-map annotations depend on
whether the notice source's event reached the coincidence actor before an alert, a race between
two sources that differs from run to run of one binary: their rows are compared for the alerts
annotated in both runs, and the number of alerts annotated is compared apart: it fails when one
run has none and the other some, or when the two differ by more than the tolerance, a fraction of
the larger (0.05 by default; six reference runs over the 20,000 files, 2026-12-05, stored 7,436
to 7,516 of 7,890 alerts with one: 1.1 % apart at most. Short runs can see none in one run and
~100 in the other: the comparison is for full runs). alerts.raw is compared by its values,
whether a row holds JSON text or the compact form (actors/common/repository/raw_json.h, decoded
here on its own). Exit status 1 when anything differs.
"""
import argparse
import collections
import json
import sqlite3
import struct
import sys


def compact_raw(blob):
    """The values of alerts.raw's compact form (raw_json.h), as json.loads gives them from the text."""
    at = 0
    shapes = []

    def byte():
        nonlocal at
        at += 1
        return blob[at - 1]

    def varint():
        v, shift = 0, 0
        while True:
            b = byte()
            v |= (b & 0x7f) << shift
            shift += 7
            if not b & 0x80:
                return v

    def text():
        nonlocal at
        n = varint()
        at += n
        return blob[at - n:at].decode('utf-8', 'surrogateescape')

    def fixed(fmt, size):
        nonlocal at
        at += size
        v = struct.unpack(fmt, blob[at - size:at])[0]
        return None if v != v or v in (float('inf'), float('-inf')) else v  # NaN, infinities: null

    def value():
        tag = byte()
        if tag <= 2: return [None, False, True][tag]
        if tag == 3:
            z = varint()
            return (z >> 1) ^ -(z & 1)
        if tag == 4: return fixed('<d', 8)
        if tag == 5: return fixed('<f', 4)
        if tag == 6: return text()
        if tag == 7: return [value() for _ in range(varint())]
        if tag == 8: fields = shapes[varint()]
        elif tag == 9:
            text()  # the record's name
            fields = [text() for _ in range(varint())]
            shapes.append(fields)
        else: raise ValueError(f"unknown tag {tag}")
        return {name: value() for name in fields}

    assert byte() == 1, "not version 1 of the compact form"
    v = value()
    assert at == len(blob), "bytes after the record"
    return v


def raw_values(raw):
    """alerts.raw as canonical JSON text of its values, from text or the compact form."""
    if raw is None: return None
    return json.dumps(compact_raw(raw) if isinstance(raw, bytes) else json.loads(raw))

skip_tables = {'sink_progress'}
skip_cols = {('annotations', 'annotation_id'), ('schema_version', 'applied_unix')}
# The sky-map annotations depend on whether the notice source's event reached the coincidence
# actor before an alert (a race between two sources: differs from run to run of one binary):
# compared only for the alerts annotated in both runs, and the numbers of alerts annotated apart.
raced = "kind = 'score' and name = 'sky_map'"
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument('first')
parser.add_argument('second')
parser.add_argument('--sky-map-tolerance', type=float, default=0.05,
                    help='how far apart the numbers of alerts with a sky-map annotation may be, a fraction of the larger')
args = parser.parse_args()
a, b = (sqlite3.connect(p) for p in (args.first, args.second))
tables = [r[0] for r in a.execute("select name from sqlite_master where type='table' order by name")]
ok = True
for t in tables:
    if t in skip_tables: continue
    cols = [r[1] for r in a.execute(f"pragma table_info({t})") if (t, r[1]) not in skip_cols]
    q = f"select {','.join(cols)} from {t}"
    if t == 'annotations':
        in_a = set(r[0] for r in a.execute(f"select alert_id from annotations where {raced}"))
        in_b = set(r[0] for r in b.execute(f"select alert_id from annotations where {raced}"))
        both = in_a & in_b
        keep = lambda rows: [r for r in rows if not (r[3] == 'score' and r[4] == 'sky_map') or r[0] in both]
        ra = collections.Counter(map(repr, keep(a.execute(q)))); rb = collections.Counter(map(repr, keep(b.execute(q))))
        print(f"  annotations: sky-map rows compared for {len(both)} alerts annotated in both")
        # A writer that drops the sky-map annotations would leave nothing to compare above.
        larger = max(len(in_a), len(in_b))
        apart = abs(len(in_a) - len(in_b))
        sky_map_ok = (len(in_a) > 0) == (len(in_b) > 0) and apart <= args.sky_map_tolerance * larger
        ok &= sky_map_ok
        print(f"  alerts with a sky-map annotation: {len(in_a)} vs {len(in_b)}, "
              + (f"within {args.sky_map_tolerance:.0%}" if sky_map_ok else
                 "NONE IN ONE RUN" if not (in_a and in_b) else f"{apart / larger:.1%} apart, beyond {args.sky_map_tolerance:.0%}"))
    elif t == 'alerts':
        raw = cols.index('raw')
        canonical = lambda r: repr(r[:raw] + (raw_values(r[raw]),) + r[raw + 1:])
        ra = collections.Counter(map(canonical, a.execute(q))); rb = collections.Counter(map(canonical, b.execute(q)))
    else:
        ra = collections.Counter(map(repr, a.execute(q))); rb = collections.Counter(map(repr, b.execute(q)))
    same = ra == rb
    ok &= same
    diff = sum((ra - rb).values()) + sum((rb - ra).values())
    print(f"{t}: {sum(ra.values())} rows vs {sum(rb.values())}, {'same' if same else f'{diff} differ'}")
    if not same:
        for r in list((ra - rb).elements())[:2]: print('  only in first:', r[:300])
        for r in list((rb - ra).elements())[:2]: print('  only in second:', r[:300])
sa = a.execute("select group_concat(sql, ';') from sqlite_master").fetchone(); sb = b.execute("select group_concat(sql, ';') from sqlite_master").fetchone()
print('schema same' if sa == sb else 'SCHEMA DIFFERS')
sys.exit(0 if ok and sa == sb else 1)
