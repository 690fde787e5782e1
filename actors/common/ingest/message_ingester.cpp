#include "actors/common/ingest/message_ingester.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "actors/common/avro/json_output.h"
#include "engine/graph/actor_type.h"

namespace ebs::ingest {

const char* const kSchemaDirKey = "schema_dir";

void MessageIngester::ingest(const std::shared_ptr<const std::string>& message, std::string_view place,
                             std::vector<RecordPtr>& alerts, std::vector<IngestFailure>& failures) {
  ingest(std::string_view(*message), message, place, alerts, failures);
}

void MessageIngester::ingest(std::string_view message, const std::shared_ptr<const void>& keep_alive,
                             std::string_view place, std::vector<RecordPtr>& alerts,
                             std::vector<IngestFailure>& failures) {
  records_.clear();
  // Records that failed stay in records_: cleared on the way out, however it is left, so that
  // they do not keep `keep_alive` (a Kafka message's fetch buffer) until the next message.
  struct ClearOnExit {
    std::vector<RawRecord>& records;
    ~ClearOnExit() { records.clear(); }
  } clear_on_exit{records_};
  const size_t failures_before = failures.size();  // `failures` may hold earlier messages' already
  try {
    decoder_.decode(message, keep_alive, place, records_);
  } catch (const std::exception& error) {
    failures.push_back({to_fault(error, std::string(place)), std::string(message), "avro"});
  }
  // One record and no decoding fault: its dead letter keeps the message's bytes, not JSON.
  bool single = records_.size() == 1 && failures.size() == failures_before;
  for (size_t i = 0; i < records_.size(); ++i) {
    std::string record_place = std::string(place) + " record " + std::to_string(i);
    try {
      alerts.push_back(std::make_shared<const Alert>(profiles_.map(std::move(records_[i]), keep_alive, record_place)));
    } catch (const std::exception& error) {
      Fault fault = to_fault(error, record_place);
      if (single) failures.push_back({fault, std::string(message), "avro"});
      else failures.push_back({fault, avro::to_json(records_[i], true), "json"});
    }
  }
}

namespace {

// The source config's `profile:`: a name (forced on every record), a list (the choice among those
// only, each name once), or nothing ("" or left out: every profile).
struct ProfileChoice {
  std::string forced;
  std::optional<std::vector<std::string>> among;
};
ProfileChoice profile_choice(const ActorConfig& c) {
  if (!c.has("profile")) return {};
  if (c.node("profile").IsScalar()) return {c.string("profile"), std::nullopt};
  std::vector<std::string> names;
  for (std::string& name : c.strings("profile"))
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
  return {"", std::move(names)};
}

}  // namespace

MessageIngester make_ingester(const ActorConfig& c, const profiles::BuiltinProfiles& builtin) {
  avro::DecoderSources sources{std::make_shared<avro::SchemaCache>(), nullptr, nullptr};
  if (c.has(kSchemaDirKey) && !c.string(kSchemaDirKey).empty()) {
    try {
      sources.directory = std::make_shared<const avro::SchemaDirectory>(
          avro::SchemaDirectory::load(c.input_path(kSchemaDirKey)));
    } catch (const Fault& f) {
      fail(c.place(kSchemaDirKey), f.what());
    }
  }
  if (c.has("registry") && !c.string("registry").empty())
    sources.registry = std::make_shared<avro::SchemaRegistryClient>(c.string("registry"));
  profiles::ProfileSet set = builtin.set();
  if (c.has("profiles")) {
    for (const std::string& path : c.strings("profiles")) {
      try {
        set.add_path(workflow_relative(c.file(), path));
      } catch (const Fault& f) {
        fail(c.place("profiles"), f.what());
      }
    }
  }
  const ProfileChoice choice = profile_choice(c);
  if (!choice.forced.empty()) set.force(choice.forced, c.place("profile"));
  if (choice.among) set.limit_to(*choice.among, c.place("profile"));
  return MessageIngester(std::move(sources), std::move(set));
}

std::vector<FieldSet> ingest_field_sets(const ActorConfig& c, const profiles::BuiltinProfiles& builtin) {
  profiles::ProfileSet set = builtin.set();
  if (c.has("profiles"))
    for (const std::string& path : c.strings("profiles")) set.add_path(workflow_relative(c.file(), path));
  const ProfileChoice choice = profile_choice(c);
  const std::vector<std::string> names =
      !choice.forced.empty() ? std::vector<std::string>{choice.forced} : choice.among.value_or(set.names());
  std::vector<FieldSet> sets;
  for (const std::string& name : names) {
    const profiles::Profile* profile = set.find(name);
    if (!profile) continue;
    // A profile without a `fields:` list cannot say what its records lack: no check at all.
    if (profile->fields().empty()) return {};
    sets.push_back({"profile " + name, profile->fields()});
  }
  return sets;
}

void check_ingest_config(const ActorConfig& c, const profiles::BuiltinProfiles& builtin,
                         std::vector<Problem>& problems) {
  try {
    make_ingester(c, builtin);
  } catch (const Fault& f) {
    problems.push_back({f.place(), f.message()});
  }
}

}  // namespace ebs::ingest
