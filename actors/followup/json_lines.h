// Reading JSON-lines files (the `jsonl` sink's output) for the follow-up commands: every non-empty
// line must be a JSON object; faults name file:line.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/util/fault.h"

namespace ebs::followup {

// Calls visit(object, "file:line") for each line; `what` names the file in the fault when it
// cannot be opened ("the alerts file").
template <class Visit>
void for_each_json_line(const std::filesystem::path& path, const std::string& what, Visit&& visit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open " + what);
  std::size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) continue;
    const std::string place = path.string() + ":" + std::to_string(number);
    const nlohmann::json json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_discarded() || !json.is_object()) fail(place, "not a JSON object");
    visit(json, place);
  }
}

}  // namespace ebs::followup
