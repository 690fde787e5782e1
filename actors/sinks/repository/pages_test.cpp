#include "actors/sinks/repository/pages.h"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "actors/common/repository/schema.h"
#include "actors/common/repository/writer.h"
#include "test/support/repository_test_support.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;

namespace {

int64_t has_index(const Database& db, const char* name) {
  return db.scalar(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '") + name + "'");
}

std::set<std::string> index_names(const Database& db) {
  std::set<std::string> names;
  Statement s = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'");
  while (s.step()) names.insert(std::string(s.text(0)));
  return names;
}

std::set<std::string> annotation_names(const nlohmann::json& page) {
  std::set<std::string> names;
  for (const auto& a : page["annotations"]) names.insert(a["alert_id"].get<std::string>() + ":" + a["name"].get<std::string>());
  return names;
}

// The catalogues of an alert's crossmatches, in the order the page lists them.
std::vector<std::string> crossmatch_catalogues(const nlohmann::json& page, const std::string& alert_id) {
  std::vector<std::string> catalogues;
  for (const auto& a : page["annotations"])
    if (a["alert_id"] == alert_id && a["kind"] == "crossmatch") catalogues.push_back(a["catalogue"].get<std::string>());
  return catalogues;
}

}  // namespace

TEST_CASE("a version 5 repository opens: the annotations' object index goes, the object page lists them all") {
  TempDir dir("repo-pages-v5");
  const std::string path = dir.file("v5.db");
  {
    // The layout of repositories written before version 6, with rows as its writer left them.
    Database db(path, Database::Mode::read_write);
    migrate(db, 5);
    REQUIRE(has_index(db, "annotations_object") == 1);
    db.execute(
        "INSERT INTO alerts(alert_id, alert_key, object_id, survey, ra, dec, hpx, mjd_tai, band, mag) VALUES"
        "(1, '1', 'ZTF21aaa', 'ztf', 150.0, 2.0, 0, 60010.0, 'g', 18.0),"
        "(2, '2', 'ZTF21aaa', 'ztf', 150.0, 2.0, 0, 60011.0, 'r', 18.2),"
        "(3, '3', 'ZTF21bbb', 'ztf', 10.0, -5.0, 0, 60012.0, 'g', 19.0);"
        "INSERT INTO objects(object_id, survey, ra, dec, hpx, first_mjd_tai, last_mjd_tai, ndet, nalerts) VALUES"
        "('ZTF21aaa', 'ztf', 150.0, 2.0, 0, 60010.0, 60011.0, 2, 2), ('ZTF21bbb', 'ztf', 10.0, -5.0, 0, 60012.0, 60012.0, 1, 1);"
        "INSERT INTO annotations(alert_id, object_id, mjd_tai, kind, name, value, fingerprint) VALUES"
        "(1, 'ZTF21aaa', 60010.0, 'classification', 'SN', 0.8, 'f1'),"
        "(2, 'ZTF21aaa', 60011.0, 'score', 'kn', 0.9, 'f2'),"
        "(2, 'ZTF21aaa', 60011.0, 'classification', 'VS', 0.1, 'f3'),"
        "(3, 'ZTF21bbb', 60012.0, 'classification', 'AGN', 0.7, 'f4');"
        // A writer before version 4 stored the annotations of an alert it ignored (a repeat of
        // another survey's alert_id) under the alert_id taken by ZTF21bbb's alert 3, with the
        // ignored alert's object: not ZTF21bbb's annotation.
        "INSERT INTO annotations(alert_id, object_id, mjd_tai, kind, name, value, fingerprint) VALUES"
        "(3, 'ZTF21ccc', 60012.5, 'classification', 'QSO', 0.6, 'f5');"
        // Crossmatches have no name: stored in this order, their fingerprints in the reverse one.
        "INSERT INTO annotations(alert_id, object_id, mjd_tai, kind, name, catalogue, fingerprint) VALUES"
        "(2, 'ZTF21aaa', 60011.0, 'crossmatch', '', 'gaia', 'x3'),"
        "(2, 'ZTF21aaa', 60011.0, 'crossmatch', '', 'ps1', 'x2'),"
        "(2, 'ZTF21aaa', 60011.0, 'crossmatch', '', 'milliquas', 'x1');");
  }
  {
    // Readers open it as it is (read-only, no migration) and show the same page.
    Reader reader(path);
    CHECK(reader.version() == 5);
    nlohmann::json page = object_page(reader, "ZTF21aaa");
    CHECK(annotation_names(page) == std::set<std::string>{"1:SN", "2:kn", "2:VS", "2:"});
    CHECK(page["annotations"].size() == 6);
    CHECK(annotation_names(object_page(reader, "ZTF21bbb")) == std::set<std::string>{"3:AGN"});
  }
  {
    // The sink's writer migrates on open, and writes an annotated alert in the new layout.
    Writer writer(path);
    writer.begin();
    writer.add(*make_alert(4, "ZTF21aaa", 150.0, 2.0, 60013.0)->annotated(classification("SN", 0.95)));
    writer.commit(1, 1);
  }
  Database db(path, Database::Mode::read_only);
  CHECK(schema_version(db) == kSchemaVersion);
  CHECK(has_index(db, "annotations_object") == 0);
  CHECK(has_index(db, "annotations_kind_name") == 1);
  Database fresh(dir.file("fresh.db"), Database::Mode::read_write);
  migrate(fresh);
  CHECK(index_names(db) == index_names(fresh));

  Reader reader(path);
  nlohmann::json page = object_page(reader, "ZTF21aaa");
  REQUIRE(page.is_object());
  CHECK(annotation_names(page) == std::set<std::string>{"1:SN", "2:kn", "2:VS", "2:", "4:SN"});
  CHECK(page["annotations"].size() == 7);
  CHECK(page["annotations"][0]["alert_id"] == "4");  // newest first
  // Ties (same time, kind and name) in the order stored, not in their fingerprints' order.
  CHECK(crossmatch_catalogues(page, "2") == std::vector<std::string>{"gaia", "ps1", "milliquas"});
  // The leftover annotation is listed under neither object (no page reads annotations by
  // annotations.object_id alone: it has no index).
  CHECK(annotation_names(object_page(reader, "ZTF21bbb")) == std::set<std::string>{"3:AGN"});
}

TEST_CASE("the object page finds an object's annotations through its alerts' indexes, not by reading a table") {
  TempDir dir("repo-pages-plan");
  Database db(dir.file("plan.db"), Database::Mode::read_write);
  migrate(db);
  Statement plan = db.prepare(std::string("EXPLAIN QUERY PLAN ") + kObjectAnnotationsSql);
  std::string steps;
  while (plan.step()) steps += std::string(plan.text(3)) + "\n";
  CHECK_MESSAGE(steps.find("SCAN annotations") == std::string::npos, steps);
  CHECK_MESSAGE(steps.find("SCAN alerts") == std::string::npos, steps);
  CHECK_MESSAGE(steps.find("alerts_object") != std::string::npos, steps);
  CHECK_MESSAGE(steps.find("sqlite_autoindex_annotations_1") != std::string::npos, steps);
}
