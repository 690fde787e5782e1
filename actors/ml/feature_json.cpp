#include "actors/ml/feature_json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

// nlohmann's to_chars is in its detail namespace, not its API: checked against dump() by
// feature_json_test; look again on another major version.
static_assert(NLOHMANN_JSON_VERSION_MAJOR == 3, "check nlohmann::detail::to_chars against dump() again");

namespace ebs::ml {

FeatureJson::FeatureJson(const std::vector<std::string>& names) : order_(names.size()) {
  std::iota(order_.begin(), order_.end(), size_t{0});
  // nlohmann::json's objects are std::maps of std::string: keys in std::string's order.
  std::sort(order_.begin(), order_.end(), [&](size_t a, size_t b) { return names[a] < names[b]; });
  for (size_t i : order_) {
    keys_.push_back(nlohmann::json(names[i]).dump() + ":");
    reserve_ += keys_.back().size() + 25;  // a comma and the longest number text (24)
  }
}

std::string FeatureJson::write(const float* values) const {
  std::string text;
  text.reserve(reserve_);
  text += '{';
  std::array<char, 64> number;  // nlohmann's serializer's buffer
  for (size_t k = 0; k < order_.size(); ++k) {
    if (k > 0) text += ',';
    text += keys_[k];
    const double value = values[order_[k]];  // nlohmann keeps a float as a double
    if (!std::isfinite(value)) {
      text += "null";
      continue;
    }
    char* end = nlohmann::detail::to_chars(number.data(), number.data() + number.size(), value);
    text.append(number.data(), static_cast<size_t>(end - number.data()));
  }
  text += '}';
  return text;
}

}  // namespace ebs::ml
