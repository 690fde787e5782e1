#include "actors/common/profiles/profile_set.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "engine/util/fault.h"

namespace ebs::profiles {

namespace {

RawRecord record_named(const std::shared_ptr<RecordShape>& shape, const char* version) {
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), shape.get());
  b.set_string(f, version);
  return b.finish(nullptr, shape);
}

}  // namespace

TEST_CASE("the built-in profiles load and cover the shipped surveys") {
  ProfileSet set = ProfileSet::builtin();
  for (const char* name : {"ztf-3", "ztf-4", "rubin-v9", "rubin-v10", "rubin-v11", "pgir", "turbo", "atlas"})
    CHECK_MESSAGE(set.find(name) != nullptr, name);
  CHECK(set.find("ztf-4")->survey() == "ZTF");
  CHECK(set.find("ztf-4")->time_scale() == "utc");
  CHECK(set.find("rubin-v11")->time_scale() == "tai");
}

TEST_CASE("the built-in profiles parsed once give independent sets") {
  BuiltinProfiles builtin;
  ProfileSet first = builtin.set(), second = builtin.set();
  CHECK(first.names() == ProfileSet::builtin().names());
  CHECK(second.names() == first.names());
  CHECK(first.find("ztf-4") != second.find("ztf-4"));  // copies: each set memoizes on its own
  auto ztf = std::make_shared<RecordShape>("ztf.alert", std::vector<std::string>{"schemavsn"});
  first.force("ztf-3", "a");
  CHECK(first.select(record_named(ztf, "4.01"), "b").name() == "ztf-3");
  CHECK(second.select(record_named(ztf, "4.01"), "c").name() == "ztf-4");
}

TEST_CASE("selection by writer schema name and version, once per schema; forcing; no match") {
  ProfileSet set = ProfileSet::builtin();
  auto ztf = std::make_shared<RecordShape>("ztf.alert", std::vector<std::string>{"schemavsn"});
  CHECK(set.select(record_named(ztf, "3.3"), "a").name() == "ztf-3");
  CHECK(set.select(record_named(ztf, "4.01"), "b").name() == "ztf-4");
  CHECK(set.select(record_named(ztf, "4.02"), "b").name() == "ztf-4");
  CHECK_THROWS_WITH_AS(set.select(record_named(ztf, "5.0"), "c"),
                       "c: no profile for writer schema 'ztf.alert' version '5.0' (schema known, version not: "
                       "ztf-3: schemavsn '5.0' is not 1.*, 2.*, 3.*; has field schemavsn; ztf-4: schemavsn '5.0' is not 4.*) "
                       "in the record: add one (docs/ingestion.md) or force one with `profile:`",
                       Fault);
  auto unknown = std::make_shared<RecordShape>("ps1.alert", std::vector<std::string>{"x"});
  CHECK_THROWS_WITH_AS(set.select(record_named(unknown, "1"), "d"), doctest::Contains("no profile for writer schema 'ps1.alert'"),
                       Fault);
  set.force("ztf-4", "src.yaml:3:5");
  CHECK(set.select(record_named(ztf, "5.0"), "e").name() == "ztf-4");
  CHECK_THROWS_WITH_AS(set.force("ps1", "src.yaml:3:5"), doctest::Contains("src.yaml:3:5: no profile named 'ps1' (known: atlas, "),
                       Fault);
}

TEST_CASE("a list of profiles keeps only those: the choice by schema and version among them") {
  ProfileSet set = ProfileSet::builtin();
  set.limit_to({"ztf-3", "ztf-4"}, "src.yaml:4:16");
  CHECK(set.names() == std::vector<std::string>{"ztf-3", "ztf-4"});
  auto ztf = std::make_shared<RecordShape>("ztf.alert", std::vector<std::string>{"schemavsn"});
  CHECK(set.select(record_named(ztf, "3.3"), "a").name() == "ztf-3");
  CHECK(set.select(record_named(ztf, "4.02"), "b").name() == "ztf-4");
  // A PGIR record (its own schema name) is no longer taken: pgir is not in the list.
  auto pgir = std::make_shared<RecordShape>("pgir.alert", std::vector<std::string>{"schemavsn"});
  CHECK_THROWS_WITH_AS(set.select(record_named(pgir, "1.0"), "c"),
                       doctest::Contains("no profile for writer schema 'pgir.alert'"), Fault);
  CHECK(ProfileSet::builtin().select(record_named(pgir, "1.0"), "d").name() == "pgir");

  ProfileSet other = ProfileSet::builtin();
  CHECK_THROWS_WITH_AS(other.limit_to({"ztf-4", "ztf-5"}, "src.yaml:4:16"),
                       doctest::Contains("src.yaml:4:16: no profile named 'ztf-5' (known: atlas, "), Fault);
  CHECK_THROWS_WITH_AS(other.limit_to({}, "src.yaml:4:16"), doctest::Contains("src.yaml:4:16: an empty list of profiles"),
                       Fault);
  CHECK(other.names() == ProfileSet::builtin().names());  // a refused list changes nothing

  // A list of one still refuses what its profile does not take; forcing that profile maps it.
  ProfileSet one = ProfileSet::builtin();
  one.limit_to({"ztf-4"}, "src.yaml:4:16");
  CHECK_THROWS_WITH_AS(one.select(record_named(ztf, "3.3"), "e"), doctest::Contains("schemavsn '3.3' is not 4.*"), Fault);
  ProfileSet forced = ProfileSet::builtin();
  forced.force("ztf-4", "src.yaml:4:16");
  CHECK(forced.select(record_named(ztf, "3.3"), "f").name() == "ztf-4");
}

TEST_CASE("a workflow adds a profile from a folder, or overrides a built-in one by name") {
  auto dir = std::filesystem::temp_directory_path() / ("ebs-profiles-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ps1.yaml") << R"(profile: ps1
survey: Pan-STARRS
match: {schema: ps1.alert}
time: {path: mjd, format: mjd, scale: tai, reference: middle}
alert: {object_id: id, ra: ra, dec: dec}
)";
  std::ofstream(dir / "ztf-4.yaml") << R"(profile: ztf-4
survey: ZTF-override
match: {schema: ztf.alert}
time: {path: candidate.jd, format: jd, scale: utc}
alert: {object_id: objectId, ra: candidate.ra, dec: candidate.dec}
)";
  std::ofstream(dir / "notes.txt") << "not a profile";
  ProfileSet set = ProfileSet::builtin();
  size_t before = set.size();
  set.add_path(dir);
  CHECK(set.size() == before + 1);
  CHECK(set.find("ps1")->survey() == "Pan-STARRS");
  CHECK(set.find("ztf-4")->survey() == "ZTF-override");
  CHECK(set.find("ztf-4")->origin() == (dir / "ztf-4.yaml").string());
  std::filesystem::remove_all(dir);
}

}  // namespace ebs::profiles
