#include "actors/common/elasticc/broker_classification.h"

#include <cmath>

#include "engine/util/fault.h"

namespace ebs::elasticc {

extern const char* const kBrokerClassificationSchemaText;  // generated from the .avsc

namespace {

constexpr const char* kPlace = "elasticc brokerClassification";

void check(int rc, std::string_view place, const char* what) {
  if (rc != 0) fail(std::string(place), std::string(what) + ": " + avro_strerror());
}

avro_value_t field(avro_value_t& record, const char* name, std::string_view place = kPlace) {
  avro_value_t out;
  check(avro_value_get_by_name(&record, name, &out, nullptr), place, name);
  return out;
}

void set_string(avro_value_t& record, const char* name, std::string_view text) {
  avro_value_t f = field(record, name);
  check(avro_value_set_string_len(&f, text.data(), text.size() + 1), kPlace, name);  // avro-c wants the NUL
}

void set_long(avro_value_t& record, const char* name, int64_t v) {
  avro_value_t f = field(record, name);
  check(avro_value_set_long(&f, v), kPlace, name);
}

std::string get_string(avro_value_t& record, const char* name, std::string_view place) {
  avro_value_t f = field(record, name, place);
  const char* text = nullptr;
  size_t size = 0;
  check(avro_value_get_string(&f, &text, &size), place, name);
  return std::string(text, size > 0 ? size - 1 : 0);  // size counts the NUL
}

int64_t get_long(avro_value_t& record, const char* name, std::string_view place) {
  avro_value_t f = field(record, name, place);
  int64_t v = 0;
  check(avro_value_get_long(&f, &v), place, name);
  return v;
}

}  // namespace

std::string_view broker_classification_schema() { return kBrokerClassificationSchemaText; }

BrokerClassificationCodec::BrokerClassificationCodec() {
  std::string_view text = broker_classification_schema();
  check(avro_schema_from_json_length(text.data(), text.size(), &schema_), kPlace,
        "schemas/elasticc.v0_9_1.brokerClassification.avsc");
  class_ = avro_generic_class_from_schema(schema_);
  if (!class_) fail(kPlace, std::string("schema class: ") + avro_strerror());
  check(avro_generic_value_new(class_, &value_), kPlace, "new value");
}

BrokerClassificationCodec::~BrokerClassificationCodec() {
  avro_value_decref(&value_);
  avro_value_iface_decref(class_);
  avro_schema_decref(schema_);
}

std::string BrokerClassificationCodec::encode(const Classification& c) {
  check(avro_value_reset(&value_), kPlace, "reset");
  set_long(value_, "alertId", c.alert_id);
  set_long(value_, "diaSourceId", c.dia_source_id);
  set_long(value_, "elasticcPublishTimestamp", c.alert_timestamp_ms);
  avro_value_t ingest = field(value_, "brokerIngestTimestamp"), branch;
  if (c.ingest_timestamp_ms) {
    check(avro_value_set_branch(&ingest, 1, &branch), kPlace, "brokerIngestTimestamp");
    check(avro_value_set_long(&branch, *c.ingest_timestamp_ms), kPlace, "brokerIngestTimestamp");
  } else {
    check(avro_value_set_branch(&ingest, 0, &branch), kPlace, "brokerIngestTimestamp");
    check(avro_value_set_null(&branch), kPlace, "brokerIngestTimestamp");
  }
  set_string(value_, "brokerName", c.broker_name);
  set_string(value_, "brokerVersion", c.broker_version);
  set_string(value_, "classifierName", c.classifier_name);
  set_string(value_, "classifierParams", c.classifier_params);
  avro_value_t list = field(value_, "classifications");
  for (const ClassProbability& p : c.classes) {
    avro_value_t item, id, probability;
    check(avro_value_append(&list, &item, nullptr), kPlace, "classifications");
    check(avro_value_get_by_name(&item, "classId", &id, nullptr), kPlace, "classId");
    check(avro_value_set_int(&id, p.class_id), kPlace, "classId");
    check(avro_value_get_by_name(&item, "probability", &probability, nullptr), kPlace, "probability");
    check(avro_value_set_float(&probability, p.probability), kPlace, "probability");
  }
  size_t size = 0;
  check(avro_value_sizeof(&value_, &size), kPlace, "size");
  std::string out(size, '\0');
  avro_writer_t writer = avro_writer_memory(out.data(), static_cast<int64_t>(size));
  int rc = avro_value_write(writer, &value_);
  avro_writer_free(writer);
  check(rc, kPlace, "write");
  return out;
}

std::shared_ptr<Classification> BrokerClassificationCodec::decode(std::string_view bytes, std::string_view place) {
  check(avro_value_reset(&value_), place, "reset");
  avro_reader_t reader = avro_reader_memory(bytes.data(), static_cast<int64_t>(bytes.size()));
  int rc = avro_value_read(reader, &value_);
  avro_reader_free(reader);
  if (rc != 0)
    fail(std::string(place), std::string("not an ELAsTiCC brokerClassification datum (") + avro_strerror() + ")");
  // libavro's memory reader does not say how far it read: the datum's encoded size does (writers
  // encode minimally, as the Avro specification's varints are).
  size_t used = 0;
  check(avro_value_sizeof(&value_, &used), place, "size");
  if (used != bytes.size())
    fail(std::string(place), "brokerClassification datum of " + std::to_string(used) + " bytes followed by " +
                                 std::to_string(bytes.size() > used ? bytes.size() - used : 0) +
                                 " more: not the v0.9.1 schema, or a framed message read as bare");
  auto c = std::make_shared<Classification>();
  c->alert_id = get_long(value_, "alertId", place);
  c->alert_key = std::to_string(c->alert_id);
  c->dia_source_id = get_long(value_, "diaSourceId", place);
  c->alert_timestamp_ms = get_long(value_, "elasticcPublishTimestamp", place);
  avro_value_t ingest = field(value_, "brokerIngestTimestamp", place), branch;
  int discriminant = 0;
  check(avro_value_get_discriminant(&ingest, &discriminant), place, "brokerIngestTimestamp");
  if (discriminant == 1) {
    check(avro_value_get_current_branch(&ingest, &branch), place, "brokerIngestTimestamp");
    int64_t ms = 0;
    check(avro_value_get_long(&branch, &ms), place, "brokerIngestTimestamp");
    c->ingest_timestamp_ms = ms;
  }
  c->broker_name = get_string(value_, "brokerName", place);
  c->broker_version = get_string(value_, "brokerVersion", place);
  c->classifier_name = get_string(value_, "classifierName", place);
  c->classifier_params = get_string(value_, "classifierParams", place);
  avro_value_t list = field(value_, "classifications", place);
  size_t count = 0;
  check(avro_value_get_size(&list, &count), place, "classifications");
  for (size_t i = 0; i < count; ++i) {
    avro_value_t item, id, probability;
    check(avro_value_get_by_index(&list, i, &item, nullptr), place, "classifications");
    check(avro_value_get_by_name(&item, "classId", &id, nullptr), place, "classId");
    check(avro_value_get_by_name(&item, "probability", &probability, nullptr), place, "probability");
    ClassProbability p;
    check(avro_value_get_int(&id, &p.class_id), place, "classId");
    check(avro_value_get_float(&probability, &p.probability), place, "probability");
    if (!std::isfinite(p.probability) || p.probability < 0 || p.probability > 1)
      fail(std::string(place), "classId " + std::to_string(p.class_id) + " has probability " +
                                   std::to_string(p.probability) + ", not within 0-1");
    c->classes.push_back(p);
  }
  return c;
}

}  // namespace ebs::elasticc
