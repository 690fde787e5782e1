// Registers a writer schema with a Confluent-compatible schema registry:
// POST {registry}/subjects/{subject}/versions with {"schema": "<schema JSON as a string>"}
// answers {"id": N}; registering the same schema again answers the same id. The kafka-sink's
// `avro-confluent` format frames every message with that id (fetched once per sink instance), and
// so does a filter's `avro-confluent` topic (once per output, docs/filters.md).
// A registry that does not answer (or answers 5xx) raises a `disconnected` Fault, any other
// refusal a `failed` one, both placed at the URL.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ebs::kafka {

uint32_t register_schema(const std::string& registry_url, const std::string& subject, const std::string& schema_json,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace ebs::kafka
