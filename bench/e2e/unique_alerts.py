#!/usr/bin/python3
"""Copies of real survey alert files with a unique alert id per copy, for end-to-end runs in which
the repository really stores every alert (with repeated ids it skips the repeats and looks cheap).

    /usr/bin/python3 bench/e2e/unique_alerts.py SRC_DIR OUT_DIR COUNT

writes COUNT alert files under OUT_DIR/NNNN/ (1,000 a folder), cycling over SRC_DIR's ZTF Avro
container files (uncompressed, one alert each, as ZTF ships them). Copy n of a file is the file's
bytes with its `candid` (top level and candidate.candid) replaced by 3e18 + n: a zigzag varint of
the same length (9 bytes) as every ZTF candid, so the bytes are otherwise the original ones and
the copy decodes exactly as the original but for the id.
"""
import glob
import os
import sys

import avro.datafile
import avro.io

FIRST_ID = 3_000_000_000_000_000_000


def varint(value):
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag >= 0x80:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def originals(src_dir):
    files = []
    for path in sorted(glob.glob(os.path.join(src_dir, "**", "*.avro"), recursive=True)):
        with open(path, "rb") as f:
            reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
            if reader.get_meta("avro.codec") not in (None, b"null"):
                continue
            records = list(reader)
        if len(records) != 1:
            continue
        data = open(path, "rb").read()
        encoded = varint(records[0]["candid"])
        if len(encoded) != 9 or data.count(encoded) < 1:
            continue
        files.append((data, encoded))
    return files


def main():
    src_dir, out_dir, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    files = originals(src_dir)
    if not files:
        sys.exit(f"{src_dir}: no uncompressed one-alert Avro files")
    for n in range(count):
        data, encoded = files[n % len(files)]
        folder = os.path.join(out_dir, f"{n // 1000:04d}")
        if n % 1000 == 0:
            os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{n:08d}.avro"), "wb") as f:
            f.write(data.replace(encoded, varint(FIRST_ID + n)))
    print(f"{count} alerts from {len(files)} originals in {out_dir}")


if __name__ == "__main__":
    main()
