#include "actors/ml/model_commands.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "actors/ml/binary_metrics.h"
#include "actors/ml/isolation_forest.h"
#include "actors/ml/labelled_set.h"
#include "actors/ml/light_curve_features.h"
#include "actors/ml/model_inputs.h"
#include "actors/ml/model_registry.h"
#include "actors/ml/model_source.h"
#include "actors/ml/repository_training.h"
#include "actors/ml/retrain_policy.h"
#include "actors/ml/synthetic_light_curves.h"
#include "engine/util/fault.h"
#include "engine/util/hash.h"
#include "engine/util/percent_encoding.h"

namespace ebs::ml {

namespace {

using nlohmann::json;

std::string default_registry() {
  const char* env = std::getenv("EBS_MODEL_REGISTRY");
  return env ? env : "";
}

void add_registry_option(CLI::App& app, std::string& registry) {
  registry = default_registry();
  app.add_option("--registry", registry, "model registry file (default: $EBS_MODEL_REGISTRY)");
}

std::string need_registry(const std::string& registry) {
  if (registry.empty()) fail("--registry", "no model registry: pass --registry FILE or set EBS_MODEL_REGISTRY");
  return registry;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// How a labelled set is read and split: shared by train, eval, compare and promote. The set is a
// CSV file (--data) or exported from an alert repository's labelled objects (--repository).
struct DataOptions {
  std::string data, repository;
  ExportOptions exported;
  std::string label = "label";
  std::string object_column = "object_id";
  std::string time_column = "mjd";
  std::string positive = "1,true,yes";
  std::string negative = "0,false,no";
  std::string split = "none";
  double test_fraction = 0.25;
  double threshold = 0.5;
  std::shared_ptr<std::string> text_ = std::make_shared<std::string>();  // read once
  bool loaded_ = false;

  void add_to(CLI::App& app, const std::string& default_split) {
    split = default_split;
    auto* data_option = app.add_option("--data", data, "labelled CSV (features, label, object_id, mjd)");
    auto* repository_option = app.add_option(
        "--repository", repository, "alert repository: its labelled objects' stored alerts (model label; docs/ml.md)");
    data_option->excludes(repository_option);
    add_export_options(app, exported);
    app.add_option("--label", label, "label column")->capture_default_str();
    app.add_option("--object-column", object_column, "object id column")->capture_default_str();
    app.add_option("--time-column", time_column, "time column")->capture_default_str();
    app.add_option("--positive", positive, "labels of the positive class, comma-separated")->capture_default_str();
    app.add_option("--negative", negative, "labels of the negative class, comma-separated")->capture_default_str();
    app.add_option("--split", split, "none (all rows are test), object or time")->capture_default_str();
    app.add_option("--test-fraction", test_fraction, "share of objects held back for testing")->capture_default_str();
    app.add_option("--threshold", threshold, "score at and above which a record is called positive")
        ->capture_default_str();
  }

  static void add_export_options(CLI::App& app, ExportOptions& e) {
    app.add_option("--label-source", e.label_source, "repository labels of this source only (default: newest)");
    app.add_option("--history-days", e.history_days, "repository: light-curve points at most this old (0: all)")
        ->capture_default_str();
    app.add_flag("--latest-only", e.latest_only, "repository: one row per object (its latest alert)");
  }

  bool given() const { return !data.empty() || !repository.empty(); }
  std::string source() const {
    if (!given()) fail("--data", "give a labelled set: --data CSV or --repository DB");
    return repository.empty() ? data : repository;
  }
  // The labelled CSV text (exported with `names`' feature set for a repository).
  const std::string& text(const std::vector<std::string>& names) const {
    if (!loaded_) {
      if (repository.empty()) {
        *text_ = read_bytes(source());
      } else {
        ExportOptions e = exported;
        if (!names.empty()) {
          e.feature_set.clear();
          for (const std::string& set : feature_set_names())
            if (find_feature_set(set)->names == names) e.feature_set = set;
          if (e.feature_set.empty()) fail(repository, "the model's features are not a known feature set");
        }
        *text_ = export_labelled_features(repository, e).csv;
      }
      const_cast<DataOptions*>(this)->loaded_ = true;
    }
    return *text_;
  }

  LabelledSet read(const std::vector<std::string>& feature_names) const {
    LabelledSetOptions o;
    o.label_column = label;
    o.object_column = object_column;
    o.time_column = time_column;
    o.feature_names = feature_names;
    if (!repository.empty() && o.feature_names.empty()) o.feature_names = find_feature_set(exported.feature_set)->names;
    o.positive = split_commas(positive);
    o.negative = split_commas(negative);
    return parse_labelled_csv(text(feature_names), source(), o);
  }

  // Identifies the test set: the labelled set's content and how it was split.
  std::string test_set_id(const std::vector<std::string>& feature_names) const {
    std::ostringstream s;
    s << hex64(fnv1a64(text(feature_names))) << "/" << split;
    if (split != "none") s << "/" << test_fraction;
    return s.str();
  }

  LabelledSet test_part(const LabelledSet& set) const { return set.subset(split_set(set, parse_split(split), test_fraction).test); }
};

struct Evaluation {
  BinaryMetrics metrics;
  json to_json_with(const std::string& test_set) const {
    json j = to_json(metrics);
    j["test_set"] = test_set;
    return j;
  }
};

Evaluation evaluate_model(const LoadedModel& model, const DataOptions& data) {
  if (model.feature_names.empty())
    fail(model.reference, "the model has no feature names: cannot pick its columns from the CSV");
  LabelledSet test = data.test_part(data.read(model.feature_names));
  if (test.size() == 0) fail(data.source(), "the test split is empty");
  std::vector<float> scores = model.model->score_rows(test.features);
  return {evaluate_scores(scores, test.labels, data.threshold)};
}

json describe(const LoadedModel& m) {
  return {{"reference", m.reference}, {"name", m.name}, {"version", m.version}, {"content_hash", m.model->content_hash()}};
}

void print(const json& j) { std::cout << j.dump() << "\n" << std::flush; }

}  // namespace

namespace {

// The feature columns `names` of every row of a CSV (empty cells and nan are missing): an
// unlabelled table for isolation forests (labels, when there, are not read).
std::vector<float> unlabelled_rows(const std::string& text, const std::string& source, const std::vector<std::string>& names) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) fail(source, "empty table");
  std::vector<std::string> header = split_csv_line(line);
  std::vector<size_t> columns;
  for (const std::string& n : names) {
    auto at = std::find(header.begin(), header.end(), n);
    if (at == header.end()) fail(source, "no column '" + n + "'");
    columns.push_back(static_cast<size_t>(at - header.begin()));
  }
  std::vector<float> rows;
  for (size_t row = 2; std::getline(in, line); ++row) {
    if (line.empty()) continue;
    std::vector<std::string> cells = split_csv_line(line);
    for (size_t k = 0; k < columns.size(); ++k) {
      const std::string cell = columns[k] < cells.size() ? cells[columns[k]] : "";
      if (cell.empty() || cell == "nan" || cell == "NaN") {
        rows.push_back(NAN);
        continue;
      }
      try {
        size_t used = 0;
        float v = std::stof(cell, &used);
        if (used != cell.size() || !std::isfinite(v)) throw std::invalid_argument(cell);
        rows.push_back(v);
      } catch (const std::exception&) {
        fail(source + ":row " + std::to_string(row) + ":column " + names[k], "not a number: '" + cell + "'");
      }
    }
  }
  return rows;
}

int train_isolation_forest(const DataOptions& data, const std::string& feature_set, const std::string& out,
                           size_t trees, size_t sample_size, int seed, const std::string& register_name,
                           const std::string& registry) {
  const FeatureSet* set = find_feature_set(feature_set.empty() ? "lc-basic/1" : feature_set);
  if (!set) fail("--feature-set", "unknown feature set '" + feature_set + "'");
  std::string text;
  uint64_t unscorable = 0;
  if (!data.repository.empty()) {
    ExportOptions e = data.exported;
    e.feature_set = set->name;
    e.unlabelled_too = true;  // every stored alert: no labels needed
    ExportedSet exported = export_labelled_features(data.repository, e);
    text = std::move(exported.csv);
    unscorable = exported.unscorable;
  } else {
    text = read_bytes(data.source());
  }
  std::vector<float> rows = unlabelled_rows(text, data.source(), set->names);
  if (rows.empty()) fail(data.source(), "no alerts to train on");
  IsolationForestParameters parameters;
  parameters.trees = trees;
  parameters.sample_size = sample_size;
  parameters.seed = static_cast<uint64_t>(seed);
  IsolationForest forest = IsolationForest::train(rows, set->names, parameters);
  const std::string bytes = forest.save();
  {
    std::ofstream file(out, std::ios::binary | std::ios::trunc);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!file) fail(out, "cannot write the model");
  }
  std::vector<float> scores = forest.score_rows(rows);
  std::vector<float> sorted = scores;
  std::sort(sorted.begin(), sorted.end());
  json result{{"model", out},
              {"format", "iforest"},
              {"content_hash", forest.content_hash()},
              {"trees", forest.tree_count()},
              {"sample_size", forest.sample_size()},
              {"features", set->names.size()},
              {"train_rows", scores.size()},
              {"unscorable", unscorable},
              {"score_median", sorted[sorted.size() / 2]},
              {"score_max", sorted.back()}};
  if (!register_name.empty()) {
    ModelRegistry r(need_registry(registry));
    NewModel m{register_name, bytes, set->name, set->names,
               data.source() + " (" + hex64(fnv1a64(text)) + ")", json::object()};
    result["registered"] = to_json(r.add(m));
  }
  print(result);
  return exit_code::ok;
}

}  // namespace

void register_model_commands(CommandRegistry& registry) {
  registry.describe_group("model", "ML models: registry, training and evaluation");

  registry.add("model synthetic", "Write a labelled feature CSV from synthetic light curves (demos, examples)",
               [](CLI::App& app) {
    struct Options {
      std::string out, feature_set = "lc-basic/1";
      SyntheticOptions synthetic;
    };
    auto o = std::make_shared<Options>();
    app.add_option("--out", o->out, "CSV to write (object_id, mjd, label, features)")->required();
    app.add_option("--feature-set", o->feature_set,
                   "feature set, or lightcurve/N: the rows a lightcurve/N network reads (columns v0, v1, ...)")
        ->capture_default_str();
    app.add_option("--objects", o->synthetic.objects, "objects (half transients, half variables)")->capture_default_str();
    app.add_option("--alerts-per-object", o->synthetic.alerts_per_object, "alerts per object")->capture_default_str();
    app.add_option("--history", o->synthetic.history, "past points before the first alert")->capture_default_str();
    app.add_flag("--rubin-fluxes", o->synthetic.rubin_fluxes, "difference fluxes in nJy instead of magnitudes");
    app.add_option("--seed", o->synthetic.seed, "random seed")->capture_default_str();
    return CommandRegistry::Runner([o] {
      if (o->feature_set.starts_with("cutouts/")) fail("--feature-set", "synthetic alerts have no cutouts");
      std::unique_ptr<InputEncoder> encoder = make_input_encoder(o->feature_set, "--feature-set");
      const FeatureSet* set = find_feature_set(o->feature_set);
      std::ofstream out(o->out, std::ios::trunc);
      if (!out) fail(o->out, "cannot write");
      out.precision(9);
      out << "object_id,mjd,label";
      for (size_t k = 0; k < encoder->layout().width; ++k) out << "," << (set ? set->names[k] : "v" + std::to_string(k));
      out << "\n";
      std::vector<float> v(encoder->layout().width);
      size_t rows = 0, positives = 0;
      for (const LabelledAlert& a : make_synthetic_alerts(o->synthetic)) {
        encoder->encode(*a.alert, v.data());
        out << a.alert->object_id << "," << a.alert->mjd_tai << "," << a.label;
        for (float f : v) {
          out << ",";
          if (!std::isnan(f)) out << f;
        }
        out << "\n";
        ++rows;
        positives += a.label;
      }
      out.flush();
      if (!out) fail(o->out, "cannot write");
      print({{"out", o->out}, {"rows", rows}, {"positives", positives}, {"feature_set", o->feature_set}});
      return exit_code::ok;
    });
  });

  registry.add("model register", "Register a model file as the next candidate version", [](CLI::App& app) {
    struct Options {
      std::string registry, name, file, feature_set, training_data, metrics;
    };
    auto o = std::make_shared<Options>();
    add_registry_option(app, o->registry);
    app.add_option("--name", o->name, "model name")->required();
    app.add_option("--file", o->file, "XGBoost model (JSON or UBJSON), TorchScript (.pt) or isolation forest (JSON)")
        ->required();
    app.add_option("--feature-set", o->feature_set,
                   "what it reads: a feature set (e.g. lc-basic/1); TorchScript also cutouts/N or lightcurve/N");
    app.add_option("--training-data", o->training_data, "reference to its training data");
    app.add_option("--metrics", o->metrics, "metrics as a JSON object");
    return CommandRegistry::Runner([o] {
      NewModel m;
      m.name = o->name;
      m.bytes = read_bytes(o->file);
      m.training_data = o->training_data;
      if (!o->feature_set.empty()) {
        input_layout(o->feature_set, "--feature-set");  // a Fault for an unknown input
        const FeatureSet* set = find_feature_set(o->feature_set);
        if (!set && !is_torchscript(m.bytes))
          fail("--feature-set", "unknown feature set '" + o->feature_set + "' (cutouts/N and lightcurve/N are for TorchScript models)");
        m.feature_set = o->feature_set;
        if (set) m.feature_names = set->names;
      }
      if (!o->metrics.empty()) {
        try {
          m.metrics = json::parse(o->metrics);
        } catch (const json::exception& e) {
          fail("--metrics", std::string("not JSON: ") + e.what());
        }
        if (!m.metrics.is_object()) fail("--metrics", "must be a JSON object");
      }
      ModelRegistry r(need_registry(o->registry));
      ModelEntry entry = [&] {
        try {
          return r.add(m);
        } catch (const Fault& f) {
          fail(o->file, f.what());
        }
      }();
      print(to_json(entry));
      return exit_code::ok;
    });
  });

  registry.add("model list", "List registered models (one JSON line per version)", [](CLI::App& app) {
    struct Options {
      std::string registry, name;
    };
    auto o = std::make_shared<Options>();
    add_registry_option(app, o->registry);
    app.add_option("--name", o->name, "only this model");
    return CommandRegistry::Runner([o] {
      ModelRegistry r(need_registry(o->registry));
      for (const ModelEntry& e : r.list(o->name)) print(to_json(e));
      return exit_code::ok;
    });
  });

  registry.add("model show", "Show one model version (default: production, else the latest)", [](CLI::App& app) {
    struct Options {
      std::string registry, name;
      int64_t version = 0;
    };
    auto o = std::make_shared<Options>();
    add_registry_option(app, o->registry);
    app.add_option("name", o->name, "model name")->required();
    app.add_option("--version", o->version, "version");
    return CommandRegistry::Runner([o] {
      ModelRegistry r(need_registry(o->registry));
      std::optional<ModelEntry> e = o->version ? r.find(o->name, o->version) : r.production(o->name);
      if (!e && !o->version) e = r.latest(o->name);
      if (!e) fail(r.path(), "no model " + o->name + (o->version ? "@" + std::to_string(o->version) : ""));
      json out = to_json(*e);
      // Live shadow results where this version was the shadow or the production beside one.
      out["shadow"] = json::array();
      for (const ShadowTally& t : r.shadow_tallies())
        if (t.shadow_reference == e->reference() || t.production_reference == e->reference())
          out["shadow"].push_back(t.summary());
      std::vector<json> log = r.retrain_log(o->name);
      out["last_retrain"] = log.empty() ? json(nullptr) : log.back();
      print(out);
      return exit_code::ok;
    });
  });

  registry.add("model train", "Train a binary XGBoost model from a labelled CSV or a repository's labelled objects, "
               "or (--kind isolation-forest) an anomaly detector from every stored alert", [](CLI::App& app) {
    struct Options {
      DataOptions data;
      std::string out, format, feature_set, register_name, registry, kind = "xgboost";
      TrainParameters parameters;
      size_t sample_size = 256;
    };
    auto o = std::make_shared<Options>();
    o->data.add_to(app, "object");
    app.add_option("--kind", o->kind, "xgboost (labelled) or isolation-forest (unlabelled; docs/ml.md)")->capture_default_str();
    app.add_option("--sample-size", o->sample_size, "isolation forest: rows per tree")->capture_default_str();
    app.add_option("--out", o->out, "model file to write (.json or .ubj)")->required();
    app.add_option("--format", o->format, "json or ubj (default: from the extension)");
    app.add_option("--feature-set", o->feature_set, "use this feature set's columns (default: every other column)");
    app.add_option("--trees", o->parameters.rounds, "boosting rounds")->capture_default_str();
    app.add_option("--depth", o->parameters.max_depth, "maximum tree depth")->capture_default_str();
    app.add_option("--eta", o->parameters.eta, "learning rate")->capture_default_str();
    app.add_option("--seed", o->parameters.seed, "random seed")->capture_default_str();
    app.add_option("--threads", o->parameters.threads, "training threads")->capture_default_str();
    app.add_option("--register", o->register_name, "register the model under this name as a candidate");
    add_registry_option(app, o->registry);
    return CommandRegistry::Runner([o] {
      if (o->kind == "isolation-forest") return train_isolation_forest(o->data, o->feature_set, o->out, o->parameters.rounds,
                                                                      o->sample_size, o->parameters.seed,
                                                                      o->register_name, o->registry);
      if (o->kind != "xgboost") fail("--kind", "xgboost or isolation-forest");
      std::vector<std::string> names;
      const FeatureSet* set = nullptr;
      if (!o->feature_set.empty()) {
        set = find_feature_set(o->feature_set);
        if (!set) fail("--feature-set", "unknown feature set '" + o->feature_set + "'");
        names = set->names;
      }
      std::string format = o->format;
      if (format.empty()) format = std::filesystem::path(o->out).extension() == ".ubj" ? "ubj" : "json";
      if (format != "json" && format != "ubj") fail("--format", "json or ubj");
      if (!o->data.repository.empty()) {  // features recomputed from stored light curves: a set is needed
        if (!set) set = find_feature_set(o->data.exported.feature_set);
        o->data.exported.feature_set = set->name;
        names = set->names;
      }
      LabelledSet all = o->data.read(names);
      Split split = split_set(all, parse_split(o->data.split), o->data.test_fraction);
      if (o->data.split == "none") std::swap(split.train, split.test);  // no split: train on everything
      LabelledSet train = all.subset(split.train);
      if (train.size() == 0) fail(o->data.source(), "the training split is empty");
      XgboostModel model = XgboostModel::train(train.features, train.labels, all.feature_names, o->parameters);
      std::string bytes = model.save(format);
      {
        std::ofstream out(o->out, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) fail(o->out, "cannot write the model");
      }
      json result{{"model", o->out},
                  {"format", format},
                  {"content_hash", hex64(fnv1a64(bytes))},
                  {"trees", model.tree_count()},
                  {"features", all.feature_names.size()},
                  {"train_rows", train.size()},
                  {"test_rows", split.test.size()},
                  {"split", o->data.split}};
      json metrics = json::object();
      if (!split.test.empty()) {
        LabelledSet test = all.subset(split.test);
        metrics = to_json(evaluate_scores(model.predict(test.features), test.labels, o->data.threshold));
        metrics["test_set"] = o->data.test_set_id(names);
        result["metrics"] = metrics;
      }
      if (!o->register_name.empty()) {
        ModelRegistry r(need_registry(o->registry));
        NewModel m{o->register_name, bytes, set ? set->name : "", all.feature_names,
                   o->data.source() + " (" + hex64(fnv1a64(o->data.text(names))) + ")", metrics};
        result["registered"] = to_json(r.add(m));
      }
      print(result);
      return exit_code::ok;
    });
  });

  registry.add("model suggest",
               "The stored objects a human should label next: the most uncertain for a classifier, the most "
               "anomalous for an isolation forest, with links to their pages",
               [](CLI::App& app) {
    struct Options {
      std::string model, registry, repository, url = "http://127.0.0.1:8080";
      size_t n = 50;
      ExportOptions exported;
    };
    auto o = std::make_shared<Options>();
    app.add_option("--model", o->model, "model file or registry://name[@version]")->required();
    add_registry_option(app, o->registry);
    app.add_option("--repository", o->repository, "alert repository whose unlabelled objects are ranked")->required();
    app.add_option("--n", o->n, "how many to list")->capture_default_str();
    app.add_option("--url", o->url, "where `ebs-flow serve` shows the repository (links: URL/objects/ID)")
        ->capture_default_str();
    DataOptions::add_export_options(app, o->exported);
    return CommandRegistry::Runner([o] {
      LoadedModel m = load_model(o->model, o->registry);
      // The model's input: its declaration (networks), else the feature set its columns are.
      std::string input = m.inputs;
      for (const std::string& set : feature_set_names())
        if (input.empty() && find_feature_set(set)->names == m.feature_names) input = set;
      if (input.empty()) fail(o->model, "its feature columns are no known feature set: cannot recompute them from the repository");
      ExportOptions e = o->exported;
      e.feature_set = input;
      e.unlabelled_too = true;
      e.latest_only = true;  // labels are per object: rank each object by its latest alert
      ExportedSet exported = export_labelled_features(o->repository, e);
      std::istringstream csv(exported.csv);
      std::string line;
      std::getline(csv, line);  // header: object_id, alert_id, mjd, label, values...
      struct Candidate {
        std::string object_id, alert_id, mjd;
        double score = 0, priority = 0;
      };
      std::vector<Candidate> candidates;
      std::vector<float> rows;
      const size_t width = m.model->input_width();
      while (std::getline(csv, line)) {
        std::vector<std::string> cells = split_csv_line(line);
        if (cells.size() != 4 + width) fail(o->repository, "an exported row of unexpected width");
        if (!cells[3].empty()) continue;  // already labelled
        candidates.push_back({cells[0], cells[1], cells[2]});
        for (size_t k = 4; k < cells.size(); ++k) rows.push_back(cells[k].empty() ? NAN : std::stof(cells[k]));
      }
      const bool anomaly = m.model->format() == "iforest";
      std::vector<float> scores(candidates.size());
      m.model->predict(rows.data(), candidates.size(), scores.data());
      for (size_t i = 0; i < candidates.size(); ++i) {
        candidates[i].score = scores[i];
        // A classifier is least sure at 0.5; an isolation forest's score is the anomaly itself.
        candidates[i].priority = anomaly ? scores[i] : 1 - std::abs(2.0 * scores[i] - 1);
      }
      std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        return a.priority != b.priority ? a.priority > b.priority : a.object_id < b.object_id;
      });
      std::string base = o->url;
      while (!base.empty() && base.back() == '/') base.pop_back();
      for (size_t i = 0; i < std::min(o->n, candidates.size()); ++i) {
        const Candidate& c = candidates[i];
        print({{"rank", i + 1},
               {"object_id", c.object_id},
               {"alert_id", c.alert_id},
               {"mjd", std::stod(c.mjd)},
               {"score", c.score},
               {anomaly ? "anomaly" : "uncertainty", c.priority},
               {"model", m.reference},
               {"url", base + "/objects/" + percent_encoded(c.object_id)}});
      }
      return exit_code::ok;
    });
  });

  registry.add("model eval", "ROC AUC, precision, recall and confusion matrix on a test set", [](CLI::App& app) {
    struct Options {
      DataOptions data;
      std::string model, registry;
      bool record = false;
    };
    auto o = std::make_shared<Options>();
    o->data.add_to(app, "none");
    app.add_option("--model", o->model, "model file or registry://name[@version]")->required();
    add_registry_option(app, o->registry);
    app.add_flag("--record", o->record, "store the metrics in the registry (registry models only)");
    return CommandRegistry::Runner([o] {
      LoadedModel m = load_model(o->model, o->registry);
      json metrics = evaluate_model(m, o->data).to_json_with(o->data.test_set_id(m.feature_names));
      if (o->record) {
        if (!is_registry_reference(o->model)) fail(o->model, "--record needs a registry:// model");
        ModelRegistry r(need_registry(o->registry));
        r.set_metrics(m.name, std::stoll(m.version), metrics);
      }
      json out = describe(m);
      out["metrics"] = metrics;
      print(out);
      return exit_code::ok;
    });
  });

  registry.add("model compare", "Two models side by side on the same test set", [](CLI::App& app) {
    struct Options {
      DataOptions data;
      std::string a, b, registry;
    };
    auto o = std::make_shared<Options>();
    o->data.add_to(app, "none");
    app.add_option("--a", o->a, "first model (file or registry://name@version)")->required();
    app.add_option("--b", o->b, "second model")->required();
    add_registry_option(app, o->registry);
    return CommandRegistry::Runner([o] {
      LoadedModel a = load_model(o->a, o->registry), b = load_model(o->b, o->registry);
      std::string test_set = o->data.test_set_id(a.feature_names);
      if (a.feature_names != b.feature_names) fail(o->b, "the two models use different features");
      json ja = describe(a), jb = describe(b);
      ja["metrics"] = evaluate_model(a, o->data).to_json_with(test_set);
      jb["metrics"] = evaluate_model(b, o->data).to_json_with(test_set);
      json difference = json::object();
      for (const char* k : {"roc_auc", "precision", "recall"})
        if (ja["metrics"][k].is_number() && jb["metrics"][k].is_number())
          difference[k] = jb["metrics"][k].get<double>() - ja["metrics"][k].get<double>();
      json out{{"a", ja}, {"b", jb}, {"b_minus_a", difference}, {"test_set", test_set}};
      // Live agreement from shadow scoring, when one ran the other as its shadow.
      if (!o->registry.empty() && std::filesystem::exists(o->registry)) {
        ModelRegistry r(o->registry);
        for (const ShadowTally& t : r.shadow_tallies())
          if ((t.shadow_reference == b.reference && t.production_reference == a.reference) ||
              (t.shadow_reference == a.reference && t.production_reference == b.reference))
            out["live"].push_back(t.summary());
      }
      print(out);
      return exit_code::ok;
    });
  });

  registry.add("model promote", "Make a version production; refuses one worse than production", [](CLI::App& app) {
    struct Options {
      DataOptions data;
      std::string registry, name, metric = "roc_auc";
      int64_t version = 0;
      bool force = false;
    };
    auto o = std::make_shared<Options>();
    add_registry_option(app, o->registry);
    app.add_option("name", o->name, "model name")->required();
    app.add_option("--version", o->version, "version to promote")->required();
    app.add_option("--metric", o->metric, "metric that must not get worse: roc_auc, precision, recall")
        ->capture_default_str();
    // With --data, the candidate and production are first evaluated on it (and that is recorded).
    o->data.add_to(app, "none");
    app.add_flag("--force", o->force, "promote even if worse or not comparable (rollback)");
    return CommandRegistry::Runner([o] {
      std::string path = need_registry(o->registry);
      BinaryMetrics probe;
      metric_value(probe, o->metric);  // a Fault for an unknown metric name, before any change
      ModelRegistry r(path);
      if (o->data.given()) {
        std::string test_set = o->data.test_set_id(r.find(o->name, o->version) ? r.find(o->name, o->version)->feature_names
                                                                                : std::vector<std::string>{});
        std::vector<std::string> refs{"registry://" + o->name + "@" + std::to_string(o->version)};
        if (auto current = r.production(o->name)) refs.push_back(current->reference());
        for (const std::string& ref : refs) {
          LoadedModel m = load_model(ref, path);
          r.set_metrics(m.name, std::stoll(m.version), evaluate_model(m, o->data).to_json_with(test_set));
        }
      }
      std::optional<ModelEntry> previous = r.production(o->name);
      ModelEntry promoted = r.promote(o->name, o->version, o->metric, o->force);
      json out = to_json(promoted);
      out["previous_production"] = previous ? json(previous->reference()) : json(nullptr);
      print(out);
      return exit_code::ok;
    });
  });

  registry.add("model label", "Import object labels (object_id,label[,source] CSV) into an alert repository",
               [](CLI::App& app) {
    struct Options {
      std::string repository, file, source = "manual";
    };
    auto o = std::make_shared<Options>();
    app.add_option("repository", o->repository, "alert repository database")->required();
    app.add_option("--file", o->file, "CSV with a header: object_id,label[,source]")->required();
    app.add_option("--source", o->source, "source of rows without a source column (tns, vetting, ...)")
        ->capture_default_str();
    return CommandRegistry::Runner([o] {
      LabelImport r = import_labels(o->repository, o->file, o->source);
      print({{"repository", o->repository},
             {"rows", r.rows},
             {"added", r.added},
             {"changed", r.changed},
             {"unchanged", r.unchanged},
             {"unknown_objects", r.unknown_objects},
             {"label_watermark", r.watermark}});
      return exit_code::ok;
    });
  });

  registry.add("model export", "Write the labelled feature set of a repository's labelled objects as CSV",
               [](CLI::App& app) {
    struct Options {
      std::string repository, out;
      ExportOptions exported;
    };
    auto o = std::make_shared<Options>();
    app.add_option("repository", o->repository, "alert repository database")->required();
    app.add_option("-o,--out", o->out, "CSV to write (object_id, alert_id, mjd, label, features)")->required();
    app.add_option("--feature-set", o->exported.feature_set, "feature set")->capture_default_str();
    DataOptions::add_export_options(app, o->exported);
    return CommandRegistry::Runner([o] {
      ExportedSet set = export_labelled_features(o->repository, o->exported);
      std::ofstream out(o->out, std::ios::binary | std::ios::trunc);
      out << set.csv;
      out.flush();
      if (!out) fail(o->out, "cannot write");
      print({{"out", o->out},
             {"rows", set.rows},
             {"objects", set.objects},
             {"unscorable", set.unscorable},
             {"feature_set", o->exported.feature_set},
             {"label_watermark", set.label_watermark},
             {"content_hash", hex64(fnv1a64(set.csv))}});
      return exit_code::ok;
    });
  });

  registry.add("model retrain", "Apply a retraining policy: train, evaluate, promote only if better (docs/ml.md)",
               [](CLI::App& app) {
    struct Options {
      std::string policy;
      bool force = false, check = false;
    };
    auto o = std::make_shared<Options>();
    app.add_option("policy", o->policy, "retraining policy (YAML)")->required();
    app.add_flag("--force", o->force, "train now whatever the trigger says (promotion still needs the margin)");
    app.add_flag("--check", o->check, "only say whether the trigger fires");
    return CommandRegistry::Runner([o] {
      RetrainPolicy policy = read_retrain_policy(o->policy);
      if (o->check) {
        RetrainTrigger t = check_retrain_trigger(policy, o->force);
        print({{"model", policy.model},
               {"fire", t.fire},
               {"reason", t.reason},
               {"new_labels", t.new_labels},
               {"label_watermark", t.label_watermark}});
        return exit_code::ok;
      }
      print(run_retrain(policy, o->force));
      return exit_code::ok;
    });
  });

  registry.add("model shadow", "Live shadow-scoring results: agreement of shadow models with production",
               [](CLI::App& app) {
    struct Options {
      std::string registry, name;
    };
    auto o = std::make_shared<Options>();
    add_registry_option(app, o->registry);
    app.add_option("name", o->name, "shadow model name (default: all)");
    return CommandRegistry::Runner([o] {
      ModelRegistry r(need_registry(o->registry));
      for (const ShadowTally& t : r.shadow_tallies(o->name)) print(t.summary());
      return exit_code::ok;
    });
  });

  registry.add("model retrain-log", "Every retraining decision of a model, oldest first", [](CLI::App& app) {
    struct Options {
      std::string registry, name;
    };
    auto o = std::make_shared<Options>();
    add_registry_option(app, o->registry);
    app.add_option("name", o->name, "model name")->required();
    return CommandRegistry::Runner([o] {
      ModelRegistry r(need_registry(o->registry));
      for (const json& d : r.retrain_log(o->name)) print(d);
      return exit_code::ok;
    });
  });
}

}  // namespace ebs::ml
