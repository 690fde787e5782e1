// The declaration of an actor type: its name, ports, config schema, a validate-time check and a
// factory. Built-in actors and plugins declare types the same way and register them into an
// ActorRegistry object; `ebs-flow validate`, `ebs-flow actors` and the runtime all read these.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph/actor_config.h"
#include "engine/model/port_type.h"

namespace ebs {

class ActorLogic;
struct ActorContext;
struct ActorSpec;
struct Workflow;

// bytes: a size (engine/util/byte_size.h: 4096, 64 KiB, 8 MiB, 8 MB ...), read by
// ActorConfig::bytes; mebibytes: the same for a key named in MiB (`page_cache_mb`), where a number
// without a unit counts MiB.
enum class ValueKind { string, integer, number, boolean, expression, list, map, any, bytes, mebibytes };
std::string_view to_string(ValueKind kind);

struct ConfigKey {
  std::string name;
  ValueKind kind = ValueKind::string;
  bool required = false;
  std::string default_value;  // YAML text; empty with required = false means "no default"
  std::string description;
};

struct PortSpec {
  // Written {name, type, description} or {..., state_key}; a constructor, so that the short form
  // leaves state_key empty without a missing-initializer warning in every type and plugin.
  PortSpec() = default;
  PortSpec(std::string name, PortType type, std::string description, std::string state_key = {})
      : name(std::move(name)), type(type), description(std::move(description)), state_key(std::move(state_key)) {}

  std::string name;
  PortType type = PortType::alert;
  std::string description;
  // Inputs of actors that keep state: how the records must reach the instances of a parallel
  // actor ("object_id": all of an object's alerts to one instance; "broadcast": every record to
  // every instance). Empty: stateless, any instance will do. It is the input's default
  // `partition`, and `validate` refuses another one when parallelism > 1.
  std::string state_key;
};

// Problems found by a check hook; each names a place (use ActorConfig::place).
struct Problem {
  std::string place;
  std::string message;
};

// The fields of one kind of record a source emits (one survey profile's), and a field path an
// expression reads: validate checks the one against the other (engine/graph/field_check.h).
struct FieldSet {
  std::string name;                 // e.g. "profile ztf-4"
  std::vector<std::string> fields;  // raw dotted paths; a list's element fields as list.field
};
struct FieldRead {
  std::string path;   // as the field check compares it: "candidate.magpsf", "score.NAME"
  std::string place;  // FILE:LINE:COL of the expression
  std::string as_written;  // the expression text around it, for hints (may be empty)
  std::vector<std::string> always_there;  // names the reader has for every record (for did-you-mean)
};

// `uses_cutouts` of a type that never does (ActorType::uses_cutouts).
inline bool uses_no_cutouts(const ActorConfig&, const std::vector<std::string>&) { return false; }

// For check hooks: the input file or folder at `key` (ActorConfig::input_path) must exist; the
// problem names the resolved path. Globs (* ? [) are left to the actor.
void check_input_exists(const ActorConfig& config, const std::string& key, std::vector<Problem>& problems);

struct ActorType {
  std::string name;
  std::string description;
  std::string version = "1";
  std::vector<PortSpec> inputs;   // none for a source
  std::vector<PortSpec> outputs;  // none for a sink (every actor also has `dead_letters`)
  std::vector<ConfigKey> config;
  // Sources: the time scale of the times they read ("utc", "tai", "tt", "gps"); they convert
  // once, on the way in, to the engine's single scale (MJD TAI).
  std::string input_time_scale;
  // Runs blocking I/O (files, Kafka, databases): gets its own thread (a detached CAF actor).
  bool blocking = false;
  // A blocking type whose instances compute on their own threads rather than wait (inference,
  // say): how many threads each instance keeps busy. They count within `run --threads`, and the
  // scheduler gets what is left (engine/runtime/thread_budget.h); threads that wait on I/O do not
  // count. Only for blocking types (ActorRegistry::add refuses it otherwise).
  size_t compute_threads = 0;
  // Extra validation beyond key names and value types, e.g. compiling an expression or loading a
  // model and comparing its features. Called by `validate` and before `run`.
  std::function<void(const ActorConfig&, std::vector<Problem>&)> check;
  // Field names, checked at validate (engine/graph/field_check.h); each may be empty (unknown).
  // Sources: the field sets of the records they may emit (one per survey profile they may choose).
  std::function<std::vector<FieldSet>(const ActorConfig&)> emits_fields;
  // Transforms: the fields they add to the records passing through ("score.NAME" for a scorer's
  // scores); an empty list says "none", an unset hook "unknown".
  std::function<std::vector<std::string>(const ActorConfig&)> adds_fields;
  // Actors with expressions: the raw or annotation field paths they read (core Alert fields
  // such as ra or mag are always there and need not be listed).
  std::function<std::vector<FieldRead>(const ActorConfig&)> reads_fields;
  // The files an instance reads that must be the same wherever it runs (catalogues and their
  // data files, rule sets, models, model registries), as the instance resolves them. A cluster run
  // ships them to the nodes by content hash and checks them there (docs/cluster.md "What a node
  // needs"). Unset: none. Sources' inputs (the alerts themselves) are not listed.
  std::function<std::vector<std::string>(const ActorConfig&)> needed_files;
  // `validate --connect`: reaches the services the actor needs (brokers, schema registries,
  // databases, webhook hosts) and says which cannot be reached. May be empty.
  std::function<void(const ActorConfig&, std::vector<Problem>&)> check_connect;
  // Whether an instance uses alerts' cutouts: shows, scores or stores the images, or writes the
  // alert whole (its cutouts, or their length) or the raw fields that hold them. `cutout_fields`
  // are the top-level raw fields the upstream source's profiles read cutouts from. The avro-files
  // source leaves the cutouts unread when no actor downstream of it uses them
  // (engine/graph/cutout_use.h). Unset: it does (a type that does not say may use them).
  std::function<bool(const ActorConfig&, const std::vector<std::string>& cutout_fields)> uses_cutouts;
  // A check that needs the whole workflow, run by build_workflow once the graph is wired and
  // every actor's own check passed (avro-files: `cutouts: skip` with an actor downstream that uses
  // them). Problems name places (ActorConfig::place). Unset: none.
  std::function<void(const Workflow&, const ActorSpec&, std::vector<Problem>&)> check_in_workflow;
  // Builds one instance (one per `parallelism`).
  std::function<std::unique_ptr<ActorLogic>(const ActorContext&)> create;

  bool is_source() const { return inputs.empty(); }
  const PortSpec* input(const std::string& port) const;
  const PortSpec* output(const std::string& port) const;
};

}  // namespace ebs
