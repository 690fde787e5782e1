#!/usr/bin/python3
"""The reference workflow (workflows/reference.yaml) in the scientific-Python stack, vectorised,
for the ratio in docs/performance.md ("End to end"). Debian's /usr/bin/python3 with python3-avro,
-astropy, -healpy, -numpy, -xgboost and the standard sqlite3:

    /usr/bin/python3 bench/e2e/python_stack.py --alerts DIR --data ../shared/data \
        --model models/example-transient-lc-basic-1.ubj --db /tmp/py.db [--limit N]

Per batch of 1,024 alerts: Apache avro decodes each file; the quality filter (drb > 0.5, positive
subtraction, nbad == 0) selects with numpy; astropy's match_to_catalog_sky crossmatches the batch
with GCVS at 1.5"; a nearest-match classification (VS for a GCVS star, else ORPHAN); the latest
LVK notice's sky map (healpy ang2pix on the whole batch, the ranking of ligo.skymap's
crossmatch.py) gives each alert its probability density, searched probability and distance
posterior; the 23 lc-basic/1 features per alert (numpy over the light curve); one batched
XGBoost predict; one executemany into SQLite (alert rows with the candidate as JSON, as the
repository keeps a raw record) and a commit per batch.

It does less than ebs-flow's workflow (no Sherlock rule set over nine catalogues, no
coincidence rows, no dead letters, no acknowledgements), so the ratio favours Python. Prints
one JSON line: alerts read, alerts stored, seconds (wall and CPU, after start-up), alerts/s,
CPU µs per alert, peak RSS.
"""
import argparse
import base64
import glob
import io
import json
import os
import resource
import sqlite3
import time

import astropy.units as u
import avro.datafile
import avro.io
import healpy as hp
import numpy as np
import xgboost as xgb
from astropy.coordinates import SkyCoord
from astropy.io import fits

BATCH = 1024
BANDS = {1: 0, 2: 1, 3: 2}  # ZTF fid -> g, r, i
COLOUR_MAX_DAYS = 1.0


def load_gcvs(data_dir):
    table = np.genfromtxt(os.path.join(data_dir, "catalogs", "gcvs.csv"), delimiter=",", names=True,
                          dtype=None, encoding="utf-8", usecols=(0, 1, 2))
    return SkyCoord(table["ra"] * u.deg, table["dec"] * u.deg), np.char.strip(table["VarType"].astype(str))


def load_sky_map(data_dir):
    """The latest S230518h notice's map, ranked as ligo.skymap's crossmatch.py ranks it."""
    with open(os.path.join(data_dir, "gcn", "lvk-fink-mm", "S230518h-update.json")) as f:
        notice = json.load(f)
    table = fits.open(io.BytesIO(base64.b64decode(notice["event"]["skymap"])))[1].data
    order = np.argsort(-np.asarray(table["PROBDENSITY"], dtype=np.float64), kind="stable")
    uniq = np.asarray(table["UNIQ"], dtype=np.int64)[order]
    rho = np.asarray(table["PROBDENSITY"], dtype=np.float64)[order]
    level = (np.floor(np.log2(uniq) / 2)).astype(np.int64) - 1
    ipix = uniq - np.int64(4) ** (level + 1)
    max_level = int(level.max())
    start = ipix << (2 * (max_level - level))
    by_start = np.argsort(start)
    searched = np.cumsum(rho * np.ldexp(np.pi / 3, -2 * level))
    dist = [np.asarray(table[c], dtype=np.float64)[order] for c in ("DISTMU", "DISTSIGMA")]
    return {"nside": 2 ** max_level, "start": start[by_start], "rank": by_start, "rho": rho,
            "searched": searched, "distmu": dist[0], "distsigma": dist[1]}


def sky_map_at(sky_map, ra, dec):
    theta = np.clip(0.5 * np.pi - np.deg2rad(dec), 0, np.pi)
    pix = hp.ang2pix(sky_map["nside"], theta, np.deg2rad(ra), nest=True)
    k = sky_map["rank"][np.searchsorted(sky_map["start"], pix, side="right") - 1]
    return sky_map["rho"][k], sky_map["searched"][k], sky_map["distmu"][k], sky_map["distsigma"][k]


def features(alert):
    """lc-basic/1 (docs/ml.md): per band g, r, i n_det, mag_peak, mag_range, rise_rate,
    decline_rate, flux_max; then n_det, n_upper_limits, n_forced, days_since_first_det, colour_gr."""
    points = (alert.get("prv_candidates") or []) + [alert["candidate"]]
    jd = np.array([p["jd"] for p in points], dtype=np.float64)
    band = np.array([BANDS.get(p["fid"], 3) for p in points])
    mag = np.array([np.nan if p.get("magpsf") is None else p["magpsf"] for p in points], dtype=np.float64)
    detection = np.isfinite(mag)
    out = np.full(23, np.nan, dtype=np.float32)
    for b in range(3):
        sel = detection & (band == b)
        out[b * 6] = sel.sum()
        if not sel.any():
            continue
        t, m = jd[sel], mag[sel]
        peak = np.argmin(m)
        out[b * 6 + 1] = m[peak]
        out[b * 6 + 2] = m.max() - m[peak]
        first, last = np.argmin(t), np.argmax(t)
        if t[peak] > t[first]:
            out[b * 6 + 3] = (m[first] - m[peak]) / (t[peak] - t[first])
        if t[last] > t[peak]:
            out[b * 6 + 4] = (m[last] - m[peak]) / (t[last] - t[peak])
        out[b * 6 + 5] = 10 ** ((31.4 - m[peak]) / 2.5)
    out[18] = detection.sum()
    out[19] = (~detection).sum()
    out[20] = 0
    if detection.any():
        out[21] = jd[-1] - jd[detection].min()
    g, r = detection & (band == 0), detection & (band == 1)
    if g.any() and r.any():
        latest_g = np.flatnonzero(g)[np.argmax(jd[g])]
        rs = np.flatnonzero(r)
        nearest_r = rs[np.argmin(np.abs(jd[rs] - jd[latest_g]))]
        if abs(jd[nearest_r] - jd[latest_g]) <= COLOUR_MAX_DAYS:
            out[22] = mag[latest_g] - mag[nearest_r]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    gcvs, gcvs_type = load_gcvs(args.data)
    sky_map = load_sky_map(args.data)
    booster = xgb.Booster(model_file=args.model)
    if os.path.exists(args.db):
        os.remove(args.db)
    db = sqlite3.connect(args.db)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE alerts (candid INTEGER PRIMARY KEY, object_id TEXT, ra REAL, dec REAL, jd REAL,"
               " class TEXT, gcvs_type TEXT, probdensity REAL, searched_prob REAL, distmu REAL, distsigma REAL,"
               " score REAL, raw TEXT)")
    paths = sorted(glob.glob(os.path.join(args.alerts, "**", "*.avro"), recursive=True))
    if args.limit:
        paths = paths[:args.limit]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    setup_s = wall0 - started
    read = stored = 0
    for first in range(0, len(paths), BATCH):
        alerts = []
        for path in paths[first:first + BATCH]:
            with open(path, "rb") as f:
                alerts.extend(avro.datafile.DataFileReader(f, avro.io.DatumReader()))
        read += len(alerts)
        c = [a["candidate"] for a in alerts]
        drb = np.array([np.nan if x.get("drb") is None else x["drb"] for x in c])
        positive = np.array([x["isdiffpos"] in ("t", "1") for x in c])
        nbad = np.array([-1 if x.get("nbad") is None else x["nbad"] for x in c])
        keep = np.flatnonzero((drb > 0.5) & positive & (nbad == 0))
        if keep.size == 0:
            continue
        alerts = [alerts[i] for i in keep]
        ra = np.array([a["candidate"]["ra"] for a in alerts])
        dec = np.array([a["candidate"]["dec"] for a in alerts])
        index, separation, _ = SkyCoord(ra * u.deg, dec * u.deg).match_to_catalog_sky(gcvs)
        matched = separation.arcsec <= 1.5
        rho, searched, distmu, distsigma = sky_map_at(sky_map, ra, dec)
        scores = booster.predict(xgb.DMatrix(np.stack([features(a) for a in alerts]), missing=np.nan,
                                              feature_names=booster.feature_names))
        rows = []
        for i, a in enumerate(alerts):
            rows.append((a["candid"], a["objectId"], ra[i], dec[i], a["candidate"]["jd"],
                         "VS" if matched[i] else "ORPHAN", gcvs_type[index[i]] if matched[i] else None,
                         float(rho[i]), float(searched[i]), float(distmu[i]), float(distsigma[i]),
                         float(scores[i]), json.dumps(a["candidate"])))
        db.executemany("INSERT OR IGNORE INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.commit()
        stored += len(rows)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    db.close()
    print(json.dumps({"alerts_read": read, "alerts_stored": stored, "setup_s": round(setup_s, 3),
                      "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                      "alerts_per_s": round(read / wall, 1) if wall > 0 else None,
                      "cpu_us_per_alert": round(cpu / read * 1e6, 1) if read else None,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
