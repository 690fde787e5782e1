#include "actors/common/avro/alert_avro.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "engine/model/record_json.h"
#include "engine/util/fault.h"

namespace ebs::kafka {

extern const char* const kEbsAlertSchemaText;  // generated from schemas/ebs_alert.avsc

namespace {

constexpr const char* kPlace = "kafka-sink avro";

void check(int rc, const char* what) {
  if (rc != 0) fail(kPlace, std::string(what) + ": " + avro_strerror());
}

avro_value_t field(avro_value_t& record, const char* name) {
  avro_value_t out;
  check(avro_value_get_by_name(&record, name, &out, nullptr), name);
  return out;
}

void set_string(avro_value_t& record, const char* name, std::string_view text) {
  avro_value_t f = field(record, name);
  check(avro_value_set_string_len(&f, text.data(), text.size() + 1), name);  // avro-c wants the NUL
}

// ["null", "double"]: NaN is null.
void set_optional(avro_value_t& record, const char* name, double v) {
  avro_value_t f = field(record, name), branch;
  if (std::isnan(v)) {
    check(avro_value_set_branch(&f, 0, &branch), name);
    check(avro_value_set_null(&branch), name);
  } else {
    check(avro_value_set_branch(&f, 1, &branch), name);
    check(avro_value_set_double(&branch, v), name);
  }
}

void set_double(avro_value_t& record, const char* name, double v) {
  avro_value_t f = field(record, name);
  check(avro_value_set_double(&f, v), name);
}

void set_bool(avro_value_t& record, const char* name, bool v) {
  avro_value_t f = field(record, name);
  check(avro_value_set_boolean(&f, v ? 1 : 0), name);
}

void set_optional_bytes(avro_value_t& record, const char* name, const std::string_view* bytes) {
  avro_value_t f = field(record, name), branch;
  if (!bytes) {
    check(avro_value_set_branch(&f, 0, &branch), name);
    check(avro_value_set_null(&branch), name);
    return;
  }
  check(avro_value_set_branch(&f, 1, &branch), name);
  // Copies: libavro's give_bytes would need the bytes to outlive the value, which it frees itself.
  check(avro_value_set_bytes(&branch, const_cast<char*>(bytes->data()), bytes->size()), name);
}

const char* cutout_field(Cutout::Kind kind) {
  switch (kind) {
    case Cutout::Kind::science: return "cutout_science";
    case Cutout::Kind::template_: return "cutout_template";
    case Cutout::Kind::difference: return "cutout_difference";
  }
  return "cutout_science";
}

}  // namespace

std::string_view alert_avro_schema() { return kEbsAlertSchemaText; }

AlertAvroEncoder::AlertAvroEncoder(Options options) : options_(std::move(options)) {
  std::string_view text = alert_avro_schema();
  check(avro_schema_from_json_length(text.data(), text.size(), &schema_), "schemas/ebs_alert.avsc");
  class_ = avro_generic_class_from_schema(schema_);
  if (!class_) fail(kPlace, std::string("schema class: ") + avro_strerror());
  check(avro_generic_value_new(class_, &value_), "new value");
}

AlertAvroEncoder::~AlertAvroEncoder() {
  avro_value_decref(&value_);
  avro_value_iface_decref(class_);
  avro_schema_decref(schema_);
}

void AlertAvroEncoder::fill(const Alert& alert) {
  const AlertCore& a = alert.core();
  check(avro_value_reset(&value_), "reset");
  set_string(value_, "ebs_alert_version", "1.1");
  avro_value_t id = field(value_, "alert_id");
  check(avro_value_set_long(&id, a.alert_id), "alert_id");
  set_string(value_, "alert_key", a.alert_key.empty() ? std::to_string(a.alert_id) : a.alert_key);
  set_optional(value_, "limit_mag", a.limit_mag);
  set_string(value_, "object_id", a.object_id);
  set_string(value_, "survey", a.survey);
  set_string(value_, "schema_version", a.schema_version);
  set_double(value_, "ra", a.ra);
  set_double(value_, "dec", a.dec);
  set_double(value_, "mjd_tai", a.mjd_tai);
  set_string(value_, "band", a.band);
  set_optional(value_, "mag", a.mag);
  set_optional(value_, "mag_err", a.mag_err);
  set_optional(value_, "flux", a.flux);
  set_optional(value_, "flux_err", a.flux_err);
  set_bool(value_, "is_diff_pos", a.is_diff_pos);
  set_optional(value_, "real_bogus", a.real_bogus);

  avro_value_t history = field(value_, "history");
  for (const Photometry& p : a.history) {
    avro_value_t point;
    check(avro_value_append(&history, &point, nullptr), "history");
    set_double(point, "mjd_tai", p.mjd_tai);
    set_string(point, "band", p.band);
    set_string(point, "kind", to_string(p.kind));
    set_optional(point, "mag", p.mag);
    set_optional(point, "mag_err", p.mag_err);
    set_optional(point, "flux", p.flux);
    set_optional(point, "flux_err", p.flux_err);
    set_optional(point, "limit_mag", p.limit_mag);
    set_bool(point, "is_diff_pos", p.is_diff_pos);
  }

  const std::string_view* cutouts[3] = {nullptr, nullptr, nullptr};
  for (const Cutout& c : a.cutouts) cutouts[static_cast<int>(c.kind)] = &c.bytes;
  for (Cutout::Kind kind : {Cutout::Kind::science, Cutout::Kind::template_, Cutout::Kind::difference})
    set_optional_bytes(value_, cutout_field(kind), cutouts[static_cast<int>(kind)]);

  avro_value_t annotations = field(value_, "annotations");
  for (const Annotation* n : alert.annotations().list()) {
    avro_value_t out;
    check(avro_value_append(&annotations, &out, nullptr), "annotations");
    set_string(out, "kind", to_string(n->kind));
    set_string(out, "actor", n->provenance.actor);
    set_string(out, "actor_type", n->provenance.actor_type);
    set_string(out, "version", n->provenance.version);
    set_string(out, "config_hash", n->provenance.config_hash);
    set_string(out, "catalogue", n->catalogue);
    set_string(out, "source_id", n->source_id);
    set_optional(out, "separation_arcsec", n->separation_arcsec);
    set_string(out, "object_type", n->object_type);
    set_optional(out, "redshift", n->redshift);
    set_string(out, "name", n->name);
    set_optional(out, "value", n->value);
    set_string(out, "details", n->details);
  }

  avro_value_t raw = field(value_, "raw_json"), branch;
  if (options_.with_raw && a.raw.root().valid()) {
    std::string text = raw_to_json(a.raw.root()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    check(avro_value_set_branch(&raw, 1, &branch), "raw_json");
    check(avro_value_set_string_len(&branch, text.c_str(), text.size() + 1), "raw_json");
  } else {
    check(avro_value_set_branch(&raw, 0, &branch), "raw_json");
    check(avro_value_set_null(&branch), "raw_json");
  }
}

std::string AlertAvroEncoder::datum(const Alert& alert) {
  fill(alert);
  size_t size = 0;
  check(avro_value_sizeof(&value_, &size), "size");
  std::string out(size, '\0');
  avro_writer_t writer = avro_writer_memory(out.data(), static_cast<int64_t>(size));
  int rc = avro_value_write(writer, &value_);
  avro_writer_free(writer);
  check(rc, "write");
  return out;
}

std::string AlertAvroEncoder::container(const Alert& alert) {
  fill(alert);
  size_t size = 0;
  check(avro_value_sizeof(&value_, &size), "size");
  char* buffer = nullptr;
  size_t length = 0;
  FILE* memory = open_memstream(&buffer, &length);
  if (!memory) fail(kPlace, "open_memstream failed");
  avro_file_writer_t writer = nullptr;
  // One block holds the one record: the block must be at least the datum's size.
  int rc = avro_file_writer_create_with_codec_fp(memory, "kafka message", 1, schema_, &writer,
                                                 options_.codec.c_str(), size + 4096);
  if (rc != 0) {
    std::fclose(memory);
    std::free(buffer);
    check(rc, "container");
  }
  rc = avro_file_writer_append_value(writer, &value_);
  int closed = avro_file_writer_close(writer);  // closes `memory`: buffer and length are final
  std::string out(buffer ? buffer : "", length);
  std::free(buffer);
  check(rc, "append");
  check(closed, "close");
  return out;
}

}  // namespace ebs::kafka
