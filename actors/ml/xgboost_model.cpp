#include "actors/ml/xgboost_model.h"

#include <xgboost/c_api.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "actors/ml/ubjson_check.h"
#include "engine/util/fault.h"
#include "engine/util/hash.h"

namespace ebs::ml {

namespace {

std::string last_error() {
  const char* e = XGBGetLastError();
  std::string text = e ? e : "unknown XGBoost error";
  // XGBoost prefixes messages with its own source position and a stack trace; keep the first line.
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  return text;
}

void check(int status, const std::string& place, const std::string& what) {
  if (status != 0) fail(place, what + ": " + last_error());
}

// The JSON __array_interface__ XGBoost's in-place prediction reads.
std::string array_interface(const float* data, size_t rows, size_t cols) {
  std::ostringstream s;
  s << "{\"data\":[" << reinterpret_cast<uintptr_t>(data) << ",true],\"shape\":[" << rows << "," << cols
    << "],\"typestr\":\"<f4\",\"version\":3}";
  return s.str();
}

// type 0: the model's output transformation applied (probabilities for binary:logistic).
constexpr const char* kPredictConfig =
    "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,\"strict_shape\":false,"
    "\"cache_id\":0,\"missing\":NaN}";

// XGBoost 1.7 loads and predicts trusting the model's own consistency: a node list shorter than
// the tree's num_nodes makes it read past the list, a child index that points back makes
// prediction loop for ever. A model's structure is checked here, on the same bytes, before XGBoost
// reads them (docs/reliability.md, "Fuzzing").
void check_structure(const nlohmann::json& model, const std::string& origin) {
  auto problem = [&](const std::string& what) { fail(origin, "corrupt model: " + what); };
  auto integer = [&](const nlohmann::json& v, const std::string& what) -> int64_t {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_string()) {  // XGBoost writes its parameters as strings
      const std::string& text = v.get_ref<const std::string&>();
      int64_t out = 0;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
      if (error == std::errc() && end == text.data() + text.size()) return out;
    }
    problem(what + " is not an integer");
    return 0;
  };
  const nlohmann::json& learner = model.at("learner");
  const nlohmann::json& parameters = learner.at("learner_model_param");
  const int64_t features = integer(parameters.at("num_feature"), "num_feature");
  const int64_t classes = std::max<int64_t>(1, integer(parameters.at("num_class"), "num_class"));
  if (features < 1 || features > 1'000'000) problem("num_feature " + std::to_string(features));
  const nlohmann::json* booster = &learner.at("gradient_booster");
  const std::string name = booster->at("name").get<std::string>();
  if (name == "dart") booster = &booster->at("gbtree");
  else if (name != "gbtree") problem("a '" + name + "' booster: ebs-flow scores tree models (gbtree, dart)");
  const nlohmann::json& trees_model = booster->at("model");
  const nlohmann::json& trees = trees_model.at("trees");
  const nlohmann::json& tree_info = trees_model.at("tree_info");
  if (!trees.is_array() || !tree_info.is_array() ||
      integer(trees_model.at("gbtree_model_param").at("num_trees"), "num_trees") != static_cast<int64_t>(trees.size()) ||
      tree_info.size() != trees.size())
    problem("num_trees, the trees and tree_info disagree");
  for (size_t t = 0; t < trees.size(); ++t) {
    const std::string place = "tree " + std::to_string(t);
    const int64_t group = integer(tree_info[t], place + "'s group");
    if (group < 0 || group >= classes) problem(place + "'s group " + std::to_string(group));
    const nlohmann::json& tree = trees[t];
    const int64_t nodes = integer(tree.at("tree_param").at("num_nodes"), place + "'s num_nodes");
    if (nodes < 1 || nodes > (int64_t{1} << 30)) problem(place + " has " + std::to_string(nodes) + " nodes");
    for (const char* list : {"left_children", "right_children", "parents", "split_indices", "split_conditions",
                             "default_left", "base_weights", "loss_changes", "sum_hessian", "split_type"}) {
      if (!tree.contains(list) && std::string_view(list) == "split_type") continue;  // older models
      const nlohmann::json& values = tree.at(list);
      if (!values.is_array() || static_cast<int64_t>(values.size()) != nodes)
        problem(place + "'s " + list + " does not hold num_nodes values");
    }
    const nlohmann::json &left = tree.at("left_children"), &right = tree.at("right_children"),
                         &split = tree.at("split_indices"), &parents = tree.at("parents");
    std::vector<bool> has_parent(static_cast<size_t>(nodes), false);
    for (size_t i = 0; i < static_cast<size_t>(nodes); ++i) {
      const int64_t l = integer(left[i], place + "'s children"), r = integer(right[i], place + "'s children");
      if (l == -1 && r == -1) continue;  // a leaf
      for (int64_t child : {l, r}) {
        if (child <= 0 || child >= nodes || has_parent[static_cast<size_t>(child)])
          problem(place + ": node " + std::to_string(i) + " has child " + std::to_string(child) +
                  " (out of range, the root, or another node's child)");
        has_parent[static_cast<size_t>(child)] = true;
      }
      for (int64_t child : {l, r}) {  // XGBoost follows each node's parent unchecked (RegTree::LoadModel)
        const int64_t parent = integer(parents[static_cast<size_t>(child)], place + "'s parents");
        if (parent != static_cast<int64_t>(i))
          problem(place + ": node " + std::to_string(child) + " has parent " + std::to_string(parent) +
                  ", not node " + std::to_string(i) + " whose child it is");
      }
      const int64_t feature = integer(split[i], place + "'s split_indices");
      if (feature < 0 || feature >= features)
        problem(place + ": node " + std::to_string(i) + " splits on feature " + std::to_string(feature) + " of " +
                std::to_string(features));
    }
    for (size_t i = 1; i < static_cast<size_t>(nodes); ++i) {  // unlinked (deleted) nodes too
      const int64_t parent = integer(parents[i], place + "'s parents");
      if (parent < 0 || parent >= nodes)
        problem(place + ": node " + std::to_string(i) + " has parent " + std::to_string(parent) + " (out of range)");
    }
    // Categorical splits: each listed node's categories are a segment of `categories`.
    const nlohmann::json &cat_nodes = tree.at("categories_nodes"), &segments = tree.at("categories_segments"),
                         &sizes = tree.at("categories_sizes"), &categories = tree.at("categories");
    if (!categories.is_array() || !cat_nodes.is_array() || segments.size() != cat_nodes.size() ||
        sizes.size() != cat_nodes.size())
      problem(place + "'s categorical split lists disagree");
    for (size_t k = 0; k < cat_nodes.size(); ++k) {
      const int64_t node = integer(cat_nodes[k], place + "'s categories_nodes");
      const int64_t begin = integer(segments[k], place + "'s categories_segments");
      const int64_t size = integer(sizes[k], place + "'s categories_sizes");
      if (node < 0 || node >= nodes || begin < 0 || size < 0 || begin > static_cast<int64_t>(categories.size()) ||
          size > static_cast<int64_t>(categories.size()) - begin)
        problem(place + "'s categorical split " + std::to_string(k) + " points outside its lists");
    }
  }
}

}  // namespace

XgboostModel XgboostModel::from_bytes(std::string_view bytes, std::string origin) {
  XgboostModel m;
  m.origin_ = std::move(origin);
  if (bytes.empty()) fail(m.origin_, "the model file is empty");
  if (bytes.front() != '{')
    fail(m.origin_, "not an XGBoost JSON or UBJSON model (it must start with '{'; old binary models are not read)");
  // XGBoost reads '{"' as JSON (its parser checks bounds) and anything else as UBJSON, whose
  // lengths it trusts: checked here first (actors/ml/ubjson_check.h).
  const bool json = bytes.size() > 1 && bytes[1] == '"';
  if (!json)
    if (std::string problem = ubjson_problem(bytes); !problem.empty()) fail(m.origin_, "corrupt model: " + problem);
  const nlohmann::json structure = json ? nlohmann::json::parse(bytes, nullptr, false)
                                        : nlohmann::json::from_ubjson(bytes, true, false);
  if (structure.is_discarded()) fail(m.origin_, json ? "corrupt model: not JSON" : "corrupt model: not UBJSON");
  try {
    check_structure(structure, m.origin_);
  } catch (const nlohmann::json::exception& e) {
    fail(m.origin_, std::string("corrupt model: ") + e.what());
  }
  check(XGBoosterCreate(nullptr, 0, &m.booster_), m.origin_, "cannot create a booster");
  check(XGBoosterLoadModelFromBuffer(m.booster_, bytes.data(), bytes.size()), m.origin_, "corrupt model");
  check(XGBoosterSetParam(m.booster_, "nthread", "1"), m.origin_, "cannot set nthread");
  m.content_hash_ = hex64(fnv1a64(bytes));
  m.format_ = json ? "json" : "ubj";
  m.describe();
  return m;
}

XgboostModel XgboostModel::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the model file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return from_bytes(buffer.str(), path);
}

XgboostModel XgboostModel::train(const std::vector<float>& features, const std::vector<float>& labels,
                                 const std::vector<std::string>& names, const TrainParameters& p) {
  const std::string place = "train";
  if (names.empty()) fail(place, "no feature columns");
  if (labels.empty()) fail(place, "no training rows");
  if (features.size() != labels.size() * names.size()) fail(place, "feature matrix and labels disagree in size");
  DMatrixHandle matrix = nullptr;
  check(XGDMatrixCreateFromMat(features.data(), labels.size(), names.size(), NAN, &matrix), place,
        "cannot build the training matrix");
  struct MatrixGuard {
    DMatrixHandle h;
    ~MatrixGuard() { XGDMatrixFree(h); }
  } guard{matrix};
  check(XGDMatrixSetFloatInfo(matrix, "label", labels.data(), labels.size()), place, "cannot set labels");
  std::vector<const char*> cnames;
  for (const std::string& n : names) cnames.push_back(n.c_str());
  check(XGDMatrixSetStrFeatureInfo(matrix, "feature_name", cnames.data(), cnames.size()), place,
        "cannot set feature names");

  XgboostModel m;
  m.origin_ = place;
  check(XGBoosterCreate(&matrix, 1, &m.booster_), place, "cannot create a booster");
  auto set = [&](const char* key, const std::string& value) {
    check(XGBoosterSetParam(m.booster_, key, value.c_str()), place, std::string("bad parameter ") + key);
  };
  set("objective", "binary:logistic");
  set("eval_metric", "auc");
  set("tree_method", "hist");
  set("max_depth", std::to_string(p.max_depth));
  set("eta", std::to_string(p.eta));
  set("subsample", std::to_string(p.subsample));
  set("seed", std::to_string(p.seed));
  set("nthread", std::to_string(p.threads));
  for (size_t i = 0; i < p.rounds; ++i)
    check(XGBoosterUpdateOneIter(m.booster_, static_cast<int>(i), matrix), place, "training failed");
  check(XGBoosterSetStrFeatureInfo(m.booster_, "feature_name", cnames.data(), cnames.size()), place,
        "cannot record feature names");
  set("nthread", "1");
  m.content_hash_ = hex64(fnv1a64(m.save("json")));
  m.describe();
  return m;
}

XgboostModel::XgboostModel(XgboostModel&& o) noexcept
    : booster_(o.booster_),
      origin_(std::move(o.origin_)),
      content_hash_(std::move(o.content_hash_)),
      format_(std::move(o.format_)),
      feature_names_(std::move(o.feature_names_)),
      feature_count_(o.feature_count_) {
  o.booster_ = nullptr;
}

XgboostModel& XgboostModel::operator=(XgboostModel&& o) noexcept {
  if (this != &o) {
    if (booster_) XGBoosterFree(booster_);
    booster_ = o.booster_;
    o.booster_ = nullptr;
    origin_ = std::move(o.origin_);
    content_hash_ = std::move(o.content_hash_);
    format_ = std::move(o.format_);
    feature_names_ = std::move(o.feature_names_);
    feature_count_ = o.feature_count_;
  }
  return *this;
}

XgboostModel::~XgboostModel() {
  if (booster_) XGBoosterFree(booster_);
}

void XgboostModel::describe() {
  bst_ulong count = 0;
  check(XGBoosterGetNumFeature(booster_, &count), origin_, "cannot read the feature count");
  feature_count_ = count;
  bst_ulong n = 0;
  const char** names = nullptr;
  check(XGBoosterGetStrFeatureInfo(booster_, "feature_name", &n, &names), origin_, "cannot read feature names");
  feature_names_.assign(names, names + n);
  if (feature_count_ == 0) fail(origin_, "the model has no features (an untrained booster?)");
  // One row of missing values: a multi-class or multi-target model gives several outputs per row.
  std::vector<float> row(feature_count_, NAN);
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  std::string values = array_interface(row.data(), 1, feature_count_);
  check(XGBoosterPredictFromDense(booster_, values.c_str(), kPredictConfig, nullptr, &shape, &dim, &result), origin_,
        "prediction failed");
  bst_ulong outputs = 1;
  for (bst_ulong i = 1; i < dim; ++i) outputs *= shape[i];
  if (outputs != 1)
    fail(origin_, "the model gives " + std::to_string(outputs) +
                      " outputs per row; only binary classifiers and regressors (one score) are supported");
}

size_t XgboostModel::tree_count() const {
  int rounds = 0;
  check(XGBoosterBoostedRounds(booster_, &rounds), origin_, "cannot count the trees");
  return static_cast<size_t>(rounds);
}

std::string XgboostModel::attribute(const std::string& key) const {
  const char* value = nullptr;
  int found = 0;
  check(XGBoosterGetAttr(booster_, key.c_str(), &value, &found), origin_, "cannot read attribute " + key);
  return found && value ? std::string(value) : std::string();
}

void XgboostModel::predict(const float* features, size_t rows, float* out) const {
  if (rows == 0) return;
  std::string values = array_interface(features, rows, feature_count_);
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  check(XGBoosterPredictFromDense(booster_, values.c_str(), kPredictConfig, nullptr, &shape, &dim, &result), origin_,
        "prediction failed");
  std::copy(result, result + rows, out);
}

std::vector<float> XgboostModel::predict(const std::vector<float>& features) const {
  if (feature_count_ == 0 || features.size() % feature_count_ != 0)
    fail(origin_, "feature matrix is not a whole number of rows of " + std::to_string(feature_count_));
  std::vector<float> out(features.size() / feature_count_);
  predict(features.data(), out.size(), out.data());
  return out;
}

std::string XgboostModel::save(std::string_view format) const {
  if (format != "json" && format != "ubj") fail(origin_, "model format must be json or ubj");
  std::string config = "{\"format\":\"" + std::string(format) + "\"}";
  bst_ulong len = 0;
  const char* data = nullptr;
  check(XGBoosterSaveModelToBuffer(booster_, config.c_str(), &len, &data), origin_, "cannot save the model");
  return std::string(data, len);
}

}  // namespace ebs::ml
