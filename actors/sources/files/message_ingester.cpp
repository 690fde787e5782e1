#include "actors/sources/files/message_ingester.h"

#include <filesystem>

#include "actors/sources/avro/json_output.h"
#include "engine/graph/actor_type.h"

namespace ebs::ingest {

const char* const kSchemaDirKey = "schema_dir";

void MessageIngester::ingest(const std::shared_ptr<const std::string>& message, std::string_view place,
                             std::vector<RecordPtr>& alerts, std::vector<IngestFailure>& failures) {
  records_.clear();
  const size_t failures_before = failures.size();  // `failures` may hold earlier messages' already
  try {
    decoder_.decode(message, place, records_);
  } catch (const std::exception& error) {
    failures.push_back({to_fault(error, std::string(place)), *message, "avro"});
  }
  // One record and no decoding fault: its dead letter keeps the message's bytes, not JSON.
  bool single = records_.size() == 1 && failures.size() == failures_before;
  for (size_t i = 0; i < records_.size(); ++i) {
    std::string record_place = std::string(place) + " record " + std::to_string(i);
    try {
      const profiles::Profile& profile = profiles_.select(records_[i], record_place);
      alerts.push_back(std::make_shared<const Alert>(profile.map(std::move(records_[i]), message, record_place)));
    } catch (const std::exception& error) {
      Fault fault = to_fault(error, record_place);
      if (single) failures.push_back({fault, *message, "avro"});
      else failures.push_back({fault, avro::to_json(records_[i], true), "json"});
    }
  }
}

namespace {

std::filesystem::path resolve(const std::string& path, const std::string& run_dir) {
  std::filesystem::path p = path;
  return p.is_relative() && !run_dir.empty() ? std::filesystem::path(run_dir) / p : p;
}

}  // namespace

MessageIngester make_ingester(const ActorConfig& c, const std::string& run_dir) {
  avro::DecoderSources sources{std::make_shared<avro::SchemaCache>(), nullptr, nullptr};
  if (c.has(kSchemaDirKey) && !c.string(kSchemaDirKey).empty()) {
    try {
      sources.directory = std::make_shared<const avro::SchemaDirectory>(
          avro::SchemaDirectory::load(resolve(c.string(kSchemaDirKey), run_dir)));
    } catch (const Fault& f) {
      fail(c.place(kSchemaDirKey), f.what());
    }
  }
  if (c.has("registry") && !c.string("registry").empty())
    sources.registry = std::make_shared<avro::SchemaRegistryClient>(c.string("registry"));
  profiles::ProfileSet set = profiles::ProfileSet::builtin();
  if (c.has("profiles")) {
    for (const std::string& path : c.strings("profiles")) {
      try {
        set.add_path(resolve(path, run_dir));
      } catch (const Fault& f) {
        fail(c.place("profiles"), f.what());
      }
    }
  }
  if (c.has("profile") && !c.string("profile").empty()) set.force(c.string("profile"), c.place("profile"));
  return MessageIngester(std::move(sources), std::move(set));
}

void check_ingest_config(const ActorConfig& c, std::vector<Problem>& problems) {
  try {
    make_ingester(c, std::filesystem::path(c.file()).parent_path().string());
  } catch (const Fault& f) {
    problems.push_back({f.place(), f.message()});
  }
}

}  // namespace ebs::ingest
