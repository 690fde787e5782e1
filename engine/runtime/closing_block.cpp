#include "engine/runtime/closing_block.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace ebs {

namespace {

std::string count_text(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string closing_block(const Workflow& workflow, const RunResult& result) {
  std::string out = "── " + workflow.name + ": ";
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.1f s", result.elapsed_s);
  out += elapsed;
  if (result.drain_timed_out)
    out += std::string(result.interrupted ? ", stopped by signal" : "") + ", drain timed out: " +
           count_text(result.unhandled_records, "record", "records") + " not handled" +
           (result.abandoned_counted ? ", " + std::to_string(result.abandoned_records) + " abandoned in all"
                                     : ", everything unacknowledged abandoned on the nodes") +
           " (read again on restart)";
  else if (result.interrupted)
    out += ", stopped by signal (drained)";
  if (!result.failures.empty()) out += ", stopped early";
  out += "\n";

  size_t width = 0;
  for (const RunOutput& o : result.outputs) width = std::max(width, o.path.size());
  if (result.outputs.empty()) out += "outputs: none written\n";
  else out += "outputs:\n";
  for (const RunOutput& o : result.outputs) {
    std::string path = o.path;
    path.resize(width, ' ');
    out += "  " + path + "  " + count_text(o.records, "record", "records") + "  (" + o.actor + ")\n";
  }

  if (result.dead_letters == 0) {
    out += "dead letters: none\n";
  } else {
    out += "dead letters: " + std::to_string(result.dead_letters) + " in " + result.dead_letters_path + "\n";
    size_t shown = 0;
    for (const auto& [reason, n] : result.dead_letter_reasons) {
      if (shown++ == 5) {
        out += "  ... " + count_text(result.dead_letter_reasons.size() - 5, "more reason", "more reasons") + "\n";
        break;
      }
      char count[24];
      std::snprintf(count, sizeof count, "%8llu", static_cast<unsigned long long>(n));
      out += std::string("  ") + count + "  " + reason + "\n";
    }
    // Alerts come back through a `dead-letters` source; raw bytes (undecodable messages) through
    // their Kafka topic with `ebs-flow replay`, which sends each letter's original bytes.
    // Absolute: a workflow reads relative paths against its own folder, not the shell's.
    std::error_code ec;
    std::string file = std::filesystem::absolute(result.dead_letters_path, ec).string();
    out += "  replay once fixed: a `dead-letters` source {path: " + file +
           "} in the workflow, or `ebs-flow replay " + file +
           " --topic TOPIC --brokers HOST:PORT` for raw messages (docs/actors.md#dead-letters)\n";
  }

  for (const std::string& f : result.failures) out += "failed: " + f + "\n";
  for (const std::string& e : result.errors) out += "error: " + e + "\n";
  if (!result.warnings.empty()) {
    out += "warnings:\n";
    for (const std::string& w : result.warnings) out += "  " + w + "\n";
  }
  return out;
}

}  // namespace ebs
