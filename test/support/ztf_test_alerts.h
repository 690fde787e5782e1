// Real ZTF alerts (the shared data's Avro files) decoded with the project's Avro decoder and
// turned into Alerts the way a ZTF source does: ids, position, JD UTC -> MJD TAI, band from
// fid, PSF magnitude, prv_candidates as detections (magpsf set) or upper limits (diffmaglim).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "test/support/avro_test_files.h"
#include "actors/common/avro/decoder.h"
#include "engine/model/record.h"
#include "engine/time/time_scale.h"

namespace ebs::repository::testing {

inline std::string ztf_band(std::optional<int64_t> fid) {
  return fid == 1 ? "g" : fid == 2 ? "r" : fid == 3 ? "i" : "?";
}

inline double or_nan(std::optional<double> v) { return v ? *v : NAN; }

inline std::shared_ptr<const Alert> ztf_alert(const RawRecord& raw) {
  auto core = std::make_shared<AlertCore>();
  RawView c = raw.path("candidate");
  core->alert_id = static_cast<uint64_t>(*raw.path("candid").as_int());
  core->object_id = std::string(*raw.path("objectId").as_string());
  core->survey = "ztf";
  core->schema_version = std::string(raw.path("schemavsn").as_string().value_or(""));
  core->ra = or_nan(c.field("ra").as_double());
  core->dec = or_nan(c.field("dec").as_double());
  core->mjd_tai = time::to_mjd_tai(*c.field("jd").as_double(), time::Scale::utc, true);
  core->band = ztf_band(c.field("fid").as_int());
  core->mag = or_nan(c.field("magpsf").as_double());
  core->mag_err = or_nan(c.field("sigmapsf").as_double());
  core->is_diff_pos = c.field("isdiffpos").as_string().value_or("t") != "f";
  core->real_bogus = or_nan(c.field("drb").as_double());
  RawView prv = raw.path("prv_candidates");
  for (size_t i = 0; i < prv.size(); ++i) {
    RawView p = prv.child(i);
    Photometry point;
    point.mjd_tai = time::to_mjd_tai(*p.field("jd").as_double(), time::Scale::utc, true);
    point.band = ztf_band(p.field("fid").as_int());
    point.limit_mag = or_nan(p.field("diffmaglim").as_double());
    if (p.field("magpsf").is_null()) {
      point.kind = Photometry::Kind::upper_limit;
    } else {
      point.kind = Photometry::Kind::detection;
      point.mag = or_nan(p.field("magpsf").as_double());
      point.mag_err = or_nan(p.field("sigmapsf").as_double());
      point.is_diff_pos = p.field("isdiffpos").as_string().value_or("t") != "f";
    }
    core->history.push_back(point);
  }
  core->raw = raw;
  return std::make_shared<const Alert>(std::move(core));
}

// Every alert of a shared-data folder, e.g. "ztf/fink-20200101-v3.3".
inline std::vector<RecordPtr> ztf_alerts(const std::string& folder) {
  avro::Decoder decoder;
  std::vector<RecordPtr> out;
  for (const auto& path : avro::testing::avro_files(folder)) {
    std::vector<RawRecord> records;
    decoder.decode(avro::testing::read_file(path), path.string(), records);
    for (const RawRecord& r : records) out.push_back(ztf_alert(r));
  }
  return out;
}

}  // namespace ebs::repository::testing
