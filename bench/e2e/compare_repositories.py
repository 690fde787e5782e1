#!/usr/bin/python3
"""Whether two repositories (SQLite) hold the same rows: every table as a multiset of rows.

    bench/e2e/compare_repositories.py old/reference.db new/reference.db

Left out: what depends on time or arrival order, not on the writer (sink_progress, the
schema_version's applied_unix, the annotations' row ids). The sky-map annotations depend on
whether the notice source's event reached the coincidence actor before an alert, a race between
two sources that differs from run to run of one binary: they are compared for the alerts
annotated in both runs. Exit status 1 when anything differs.
"""
import collections
import sqlite3
import sys

skip_tables = {'sink_progress'}
skip_cols = {('annotations', 'annotation_id'), ('schema_version', 'applied_unix')}
# The sky-map annotations depend on whether the notice source's event reached the coincidence
# actor before an alert (a race between two sources: differs from run to run of one binary):
# compared only for the alerts annotated in both runs.
raced = "kind = 'score' and name = 'sky_map'"
a, b = (sqlite3.connect(p) for p in sys.argv[1:3])
tables = [r[0] for r in a.execute("select name from sqlite_master where type='table' order by name")]
ok = True
for t in tables:
    if t in skip_tables: continue
    cols = [r[1] for r in a.execute(f"pragma table_info({t})") if (t, r[1]) not in skip_cols]
    q = f"select {','.join(cols)} from {t}"
    if t == 'annotations':
        both = set(r[0] for r in a.execute(f"select alert_id from annotations where {raced}")) & set(r[0] for r in b.execute(f"select alert_id from annotations where {raced}"))
        keep = lambda rows: [r for r in rows if not (r[3] == 'score' and r[4] == 'sky_map') or r[0] in both]
        ra = collections.Counter(map(repr, keep(a.execute(q)))); rb = collections.Counter(map(repr, keep(b.execute(q))))
        print(f"  annotations: sky-map rows compared for {len(both)} alerts annotated in both")
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
