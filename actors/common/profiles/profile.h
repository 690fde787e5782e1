// A survey profile: how one survey's decoded records (RawRecord, any schema version it covers)
// become the engine's survey-agnostic Alert. Profiles are YAML documents (docs/ingestion.md,
// profiles/*.yaml), so a new survey or schema version is "write a profile", not code.
//
// A profile says
//  - which records it takes (`match`: writer schema name, fields that must exist, a version
//    field and patterns),
//  - where each Alert value comes from (dotted RawRecord paths, first non-null of a list,
//    sentinel values read as null, units, band names),
//  - the time field's format (jd/mjd), scale (utc/tai/tt/gps) and reference point (exposure
//    start or middle; with an exposure time the start is shifted to the middle),
//  - the light-curve lists (detections, upper limits, forced photometry) and the cutouts.
//
// Paths are compiled once (FieldPath memoizes positions per record shape); mapping one record
// reads positions, converts units and times, and copies no bytes: cutouts point into the
// message buffer that the RawRecord keeps alive.
//
// Not thread-safe (paths memoize): every source instance has its own copies (BuiltinProfiles).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/common/profiles/field_path.h"
#include "engine/model/alert_identity.h"
#include "engine/model/record.h"
#include "engine/time/time_scale.h"

namespace ebs::profiles {

// A flux in DN's last zero point and its factor 10^((31.4 - zp) / 2.5) (a pow): a forced point's
// flux and its error share one.
struct ZeroPointFactor {
  double zero_point = NAN;
  double factor = NAN;
};

// One record being mapped: its node array, its epoch (see FieldPath::resolve) and the node the
// profile's paths start from (the root, or an alert wrapped inside another record).
struct RecordNodes {
  const RawNode* base;
  uint64_t epoch;
  const RawNode* root;
  ZeroPointFactor* zero_point_factor;  // the profile's
  const RawNode* at(const FieldPath& path, const RawNode* from) const { return path.resolve(base, from, epoch); }
};

// One Alert value: the first non-null of `paths` (or `constant`), sentinels read as null,
// numbers scaled to the engine's unit, text mapped through `map`.
struct ValueSpec {
  std::vector<FieldPath> paths;
  std::optional<std::string> constant;
  std::vector<double> null_values;
  std::vector<std::string> null_texts;
  std::map<std::string, std::string, std::less<>> map;  // text -> text (e.g. band names)
  double scale = 1;  // multiply numbers (unit conversion)
  // Flux in DN with a photometric zero point: nJy = DN * 10^((31.4 - zp) / 2.5).
  FieldPath zero_point;
  bool negate = false;  // booleans: true <-> false (Rubin isNegative -> is_diff_pos)
  std::string where;    // FILE:LINE:COL of the spec in the profile, for errors
  // Texts already mapped for small integer values (band ids such as ZTF's fid 1, 2, 3):
  // a light curve repeats a few of them, and the maps are then read once per profile.
  mutable std::vector<std::string> small_int_texts;
  mutable uint32_t small_int_known = 0;  // bit i: small_int_texts[i] is set

  bool empty() const { return paths.empty() && !constant; }
  std::string describe() const;  // "candidate.ra" or "[a, b]"
};

struct TimeSpec {
  ValueSpec value;
  bool is_jd = false;                      // format: jd | mjd
  time::Scale scale = time::Scale::utc;
  bool exposure_start = false;             // reference: start | middle
  ValueSpec exposure_time;                 // seconds; start + exposure/2 = middle
  double default_exposure_s = 0;           // when the exposure field is absent or null
};

// Where a history entry's one-field paths are in list elements of one record shape (FieldPath::
// position_in), found once per record for the shape of the list's first element: the elements of
// that shape are then read by position, without a path's checks per read. kNotOneField: read
// through the path.
struct ElementFields {
  const RecordShape* shape = nullptr;  // nullptr: none found for this record
  uint64_t epoch = 0;                  // FieldPath's, when `shape` was located
  std::vector<int32_t> present, absent, equals;  // the Selector's paths, in its order
  int32_t time = 0, exposure_time = 0, band = 0, mag = 0, mag_err = 0, flux = 0, flux_zero_point = 0, flux_err = 0,
          flux_err_zero_point = 0, limit_mag = 0, is_diff_pos = 0;
  // Bit per number (`plain_number` in profile.cpp): its spec is one path read as it is (no
  // constant, sentinel or zero point), so that a number node needs no more than its scale.
  enum Plain : uint32_t { time_plain = 1, exposure_plain = 2, mag_plain = 4, mag_err_plain = 8, flux_plain = 16,
                          flux_err_plain = 32, limit_mag_plain = 64 };
  uint32_t plain = 0;
};

// Elements of a list that an entry takes: `present` paths non-null, `absent` ones null,
// `equals` paths' text one of the listed values (read in profile.cpp's light-curve loop).
struct Selector {
  std::vector<FieldPath> present;
  std::vector<FieldPath> absent;
  std::vector<std::pair<FieldPath, std::vector<std::string>>> equals;
};

struct HistorySpec {
  FieldPath list;
  Photometry::Kind kind = Photometry::Kind::detection;
  Selector selector;
  TimeSpec time;
  ValueSpec band, mag, mag_err, flux, flux_err, limit_mag, is_diff_pos;
  mutable ElementFields fields;  // of the record being mapped (Profile::map_history)
};

struct CutoutSpec {
  Cutout::Kind kind = Cutout::Kind::science;
  ValueSpec bytes;
  std::string format = "auto";  // auto: by magic (gzip -> fits.gz, SIMPLE -> fits, JPEG)
};

struct MatchRule {
  std::vector<std::string> schemas;    // writer schema full names (root record); empty = any
  std::vector<FieldPath> has_fields;   // must exist in the schema (may be null)
  std::vector<FieldPath> lacks_fields; // must not exist (ZTF 1.x: no schemavsn)
  // Fields whose writer type must (nullable) or must not (non_null) admit null: schema versions
  // with the same field names differ there (Rubin v10 `diaSource.bboxSize` ["null","int"], v11
  // "int"). A field of unknown type (a writer without types) meets neither.
  struct Nullability {
    FieldPath record;   // the record holding the field ("diaSource"; empty: the rule's node)
    std::string field;  // "bboxSize"
    std::string text;   // "diaSource.bboxSize"
  };
  std::vector<Nullability> nullable_fields, non_null_fields;
  FieldPath version_field;             // e.g. schemavsn; empty = no version check
  std::vector<std::string> versions;   // fnmatch patterns ("4.*")
  // The last version text matched against the patterns, and the result: a stream repeats one.
  mutable std::string last_version;
  mutable bool last_version_matches = false;
  mutable bool last_version_known = false;
};

class Profile {
 public:
  // Parses a profile document. `origin` names the file in FILE:LINE:COL errors. Raises a
  // `failed` Fault on any unknown key or bad value.
  static std::unique_ptr<Profile> parse(const YAML::Node& document, const std::string& origin);
  static std::unique_ptr<Profile> parse_text(const std::string& text, const std::string& origin);

  const std::string& name() const { return name_; }
  const std::string& survey() const { return survey_; }
  const std::string& origin() const { return origin_; }
  const std::vector<MatchRule>& match() const { return match_; }
  std::string_view time_scale() const { return time::to_string(time_.scale); }
  // Every raw field path of the schemas it covers (`fields:`; list elements' fields as
  // list.field), for validate's check of the names filters read; empty when not declared.
  const std::vector<std::string>& fields() const { return fields_; }

  // Whether this profile takes records of the root shape of `record` (schema name and fields;
  // the version is checked per record by version_matches).
  bool shape_matches(const RawRecord& record) const;
  bool version_matches(const RawRecord& record) const;
  // The same at any record node (an alert wrapped in another record, e.g. by Spark).
  bool shape_matches(RawView node) const;
  bool version_matches(RawView node) const;
  // Whether a match rule names the writer schema of `node` (more specific than fields alone).
  bool names_schema_of(RawView node) const;
  // Why this profile does not take the record at `node` ("writer schema 'x' is not ztf.alert"),
  // one reason per match rule; empty when it does.
  std::string refusal(RawView node) const;

  // Maps a decoded record: the Alert's core, with `raw` moved in and `buffers` kept alive.
  // Raises a `failed` Fault "PLACE" / "profile NAME: what" on a missing required value,
  // NaN or out-of-range coordinates, a bad time; `raw` is then left as it was (for the dead
  // letter).
  // `root` is the node the alert is at (0: the record itself; ProfileSet finds wrapped ones).
  // `cutouts_not_read`, `kept_bytes`: what the source left unread and the size of `buffers` when
  // it says (AlertCore::cutouts_not_read, AlertCore::kept_bytes).
  // `plan_that_decoded_raw`: the decoder's DecodePlan that decoded `raw` (the owner of every
  // RecordShape its nodes point to: the `shapes` a RawRecord keeps), or nullptr. The contract is
  // the caller's and nothing here can check it (RawRecord does not expose its shapes): pass the
  // plan kept beside the records it decoded, and nullptr for a record decoded any other way. The
  // profile holds the last plan given (a copy only when it changes), and while records come with
  // it their paths' positions stay trusted from one record to the next (the shapes are alive, so
  // one address is one shape): no field name is checked again. A wrong plan would let a position
  // of another shape at a reused address be trusted. Without one, each record's paths check names
  // once (FieldPath::resolve's epoch).
  std::shared_ptr<const AlertCore> map(RawRecord&& raw, std::shared_ptr<const void> buffers,
                                       std::string_view place, uint32_t root = 0,
                                       std::shared_ptr<const UnreadCutouts> cutouts_not_read = nullptr,
                                       size_t kept_bytes = 0,
                                       const std::shared_ptr<const void>& plan_that_decoded_raw = nullptr) const;
  // The top-level raw fields the cutouts are read from ("cutoutScience", ...).
  std::vector<std::string> cutout_fields() const;

 private:
  Profile() = default;
  bool accepts(RawView node, bool check_version, std::string* why) const;
  void map_values(AlertCore& core, std::string_view place, uint32_t root_node, uint64_t epoch) const;
  void map_history(const HistorySpec& spec, const RecordNodes& nodes, AlertCore& core, std::string_view place) const;
  // `value_position`, `exposure_position`, `plain`: of the time's and the exposure's field when
  // `at` is a list element of an ElementFields' shape (FieldPath::kNotOneField: through the paths).
  double convert_time(const TimeSpec& spec, const RecordNodes& nodes, const RawNode* at, std::string_view place,
                      bool required, int32_t value_position = FieldPath::kNotOneField,
                      int32_t exposure_position = FieldPath::kNotOneField, uint32_t plain = 0) const;
  double tai_minus_utc_days(double mjd_utc, std::string_view place) const;

  std::string name_, survey_, origin_;
  std::vector<MatchRule> match_;
  FieldPath schema_version_field_;
  std::string schema_version_;
  void map_alert_id(AlertCore& core, const RecordNodes& nodes, std::string_view place) const;
  void map_alert_id_value(AlertCore& core, const RecordNodes& nodes, std::string_view place) const;

  ValueSpec alert_id_, object_id_, ra_, dec_, band_, mag_, mag_err_, flux_, flux_err_,
      is_diff_pos_, real_bogus_, limit_mag_, alert_key_;
  AlertIdKind alert_id_kind_ = AlertIdKind::integer;
  TimeSpec time_;
  std::map<std::string, std::string, std::less<>> bands_;
  std::vector<HistorySpec> history_;
  std::vector<CutoutSpec> cutouts_;
  std::vector<std::string> fields_;
  // TAI-UTC per UTC day seen (leap seconds fall at day ends; NaN marks a day that ends with
  // one): saves two ERFA calls per light-curve point.
  mutable std::unordered_map<int64_t, double> offset_days_;
  // Days [steady_from_, steady_to_] share the offset steady_offset_ (no leap second among them).
  mutable int64_t steady_from_ = 1, steady_to_ = 0;
  mutable double steady_offset_ = NAN;
  // FieldPath::resolve's epoch: one per mapped record, or one for every record of the shapes
  // held (map's `plan_that_decoded_raw`).
  mutable uint64_t epoch_ = 0;
  mutable std::shared_ptr<const void> shapes_held_;
  mutable ZeroPointFactor zero_point_factor_;
};

// Magnitudes and fluxes: AB magnitude of 1 nJy is 31.4.
inline constexpr double kAbMagOfOneNanoJansky = 31.4;

}  // namespace ebs::profiles
