// Records: the immutable values that travel between actors inside batches. A record is shared,
// never copied, between the actors of one process (shared_ptr<const Record>).
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/annotation.h"
#include "engine/model/port_type.h"
#include "engine/model/raw_record.h"

namespace ebs {

class Record {
 public:
  virtual ~Record() = default;
  virtual PortType type() const = 0;
  // The key that partitions a stream (e.g. the object id), used by Kafka sinks and keyed fan-out.
  virtual std::string_view key() const { return {}; }
};

using RecordPtr = std::shared_ptr<const Record>;

struct Photometry {
  enum class Kind : uint8_t { detection, upper_limit, forced };
  double mjd_tai = NAN;
  std::string band;
  Kind kind = Kind::detection;
  double mag = NAN;
  double mag_err = NAN;
  double flux = NAN;      // nJy, may be negative
  double flux_err = NAN;
  double limit_mag = NAN;
  bool is_diff_pos = true;
};

std::string_view to_string(Photometry::Kind kind);

struct Cutout {
  enum class Kind : uint8_t { science, template_, difference };
  Kind kind = Kind::science;
  std::string format;      // "fits.gz", "fits", "jpeg"
  std::string_view bytes;  // points into `AlertCore::buffers`
};

std::string_view to_string(Cutout::Kind kind);

// The cutout fields a source left unread (AlertCore::cutouts_not_read), and where they still are.
struct UnreadCutouts {
  std::vector<std::string> fields;  // raw fields ("cutoutScience", ...)
  std::string file;                 // the alert's file, which still holds them
};

// What a source decoded: everything about the detection except the annotations.
struct AlertCore {
  // Identity (engine/model/alert_identity.h): the survey's id as text, and as a signed 64-bit
  // integer (the id itself, or a stable hash of a text id).
  int64_t alert_id = 0;
  std::string alert_key;
  std::string object_id;
  std::string survey;
  std::string schema_version;
  double ra = NAN;
  double dec = NAN;
  double mjd_tai = NAN;
  std::string band;
  double mag = NAN;
  double mag_err = NAN;
  double flux = NAN;
  double flux_err = NAN;
  bool is_diff_pos = true;
  double real_bogus = NAN;
  double limit_mag = NAN;  // the limiting magnitude of the alert's own image
  std::vector<Photometry> history;
  // How many of `history`'s points are detections, counted once when the history is made
  // (count_history_detections) so that `n_detections` (docs/expressions.md) does not walk the
  // history of every alert each time a filter reads it: whatever fills or changes `history`
  // calls count_history_detections after.
  uint32_t history_detections = 0;
  std::vector<Cutout> cutouts;
  // Set when the source left cutout fields unread because nothing downstream of it uses them
  // (avro-files' `cutouts: auto|skip`, docs/performance.md): those raw fields, and the cutouts read
  // from them, are empty although the survey's message holds them. Null: every cutout was read.
  // Dead letters say so ("cutouts_not_read": the fields and the file that still holds them).
  std::shared_ptr<const UnreadCutouts> cutouts_not_read;
  RawRecord raw;
  std::shared_ptr<const void> buffers;  // keeps cutout bytes alive
  // The bytes of the buffer the raw nodes view into, when the source says (the part of a file
  // avro-files read without the cutouts; 0: not said, the nodes' texts and the cutouts are the
  // measure). record_bytes counts the nodes and at least this: the buffer lives whole while the
  // alert does.
  size_t kept_bytes = 0;
};

// Sets `alert.history_detections` from `alert.history`.
void count_history_detections(AlertCore& alert);

// "<survey> alert <id> (<object>)": where an alert is, in dead letters and errors.
std::string alert_place(const AlertCore& alert);
// What is wrong with an alert's coordinates (non-finite or out of range), if anything.
std::optional<std::string> coordinate_problem(const AlertCore& alert);

class Alert final : public Record {
 public:
  explicit Alert(std::shared_ptr<const AlertCore> core, AnnotationChain annotations = {})
      : core_(std::move(core)), annotations_(std::move(annotations)) {}

  PortType type() const override { return PortType::alert; }
  std::string_view key() const override { return core_->object_id; }

  const AlertCore& core() const { return *core_; }
  const std::shared_ptr<const AlertCore>& shared_core() const { return core_; }
  const AnnotationChain& annotations() const { return annotations_; }

  // A new alert sharing this one's core, with `annotation` appended.
  std::shared_ptr<const Alert> annotated(Annotation annotation) const {
    return std::make_shared<const Alert>(core_, annotations_.append(std::move(annotation)));
  }

 private:
  std::shared_ptr<const AlertCore> core_;
  AnnotationChain annotations_;
};

struct Localization {
  enum class Shape : uint8_t { point, circle, ellipse, skymap };
  Shape shape = Shape::point;
  double ra = NAN;
  double dec = NAN;
  double radius_deg = NAN;        // circle
  double semi_major_deg = NAN;    // ellipse
  double semi_minor_deg = NAN;
  double position_angle_deg = NAN;
  double containment_probability = 0.9;
  std::string skymap_fits;        // skymap: the FITS bytes
  std::string skymap_url;
  std::string skymap_version;
};

class SkyEvent final : public Record {
 public:
  enum class Kind : uint8_t { gravitational_wave, neutrino, gamma_ray_burst, x_ray, other };
  PortType type() const override { return PortType::sky_event; }
  std::string_view key() const override { return event_id; }

  std::string event_id;
  std::string source;
  Kind kind = Kind::other;
  std::string alert_type;
  uint32_t sequence = 0;
  double mjd_tai = NAN;
  Localization localization;
  double far_hz = NAN;
  double significance = NAN;
  bool significant = true;
  bool test = false;
  bool retracted = false;
  std::string notice_json;
};

std::string_view to_string(SkyEvent::Kind kind);

struct SignificanceTerm {
  std::string name;
  double value = NAN;
  std::string source;
};

class Coincidence final : public Record {
 public:
  enum class Status : uint8_t { active, updated, withdrawn };
  PortType type() const override { return PortType::coincidence; }
  std::string_view key() const override { return object_id.empty() ? std::string_view(other_event_id) : object_id; }

  std::string event_id;
  uint32_t event_sequence = 0;
  int64_t alert_id = 0;
  std::string object_id;
  // A pair of sky events (a GW and a GRB or neutrino): the second event; alert_id 0, object_id "".
  std::string other_event_id;
  uint32_t other_event_sequence = 0;
  Status status = Status::active;
  double time_difference_s = NAN;
  double searched_probability = NAN;
  double false_alarm_rate = NAN;
  std::vector<SignificanceTerm> terms;
  // The alert as it was found (so a coincidence table reads without a join to the alerts):
  // position (deg), magnitude and band of the detection, and its time (MJD TAI). NaN/"" for a pair
  // of sky events.
  double alert_ra = NAN;
  double alert_dec = NAN;
  double alert_mag = NAN;
  std::string alert_band;
  double alert_mjd_tai = NAN;
};

std::string_view to_string(Coincidence::Status status);

// A broker's classification of one alert: the DESC ELAsTiCC `brokerClassification` message
// (schemas/classification.capnp, docs/exchange.md). Class ids are the ELAsTiCC taxonomy.
struct ClassProbability {
  int32_t class_id = 0;
  float probability = 0;
};

class Classification final : public Record {
 public:
  PortType type() const override { return PortType::classification; }
  // Partitioned by our object id when known, else by the alert id.
  std::string_view key() const override { return object_id.empty() ? std::string_view(alert_key) : object_id; }

  int64_t alert_id = 0;
  int64_t dia_source_id = 0;
  std::string alert_key;  // alert_id as decimal text (the key of a foreign message)
  std::string object_id;
  std::string survey;
  int64_t alert_timestamp_ms = 0;                // the originating alert's, ms since 1970 UTC
  std::optional<int64_t> ingest_timestamp_ms;    // the broker's ingestion, when it says
  std::string broker_name;
  std::string broker_version;
  std::string classifier_name;
  std::string classifier_params;
  std::vector<ClassProbability> classes;
};

class DeadLetter final : public Record {
 public:
  PortType type() const override { return PortType::dead_letter; }

  std::string actor;
  std::string kind;    // fault kind
  std::string reason;
  std::string place;
  std::string original;         // original bytes, or the record as JSON
  std::string original_format;  // "json", "avro", "bytes"
  double mjd_tai = NAN;
};

}  // namespace ebs
