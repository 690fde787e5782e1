#include "actors/ml/xgboost_model.h"

#include <xgboost/c_api.h>

#include <cmath>
#include <fstream>
#include <sstream>

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
