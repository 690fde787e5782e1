// kcat / fink-client style tools on any Kafka cluster (the embedded broker or a real one):
//   ebs-flow kafka topics      --brokers B [--topic T]...            topics, partitions, watermarks
//   ebs-flow kafka offsets     --brokers B --group G [--topic T]...  committed offset and lag per partition
//   ebs-flow kafka consume     --brokers B --topic T [--count N] [--filter EXPR] [--output DIR]
//                              [--format json|avro] [--group G] [--from earliest|latest|committed]
//   ebs-flow kafka tail        --brokers B --topic T [--filter EXPR] [--from latest|earliest] [--count N]
//   ebs-flow kafka reset-group --brokers B --group G --topic T --to earliest|latest|TIME
// Messages are decoded as the `kafka` source decodes them (Avro containers or Confluent frames,
// mapped by the survey profiles); `--filter` is a `filter` expression (docs/expressions.md).
// Every command prints JSON lines on stdout (tail: one short line per alert); problems go to
// stderr with exit code 1.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/cli/command_registry.h"

namespace ebs::kafka {

struct ConsumeOptions {
  std::string brokers;
  std::vector<std::string> topics;
  std::string group;          // empty: no group (nothing committed), partitions assigned directly
  std::string from;  // earliest | latest | committed; default: committed with a group, else earliest (tail: latest)
  int64_t count = 0;          // alerts to keep (after the filter); 0 = no limit
  std::string filter;         // a filter expression; empty keeps every alert
  std::string output_dir;     // empty: JSON lines on stdout
  std::string format = "json";  // json (alerts as JSON lines) | avro (each message's bytes as a file)
  bool follow = false;        // keep waiting at the end of the partitions (tail)
  double idle_timeout_s = 10; // consume: give up when nothing arrives for this long
  std::map<std::string, std::string> properties;
};

struct ConsumeCounts {
  uint64_t messages = 0;   // read from Kafka
  uint64_t alerts = 0;     // decoded
  uint64_t kept = 0;       // passed the filter and written
  uint64_t failed = 0;     // messages or records that could not be decoded
  std::vector<std::string> files;
};

// Reads, decodes, filters and writes alerts; commits the group's offsets (when a group is given)
// only past messages whose alerts are written. `line` receives each kept alert's printed line
// when there is no output folder (tail prints its own short form).
ConsumeCounts consume(const ConsumeOptions& options, bool short_lines = false);

void register_kafka_tool_commands(CommandRegistry& registry);

}  // namespace ebs::kafka
