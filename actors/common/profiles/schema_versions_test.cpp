// Every schema shape ebs-flow must recognise without `profile:` (ZTF 1.3-3.2, ATLAS as ALeRCE
// distributes it, ELAsTiCC, Rubin v9-v11 re-serialized by Spark inside Fink's `value`, and wrapped
// twice), built at test time by python3-avro from the published writer schemas in
// ../shared/data (schema_alerts.py): each record picks its profile and keeps its own id.
#include <doctest/doctest.h>

#include <cmath>
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
  for (const auto& item : files.manifest.items()) {
    const std::string& file = item.key();
    const auto& expect = item.value();  // clang 14 lambdas (INFO) cannot capture structured bindings
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
  CHECK(mapped == 38);
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

namespace ebs::profiles {

TEST_CASE("Rubin v10 and v11 re-serialized without lsst_schema_version: told apart by the writer's non-null types") {
  SchemaAlerts files;
  ProfileSet set = ProfileSet::builtin();
  avro::Decoder decoder;
  auto first_record = [&](const std::string& file) {
    std::vector<RawRecord> records;
    decoder.decode(avro::testing::read_file(files.dir / file), file, records);
    REQUIRE(!records.empty());
    return std::move(records.front());
  };
  RawRecord v10 = first_record("rubin-v10-spark-typed.avro"), v11 = first_record("rubin-v11-spark-typed.avro");
  CHECK(set.choose(v10, "v10").profile->name() == "rubin-v10");
  CHECK(set.choose(v11, "v11").profile->name() == "rubin-v11");
  // Every field nullable (Spark's file writer, as Fink's files are): no shape tells; read as v10.
  RawRecord fink = first_record("rubin-v10-fink.avro");
  CHECK(set.choose(fink, "fink").profile->name() == "rubin-v10");
  CHECK(set.find("rubin-v11")->refusal(fink.root().field("value")).find(
            "field diaSource.bboxSize is nullable in the writer schema") != std::string::npos);
  // Why each refused, in the dead letter's words: a set that has only rubin-v10 meets a v11 alert.
  ProfileSet only_v10;
  for (const auto& [file, text] : builtin_profile_texts())
    if (file == "rubin-v10.yaml") only_v10.add(Profile::parse_text(std::string(text), std::string(file)));
  REQUIRE(only_v10.size() == 1);
  try {
    only_v10.choose(v11, "v11 record 0");
    FAIL("rubin-v10 must refuse a v11 writer schema");
  } catch (const Fault& f) {
    const std::string message = f.what();
    INFO(message);
    CHECK(message.find("no profile for writer schema 'topLevelRecord.value'") != std::string::npos);
    CHECK(message.find("rubin-v10: writer schema 'topLevelRecord.value' is not lsst.v10_0.alert; ") != std::string::npos);
    CHECK(message.find(" in field value: ") != std::string::npos);
    CHECK(message.find("field diaSource.bboxSize is not nullable in the writer schema") != std::string::npos);
    CHECK(message.find("no lsst_schema_version text") != std::string::npos);
  }
}

}  // namespace ebs::profiles

namespace ebs::profiles {

// The ELAsTiCC schema gives no unit for psFlux. The brokers that classified the ELAsTiCC stream
// read it in nJy, zero point 31.4: Fink's SuperNNova module (astrolabsoftware/fink-science,
// fink_science/snn/processor.py) turns it into SNANA FLUXCAL (zero point 27.5) by
// 10^(-(31.4 - 27.5) / 2.5). The profile follows that reading: 1000 nJy is magnitude 23.9, the
// magnitude of the same flux as FLUXCAL.
TEST_CASE("ELAsTiCC psFlux is read in nJy (zero point 31.4), as the brokers that ran ELAsTiCC read it") {
  SchemaAlerts files;
  ProfileSet set = ProfileSet::builtin();
  avro::Decoder decoder;
  std::vector<RawRecord> records;
  decoder.decode(avro::testing::read_file(files.dir / "elasticc.avro"), "elasticc", records);
  REQUIRE(records.size() == 3);
  auto core = set.map(std::move(records[0]), nullptr, "elasticc record 0");
  CHECK(core->survey == "ELAsTiCC");
  CHECK(core->flux == doctest::Approx(1000.0));  // psFlux as written
  const double fluxcal = 1000.0 * std::pow(10.0, -(31.4 - 27.5) / 2.5);
  CHECK(core->mag == doctest::Approx(27.5 - 2.5 * std::log10(fluxcal)).epsilon(1e-9));
  CHECK(core->mag == doctest::Approx(23.9).epsilon(1e-9));
  CHECK(core->mag_err == doctest::Approx(2.5 / std::log(10.0) * 50.0 / 1000.0).epsilon(1e-6));  // psFluxErr 50
}

}  // namespace ebs::profiles
