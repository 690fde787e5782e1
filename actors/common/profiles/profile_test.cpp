#include "actors/common/profiles/profile.h"

#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <new>

#include "engine/time/time_scale.h"
#include "engine/util/fault.h"

namespace ebs::profiles {

namespace {

// ATLAS as ALeRCE distributes it (there is no ATLAS Avro file in the shared data).
struct AtlasShapes {
  RecordShape alert{"atlas.alert", {"objectId", "candid", "candidate"}};
  RecordShape candidate{"atlas.candidate", {"mjd", "RA", "Dec", "Mag", "Dmag", "flux", "dflux", "rb", "filter"}};
};

RawRecord atlas_record(double ra, double dec, double flux, const char* filter = "o", const char* candid = nullptr,
                       double mjd = 59000.25) {
  static auto shapes = std::make_shared<AtlasShapes>();
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), &shapes->alert);
  b.set_string(f, "ATLAS20abc");
  if (candid) b.set_string(f + 1, candid);
  else b.set_int(f + 1, 123456789);
  uint32_t c = b.begin_record(f + 2, &shapes->candidate);
  b.set_double(c, mjd);
  b.set_double(c + 1, ra);
  b.set_double(c + 2, dec);
  b.set_double(c + 3, 18.5);
  b.set_double(c + 4, 0.1);
  b.set_double(c + 5, flux);
  b.set_double(c + 6, 3.0);
  b.set_double(c + 7, 0.8);
  b.set_string(c + 8, filter);
  return b.finish(nullptr, shapes);
}

const char* kAtlasProfile = R"(
profile: atlas-test
survey: ATLAS
match: {has_fields: [candidate.RA, candidate.Dec]}
time: {path: candidate.mjd, format: mjd, scale: utc, reference: middle}
alert:
  alert_id: candid
  alert_id_kind: integer
  object_id: objectId
  ra: candidate.RA
  dec: candidate.Dec
  band: {path: candidate.filter, map: {o: orange, c: cyan}}
  mag: candidate.Mag
  mag_err: candidate.Dmag
  flux: {path: candidate.flux, unit: uJy}
  flux_err: {path: candidate.dflux, unit: uJy}
  real_bogus: candidate.rb
)";

}  // namespace

TEST_CASE("an ATLAS record maps through a profile: units, bands, time scale, flux sign") {
  auto profile = Profile::parse_text(kAtlasProfile, "atlas.yaml");
  CHECK(profile->shape_matches(atlas_record(10, 20, 5)));
  CHECK(profile->version_matches(atlas_record(10, 20, 5)));
  auto core = profile->map(atlas_record(10, 20, 5), nullptr, "test record 0");
  CHECK(core->survey == "ATLAS");
  CHECK(core->alert_id == 123456789u);
  CHECK(core->object_id == "ATLAS20abc");
  CHECK(core->ra == 10);
  CHECK(core->dec == 20);
  CHECK(core->band == "orange");
  CHECK(core->mag == 18.5);
  CHECK(core->flux == doctest::Approx(5000));     // µJy -> nJy
  CHECK(core->flux_err == doctest::Approx(3000));
  CHECK(core->is_diff_pos);                       // no flag: the sign of the flux
  CHECK(core->real_bogus == doctest::Approx(0.8));
  // MJD UTC 59000.25 (2020) + 37 s.
  CHECK(core->mjd_tai == doctest::Approx(59000.25 + 37.0 / 86400).epsilon(1e-12));
  CHECK(core->raw.path("candidate.rb").as_double() == doctest::Approx(0.8));

  auto negative = profile->map(atlas_record(10, 20, -5, "c"), nullptr, "test record 1");
  CHECK_FALSE(negative->is_diff_pos);
  CHECK(negative->band == "cyan");
}

TEST_CASE("mapping errors name the record and the field, and do not crash") {
  auto profile = Profile::parse_text(kAtlasProfile, "atlas.yaml");
  try {
    profile->map(atlas_record(NAN, 20, 5), nullptr, "alerts/a.avro record 3");
    FAIL("no fault");
  } catch (const Fault& f) {
    CHECK(f.place() == "alerts/a.avro record 3");
    CHECK(f.message() == "profile atlas-test: ra (candidate.RA) is nan, not in [0, 360)");
  }
  CHECK_THROWS_WITH_AS(profile->map(atlas_record(10, 95, 5), nullptr, "p"),
                       "p: profile atlas-test: dec (candidate.Dec) is 95.000000, not in [-90, 90]", Fault);
  CHECK_THROWS_WITH_AS(profile->map(atlas_record(360, 0, 5), nullptr, "p"),
                       "p: profile atlas-test: ra (candidate.RA) is 360.000000, not in [0, 360)", Fault);
}

TEST_CASE("each profile declares how its id is read: ATLAS text ids are kept and hashed, never half-parsed") {
  // Real ATLAS candids are exposure name + detection number: parsed as integers, all twelve of an
  // exposure once became alert 2.
  auto as_integer = Profile::parse_text(kAtlasProfile, "atlas.yaml");
  CHECK_THROWS_WITH_AS(as_integer->map(atlas_record(10, 20, 5, "o", "02a59543o0040o_006230"), nullptr, "r"),
                       "r: profile atlas-test: alert_id (candid) '02a59543o0040o_006230' is not a 64-bit integer "
                       "(a text id needs alert_id_kind: text)",
                       Fault);
  std::string text_profile = kAtlasProfile;
  text_profile.replace(text_profile.find("alert_id_kind: integer"), 22, "alert_id_kind: text");
  auto as_text = Profile::parse_text(text_profile, "atlas.yaml");
  auto a = as_text->map(atlas_record(10, 20, 5, "o", "02a59543o0040o_006230"), nullptr, "r");
  auto b = as_text->map(atlas_record(10, 20, 5, "o", "02a59543o0040o_006231"), nullptr, "r");
  CHECK(a->alert_key == "02a59543o0040o_006230");
  CHECK(a->alert_id == alert_id_of_text("02a59543o0040o_006230"));
  CHECK(a->alert_id != b->alert_id);
  CHECK_THROWS_WITH_AS(
      Profile::parse_text("profile: x\nsurvey: y\nmatch: {schema: a}\ntime: {path: t, format: mjd, scale: utc}\n"
                          "alert: {alert_id: i, object_id: o, ra: r, dec: d}\n",
                          "p.yaml"),
      "p.yaml:5:8: alert_id needs alert_id_kind: integer or text", Fault);
}

TEST_CASE("profile syntax errors name FILE:LINE:COL") {
  CHECK_THROWS_WITH_AS(Profile::parse_text("profile: x\nsurvey: y\nmatch: {schema: a}\ntime: {path: t, format: jd, scale: utc}\nalert: {object_id: o, ra: r, dec: d, colour: c}\n", "p.yaml"),
                       "p.yaml:5:38: unknown key 'colour' in alert (allowed: alert_id, alert_id_kind, alert_key, object_id, ra, "
                       "dec, band, mag, mag_err, flux, flux_err, is_diff_pos, real_bogus, limit_mag)",
                       Fault);
  CHECK_THROWS_WITH_AS(Profile::parse_text("profile: x\nsurvey: y\nmatch: {schema: a}\ntime: {path: t, format: days, scale: utc}\nalert: {object_id: o, ra: r, dec: d}\n", "p.yaml"),
                       "p.yaml:4:25: time format must be jd or mjd, not 'days'", Fault);
  CHECK_THROWS_WITH_AS(Profile::parse_text("profile: x\nsurvey: y\nmatch: {schema: a}\ntime: {path: t, format: jd, scale: utc, reference: start}\nalert: {object_id: o, ra: r, dec: d}\n", "p.yaml"),
                       doctest::Contains("reference: start needs exposure_time"), Fault);
  CHECK_THROWS_WITH_AS(Profile::parse_text("profile: x\nsurvey: y\nmatch: {schema: a}\ntime: {path: t, format: jd, scale: utc}\nalert: {object_id: o, ra: r, dec: d, flux: {path: f, unit: furlong}}\n", "p.yaml"),
                       doctest::Contains("unknown unit 'furlong'"), Fault);
  CHECK_THROWS_WITH_AS(Profile::parse_text("profile: x\nsurvey: y\nmatch: {schema: a}\ntime: {path: t, format: jd, scale: utc}\nalert: {ra: r, dec: d}\n", "p.yaml"),
                       "p.yaml:5:8: alert needs 'object_id'", Fault);
}

namespace {

struct ZtfLikeShapes {
  RecordShape alert{"ztf.alert", {"schemavsn", "objectId", "candid", "candidate", "prv_candidates", "fp_hists"}};
  RecordShape candidate{"ztf.alert.candidate", {"jd", "fid", "ra", "dec", "magpsf", "sigmapsf", "isdiffpos", "exptime", "drb", "rb"}};
  RecordShape prv{"ztf.alert.prv_candidate", {"jd", "fid", "candid", "magpsf", "sigmapsf", "diffmaglim", "isdiffpos"}};
  RecordShape fp{"ztf.alert.fp_hist", {"jd", "fid", "forcediffimflux", "forcediffimfluxunc", "magzpsci", "procstatus", "exptime"}};
};

// Every record's fields in reverse order: another writer schema, whose positions a profile must
// not take from the first one's.
void reverse_fields(ZtfLikeShapes& shapes) {
  for (RecordShape* shape : {&shapes.alert, &shapes.candidate, &shapes.prv, &shapes.fp}) {
    std::vector<std::string> fields(shape->fields.rbegin(), shape->fields.rend());
    *shape = RecordShape(shape->name, fields);
  }
}

std::shared_ptr<ZtfLikeShapes> reversed_ztf_like_shapes() {
  auto shapes = std::make_shared<ZtfLikeShapes>();
  reverse_fields(*shapes);
  return shapes;
}

// Storage for one ZtfLikeShapes that a test destroys and builds again in place: the second
// shapes are certainly at the first one's address (an allocator may not give a freed block back,
// ASan's quarantine never does). Handed out as a shared_ptr that does not delete.
struct ShapesInPlace {
  alignas(ZtfLikeShapes) unsigned char bytes[sizeof(ZtfLikeShapes)];
  ZtfLikeShapes* live = nullptr;
  std::shared_ptr<ZtfLikeShapes> make(bool reversed) {
    destroy();
    live = new (bytes) ZtfLikeShapes();
    if (reversed) reverse_fields(*live);
    return std::shared_ptr<ZtfLikeShapes>(live, [](ZtfLikeShapes*) {});
  }
  void destroy() {
    if (live) std::destroy_at(live);
    live = nullptr;
  }
  ShapesInPlace() = default;
  ShapesInPlace(const ShapesInPlace&) = delete;
  ShapesInPlace& operator=(const ShapesInPlace&) = delete;
  ~ShapesInPlace() { destroy(); }
};

// A ZTF-like alert in records of `shapes` (any field order: values are set by name). With
// `prv_detection` given, the history's detection is a record of that shape instead of
// shapes->prv (a list of records of two shapes, as a union of records would give); without
// `forced`, fp_hists is null.
RawRecord ztf_like_in(const std::shared_ptr<ZtfLikeShapes>& shapes, const char* version, const char* isdiffpos,
                      const RecordShape* prv_detection = nullptr, bool forced = true,
                      double detection_jd = 2458999.5) {
  RawRecordBuilder b;
  auto at = [](uint32_t first, const RecordShape& shape, const char* field) { return first + *shape.find(field); };
  const RecordShape& a = shapes->alert;
  uint32_t f = b.begin_record(b.add_root(), &a);
  b.set_string(at(f, a, "schemavsn"), version);
  b.set_string(at(f, a, "objectId"), "ZTF20aaaaaaa");
  b.set_int(at(f, a, "candid"), 42);
  const RecordShape& cs = shapes->candidate;
  uint32_t c = b.begin_record(at(f, a, "candidate"), &cs);
  b.set_double(at(c, cs, "jd"), 2459000.5);
  b.set_int(at(c, cs, "fid"), 2);
  b.set_double(at(c, cs, "ra"), 100);
  b.set_double(at(c, cs, "dec"), -10);
  b.set_double(at(c, cs, "magpsf"), 18.0);
  b.set_double(at(c, cs, "sigmapsf"), 0.05);
  b.set_string(at(c, cs, "isdiffpos"), isdiffpos);
  b.set_double(at(c, cs, "exptime"), 30);
  b.set_null(at(c, cs, "drb"));  // no drb: falls back to rb
  b.set_double(at(c, cs, "rb"), 0.7);
  uint32_t l = b.begin_list(at(f, a, "prv_candidates"), 2);
  const RecordShape& ds = prv_detection ? *prv_detection : shapes->prv;
  uint32_t d = b.begin_record(l, &ds);  // a detection
  b.set_double(at(d, ds, "jd"), detection_jd);
  b.set_int(at(d, ds, "fid"), 1);
  b.set_int(at(d, ds, "candid"), 41);
  b.set_double(at(d, ds, "magpsf"), 18.5);
  b.set_double(at(d, ds, "sigmapsf"), 0.1);
  b.set_double(at(d, ds, "diffmaglim"), 20.0);
  b.set_string(at(d, ds, "isdiffpos"), "t");
  const RecordShape& ps = shapes->prv;
  uint32_t u = b.begin_record(l + 1, &ps);  // an upper limit: no candid
  b.set_double(at(u, ps, "jd"), 2458998.5);
  b.set_int(at(u, ps, "fid"), 3);
  b.set_double(at(u, ps, "diffmaglim"), 20.5);
  const RecordShape& fs = shapes->fp;
  if (!forced) return b.finish(nullptr, shapes);  // fp_hists null
  uint32_t fl = b.begin_list(at(f, a, "fp_hists"), 2);
  uint32_t p = b.begin_record(fl, &fs);
  b.set_double(at(p, fs, "jd"), 2458997.5);
  b.set_int(at(p, fs, "fid"), 2);
  b.set_double(at(p, fs, "forcediffimflux"), 100);  // DN
  b.set_double(at(p, fs, "forcediffimfluxunc"), 10);
  b.set_double(at(p, fs, "magzpsci"), 26.4);  // zp: 100 DN = 26.4 - 5 = mag 21.4 = 10^4 nJy
  b.set_string(at(p, fs, "procstatus"), "0");
  b.set_double(at(p, fs, "exptime"), 30);
  uint32_t bad = b.begin_record(fl + 1, &fs);
  b.set_double(at(bad, fs, "jd"), 2458996.5);
  b.set_int(at(bad, fs, "fid"), 2);
  b.set_double(at(bad, fs, "forcediffimflux"), -99999);
  b.set_double(at(bad, fs, "forcediffimfluxunc"), -99999);
  b.set_double(at(bad, fs, "magzpsci"), 26.4);
  b.set_string(at(bad, fs, "procstatus"), "61");
  b.set_double(at(bad, fs, "exptime"), 30);
  return b.finish(nullptr, shapes);
}

RawRecord ztf_like(const char* version, const char* isdiffpos) {
  static auto shapes = std::make_shared<ZtfLikeShapes>();
  return ztf_like_in(shapes, version, isdiffpos);
}

const char* kZtfLikeProfile = R"(
profile: ztf-like
survey: ZTF
match: {schema: ztf.alert, version_field: schemavsn, versions: ["4.*"]}
schema_version: {path: schemavsn}
bands: {"1": g, "2": r, "3": i}
time: {path: candidate.jd, format: jd, scale: utc, reference: start, exposure_time: candidate.exptime, default_exposure_s: 30}
alert:
  alert_id: candid
  alert_id_kind: integer
  object_id: objectId
  ra: candidate.ra
  dec: candidate.dec
  band: candidate.fid
  mag: candidate.magpsf
  mag_err: candidate.sigmapsf
  is_diff_pos: candidate.isdiffpos
  real_bogus: [candidate.drb, candidate.rb]
history:
  - {list: prv_candidates, kind: detection, where: {present: candid}, time: jd, band: fid, mag: magpsf, mag_err: sigmapsf, limit_mag: diffmaglim, is_diff_pos: isdiffpos}
  - {list: prv_candidates, kind: upper_limit, where: {absent: candid}, time: jd, band: fid, limit_mag: diffmaglim}
  - list: fp_hists
    kind: forced
    where: {equals: {procstatus: "0"}}
    time: {path: jd, exposure_time: exptime}
    band: fid
    flux: {path: forcediffimflux, unit: DN, zero_point: magzpsci, null_values: [-99999]}
    flux_err: {path: forcediffimfluxunc, unit: DN, zero_point: magzpsci, null_values: [-99999]}
)";

// What the profile above makes of ztf_like(_in)(version "4.01", isdiffpos "f").
void check_ztf_like_core(const AlertCore& core) {
  CHECK(core.schema_version == "4.01");
  CHECK(core.alert_id == 42);
  CHECK(core.object_id == "ZTF20aaaaaaa");
  CHECK(core.ra == 100);
  CHECK(core.dec == -10);
  CHECK(core.band == "r");
  CHECK(core.mag == 18.0);
  CHECK(core.mag_err == 0.05);
  CHECK_FALSE(core.is_diff_pos);
  CHECK(core.flux == doctest::Approx(-std::pow(10.0, (31.4 - 18.0) / 2.5)));
  CHECK(core.real_bogus == doctest::Approx(0.7));
  double mjd_utc = 59000.0 + 15.0 / 86400;  // JD 2459000.5 = MJD 59000, + half of 30 s
  CHECK(core.mjd_tai == doctest::Approx(time::mjd_utc_to_tai(mjd_utc)).epsilon(1e-13));
  REQUIRE(core.history.size() == 3);
  const Photometry& det = core.history[0];
  CHECK(det.kind == Photometry::Kind::detection);
  CHECK(det.band == "g");
  CHECK(det.mag == 18.5);
  CHECK(det.mag_err == 0.1);
  CHECK(det.limit_mag == 20.0);
  CHECK(det.is_diff_pos);
  CHECK(det.mjd_tai == doctest::Approx(time::mjd_utc_to_tai(58999.0 + 15.0 / 86400)).epsilon(1e-13));
  const Photometry& ul = core.history[1];
  CHECK(ul.kind == Photometry::Kind::upper_limit);
  CHECK(ul.band == "i");
  CHECK(std::isnan(ul.mag));
  CHECK(ul.limit_mag == 20.5);
  const Photometry& fp = core.history[2];  // the failed one (procstatus 61) is left out
  CHECK(fp.kind == Photometry::Kind::forced);
  CHECK(fp.band == "r");
  CHECK(fp.flux == doctest::Approx(1e4));
  CHECK(fp.flux_err == doctest::Approx(1e3));
  CHECK(fp.mag == doctest::Approx(21.4));
  CHECK(fp.mjd_tai == doctest::Approx(time::mjd_utc_to_tai(58997.0 + 15.0 / 86400)).epsilon(1e-13));
}

}  // namespace

TEST_CASE("the shipped ZTF 4 profile: upper limits, negative subtractions, forced photometry in DN, mid-exposure times") {
  auto profile = Profile::parse_text(kZtfLikeProfile, "ztf-like.yaml");
  CHECK(profile->version_matches(ztf_like("4.01", "t")));
  CHECK_FALSE(profile->version_matches(ztf_like("3.3", "t")));

  auto core = profile->map(ztf_like("4.01", "f"), nullptr, "r");
  CHECK(core->schema_version == "4.01");
  CHECK(core->band == "r");
  CHECK_FALSE(core->is_diff_pos);
  CHECK(core->flux < 0);  // negative subtraction: flux of the magnitude, negative
  CHECK(core->flux == doctest::Approx(-std::pow(10.0, (31.4 - 18.0) / 2.5)));
  CHECK(core->real_bogus == doctest::Approx(0.7));
  double mjd_utc = 59000.0 + 15.0 / 86400;  // JD 2459000.5 = MJD 59000, + half of 30 s
  CHECK(core->mjd_tai == doctest::Approx(time::mjd_utc_to_tai(mjd_utc)).epsilon(1e-13));

  REQUIRE(core->history.size() == 3);
  const Photometry& det = core->history[0];
  CHECK(det.kind == Photometry::Kind::detection);
  CHECK(det.band == "g");
  CHECK(det.mag == 18.5);
  CHECK(det.limit_mag == 20.0);
  const Photometry& ul = core->history[1];
  CHECK(ul.kind == Photometry::Kind::upper_limit);
  CHECK(ul.band == "i");
  CHECK(std::isnan(ul.mag));
  CHECK(ul.limit_mag == 20.5);
  const Photometry& fp = core->history[2];  // the failed one (procstatus 61) is left out
  CHECK(fp.kind == Photometry::Kind::forced);
  CHECK(fp.flux == doctest::Approx(1e4));
  CHECK(fp.flux_err == doctest::Approx(1e3));
  CHECK(fp.mag == doctest::Approx(21.4));
  CHECK(fp.mjd_tai == doctest::Approx(time::mjd_utc_to_tai(58997.0 + 15.0 / 86400)).epsilon(1e-13));

  auto positive = profile->map(ztf_like("4.01", "1"), nullptr, "r");
  CHECK(positive->is_diff_pos);
  CHECK(positive->flux > 0);
}

TEST_CASE("a profile given its records' decode plan keeps field positions across records, and finds them again for another plan") {
  // Two writer schemas with the same names in other orders, each owned by its "plan": a profile
  // that kept the first one's positions for the second would read the wrong fields.
  auto profile = Profile::parse_text(kZtfLikeProfile, "ztf-like.yaml");
  auto first = std::make_shared<ZtfLikeShapes>();
  auto second = reversed_ztf_like_shapes();
  int record = 0;
  for (const auto* plan : {&first, &first, &second, &second, &first, &second}) {
    INFO("record " << record++);
    auto core = profile->map(ztf_like_in(*plan, "4.01", "f"), nullptr, "r", 0, nullptr, 0, *plan);
    check_ztf_like_core(*core);
  }
  // Without a plan, and with a plan again after records without one.
  check_ztf_like_core(*profile->map(ztf_like_in(second, "4.01", "f"), nullptr, "r"));
  check_ztf_like_core(*profile->map(ztf_like_in(first, "4.01", "f"), nullptr, "r"));
  check_ztf_like_core(*profile->map(ztf_like_in(second, "4.01", "f"), nullptr, "r", 0, nullptr, 0, second));

  // A plan freed while a path's position still names one of its shapes (fp_hists' fields: the
  // record in between has none), and another plan built at its address (in the same storage, so
  // the reuse is certain): the profile must check the names again (paths and the history's
  // element positions), not trust the address.
  ShapesInPlace storage;
  {
    auto freed = storage.make(false);
    check_ztf_like_core(*profile->map(ztf_like_in(freed, "4.01", "f"), nullptr, "r", 0, nullptr, 0, freed));
  }
  auto without_forced = profile->map(ztf_like_in(first, "4.01", "f", nullptr, false), nullptr, "r", 0, nullptr, 0, first);
  CHECK(without_forced->history.size() == 2);
  const RecordShape* freed_fp = &storage.live->fp;
  storage.destroy();  // the profile holds `first` now, nothing of the freed plan
  auto in_its_place = storage.make(true);
  REQUIRE(&in_its_place->fp == freed_fp);
  check_ztf_like_core(*profile->map(ztf_like_in(in_its_place, "4.01", "f"), nullptr, "r", 0, nullptr, 0, in_its_place));
  check_ztf_like_core(*profile->map(ztf_like_in(first, "4.01", "f"), nullptr, "r", 0, nullptr, 0, first));
  in_its_place.reset();
  storage.destroy();  // the profile holds `first` again

  // A list whose elements have two shapes (a union of records): the history's positions are
  // those of its first element's shape, and an element of the other shape is read by its names.
  auto mixed = std::make_shared<ZtfLikeShapes>();
  const RecordShape& other_prv = second->prv;
  // The owner of the records' shapes: both schemas' (the detection's shape is the second's).
  auto both = std::make_shared<std::pair<std::shared_ptr<ZtfLikeShapes>, std::shared_ptr<ZtfLikeShapes>>>(mixed, second);
  for (int i = 0; i < 3; ++i) {
    INFO("mixed record " << i);
    check_ztf_like_core(*profile->map(ztf_like_in(mixed, "4.01", "f", &other_prv), nullptr, "r", 0, nullptr, 0, both));
  }
}

TEST_CASE("a time past ERFA's calendar (a hostile jd 1e300) is refused for the alert and skipped in its history") {
  auto atlas = Profile::parse_text(kAtlasProfile, "atlas.yaml");
  CHECK_THROWS_WITH_AS(atlas->map(atlas_record(10, 20, 5, "o", nullptr, 1e300), nullptr, "p"),
                       "p: profile atlas-test: time (candidate.mjd) 1e+300 is past ERFA's calendar (JD 1e9)", Fault);
  CHECK_THROWS_WITH_AS(atlas->map(atlas_record(10, 20, 5, "o", nullptr, INFINITY), nullptr, "p"),
                       "p: profile atlas-test: time (candidate.mjd) is missing or not finite", Fault);
  CHECK(atlas->map(atlas_record(10, 20, 5), nullptr, "p")->mjd_tai == doctest::Approx(59000.25 + 37.0 / 86400));

  // A history point with such a time says nothing, as one without a time: the others stay.
  auto ztf = Profile::parse_text(kZtfLikeProfile, "ztf-like.yaml");
  auto shapes = std::make_shared<ZtfLikeShapes>();
  for (double jd : {1e300, 1e9 + 1, -1e300}) {
    CAPTURE(jd);
    auto core = ztf->map(ztf_like_in(shapes, "4.01", "f", nullptr, true, jd), nullptr, "r");
    REQUIRE(core->history.size() == 2);
    CHECK(core->history[0].kind == Photometry::Kind::upper_limit);
    CHECK(core->history[1].kind == Photometry::Kind::forced);
  }
}

}  // namespace ebs::profiles
