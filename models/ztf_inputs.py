"""The inputs ebs-flow's torch-score gives a network (docs/ml.md, "Model inputs"), computed from
ZTF Avro alerts independently of ebs-flow: python3-avro decodes the alerts, astropy the gzipped
FITS stamps. train_models.py trains on them and actors/ml/torch_model_test.cpp checks that
ebs-flow's own inputs give the same outputs (1e-5).

Run with Debian's /usr/bin/python3 (python3-avro, python3-astropy, python3-numpy)."""

import glob
import gzip
import io
import os

import numpy as np
import avro.datafile
import avro.io
from astropy.io import fits

STAMPS = ("cutoutScience", "cutoutTemplate", "cutoutDifference")  # channel order
BANDS = {1: "g", 2: "r", 3: "i"}
SAME_POINT_DAYS = 0.1 / 86400.0


def read_alerts(data_dir):
    """Every alert of the real ZTF folders under DATA/ztf, sorted by file name."""
    alerts = []
    for path in sorted(glob.glob(os.path.join(data_dir, "ztf", "*", "*.avro"))):
        with open(path, "rb") as f:
            for record in avro.datafile.DataFileReader(f, avro.io.DatumReader()):
                alerts.append(record)
    return alerts


def window_offset(size, n):
    """Where an n-pixel window starts in a size-pixel axis: centred, crop or pad, rounded down
    towards the image's start (negative: the image starts inside the window)."""
    return (size - n) // 2 if size >= n else -((n - size) // 2)


def stamp_tensor(stamp_bytes, n):
    """One stamp as n x n floats: cropped or zero-padded about its centre, standardised over its
    finite pixels ((x - mean) / std, population std; a flat stamp only has its mean removed),
    non-finite pixels and padding 0. Rows in FITS order (row 0 is the bottom)."""
    raw = gzip.decompress(stamp_bytes) if stamp_bytes[:2] == b"\x1f\x8b" else stamp_bytes
    with fits.open(io.BytesIO(raw)) as hdus:
        image = np.asarray(hdus[0].data, dtype=np.float32)
    height, width = image.shape
    x0, y0 = window_offset(width, n), window_offset(height, n)
    window = np.full((n, n), np.nan, dtype=np.float64)
    for y in range(n):
        iy = y + y0
        if iy < 0 or iy >= height:
            continue
        for x in range(n):
            ix = x + x0
            if 0 <= ix < width:
                window[y, x] = image[iy, ix]
    finite = np.isfinite(window)
    out = np.zeros((n, n), dtype=np.float32)
    if finite.any():
        values = window[finite]
        mean = values.mean()
        std = values.std()
        scale = 1.0 / std if std > 0 else 1.0
        out[finite] = ((values - mean) * scale).astype(np.float32)
    return out


def cutout_tensor(alert, n=63):
    return np.stack([stamp_tensor(alert[s]["stampData"], n) for s in STAMPS])


def detections(alert):
    """(jd, mag, mag_err, band) of the alert's detection and its distinct history detections with
    a positive subtraction, sorted by time. A history point in the same band within 0.1 s of the
    alert's own detection, or of a history point kept before it, is the same point."""
    c = alert["candidate"]

    def positive(p):
        return p.get("isdiffpos") in ("t", "1")

    own = (c["jd"], c["magpsf"], c["sigmapsf"], BANDS.get(c["fid"], str(c["fid"])))
    kept = []
    history = [p for p in (alert.get("prv_candidates") or []) if p.get("magpsf") is not None]
    history.sort(key=lambda p: p["jd"])
    seen = [own]
    for p in history:
        point = (p["jd"], p["magpsf"], p["sigmapsf"], BANDS.get(p["fid"], str(p["fid"])))
        if any(point[3] == s[3] and abs(point[0] - s[0]) <= SAME_POINT_DAYS for s in seen):
            continue
        seen.append(point)
        if positive(p):
            kept.append(point)
    points = ([own] if positive(c) else []) + kept
    points.sort(key=lambda p: p[0])
    return points


def lightcurve_tensor(alert, n=30):
    """The latest n detections, oldest first: (days since the first of them, mag, mag error or 0,
    one-hot g, r, i), zero-padded after the last; and the mask (1 = a point)."""
    points = detections(alert)[-n:]
    x = np.zeros((n, 6), dtype=np.float32)
    mask = np.zeros(n, dtype=np.float32)
    for k, (jd, mag, err, band) in enumerate(points):
        x[k] = [jd - points[0][0], mag, err if err is not None and np.isfinite(err) else 0.0,
                band == "g", band == "r", band == "i"]
        mask[k] = 1
    return x, mask
