#include "actors/common/repository/rows.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "test/support/repository_test_support.h"

using namespace ebs;
using namespace ebs::repository;

TEST_CASE("annotation fingerprints change with content and provenance, not with nothing") {
  Annotation a = testing::classification("SN", 0.7);
  Annotation same = a;
  CHECK(annotation_fingerprint(a) == annotation_fingerprint(same));
  CHECK(annotation_fingerprint(a).size() == 16);
  Annotation other_version = testing::classification("SN", 0.7, "2");
  CHECK(annotation_fingerprint(a) != annotation_fingerprint(other_version));
  Annotation other_value = testing::classification("SN", 0.71);
  CHECK(annotation_fingerprint(a) != annotation_fingerprint(other_value));
  // Fields cannot run into each other: ("ab", "") differs from ("a", "b").
  Annotation x = a, y = a;
  x.name = "ab";
  x.catalogue = "";
  y.name = "a";
  y.catalogue = "b";
  CHECK(annotation_fingerprint(x) != annotation_fingerprint(y));
}

TEST_CASE("an annotation's fingerprint stays the same text across releases: stored rows are matched by it") {
  // FNV-1a of the fields joined by 0x1f, NaN as eight zero bytes (computed apart, in Python).
  Annotation a;
  a.kind = Annotation::Kind::crossmatch;
  a.name = "V* AB Cyg";
  a.catalogue = "gcvs";
  a.source_id = "AB Cyg";
  a.separation_arcsec = 1.25;
  a.object_type = "EA";
  a.redshift = 0.003;
  a.details = R"({"period":5.2})";
  a.provenance = {"xmatch", "crossmatch", "1.2", "a1b2"};
  CHECK(annotation_fingerprint(a) == "ba0c0649c1ea188e");
  const AnnotationFingerprint text = annotation_fingerprint_text(a);
  CHECK(std::string(text.data(), text.size()) == "ba0c0649c1ea188e");
}

TEST_CASE("light-curve point keys and kinds") {
  PointSet set;
  set.insert({60000.5, Photometry::Kind::detection, "g"});
  CHECK(set.contains({60000.5, Photometry::Kind::detection, "g"}));
  CHECK_FALSE(set.contains({60000.5, Photometry::Kind::upper_limit, "g"}));
  CHECK_FALSE(set.contains({60000.5, Photometry::Kind::detection, "r"}));
  // The one duplicate rule: within 0.1 s is the same point, beyond it another.
  CHECK(set.contains({60000.5 + 0.09 / 86400, Photometry::Kind::detection, "g"}));
  CHECK_FALSE(set.insert({60000.5 - 0.09 / 86400, Photometry::Kind::detection, "g"}));
  CHECK_FALSE(set.contains({60000.5 + 0.2 / 86400, Photometry::Kind::detection, "g"}));
  CHECK(set.size() == 1);
  for (auto kind : {Photometry::Kind::detection, Photometry::Kind::upper_limit, Photometry::Kind::forced})
    CHECK(photometry_kind(to_string(kind)) == kind);
  auto core = testing::make_core(9, "o9", 10, 20, 60001.25);
  Photometry own = own_detection(*core);
  CHECK(own.kind == Photometry::Kind::detection);
  CHECK(own.mjd_tai == 60001.25);
  CHECK(own.mag == 18.5);
}

TEST_CASE("coincidence terms as JSON, non-finite values as null") {
  Coincidence co;
  co.terms = {{"spatial", 0.5, "skymap"}, {"temporal", NAN, "window"}};
  CHECK(nlohmann::json::parse(terms_json(co)) ==
        nlohmann::json::parse(R"([{"name":"spatial","value":0.5,"source":"skymap"},
                                  {"name":"temporal","value":null,"source":"window"}])"));
  CHECK(shape_name(Localization::Shape::ellipse) == "ellipse");
}
