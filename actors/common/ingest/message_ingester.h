// One survey message in, Alerts out: decodes an Avro container file or a Confluent frame
// (ebs_avro) and maps every record through its survey profile. What cannot be decoded or mapped
// becomes an IngestFailure holding the original bytes and the place (file path or
// topic/partition/offset, then "record N" or ":byte N"), for the dead-letter port.
//
// Used by the avro-files and kafka sources; one per source instance (not thread-safe).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/common/avro/decoder.h"
#include "actors/common/profiles/profile_set.h"
#include "engine/graph/actor_config.h"
#include "engine/graph/actor_type.h"
#include "engine/model/record.h"
#include "engine/util/fault.h"

namespace ebs::ingest {

struct IngestFailure {
  Fault fault;
  std::string original;         // the message bytes, or the record as JSON
  std::string original_format;  // "avro" or "json"
};

class MessageIngester {
 public:
  MessageIngester(avro::DecoderSources sources, profiles::ProfileSet profiles)
      : decoder_(std::move(sources)), profiles_(std::move(profiles)) {}

  // A message that fails to decode fails as a whole (records decoded before the fault are
  // kept: a redelivery would duplicate them, never lose them); a record that fails to map fails
  // alone.
  void ingest(const std::shared_ptr<const std::string>& message, std::string_view place,
              std::vector<RecordPtr>& alerts, std::vector<IngestFailure>& failures);
  // The same on bytes another owner holds (a Kafka client's message buffer): no copy; the alerts
  // keep `keep_alive`, the owner of `message`. A failure's original is a copy of the bytes.
  void ingest(std::string_view message, const std::shared_ptr<const void>& keep_alive, std::string_view place,
              std::vector<RecordPtr>& alerts, std::vector<IngestFailure>& failures);

  profiles::ProfileSet& profiles() { return profiles_; }
  avro::Decoder& decoder() { return decoder_; }

 private:
  avro::Decoder decoder_;
  profiles::ProfileSet profiles_;
  std::vector<RawRecord> records_;
};

// The config keys every alert source shares (schema_dir, registry, profile, profiles) and the
// ingester they describe: copies of `builtin` plus the config's profiles. Relative paths are
// relative to the workflow file (ActorConfig::input_path).
extern const char* const kSchemaDirKey;
MessageIngester make_ingester(const ActorConfig& config, const profiles::BuiltinProfiles& builtin);
void check_ingest_config(const ActorConfig& config, const profiles::BuiltinProfiles& builtin,
                         std::vector<Problem>& problems);
// The field sets of the profiles such a source may choose (`profile:` pins one), for validate's
// check of the field names filters read (engine/graph/field_check.h).
std::vector<FieldSet> ingest_field_sets(const ActorConfig& config, const profiles::BuiltinProfiles& builtin);

}  // namespace ebs::ingest
