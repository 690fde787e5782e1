// Levenshtein distance, for "did you mean ..." suggestions in validation and compile errors.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ebs {

inline size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The (at most 3) names of `pool` nearest to `name`, within max(2, |name| / 3) edits, nearest first.
template <class Pool>
std::vector<std::string> nearest_names(const std::string& name, const Pool& pool) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const std::string& candidate : pool) {
    size_t d = edit_distance(name, candidate);
    if (d <= std::max<size_t>(2, name.size() / 3)) scored.emplace_back(d, candidate);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < 3; ++i) out.push_back(scored[i].second);
  return out;
}

}  // namespace ebs
