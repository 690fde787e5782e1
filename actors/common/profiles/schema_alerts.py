"""Builds alert files of every schema shape ebs-flow must recognise, from the published writer
schemas in ../shared/data (ZTF 1.3-3.2, ATLAS as ALeRCE distributes it, ELAsTiCC 0.9.1, Rubin
v9-v11 native and re-serialized by Spark as Fink wraps them), with Apache avro (python3-avro).
Test data generated at test time: usage  schema_alerts.py DATA_DIR OUT_DIR; writes OUT_DIR/*.avro
and OUT_DIR/manifest.json: {file: {"profile", "survey", "alert_keys", "schema_version"}}.
"""
import copy
import datetime
import glob
import io
import json
import os
import sys

import avro.datafile
import avro.io
import avro.schema

DATA, OUT = sys.argv[1], sys.argv[2]
os.makedirs(OUT, exist_ok=True)
manifest = {}


def load_named(paths):
    """{full name: schema JSON} of every named type in the files."""
    known = {}
    for path in paths:
        with open(path) as f:
            s = json.load(f)
        ns = s.get('namespace', '')
        name = s['name'] if '.' in s['name'] or not ns else ns + '.' + s['name']
        known[name] = s
    return known


def inline(schema, known, namespace=''):
    """The schema with every reference to a named type replaced by its definition (once)."""
    if isinstance(schema, str):
        full = schema if '.' in schema else (namespace + '.' + schema if namespace else schema)
        for key in (full, schema):
            if key in known:
                return inline(copy.deepcopy(known[key]), known, key.rsplit('.', 1)[0])
        return schema
    if isinstance(schema, list):
        return [inline(s, known, namespace) for s in schema]
    if schema.get('type') == 'record':
        ns = schema.get('namespace', namespace)
        if '.' in schema['name']:
            ns = schema['name'].rsplit('.', 1)[0]
        for f in schema['fields']:
            f['type'] = inline(f['type'], known, ns)
        return schema
    if schema.get('type') == 'array':
        schema['items'] = inline(schema['items'], known, namespace)
    return schema


def dedupe(schema, seen):
    """Avro forbids defining a name twice: later uses become references."""
    if isinstance(schema, list):
        return [dedupe(s, seen) for s in schema]
    if isinstance(schema, dict):
        if schema.get('type') == 'record':
            ns = schema.get('namespace', '')
            full = schema['name'] if '.' in schema['name'] or not ns else ns + '.' + schema['name']
            if full in seen:
                return full
            seen.add(full)
            for f in schema['fields']:
                f['type'] = dedupe(f['type'], seen)
        elif schema.get('type') == 'array':
            schema['items'] = dedupe(schema['items'], seen)
    return schema


def sparkify(schema, name, namespace, named=None, native_ns='', keep_types=False):
    """As Spark's to_avro writes it: records named after their field within their parent's full
    name, every field a union with null (first the value). keep_types: as Spark writes a
    DataFrame read with from_avro, which keeps the writer's non-null types non-null."""
    named = {} if named is None else named
    if isinstance(schema, str) and schema not in ('null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'):
        full = schema if '.' in schema else native_ns + '.' + schema
        return sparkify(copy.deepcopy(named[full]), name, namespace, named, native_ns, keep_types)
    if isinstance(schema, list):
        branches = [sparkify(s, name, namespace, named, native_ns, keep_types) for s in schema if s != 'null']
        return branches + ['null']
    if isinstance(schema, dict) and schema.get('type') == 'record':
        ns = schema.get('namespace', native_ns)
        if '.' in schema['name']:
            ns = schema['name'].rsplit('.', 1)[0]
        named[ns + '.' + schema['name'].rsplit('.', 1)[-1]] = schema
        full = namespace + '.' + name if namespace else name
        fields = []
        for f in schema['fields']:
            t = sparkify(f['type'], f['name'], full, named, ns, keep_types)
            fields.append({'name': f['name'], 'type': t if keep_types else as_nullable(t)})
        out = {'type': 'record', 'name': name, 'fields': fields}
        if namespace:
            out['namespace'] = namespace
        return out
    if isinstance(schema, dict) and schema.get('type') == 'array':
        items = sparkify(schema['items'], name, namespace, named, native_ns, keep_types)
        return {'type': 'array', 'items': items if keep_types else as_nullable(items)}
    return schema


def as_nullable(t):
    return t if isinstance(t, list) else [t, 'null']


def fill(schema, names, overrides, path=''):
    """A value for every field: overrides by field name, else a plain value of its type."""
    if isinstance(schema, list):
        branches = [s for s in schema if s != 'null']
        return fill(branches[0], names, overrides, path) if branches else None
    if isinstance(schema, str):
        if schema in names:
            return fill(names[schema], names, overrides, path)
        return {'long': 1, 'int': 1, 'float': 1.5, 'double': 1.5, 'string': 'x', 'boolean': False,
                'bytes': b'', 'null': None}[schema]
    if schema['type'] == 'record':
        ns = schema.get('namespace', '')
        full = schema['name'] if '.' in schema['name'] or not ns else ns + '.' + schema['name']
        names[full] = schema
        names[schema['name']] = schema
        out = {}
        for f in schema['fields']:
            key = f['name']
            if key in overrides:
                value = overrides[key]
                out[key] = value(path) if callable(value) else value
            else:
                out[key] = fill(f['type'], names, overrides, path + '.' + key)
        return out
    if schema['type'] == 'array':
        return []
    if schema['type'] == 'enum':
        return schema['symbols'][0]
    if schema['type'] == 'fixed':
        return b'\0' * schema['size']
    return fill(schema['type'], names, overrides, path)


def write(file, schema, records, profile, survey, keys, schema_version):
    parsed = avro.schema.parse(json.dumps(schema))
    with open(os.path.join(OUT, file), 'wb') as out:
        w = avro.datafile.DataFileWriter(out, avro.io.DatumWriter(), parsed)
        for r in records:
            w.append(r)
        w.close()
    manifest[file] = {'profile': profile, 'survey': survey, 'alert_keys': [str(k) for k in keys],
                      'schema_version': schema_version}


# --- ZTF 1.3 ... 3.2: two alerts each, one history detection; 3.2 also with a negative candid --
ztf_dir = os.path.join(DATA, 'reference-schemas', 'ztf')
for n, version in enumerate(sorted(os.listdir(ztf_dir), key=lambda v: [int(x) for x in v[1:].split('.')])):
    known = load_named(glob.glob(os.path.join(ztf_dir, version, '*.avsc')))
    schema = dedupe(inline(copy.deepcopy(known['ztf.alert']), known, 'ztf'), set())
    prv_schema = known['ztf.alert.prv_candidate']
    candids = [1105522232515015000 + 10 * n + k for k in range(2)]
    if version == 'v3.2':
        candids.append(-1105522232515015004)  # ZTF test streams carry negative candids
    records = []
    for k, candid in enumerate(candids):
        jd = 2458500.5 + n + k / 10
        common = {'jd': jd, 'fid': 1 + k % 2, 'ra': 150.0 + n, 'dec': 2.0 + k, 'magpsf': 18.0, 'sigmapsf': 0.1,
                  'isdiffpos': 't', 'diffmaglim': 20.5, 'rb': 0.9, 'candid': candid, 'programid': 1,
                  'field': 600, 'rcid': 1, 'pid': 1}
        prv = fill(prv_schema, {}, dict(common, jd=jd - 3, candid=candid - 1000))
        cand = fill(known['ztf.alert.candidate'], {}, dict(common, exptime=30.0))
        alert = fill(schema, {}, {'objectId': 'ZTF18aabcdef%d' % n, 'candid': candid, 'schemavsn': version[1:],
                                  'publisher': 'ZTF (www.ztf.caltech.edu)', 'candidate': cand,
                                  'prv_candidates': [prv], 'cutoutScience': None, 'cutoutTemplate': None,
                                  'cutoutDifference': None})
        records.append(alert)
    write('ztf-%s.avro' % version, schema, records, 'ztf-3', 'ZTF', candids,
          version[1:] if version >= 'v2' else '1.x')

# --- ATLAS as ALeRCE distributes it: twelve alerts of one exposure -------------------------------
atlas_dir = os.path.join(DATA, 'reference-schemas', 'atlas-alerce')
known = load_named(glob.glob(os.path.join(atlas_dir, '*.avsc')))
alert_name = [k for k in known if k.endswith('alert')][0]
schema = dedupe(inline(copy.deepcopy(known[alert_name]), known, 'atlas'), set())
cand_name = [k for k in known if k.endswith('candidate')][0]
keys = ['02a59543o0040o_%06d' % (6230 + i) for i in range(12)]
records = []
for i, key in enumerate(keys):
    cand = fill(known[cand_name], {}, {'candid': key, 'mjd': 59543.25 + i / 1000, 'RA': 30.0 + i / 100,
                                       'Dec': -20.0, 'Mag': 17.5, 'Dmag': 0.05, 'flux': 350.0, 'dflux': 12.0,
                                       'filter': 'o', 'rb': 0.8, 'isdiffpos': 't'})
    records.append(fill(schema, {}, {'schemavsn': '0.1', 'publisher': 'ATLAS', 'objectId': 'ATLAS%02d' % i,
                                     'candid': key, 'candidate': cand, 'cutoutScience': None,
                                     'cutoutTemplate': None, 'cutoutDifference': None}))
write('atlas.avro', schema, records, 'atlas', 'ATLAS', keys, 'alerce-atlas')

# --- ELAsTiCC 0.9.1 ----------------------------------------------------------------------------
el_dir = os.path.join(DATA, 'reference-schemas', 'elasticc')
known = load_named(glob.glob(os.path.join(el_dir, 'elasticc.v0_9_1.*.avsc')))
schema = dedupe(inline(copy.deepcopy(known['elasticc.v0_9_1.alert']), known, 'elasticc.v0_9_1'), set())
records = []
for i in range(3):
    src = fill(known['elasticc.v0_9_1.diaSource'], {}, {'diaSourceId': 7000 + i, 'diaObjectId': 9000,
                                                         'midPointTai': 60300.5 + i, 'filterName': 'r',
                                                         'ra': 45.0, 'decl': -30.0, 'psFlux': 1000.0,
                                                         'psFluxErr': 50.0, 'snr': 20.0})
    obj = fill(known['elasticc.v0_9_1.diaObject'], {}, {'diaObjectId': 9000, 'ra': 45.0, 'decl': -30.0})
    records.append({'alertId': 500 + i, 'diaSource': src, 'prvDiaSources': [], 'prvDiaForcedSources': [],
                    'diaObject': obj})
write('elasticc.avro', schema, records, 'elasticc', 'ELAsTiCC', [500, 501, 502], '0.9.1')

# --- Rubin v9-v11: the sample alert native, and re-serialized by Spark inside Fink's `value` ------
for v in (9, 10, 11):
    sample = os.path.join(DATA, 'lsst', 'schema', str(v), '0', 'sample_data', 'fakeAlert.avro')
    with open(sample, 'rb') as f:
        reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        native_schema = json.loads(reader.meta['avro.schema'])
        alerts = list(reader)
    keys = [a['diaSourceId'] for a in alerts]
    inner = sparkify(copy.deepcopy(native_schema), 'value', 'topLevelRecord')
    inner_records = [dict(a) for a in alerts]
    if v == 11:  # as Fink's v9 files do: the version inside the alert record
        inner['fields'].append({'name': 'lsst_schema_version', 'type': ['string', 'null']})
        for a in inner_records:
            a['lsst_schema_version'] = 'lsst.v11_0'
    wrapper = {'type': 'record', 'name': 'topLevelRecord',
               'fields': [{'name': 'value', 'type': [inner, 'null']},
                          {'name': 'finkclass', 'type': ['string', 'null']},
                          {'name': 'rf_snia_vs_nonia', 'type': ['double', 'null']}]}
    records = [{'value': a, 'finkclass': 'Unknown', 'rf_snia_vs_nonia': 0.1} for a in inner_records]
    profile = 'rubin-v%d' % v
    write('rubin-v%d-fink.avro' % v, wrapper, records, profile, 'Rubin', keys, '%d.0' % v)
    if v in (10, 11):  # without lsst_schema_version: told apart by the writer's non-null types
        typed = sparkify(copy.deepcopy(native_schema), 'value', 'topLevelRecord', keep_types=True)
        typed_wrapper = {'type': 'record', 'name': 'topLevelRecord',
                         'fields': [{'name': 'value', 'type': [typed, 'null']},
                                    {'name': 'finkclass', 'type': ['string', 'null']}]}
        write('rubin-v%d-spark-typed.avro' % v, typed_wrapper,
              [{'value': dict(a), 'finkclass': 'Unknown'} for a in alerts], profile, 'Rubin', keys, '%d.0' % v)
    if v == 10:  # wrapped twice: a broker envelope around Spark's record
        inner2 = sparkify(copy.deepcopy(native_schema), 'value', 'envelope.message')
        envelope = {'type': 'record', 'name': 'envelope',
                    'fields': [{'name': 'topic', 'type': 'string'},
                               {'name': 'message', 'type': {'type': 'record', 'name': 'message', 'namespace': 'envelope',
                                                            'fields': [{'name': 'value', 'type': [inner2, 'null']}]}}]}
        write('rubin-v10-envelope.avro', envelope,
              [{'topic': 'fink_rubin', 'message': {'value': dict(a)}} for a in alerts], profile, 'Rubin', keys, '10.0')

WHEN = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc)

# --- A message no profile takes: ELAsTiCC's brokerClassification (what brokers send back) -------
known = load_named(glob.glob(os.path.join(el_dir, 'elasticc.v0_9_1.brokerClassification.avsc')))
schema = dedupe(inline(copy.deepcopy(list(known.values())[0]), known, 'elasticc.v0_9_1'), set())  # named brokerClassfication
write('elasticc-classification.avro', schema, [fill(schema, {}, {'alertId': 500, 'diaSourceId': 7000, 'elasticcPublishTimestamp': WHEN,
                                   'brokerIngestTimestamp': WHEN})], None,
      None, [], None)

with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
    json.dump(manifest, f, indent=1)
print(len(manifest))
