// A feature vector as the `features` actor's annotation text: a JSON object of name -> value (NaN
// as null), byte for byte what nlohmann::json's dump() writes for it (keys in byte order, numbers
// by its Grisu2 `to_chars`, integers as "3.0"), without building the object: its map of 23-29
// nodes and their dump were ~40 k instructions an alert (docs/performance.md, "The ML stage's
// annotation text").
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ebs::ml {

class FeatureJson {
 public:
  explicit FeatureJson(const std::vector<std::string>& names);
  // `values` has one value per name, in the names' order.
  std::string write(const float* values) const;

 private:
  std::vector<size_t> order_;       // the names' positions in byte order of the names
  std::vector<std::string> keys_;   // "\"name\":" as nlohmann escapes it, in that order
  size_t reserve_ = 2;
};

}  // namespace ebs::ml
