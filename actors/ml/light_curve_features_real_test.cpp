// Features of real alerts — ZTF (schema 3.3 and 4.01, the latter with fp_hists forced photometry)
// and Rubin (LSSTCam, difference fluxes) — against an independent numpy implementation of the
// definitions in docs/ml.md. Python's avro decodes the alerts and hands both sides the same points.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "actors/ml/light_curve_features.h"
#include "test/support/ml_oracle.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::ml;
using nlohmann::json;

namespace {

// The feature definitions in numpy, shared by the ZTF and Rubin loaders below.
const char* kFeatures = R"PY(
import avro.datafile, avro.io, glob, json, math, sys
import numpy as np

def njy(mag): return 10 ** ((31.4 - mag) / 2.5)
BANDS = {1: 'g', 2: 'r', 3: 'i'}

def points_of(a):
    pts = []
    for p in a['prv_candidates'] or []:
        t = p['jd'] - 2400000.5
        if p['magpsf'] is not None:
            pos = p['isdiffpos'] in ('t', '1')
            pts.append(dict(kind='detection', t=t, band=BANDS[p['fid']], mag=p['magpsf'], mag_err=p['sigmapsf'], pos=pos))
        else:
            pts.append(dict(kind='upper_limit', t=t, band=BANDS[p['fid']], limit=p['diffmaglim']))
    for p in a.get('fp_hists') or []:
        if p['forcediffimflux'] == -99999.0 or p['magzpsci'] is None: continue
        scale = 10 ** ((31.4 - p['magzpsci']) / 2.5)  # DN -> nJy
        pts.append(dict(kind='forced', t=p['jd'] - 2400000.5, band=BANDS[p['fid']],
                        flux=p['forcediffimflux'] * scale, flux_err=p['forcediffimfluxunc'] * scale))
    return pts

def distinct(now, pts):
    # docs/ingestion.md: same kind and band within 0.1 s is one point; the alert's own detection
    # wins, otherwise the first in time.
    drop, last = set(), {}
    for i in sorted(range(len(pts)), key=lambda i: (pts[i]['kind'], pts[i]['band'], pts[i]['t'], i)):
        p, key = pts[i], (pts[i]['kind'], pts[i]['band'])
        if (p['kind'] == 'detection' and p['band'] == now['band'] and abs(p['t'] - now['t']) * 86400 <= 0.1) or \
           (key in last and abs(p['t'] - last[key]) * 86400 <= 0.1):
            drop.add(i)
            continue
        last[key] = p['t']
    return [p for i, p in enumerate(pts) if i not in drop]

def features(now, pts):
    allp = distinct(now, pts) + [dict(now, kind='detection')]
    for p in allp:  # brightness in both spaces
        if p['kind'] == 'detection' and p.get('mag') is not None:  # ZTF: magnitudes
            p['flux'] = njy(p['mag']) * (1 if p['pos'] else -1)
            p['m'] = p['mag'] if p['pos'] else float('nan')
        elif p['kind'] == 'detection':  # Rubin: difference fluxes in nJy
            p['m'] = 31.4 - 2.5 * math.log10(p['flux']) if p['flux'] > 0 else float('nan')
        else:
            p['m'] = float('nan')
    f = {}
    for b in 'gri':
        det = [p for p in allp if p['kind'] == 'detection' and p['band'] == b]
        withm = [p for p in det if not math.isnan(p['m'])]
        fl = [p['flux'] for p in allp if p['kind'] != 'upper_limit' and p['band'] == b and not math.isnan(p['flux'])]
        f['n_det_' + b] = len(det)
        nan = float('nan')
        f['mag_peak_' + b] = f['mag_range_' + b] = f['rise_rate_' + b] = f['decline_rate_' + b] = nan
        if withm:
            m = np.array([p['m'] for p in withm]); t = np.array([p['t'] for p in withm])
            k = int(np.argmin(m)); first = int(np.argmin(t)); last = int(np.argmax(t))
            f['mag_peak_' + b] = m[k]; f['mag_range_' + b] = m.max() - m.min()
            if t[k] > t[first]: f['rise_rate_' + b] = (m[first] - m[k]) / (t[k] - t[first])
            if t[last] > t[k]: f['decline_rate_' + b] = (m[last] - m[k]) / (t[last] - t[k])
        f['flux_max_' + b] = max(fl) if fl else nan
    dets = [p for p in allp if p['kind'] == 'detection']
    f['n_det'] = len(dets)
    f['n_upper_limits'] = sum(p['kind'] == 'upper_limit' for p in allp)
    f['n_forced'] = sum(p['kind'] == 'forced' for p in allp)
    f['days_since_first_det'] = now['t'] - min(p['t'] for p in dets)
    g = [p for p in dets if p['band'] == 'g' and not math.isnan(p['m'])]
    r = [p for p in dets if p['band'] == 'r' and not math.isnan(p['m'])]
    f['colour_gr'] = float('nan')
    if g and r:
        lg = max(g, key=lambda p: p['t'])
        nr = min(r, key=lambda p: abs(p['t'] - lg['t']))
        if abs(nr['t'] - lg['t']) <= 1: f['colour_gr'] = lg['m'] - nr['m']
    return {k: (None if isinstance(v, float) and math.isnan(v) else float(v)) for k, v in f.items()}
)PY";

const char* kZtf = R"PY(
for path in sorted(glob.glob(sys.argv[1] + '/ztf/kowalski-v3.3-v4.01/*.avro')):
    for a in avro.datafile.DataFileReader(open(path, 'rb'), avro.io.DatumReader()):
        c = a['candidate']
        now = dict(t=c['jd'] - 2400000.5, band=BANDS[c['fid']], mag=c['magpsf'], mag_err=c['sigmapsf'],
                   pos=c['isdiffpos'] in ('t', '1'))
        pts = points_of(a)
        print(json.dumps(dict(file=path.split('/')[-1], now=now, points=pts, expected=features(now, [dict(p) for p in pts]))))
)PY";

const char* kRubin = R"PY(
for path in sorted(glob.glob(sys.argv[1] + '/lsst/rubin-lsstcam-v9-spark/*.avro')):
    for a in avro.datafile.DataFileReader(open(path, 'rb'), avro.io.DatumReader()):
        s = a['diaSource']
        now = dict(t=s['midpointMjdTai'], band=s['band'], flux=s['psfFlux'], flux_err=s['psfFluxErr'])
        pts = [dict(kind='detection', t=p['midpointMjdTai'], band=p['band'], flux=p['psfFlux'], flux_err=p['psfFluxErr'])
               for p in a['prvDiaSources'] or []]
        pts += [dict(kind='forced', t=p['midpointMjdTai'], band=p['band'], flux=p['psfFlux'], flux_err=p['psfFluxErr'])
                for p in a['prvDiaForcedSources'] or [] if p['psfFlux'] is not None]
        print(json.dumps(dict(file=path.split('/')[-1], now=now, points=pts, expected=features(now, [dict(p) for p in pts]))))
)PY";

struct Checked {
  size_t alerts = 0, with_forced = 0, with_colour = 0, negative = 0;
};

// Builds each alert from the oracle's points, extracts lc-basic/1 and compares with numpy.
Checked check_against_oracle(const char* loader) {
  std::string script = std::string("import sys\nsys.argv = ['oracle', '") + ebs::test::data_dir().string() + "']\n" +
                       kFeatures + loader;
  std::istringstream lines(testing::run_python_oracle(script));
  const FeatureSet& set = *find_feature_set("lc-basic/1");
  FeatureExtractor extractor(set);
  std::vector<float> v(extractor.size());
  Checked c;
  auto number = [](const json& j, const char* key) { return j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN; };
  for (std::string line; std::getline(lines, line);) {
    json j = json::parse(line);
    AlertCore a;
    a.object_id = j["file"];
    a.mjd_tai = j["now"]["t"];
    a.band = j["now"]["band"];
    a.mag = number(j["now"], "mag");
    a.mag_err = number(j["now"], "mag_err");
    a.flux = number(j["now"], "flux");
    a.flux_err = number(j["now"], "flux_err");
    a.is_diff_pos = j["now"].value("pos", a.flux > 0);
    c.negative += a.flux < 0 || !a.is_diff_pos;
    for (const json& p : j["points"]) {
      Photometry ph;
      ph.mjd_tai = p["t"];
      ph.band = p["band"];
      if (p["kind"] == "detection") {
        ph.mag = number(p, "mag");
        ph.mag_err = number(p, "mag_err");
        ph.flux = number(p, "flux");
        ph.flux_err = number(p, "flux_err");
        ph.is_diff_pos = p.value("pos", ph.flux > 0);
      } else if (p["kind"] == "upper_limit") {
        ph.kind = Photometry::Kind::upper_limit;
        ph.limit_mag = number(p, "limit");
      } else {
        ph.kind = Photometry::Kind::forced;
        ph.flux = number(p, "flux");
        ph.flux_err = number(p, "flux_err");
      }
      a.history.push_back(ph);
    }
    extractor.extract(a, v.data());
    ++c.alerts;
    for (size_t k = 0; k < set.names.size(); ++k) {
      const json& want = j["expected"][set.names[k]];
      INFO(a.object_id << " " << set.names[k] << " ours " << v[k] << " numpy " << want);
      if (want.is_null())
        CHECK(std::isnan(v[k]));
      else
        CHECK(v[k] == doctest::Approx(want.get<double>()).epsilon(1e-5).scale(1e-4));
    }
    c.with_forced += j["expected"]["n_forced"].get<double>() > 0;
    c.with_colour += !j["expected"]["colour_gr"].is_null();
  }
  return c;
}

}  // namespace

TEST_CASE("lc-basic/1 on real Rubin alerts (difference fluxes in nJy, some negative) matches numpy") {
  Checked c = check_against_oracle(kRubin);
  CHECK(c.alerts == 100);
  CHECK(c.negative > 0);
  MESSAGE(c.alerts << " Rubin alerts, " << c.negative << " with a negative difference flux");
}

TEST_CASE("lc-basic/1 on real ZTF alerts (with fp_hists forced photometry) matches numpy") {
  Checked c = check_against_oracle(kZtf);
  CHECK(c.alerts == 36);
  CHECK(c.with_forced >= 10);  // the 4.01 alerts carry forced photometry
  CHECK(c.with_colour > 0);
  MESSAGE(c.alerts << " ZTF alerts, " << c.with_forced << " with forced photometry, " << c.with_colour
                   << " with a g-r colour");
}
