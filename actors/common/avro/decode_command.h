// `ebs-flow decode [--schema-dir DIR] [--registry URL] [--with-bytes] FILE...`: prints every Avro
// record of each file (an OCF, or one Confluent-framed message) as one JSON line on stdout.
// A bad file prints `PLACE: message` on stderr; the others are still decoded; exit 1 if any failed.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "engine/cli/command_registry.h"

namespace ebs::avro {

struct DecodeOptions {
  std::string schema_dir;  // optional: .avsc files for Confluent frames
  std::string registry;    // optional: schema registry URL for Confluent frames
  bool with_bytes = false; // bytes as base64 instead of their length
  std::vector<std::string> files;
};

// Runs the command; returns an exit code (ebs::exit_code).
int run_decode(const DecodeOptions& options, std::ostream& out, std::ostream& err);

void register_decode_commands(ebs::CommandRegistry& registry);

}  // namespace ebs::avro

namespace ebs {
using avro::register_decode_commands;
}  // namespace ebs
