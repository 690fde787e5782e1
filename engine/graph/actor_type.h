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

enum class ValueKind { string, integer, number, boolean, expression, list, map, any };
std::string_view to_string(ValueKind kind);

struct ConfigKey {
  std::string name;
  ValueKind kind = ValueKind::string;
  bool required = false;
  std::string default_value;  // YAML text; empty with required = false means "no default"
  std::string description;
};

struct PortSpec {
  std::string name;
  PortType type = PortType::alert;
  std::string description;
};

// Problems found by a check hook; each names a place (use ActorConfig::place).
struct Problem {
  std::string place;
  std::string message;
};

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
  // Extra validation beyond key names and value types, e.g. compiling an expression or loading a
  // model and comparing its features. Called by `validate` and before `run`.
  std::function<void(const ActorConfig&, std::vector<Problem>&)> check;
  // Builds one instance (one per `parallelism`).
  std::function<std::unique_ptr<ActorLogic>(const ActorContext&)> create;

  bool is_source() const { return inputs.empty(); }
  const PortSpec* input(const std::string& port) const;
  const PortSpec* output(const std::string& port) const;
};

}  // namespace ebs
