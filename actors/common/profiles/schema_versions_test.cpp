// Every schema shape ebs-flow must recognise without `profile:` (ZTF 1.3-3.2, ATLAS as ALeRCE
// distributes it, ELAsTiCC, Rubin v9-v11 re-serialized by Spark inside Fink's `value`, and wrapped
// twice), built at test time by python3-avro from the published writer schemas in
// ../shared/data (schema_alerts.py): each record picks its profile and keeps its own id.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test/support/avro_test_files.h"
#include "actors/common/avro/decoder.h"
#include "actors/common/profiles/profile_set.h"
#include "engine/model/alert_identity.h"
#include "test/support/python_oracle.h"
#include "test/support/test_data.h"

namespace ebs::profiles {

namespace {

// Builds the files into a fresh temporary folder, removed afterwards.
struct SchemaAlerts {
  std::filesystem::path dir;
  nlohmann::json manifest;
  SchemaAlerts() {
    dir = std::filesystem::temp_directory_path() / ("ebs-schema-alerts-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::ifstream script(test::source_dir() / "actors/common/profiles/schema_alerts.py");
    std::stringstream text;
    text << script.rdbuf();
    test::run_python_oracle(text.str(), {test::data_dir().string(), dir.string()});
    manifest = nlohmann::json::parse(std::ifstream(dir / "manifest.json"));
  }
  ~SchemaAlerts() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

TEST_CASE("every ZTF, ATLAS, ELAsTiCC and (Spark-wrapped) Rubin schema picks its profile by shape, ids intact") {
  SchemaAlerts files;
  REQUIRE(files.manifest.size() >= 15);
  ProfileSet set = ProfileSet::builtin();
  avro::Decoder decoder;
  size_t mapped = 0;
  for (const auto& [file, expect] : files.manifest.items()) {
    if (expect["profile"].is_null()) continue;
    INFO(file);
    std::vector<RawRecord> records;
    decoder.decode(avro::testing::read_file(files.dir / file), file, records);
    REQUIRE(records.size() == expect["alert_keys"].size());
    for (size_t i = 0; i < records.size(); ++i) {
      ProfileSet::Choice choice = set.choose(records[i], file);
      CHECK(choice.profile->name() == expect["profile"].get<std::string>());
      auto core = set.map(std::move(records[i]), nullptr, file);
      const std::string key = expect["alert_keys"][i].get<std::string>();
      CHECK(core->alert_key == key);
      CHECK(core->survey == expect["survey"].get<std::string>());
      CHECK(core->schema_version == expect["schema_version"].get<std::string>());
      // Integer ids as they are (negative ZTF candids too), text ids (ATLAS) by their hash.
      if (auto id = parse_alert_id(key); id && expect["survey"] != "ATLAS") CHECK(core->alert_id == *id);
      else CHECK(core->alert_id == alert_id_of_text(key));
      CHECK(std::isfinite(core->mjd_tai));
      ++mapped;
    }
  }
  CHECK(mapped == 36);
}

TEST_CASE("a record no profile takes: the error names every profile tried and why it refused") {
  SchemaAlerts files;
  ProfileSet set = ProfileSet::builtin();
  avro::Decoder decoder;
  std::vector<RawRecord> records;
  decoder.decode(avro::testing::read_file(files.dir / "elasticc-classification.avro"), "classification", records);
  REQUIRE(records.size() == 1);
  try {
    set.choose(records[0], "classification record 0");
    FAIL("a broker classification is not an alert");
  } catch (const Fault& f) {
    const std::string message = f.what();
    INFO(message);
    CHECK(message.find("no profile for writer schema 'elasticc.v0_9_1.brokerClassfication'") != std::string::npos);
    for (const std::string& name : set.names()) CHECK(message.find("\n  " + name + ": ") != std::string::npos);
    CHECK(message.find("ztf-3: writer schema 'elasticc.v0_9_1.brokerClassfication' is not ztf.alert") != std::string::npos);
    CHECK(message.find("elasticc: writer schema") != std::string::npos);
    CHECK(message.find("no field diaSource.midPointTai") != std::string::npos);
  }
}

}  // namespace ebs::profiles
