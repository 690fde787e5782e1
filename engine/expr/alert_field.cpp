#include "engine/expr/alert_field.h"

#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <optional>

namespace ebs {

namespace {

expr::Value number_or_null(double v) { return std::isnan(v) ? expr::Value() : expr::Value(v); }

expr::Value raw_value(const RawView& v) {
  if (!v.valid()) return {};
  const RawNode& n = v.node();
  switch (n.kind) {
    case RawNode::Kind::Null: return {};
    case RawNode::Kind::Bool: return n.boolean;
    case RawNode::Kind::Int: return static_cast<double>(n.integer);
    case RawNode::Kind::Double: return number_or_null(n.number);
    case RawNode::Kind::String:
    case RawNode::Kind::Bytes: return n.text;
    case RawNode::Kind::List: return static_cast<double>(n.child_count);  // a list reads as its length
    case RawNode::Kind::Record: return true;                              // present
  }
  return {};
}

// The latest annotation of `kind` (and `name`, when given): annotations append, the newest wins.
const Annotation* latest(const Alert& a, Annotation::Kind kind, std::string_view name) {
  auto list = a.annotations().list();
  for (auto it = list.rbegin(); it != list.rend(); ++it)
    if ((*it)->kind == kind && (name.empty() || (*it)->name == name)) return *it;
  return nullptr;
}

const std::map<std::string, AlertField>& core_fields() {
  static const std::map<std::string, AlertField> fields{
      {"alert_id", [](const Alert& a) { return expr::Value(static_cast<double>(a.core().alert_id)); }},
      {"object_id", [](const Alert& a) { return expr::Value(std::string_view(a.core().object_id)); }},
      {"survey", [](const Alert& a) { return expr::Value(std::string_view(a.core().survey)); }},
      {"schema_version", [](const Alert& a) { return expr::Value(std::string_view(a.core().schema_version)); }},
      {"ra", [](const Alert& a) { return number_or_null(a.core().ra); }},
      {"dec", [](const Alert& a) { return number_or_null(a.core().dec); }},
      {"mjd", [](const Alert& a) { return number_or_null(a.core().mjd_tai); }},
      {"mjd_tai", [](const Alert& a) { return number_or_null(a.core().mjd_tai); }},
      {"band", [](const Alert& a) { return expr::Value(std::string_view(a.core().band)); }},
      {"mag", [](const Alert& a) { return number_or_null(a.core().mag); }},
      {"mag_err", [](const Alert& a) { return number_or_null(a.core().mag_err); }},
      {"flux", [](const Alert& a) { return number_or_null(a.core().flux); }},
      {"flux_err", [](const Alert& a) { return number_or_null(a.core().flux_err); }},
      {"is_diff_pos", [](const Alert& a) { return expr::Value(a.core().is_diff_pos); }},
      {"real_bogus", [](const Alert& a) { return number_or_null(a.core().real_bogus); }},
      {"n_history", [](const Alert& a) { return expr::Value(static_cast<double>(a.core().history.size())); }},
      {"n_detections",
       [](const Alert& a) {
         size_t n = 1;
         for (const Photometry& p : a.core().history) n += p.kind == Photometry::Kind::detection;
         return expr::Value(static_cast<double>(n));
       }},
      {"n_annotations", [](const Alert& a) { return expr::Value(static_cast<double>(a.annotations().size())); }},
      {"class",
       [](const Alert& a) {
         const Annotation* x = latest(a, Annotation::Kind::classification, "");
         return x ? expr::Value(std::string_view(x->name)) : expr::Value();
       }},
  };
  return fields;
}

// A raw path read step by step, each step remembering where its field sat in the last record it
// read: alerts of one schema share their shapes, so the name look-up (a hash in a 100-field ZTF
// candidate) happens once per schema, not once per alert. The remembered position is only a
// hint, checked against the field's name before use: readers on several threads, or a shape
// freed and another allocated at its address, can never make it read the wrong field. Paths
// through lists (a numeric step) take RawView::path.
class CachedRawPath {
 public:
  explicit CachedRawPath(const std::string& path) : path_(path) {
    std::vector<std::string> names;
    for (size_t start = 0; start <= path.size();) {
      size_t dot = path.find('.', start);
      std::string step = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      through_list_ = through_list_ || (!step.empty() && step.find_first_not_of("0123456789") == std::string::npos);
      names.push_back(std::move(step));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    steps_ = std::make_unique<Step[]>(names.size());
    step_count_ = names.size();
    for (size_t i = 0; i < names.size(); ++i) steps_[i].name = std::move(names[i]);
  }

  RawView read(const RawRecord& raw) const {
    if (through_list_) return raw.path(path_);
    RawView at = raw.root();
    for (size_t i = 0; i < step_count_; ++i) {
      Step& step = steps_[i];
      if (!at.valid()) return {};
      const RawNode& node = at.node();
      if (node.kind != RawNode::Kind::Record || node.shape == nullptr) return {};
      const std::vector<std::string>& fields = node.shape->fields;
      uint32_t position = step.position.load(std::memory_order_relaxed);
      if (position >= fields.size() || fields[position] != step.name) {
        std::optional<uint32_t> found = node.shape->find(step.name);
        if (!found) return {};
        position = *found;
        step.position.store(position, std::memory_order_relaxed);
      }
      at = at.child(position);
    }
    return at;
  }

 private:
  struct Step {
    std::string name;
    std::atomic<uint32_t> position{UINT32_MAX};
  };
  std::string path_;
  std::unique_ptr<Step[]> steps_;
  size_t step_count_ = 0;
  bool through_list_ = false;
};

}  // namespace

AlertField compile_alert_field(const std::string& path) {
  if (auto it = core_fields().find(path); it != core_fields().end()) return it->second;
  if (path.starts_with("score.")) {
    std::string name = path.substr(6);
    return [name](const Alert& a) {
      const Annotation* x = latest(a, Annotation::Kind::score, name);
      return x ? number_or_null(x->value) : expr::Value();
    };
  }
  auto cached = std::make_shared<CachedRawPath>(raw_alert_path(path));
  return [cached](const Alert& a) { return raw_value(cached->read(a.core().raw)); };
}

std::vector<std::string> core_alert_field_names() {
  std::vector<std::string> names;
  for (const auto& [name, field] : core_fields()) names.push_back(name);
  return names;
}

bool is_core_alert_field(const std::string& path) { return core_fields().count(path) > 0; }

bool is_raw_alert_field(const std::string& path) {
  return !is_core_alert_field(path) && !path.starts_with("score.");
}

std::string raw_alert_path(const std::string& path) { return path.starts_with("raw.") ? path.substr(4) : path; }

}  // namespace ebs
