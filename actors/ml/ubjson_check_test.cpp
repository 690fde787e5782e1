#include "actors/ml/ubjson_check.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "actors/ml/xgboost_model.h"
#include "engine/util/fault.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

using namespace ebs::ml;

TEST_CASE("UBJSON check: every model XGBoost writes passes, and every truncation of one is refused") {
  const std::string committed = ebs::test::read_file(ebs::test::source_dir() / "models/example-transient-lc-basic-1.ubj");
  REQUIRE(committed.size() > 1000);
  // One written by Python xgboost (models/README.md) and one by the C API here.
  std::vector<float> features{0.1f, 0.9f, 0.8f, 0.2f, 0.7f, 0.6f, 0.3f, 0.1f};
  std::vector<float> labels{0, 1, 1, 0};
  TrainParameters p;
  p.rounds = 3;
  const std::string saved = XgboostModel::train(features, labels, {"a", "b"}, p).save("ubj");
  for (const std::string* model : std::initializer_list<const std::string*>{&committed, &saved}) {
    CHECK(ubjson_problem(*model).empty());
    size_t refused = 0;
    for (size_t n = 0; n < model->size(); ++n) refused += !ubjson_problem(std::string_view(*model).substr(0, n)).empty();
    CHECK(refused == model->size());
  }
  CHECK(XgboostModel::from_bytes(saved, "saved").format() == "ubj");
}

TEST_CASE("UBJSON check: lengths and counts beyond the end, unknown markers, nesting and trailing bytes") {
  using namespace std::string_literals;
  CHECK(ubjson_problem("{L") == "a length of 8 bytes with 0 left at byte 2");  // XGBoost read past the end here
  CHECK(ubjson_problem("{i\x05" "ab") == "a value of 5 bytes with 2 left at byte 3");
  CHECK(ubjson_problem("{i\x01" "aSL\x7f\xff\xff\xff\xff\xff\xff\xff}"s) ==
        "a value of 9223372036854775807 bytes with 1 left at byte 14");
  CHECK(ubjson_problem("{i\x01" "aSi\xff}"s) == "a negative length at byte 6");
  CHECK(ubjson_problem("[$d#L\x00\x00\x01\x00\x00\x00\x00\x00"s) == "1099511627776 elements with 0 bytes left at byte 13");
  CHECK(ubjson_problem("[$Z#L\x00\x00\x01\x00\x00\x00\x00\x00"s).empty());  // 2^40 nulls take no bytes
  CHECK(ubjson_problem("[$\0#i\x01"s) == "an unknown marker '\0' at byte 2"s);
  CHECK(ubjson_problem("[$d]") == "a typed container without a count at byte 3");
  CHECK(ubjson_problem("[q]") == "an unknown marker 'q' at byte 1");
  CHECK(ubjson_problem("[i\x01]x") == "unexpected bytes after the document at byte 4");
  CHECK(ubjson_problem("[[[") == "the document ends inside a container at byte 3");
  CHECK(ubjson_problem(std::string(300, '[') + std::string(300, ']')) == "containers nested deeper than 256 at byte 257");
  CHECK(ubjson_problem("{i\x01" "a[$i#i\x02\x01\x02]}"s).empty() == false);  // a counted array has no ']'
  CHECK(ubjson_problem("{i\x01" "a[$i#i\x02\x01\x02}"s).empty());
}

TEST_CASE("a truncated UBJSON model is a fault naming the file and the byte, never read by XGBoost") {
  CHECK_THROWS_WITH_AS(XgboostModel::from_bytes("{L", "corrupt.ubj"),
                       "corrupt.ubj: corrupt model: a length of 8 bytes with 0 left at byte 2", ebs::Fault);
}
