#!/usr/bin/python3
# Writes the `fields:` list of a survey profile (every raw field path its schemas have, lists'
# element fields as list.field) from Avro files or .avsc schemas, for `validate`'s check of the
# field names filters read. A developer tool (Debian's python3-avro), never run by ebs-flow:
#   tools/profile_fields.py profiles/ztf-4.yaml FILE_OR_SCHEMA...   (replaces the profile's fields:)
import json, re, sys
import avro.datafile, avro.io, avro.schema

def flatten(schema, prefix, out):
    t = schema.type
    if t == "union":
        for s in schema.schemas: flatten(s, prefix, out)
    elif t == "array":
        flatten(schema.items, prefix, out)
    elif t == "map":
        flatten(schema.values, prefix, out)
    elif t in ("record", "error"):
        for f in schema.fields:
            path = prefix + f.name
            out.add(path)
            flatten(f.type, path + ".", out)

def load(path):
    if path.endswith(".avsc"):
        return avro.schema.parse(open(path).read())
    with open(path, "rb") as f:
        reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        return avro.schema.parse(reader.meta["avro.schema"].decode())

def main():
    profile, inputs = sys.argv[1], sys.argv[2:]
    fields = set()
    for path in inputs:
        if path.endswith(".avsc") and "/" in path:
            # Named types of sibling .avsc files (ZTF and Rubin split their schemas).
            names = avro.schema.Names()
            import glob, os
            for other in sorted(glob.glob(os.path.join(os.path.dirname(path), "*.avsc"))):
                if other != path:
                    try: avro.schema.make_avsc_object(json.load(open(other)), names)
                    except Exception: pass
            flatten(avro.schema.make_avsc_object(json.load(open(path)), names), "", fields)
        else:
            flatten(load(path), "", fields)
    text = open(profile).read()
    text = re.sub(r"\n# Every raw field path.*\Z", "", text, flags=re.S).rstrip("\n")
    lines = ["", "# Every raw field path of the schemas this profile covers (tools/profile_fields.py): `validate`",
             "# checks the field names filters read against it.", "fields:"]
    lines += ["  - " + json.dumps(f) for f in sorted(fields)]
    open(profile, "w").write(text + "\n" + "\n".join(lines) + "\n")
    print(profile, len(fields), "fields")

main()
