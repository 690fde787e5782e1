#include "actors/ml/isolation_forest.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <type_traits>
#include <utility>

#include "engine/util/fault.h"
#include "engine/util/hash.h"

namespace ebs::ml {

namespace {

constexpr double kEulerGamma = 0.5772156649;
constexpr std::string_view kKey = "\"isolation_forest\"";

// Uniform in [0, 1) from the top 53 bits, and an index in [0, n): the same draws on every library.
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
size_t index_below(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(uniform(rng) * static_cast<double>(n)); }

float median_of(std::vector<float> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : static_cast<float>((static_cast<double>(values[n / 2 - 1]) + values[n / 2]) / 2);
}

// nlohmann's get<T>() converts any JSON number to T without a range check (1e115 as an unsigned
// is undefined behaviour): a model file's numbers are read through these, a Fault when one does
// not fit.
template <typename T>
T checked_number(const nlohmann::json& value, const std::string& origin, const char* what) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!value.is_number()) fail(origin, std::string(what) + ": not a number");
    const double d = value.get<double>();
    if (std::abs(d) > static_cast<double>(std::numeric_limits<T>::max()))
      fail(origin, std::string(what) + ": " + value.dump() + " is out of range");
    return static_cast<T>(d);
  } else {
    if (value.is_number_unsigned() && std::in_range<T>(value.get<uint64_t>())) return static_cast<T>(value.get<uint64_t>());
    if (value.is_number_integer() && !value.is_number_unsigned() && std::in_range<T>(value.get<int64_t>()))
      return static_cast<T>(value.get<int64_t>());
    fail(origin, std::string(what) + ": " + value.dump().substr(0, 40) + " is not an integer in range");
  }
}

template <typename T>
std::vector<T> checked_numbers(const nlohmann::json& array, const std::string& origin, const char* what) {
  if (!array.is_array()) fail(origin, std::string(what) + ": not a list");
  std::vector<T> out;
  out.reserve(array.size());
  for (const nlohmann::json& v : array) out.push_back(checked_number<T>(v, origin, what));
  return out;
}

}  // namespace

double IsolationForest::average_path_length(double n) {
  if (n <= 1) return 0;
  if (n == 2) return 1;
  return 2 * (std::log(n - 1) + kEulerGamma) - 2 * (n - 1) / n;
}

bool IsolationForest::recognises(std::string_view bytes) {
  size_t start = bytes.find_first_not_of(" \t\r\n");
  return start != std::string_view::npos && bytes[start] == '{' && bytes.substr(0, 64).find(kKey) != std::string_view::npos;
}

IsolationForest IsolationForest::train(const std::vector<float>& rows, const std::vector<std::string>& names,
                                       const IsolationForestParameters& p) {
  const std::string place = "isolation forest";
  if (names.empty()) fail(place, "no feature columns");
  const size_t width = names.size();
  if (rows.empty() || rows.size() % width != 0) fail(place, "no training rows (or a ragged matrix)");
  if (p.trees == 0 || p.sample_size < 2) fail(place, "needs at least one tree and a sample size of 2 or more");
  const size_t n = rows.size() / width;

  IsolationForest forest;
  forest.names_ = names;
  forest.seed_ = p.seed;
  forest.sample_size_ = std::min(p.sample_size, n);
  forest.medians_.resize(width);
  for (size_t k = 0; k < width; ++k) {
    std::vector<float> finite;
    for (size_t r = 0; r < n; ++r)
      if (std::isfinite(rows[r * width + k])) finite.push_back(rows[r * width + k]);
    forest.medians_[k] = median_of(std::move(finite));
  }
  std::vector<float> x(rows);
  for (size_t r = 0; r < n; ++r)
    for (size_t k = 0; k < width; ++k)
      if (!std::isfinite(x[r * width + k])) x[r * width + k] = forest.medians_[k];

  const size_t psi = forest.sample_size_;
  const int height_limit = static_cast<int>(std::ceil(std::log2(static_cast<double>(psi))));
  std::mt19937_64 rng(p.seed);
  std::vector<uint32_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = static_cast<uint32_t>(i);
  std::vector<size_t> varying;
  for (size_t t = 0; t < p.trees; ++t) {
    // The subsample: a partial Fisher-Yates shuffle of all row indices.
    for (size_t i = 0; i < psi; ++i) std::swap(all[i], all[i + index_below(rng, n - i)]);
    std::vector<uint32_t> sample(all.begin(), all.begin() + static_cast<long>(psi));
    Tree tree;
    struct Pending {
      size_t node, begin, end;
      int depth;
    };
    auto add_node = [&tree](uint32_t size) {
      tree.feature.push_back(-1);
      tree.threshold.push_back(0);
      tree.left.push_back(-1);
      tree.right.push_back(-1);
      tree.size.push_back(size);
      return tree.feature.size() - 1;
    };
    std::vector<Pending> stack{{add_node(static_cast<uint32_t>(psi)), 0, psi, 0}};
    while (!stack.empty()) {
      Pending node = stack.back();
      stack.pop_back();
      if (node.depth >= height_limit || node.end - node.begin <= 1) continue;
      // Columns that still vary in this node; a node where none does cannot be split.
      varying.clear();
      for (size_t k = 0; k < width; ++k) {
        float lo = x[sample[node.begin] * width + k], hi = lo;
        for (size_t i = node.begin + 1; i < node.end; ++i) {
          lo = std::min(lo, x[sample[i] * width + k]);
          hi = std::max(hi, x[sample[i] * width + k]);
        }
        if (lo < hi) varying.push_back(k);
      }
      if (varying.empty()) continue;
      const size_t column = varying[index_below(rng, varying.size())];
      float lo = x[sample[node.begin] * width + column], hi = lo;
      for (size_t i = node.begin + 1; i < node.end; ++i) {
        lo = std::min(lo, x[sample[i] * width + column]);
        hi = std::max(hi, x[sample[i] * width + column]);
      }
      float threshold = lo;
      while (!(threshold > lo)) threshold = static_cast<float>(lo + uniform(rng) * (static_cast<double>(hi) - lo));
      threshold = std::min(threshold, hi);
      auto middle = std::partition(sample.begin() + static_cast<long>(node.begin), sample.begin() + static_cast<long>(node.end),
                                   [&](uint32_t r) { return x[r * width + column] < threshold; });
      const size_t split = static_cast<size_t>(middle - sample.begin());
      const size_t left = add_node(static_cast<uint32_t>(split - node.begin));
      const size_t right = add_node(static_cast<uint32_t>(node.end - split));
      tree.feature[node.node] = static_cast<int32_t>(column);
      tree.threshold[node.node] = threshold;
      tree.left[node.node] = static_cast<int32_t>(left);
      tree.right[node.node] = static_cast<int32_t>(right);
      stack.push_back({right, split, node.end, node.depth + 1});
      stack.push_back({left, node.begin, split, node.depth + 1});
    }
    forest.trees_.push_back(std::move(tree));
  }
  forest.finish();
  return forest;
}

void IsolationForest::finish() {
  normaliser_ = average_path_length(static_cast<double>(sample_size_));
  if (normaliser_ <= 0) normaliser_ = 1;
  nodes_.clear();
  roots_.clear();
  depths_.clear();
  for (const Tree& tree : trees_) {
    const int32_t base = static_cast<int32_t>(nodes_.size());
    roots_.push_back(base);
    for (size_t i = 0; i < tree.feature.size(); ++i)
      nodes_.push_back({tree.feature[i], tree.threshold[i], {base + tree.left[i], base + tree.right[i]}});
    int deepest = 0;
    std::vector<std::pair<size_t, int>> stack{{0, 0}};
    while (!stack.empty()) {
      auto [node, depth] = stack.back();
      stack.pop_back();
      if (tree.feature[node] < 0) {
        const int32_t self = base + static_cast<int32_t>(node);
        nodes_[self] = {0, static_cast<float>(depth + average_path_length(tree.size[node])), {self, self}};
        deepest = std::max(deepest, depth);
        continue;
      }
      stack.push_back({static_cast<size_t>(tree.left[node]), depth + 1});
      stack.push_back({static_cast<size_t>(tree.right[node]), depth + 1});
    }
    depths_.push_back(deepest);
  }
  content_hash_ = hex64(fnv1a64(save()));
}

namespace {

// `Lanes` rows (row-major, `width` floats apart) walk one tree side by side, `depth` steps each,
// and add their leaves' path lengths to `total`. The steps have no branch and the rows no
// dependency on each other, so the loads of different rows overlap.
template <size_t Lanes, class Node>
void walk(const Node* nodes, int32_t root, int depth, const float* rows, size_t width, double* total) {
  int32_t at[Lanes];
  for (size_t j = 0; j < Lanes; ++j) at[j] = root;
  for (int step = 0; step < depth; ++step)
    for (size_t j = 0; j < Lanes; ++j) {
      const Node& node = nodes[at[j]];
      at[j] = node.child[!(rows[j * width + static_cast<size_t>(node.feature)] < node.value)];
    }
  for (size_t j = 0; j < Lanes; ++j) total[j] += nodes[at[j]].value;
}

}  // namespace

void IsolationForest::predict(const float* input, size_t rows, float* out) const {
  const size_t width = names_.size();
  // Missing values take the medians once; then tree by tree over the whole batch, so that a
  // tree's nodes stay in cache while every row walks it, 16 rows at a time. Each row's total
  // adds the trees in order, whatever the blocking: the same scores as a walk row by row.
  std::vector<float> filled(input, input + rows * width);
  for (size_t r = 0; r < rows; ++r)
    for (size_t k = 0; k < width; ++k)
      if (!std::isfinite(filled[r * width + k])) filled[r * width + k] = medians_[k];
  constexpr size_t kLanes = 16;
  std::vector<double> total(rows, 0.0);
  const Node* nodes = nodes_.data();
  for (size_t t = 0; t < roots_.size(); ++t) {
    size_t r = 0;
    for (; r + kLanes <= rows; r += kLanes)
      walk<kLanes>(nodes, roots_[t], depths_[t], filled.data() + r * width, width, total.data() + r);
    for (; r < rows; ++r) walk<1>(nodes, roots_[t], depths_[t], filled.data() + r * width, width, total.data() + r);
  }
  for (size_t r = 0; r < rows; ++r)
    out[r] = static_cast<float>(std::exp2(-(total[r] / static_cast<double>(roots_.size())) / normaliser_));
}

std::string IsolationForest::save() const {
  nlohmann::json trees = nlohmann::json::array();
  for (const Tree& t : trees_)
    trees.push_back({{"feature", t.feature}, {"threshold", t.threshold}, {"left", t.left}, {"right", t.right}, {"size", t.size}});
  nlohmann::json j{{"isolation_forest",
                    {{"format_version", 1},
                     {"feature_names", names_},
                     {"sample_size", sample_size_},
                     {"seed", seed_},
                     {"medians", medians_},
                     {"trees", std::move(trees)}}}};
  return j.dump();
}

IsolationForest IsolationForest::from_bytes(std::string_view bytes, std::string origin) {
  IsolationForest forest;
  try {
    const nlohmann::json j = nlohmann::json::parse(bytes).at("isolation_forest");
    if (checked_number<int>(j.at("format_version"), origin, "format_version") != 1)
      fail(origin, "an isolation forest of an unknown format_version");
    forest.names_ = j.at("feature_names").get<std::vector<std::string>>();
    forest.sample_size_ = checked_number<size_t>(j.at("sample_size"), origin, "sample_size");
    forest.seed_ = checked_number<uint64_t>(j.at("seed"), origin, "seed");
    forest.medians_ = checked_numbers<float>(j.at("medians"), origin, "medians");
    for (const nlohmann::json& t : j.at("trees")) {
      Tree tree;
      tree.feature = checked_numbers<int32_t>(t.at("feature"), origin, "feature");
      tree.threshold = checked_numbers<float>(t.at("threshold"), origin, "threshold");
      tree.left = checked_numbers<int32_t>(t.at("left"), origin, "left");
      tree.right = checked_numbers<int32_t>(t.at("right"), origin, "right");
      tree.size = checked_numbers<uint32_t>(t.at("size"), origin, "size");
      const size_t nodes = tree.feature.size();
      if (nodes == 0 || tree.threshold.size() != nodes || tree.left.size() != nodes || tree.right.size() != nodes ||
          tree.size.size() != nodes)
        fail(origin, "an isolation tree whose node arrays differ in length");
      // Children come after their parent: no cycles, every index in range.
      for (size_t i = 0; i < nodes; ++i)
        if (tree.feature[i] >= 0 &&
            (static_cast<size_t>(tree.feature[i]) >= forest.names_.size() || tree.left[i] <= static_cast<int32_t>(i) ||
             tree.right[i] <= static_cast<int32_t>(i) || static_cast<size_t>(tree.left[i]) >= nodes ||
             static_cast<size_t>(tree.right[i]) >= nodes))
          fail(origin, "isolation tree node " + std::to_string(i) + " points outside its tree");
      forest.trees_.push_back(std::move(tree));
    }
  } catch (const nlohmann::json::exception& e) {
    fail(origin, std::string("not an isolation forest: ") + e.what());
  }
  if (forest.names_.empty() || forest.trees_.empty() || forest.medians_.size() != forest.names_.size())
    fail(origin, "an isolation forest without feature names, trees or medians");
  forest.finish();
  forest.content_hash_ = hex64(fnv1a64(bytes));
  return forest;
}

}  // namespace ebs::ml
