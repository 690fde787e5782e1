#include "actors/ml/labelled_set.h"

#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "engine/util/fault.h"

using namespace ebs::ml;

TEST_CASE("a labelled CSV: features, labels, ids, times, missing values and quoted cells") {
  LabelledSet s = parse_labelled_csv(
      "object_id,mjd,a,label,b\n"
      "ZTF1,60000.5,1.5,1,\n"
      "\"ZTF,2\",60001,nan,0,-2e3\n"
      "\n"
      "ZTF3,60002,NaN,true,3\n",
      "set.csv");
  CHECK(s.feature_names == std::vector<std::string>{"a", "b"});
  CHECK(s.labels == std::vector<float>{1, 0, 1});
  CHECK(s.object_ids == std::vector<std::string>{"ZTF1", "ZTF,2", "ZTF3"});
  CHECK(s.times[1] == 60001);
  CHECK(s.rows == std::vector<size_t>{2, 3, 5});
  CHECK(s.features[0] == 1.5f);
  CHECK(std::isnan(s.features[1]));
  CHECK(std::isnan(s.features[2]));
  CHECK(s.features[3] == -2000);

  LabelledSetOptions only_b;
  only_b.feature_names = {"b"};
  CHECK(parse_labelled_csv("label,a,b\n0,1,2\n", "x.csv", only_b).features == std::vector<float>{2});
}

TEST_CASE("bad labelled sets name the file, row and column") {
  CHECK_THROWS_WITH_AS(parse_labelled_csv("a,label\n1,0\n2,SNIa\n", "set.csv"),
                       "set.csv:row 3:column label: label 'SNIa' is not a known class (positive: 1, true, yes; "
                       "negative: 0, false, no)",
                       ebs::Fault);
  LabelledSetOptions classes;
  classes.positive = {"SN"};
  classes.negative = {"VS", "AGN"};
  CHECK(parse_labelled_csv("a,label\n1,SN\n2,agn\n", "set.csv", classes).labels == std::vector<float>{1, 0});
  CHECK_THROWS_WITH_AS(parse_labelled_csv("a,label\n1,1\n1x,0\n", "set.csv"), "set.csv:row 3:column a: '1x' is not a number",
                       ebs::Fault);
  CHECK_THROWS_WITH_AS(parse_labelled_csv("a,label\n1,1,3\n", "set.csv"), "set.csv:row 2: 3 cells, the header has 2",
                       ebs::Fault);
  CHECK_THROWS_WITH_AS(parse_labelled_csv("a,b\n1,1\n", "set.csv"), "set.csv:row 1: no label column 'label'", ebs::Fault);
  LabelledSetOptions need_c;
  need_c.feature_names = {"a", "c"};
  CHECK_THROWS_WITH_AS(parse_labelled_csv("a,label\n1,1\n", "set.csv", need_c), "set.csv:row 1: no feature column 'c'",
                       ebs::Fault);
  CHECK_THROWS_WITH_AS(parse_labelled_csv("a,label\n", "set.csv"), "set.csv: no data rows", ebs::Fault);
  CHECK_THROWS_WITH_AS(read_labelled_csv("/nonexistent/set.csv"), "/nonexistent/set.csv: cannot open the labelled set",
                       ebs::Fault);
}

TEST_CASE("splits by object and by time never put one object on both sides") {
  std::string text = "object_id,mjd,x,label\n";
  for (int i = 0; i < 2000; ++i)
    text += "OBJ" + std::to_string(i % 300) + "," + std::to_string(60000 + (i % 300) * 2 + i / 300) + ",1," +
            std::to_string(i % 2) + "\n";
  LabelledSet s = parse_labelled_csv(text, "set.csv");
  for (SplitBy by : {SplitBy::object, SplitBy::time}) {
    Split split = split_set(s, by, 0.25);
    CHECK(split.train.size() + split.test.size() == s.size());
    std::set<std::string> train_objects, test_objects;
    for (size_t i : split.train) train_objects.insert(s.object_ids[i]);
    for (size_t i : split.test) test_objects.insert(s.object_ids[i]);
    for (const std::string& id : test_objects) CHECK_MESSAGE(!train_objects.count(id), id << " on both sides");
    double share = static_cast<double>(test_objects.size()) / 300;
    CHECK(share == doctest::Approx(0.25).epsilon(0.3));
    if (by == SplitBy::time) {
      double latest_train = 0, earliest_test = 1e9;
      for (size_t i : split.train) latest_train = std::max(latest_train, s.times[i]);
      for (size_t i : split.test) earliest_test = std::min(earliest_test, s.times[i]);
      // Objects start in time order (OBJk first seen at 60000 + 2k): every test object starts later.
      CHECK(test_objects.count("OBJ299"));
      CHECK_FALSE(test_objects.count("OBJ0"));
    }
  }
  CHECK(split_set(s, SplitBy::object, 0.25).test == split_set(s, SplitBy::object, 0.25).test);  // stable
  CHECK(split_set(s, SplitBy::none, 0.25).test.size() == s.size());
  CHECK_THROWS_WITH_AS(split_set(parse_labelled_csv("x,label\n1,1\n", "n.csv"), SplitBy::object, 0.2),
                       "n.csv:row 2: an object id is needed to split without leaks", ebs::Fault);
  CHECK_THROWS_AS(parse_split("random"), ebs::Fault);
}
