#include "actors/ml/feature_json.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "actors/ml/light_curve_features.h"

namespace ebs::ml {

namespace {

// What the features actor wrote before: the object built, then dumped.
std::string by_nlohmann(const std::vector<std::string>& names, const std::vector<float>& values) {
  nlohmann::json object = nlohmann::json::object();
  for (size_t k = 0; k < values.size(); ++k)
    object[names[k]] = std::isfinite(values[k]) ? nlohmann::json(values[k]) : nlohmann::json(nullptr);
  return object.dump();
}

}  // namespace

TEST_CASE("a feature vector's JSON text is nlohmann's dump() of it, byte for byte") {
  for (const std::string& set_name : feature_set_names()) {
    const FeatureSet& set = *find_feature_set(set_name);
    const FeatureJson json(set.names);
    std::mt19937 random(42);
    std::vector<float> values(set.names.size());
    const float specials[] = {0.0f, -0.0f, 1.0f, -3.0f, 1e-7f, 123456789.0f, 0.1f, 2.5e30f, -1e-38f,
                              std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(),
                              std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(), 17.0f, 0.333333f};
    for (int round = 0; round < 2000; ++round) {
      for (float& v : values) {
        switch (random() % 4) {
          case 0: v = specials[random() % std::size(specials)]; break;
          case 1: v = static_cast<float>(random() % 200); break;  // counts
          case 2: v = std::uniform_real_distribution<float>(-30, 30)(random); break;
          default: {  // any bit pattern
            uint32_t bits = static_cast<uint32_t>(random());
            std::memcpy(&v, &bits, sizeof v);
          }
        }
      }
      REQUIRE(json.write(values.data()) == by_nlohmann(set.names, values));
    }
  }
  // Keys that need escaping, out of order.
  const std::vector<std::string> names = {"b\"q", "a\\b", "\x01", "é", "a"};
  const std::vector<float> values = {1, NAN, 2.5f, -0.0f, 3};
  CHECK(FeatureJson(names).write(values.data()) == by_nlohmann(names, values));
}

}  // namespace ebs::ml
