// The DESC ELAsTiCC classification taxonomy (LSSTDESC/elasticc @818ae71, taxonomy/taxonomy.ipynb):
// integer class ids, one decimal digit per level of the tree (Meta 0/100-300, Static 1000/1100,
// Variable 2000: Non-Recurring 2200 with SN-like 2220 (Ia 2222 ...), Fast 2230, Long 2240;
// Recurring 2300 with Periodic 2320 and Non-Periodic 2330). The ids are what the notebook's code
// computes (its prose summary differs: the code is the authority); docs/exchange.md has the table.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace ebs::elasticc {

struct TaxonomyClass {
  int32_t id;
  std::string_view name;  // the notebook's node name, e.g. "Ia", "SN-like/Other"
  int32_t parent;         // -1 for the top level (Meta, Static, Variable)
};

// Every class of the taxonomy, in the notebook's order.
std::span<const TaxonomyClass> taxonomy();
// The class with this id, if the taxonomy has it.
const TaxonomyClass* find_class(int32_t id);
// A class by its notebook name ("Ia", "AGN", "Residual", ...) or its id written as text.
std::optional<int32_t> parse_class(std::string_view name_or_id);
// The class's name, or "class <id>" for an id outside the taxonomy.
std::string_view class_name(int32_t id);

// Ids of the meta classes brokers use for "none of mine" and "did not classify".
constexpr int32_t kResidual = 200;
constexpr int32_t kNotClassified = 300;

}  // namespace ebs::elasticc
