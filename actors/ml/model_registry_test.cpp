#include "actors/ml/model_registry.h"

#include <doctest/doctest.h>

#include <random>

#include "actors/ml/model_source.h"
#include "test/support/ml_oracle.h"
#include "actors/ml/xgboost_model.h"
#include "engine/util/fault.h"

using namespace ebs::ml;
using ebs::ml::testing::TempDir;

namespace {

std::string small_model(int rounds, const std::vector<std::string>& names = {"a", "b"}) {
  std::vector<float> features, labels;
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<float> u(0, 1);
  for (int i = 0; i < 200; ++i) {
    float a = u(rng), b = u(rng);
    features.insert(features.end(), {a, b});
    labels.push_back(a > b);
  }
  TrainParameters p;
  p.rounds = static_cast<size_t>(rounds);
  return XgboostModel::train(features, labels, names, p).save("ubj");
}

}  // namespace

TEST_CASE("registry round trip: versions, bytes, metadata, listing") {
  TempDir dir;
  std::string bytes = small_model(3);
  {
    ModelRegistry r(dir / "models.sqlite");
    ModelEntry first = r.add({"sn", bytes, "", {}, "train.csv (abc)", {{"roc_auc", 0.9}}});
    CHECK(first.version == 1);
    CHECK(first.state == ModelState::candidate);
    CHECK(first.format == "ubj");
    CHECK(first.feature_names == std::vector<std::string>{"a", "b"});
    CHECK(first.created_at.size() == 24);
    CHECK(first.reference() == "registry://sn@1");
    ModelEntry second = r.add({"sn", small_model(4), "", {}, "", {}});
    CHECK(second.version == 2);
    r.add({"agn", bytes, "", {}, "", {}});
  }
  ModelRegistry r(dir / "models.sqlite");  // reopened: everything persisted
  CHECK(r.list().size() == 3);
  CHECK(r.list("sn").size() == 2);
  CHECK(r.list().front().name == "agn");
  auto e = r.find("sn", 1);
  REQUIRE(e);
  CHECK(e->training_data == "train.csv (abc)");
  CHECK(e->metrics["roc_auc"] == 0.9);
  CHECK(r.bytes("sn", 1) == bytes);
  CHECK(e->content_hash == XgboostModel::from_bytes(bytes, "x").content_hash());
  CHECK(r.latest("sn")->version == 2);
  CHECK_FALSE(r.production("sn"));
  CHECK_FALSE(r.find("sn", 9));
  CHECK(to_json(*e)["state"] == "candidate");
}

TEST_CASE("bad registrations are refused") {
  TempDir dir;
  ModelRegistry r(dir / "models.sqlite");
  CHECK_THROWS_WITH_AS(r.add({"sn", "{garbage", "", {}, "", {}}), doctest::Contains("sn (being registered): corrupt model"),
                       ebs::Fault);
  CHECK_THROWS_WITH_AS(r.add({"sn", small_model(2), "lc-x", {"x", "y", "z"}, "", {}}),
                       doctest::Contains("its feature_names differ from the feature set's"), ebs::Fault);
  CHECK_THROWS_AS(r.add({"bad name", small_model(2), "", {}, "", {}}), ebs::Fault);
  CHECK(r.list().empty());
  CHECK_THROWS_WITH_AS(ModelRegistry("/nonexistent/dir/models.sqlite"),
                       doctest::Contains("/nonexistent/dir/models.sqlite: cannot open the model registry"), ebs::Fault);
}

TEST_CASE("promotion refuses a worse candidate, keeps the old version for rollback") {
  TempDir dir;
  ModelRegistry r(dir / "models.sqlite");
  r.add({"sn", small_model(3), "", {}, "", {{"roc_auc", 0.90}, {"test_set", "t1"}}});
  r.add({"sn", small_model(4), "", {}, "", {{"roc_auc", 0.85}, {"test_set", "t1"}}});
  r.add({"sn", small_model(5), "", {}, "", {{"roc_auc", 0.95}, {"test_set", "t2"}}});
  r.add({"sn", small_model(6), "", {}, "", {}});

  ModelEntry p = r.promote("sn", 1, "roc_auc", false);  // nothing in production yet
  CHECK(p.state == ModelState::production);
  CHECK_FALSE(p.promoted_at.empty());
  CHECK_THROWS_WITH_AS(r.promote("sn", 2, "roc_auc", false),
                       doctest::Contains("refused: roc_auc 0.850000 is worse than production registry://sn@1's 0.900000"),
                       ebs::Fault);
  CHECK_THROWS_WITH_AS(r.promote("sn", 3, "roc_auc", false), doctest::Contains("measured on different test sets"),
                       ebs::Fault);
  CHECK_THROWS_WITH_AS(r.promote("sn", 4, "roc_auc", false), doctest::Contains("is not recorded for both"), ebs::Fault);
  CHECK(r.production("sn")->version == 1);

  r.set_metrics("sn", 3, {{"roc_auc", 0.95}, {"test_set", "t1"}});
  CHECK(r.promote("sn", 3, "roc_auc", false).version == 3);
  CHECK(r.find("sn", 1)->state == ModelState::retired);  // kept, for rollback
  CHECK(r.production("sn")->version == 3);
  CHECK(r.promote("sn", 1, "roc_auc", true).state == ModelState::production);  // forced rollback
  CHECK(r.find("sn", 3)->state == ModelState::retired);
  CHECK(r.list("sn").size() == 4);
}

TEST_CASE("registry:// references load the production or a given version") {
  TempDir dir;
  std::string path = dir / "models.sqlite";
  {
    ModelRegistry r(path);
    r.add({"sn", small_model(3), "", {}, "", {}});
    r.add({"sn", small_model(4), "", {}, "", {}});
  }
  CHECK_THROWS_WITH_AS(load_model("registry://sn", path), doctest::Contains("no production version"), ebs::Fault);
  {
    ModelRegistry r(path);
    r.promote("sn", 2, "roc_auc", false);
  }
  LoadedModel m = load_model("registry://sn", path);
  CHECK(m.version == "2");
  CHECK(m.reference == "registry://sn@2");
  CHECK(dynamic_cast<const XgboostModel&>(*m.model).tree_count() == 4);
  CHECK(dynamic_cast<const XgboostModel&>(*load_model("registry://sn@1", path).model).tree_count() == 3);
  CHECK_THROWS_WITH_AS(load_model("registry://sn@x", path), "registry://sn@x: after '@' comes a version (a positive integer), 'production' or 'candidate'",
                       ebs::Fault);
  CHECK_THROWS_WITH_AS(load_model("registry://sn", ""), doctest::Contains("needs a registry file"), ebs::Fault);
  CHECK_THROWS_WITH_AS(load_model("registry://sn", dir / "absent.sqlite"), doctest::Contains("no model registry file"),
                       ebs::Fault);
  CHECK_THROWS_WITH_AS(load_model("registry://sn@5", path), doctest::Contains("no such model version"), ebs::Fault);
}
