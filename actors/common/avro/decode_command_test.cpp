#include "actors/common/avro/decode_command.h"

#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test/support/avro_test_files.h"
#include "test/support/command_runner.h"
#include "test/support/python_oracle.h"

using namespace ebs::avro;

namespace {

using ebs::test::json_lines;

// Debian's python3-avro as an independent oracle: each record as JSON, bytes as their length.
std::string python_avro_json(const std::vector<std::string>& files) {
  std::string script = R"(
import sys, json, math, avro.datafile, avro.io
def plain(v):
    if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list): return [plain(x) for x in v]
    if isinstance(v, bytes): return len(v)
    if isinstance(v, float) and math.isnan(v): return "NaN"
    if isinstance(v, float) and math.isinf(v): return "Infinity" if v > 0 else "-Infinity"
    return v
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        for record in avro.datafile.DataFileReader(f, avro.io.DatumReader()):
            print(json.dumps(plain(record)))
)";
  return ebs::test::run_python_oracle(script, files);
}

}  // namespace

TEST_CASE("decode prints one JSON line per record, matching python3-avro") {
  std::vector<std::string> files = {
      testing::avro_files("ztf/fink-20200101-v3.3").front().string(),
      testing::avro_files("ztf/kowalski-v3.3-v4.01").back().string(),
      testing::avro_files("other-surveys/pgir").front().string(),
      testing::avro_files("lsst/rubin-lsstcam-v9-spark").front().string()};
  std::ostringstream out, err;
  DecodeOptions options;
  options.files = files;
  CHECK(run_decode(options, out, err) == 0);
  CHECK(err.str().empty());
  auto ours = json_lines(out.str());
  auto theirs = json_lines(python_avro_json(files));
  REQUIRE(ours.size() == files.size());
  REQUIRE(theirs.size() == files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    CAPTURE(files[i]);
    CHECK(ours[i] == theirs[i]);
  }
}

TEST_CASE("decode reports a bad file, goes on and exits 1") {
  std::string good = testing::avro_files("other-surveys/turbo").front().string();
  std::ostringstream out, err;
  DecodeOptions options;
  options.files = {"/nonexistent.avro", good, ebs::test::data_dir().string() + "/README.md", good};
  options.with_bytes = true;
  CHECK(run_decode(options, out, err) == 1);
  CHECK(json_lines(out.str()).size() == 2);
  CHECK(err.str() == "/nonexistent.avro: cannot open file\n" + ebs::test::data_dir().string() +
                         "/README.md:byte 0: neither an Avro container file (magic Obj\\x01) nor a "
                         "Confluent frame (magic byte 0)\n");
}

TEST_CASE("decode is registered as an ebs-flow subcommand") {
  ebs::CommandRegistry registry;
  ebs::register_decode_commands(registry);
  REQUIRE(registry.commands().size() == 1);
  CHECK(registry.commands()[0].path == std::vector<std::string>{"decode"});
  std::string schema_dir = (ebs::test::data_dir() / "lsst" / "schema").string();
  std::string file = testing::rubin_fake_alert(10).string();
  ebs::test::CommandRun run =
      ebs::test::run_command(ebs::register_decode_commands, {"decode", "--schema-dir", schema_dir, file});
  CHECK(run.code == 0);
  auto lines = json_lines(run.out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].contains("diaSource"));
}
