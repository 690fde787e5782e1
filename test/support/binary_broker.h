// `ebs-flow broker` (the embedded Kafka broker as its own process) for tests through the binary:
// started in `dir` (created if missing), ready once it prints its bootstrap servers; stopped (SIGTERM)
// with the object. A test that kills it (SIGKILL) calls `child.stop` itself.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test/support/child_process.h"
#include "test/support/subprocess.h"

namespace ebs::test {

struct BinaryBroker {
  Child child;
  std::string servers;
  BinaryBroker(const std::string& ebs_flow, int partitions, const std::vector<std::string>& topics,
               const std::filesystem::path& dir)
      : child(command(ebs_flow, partitions, topics), created(dir), dir / "broker.out", dir / "broker.err") {
    REQUIRE_MESSAGE(wait_until([&] {
                      const auto line = nlohmann::json::parse(read_file(dir / "broker.out"), nullptr, false);
                      if (line.is_discarded() || !line.contains("bootstrap_servers")) return false;
                      servers = line["bootstrap_servers"];
                      return true;
                    }, std::chrono::seconds(30)),
                    "the broker did not start: " << read_file(dir / "broker.err"));
  }
  ~BinaryBroker() { child.stop(SIGTERM); }

 private:
  static std::string command(const std::string& ebs_flow, int partitions, const std::vector<std::string>& topics) {
    std::string c = ebs_flow + " broker --partitions " + std::to_string(partitions);
    for (const std::string& t : topics) c += " --topic " + sh_quoted(t);
    return c;
  }
  static const std::filesystem::path& created(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    return dir;
  }
};

}  // namespace ebs::test
