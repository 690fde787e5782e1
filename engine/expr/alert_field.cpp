#include "engine/expr/alert_field.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <optional>

namespace ebs {

namespace {

expr::Value number_or_null(double v) { return std::isnan(v) ? expr::Value() : expr::Value(v); }

expr::Value raw_node_value(const RawNode& n) {
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

// raw_node_value written in place: a Value is returned through memory, and a column of them
// filled by copies reloads every one just after the callee stored it in pieces (a stalled
// store-to-load forward per value: a third of a thousand filters' field reads).
void put_raw_node_value(const RawNode& n, expr::Value& out) {
  switch (n.kind) {
    case RawNode::Kind::Null: out.v.emplace<std::monostate>(); return;
    case RawNode::Kind::Bool: out.v.emplace<bool>(n.boolean); return;
    case RawNode::Kind::Int: out.v.emplace<double>(static_cast<double>(n.integer)); return;
    case RawNode::Kind::Double:
      if (std::isnan(n.number))
        out.v.emplace<std::monostate>();
      else
        out.v.emplace<double>(n.number);
      return;
    case RawNode::Kind::String:
    case RawNode::Kind::Bytes: out.v.emplace<std::string_view>(n.text); return;
    case RawNode::Kind::List: out.v.emplace<double>(static_cast<double>(n.child_count)); return;
    case RawNode::Kind::Record: out.v.emplace<bool>(true); return;
  }
  out.v.emplace<std::monostate>();
}

// The core numbers AlertColumns writes in place (the other core fields go through their
// AlertField): a double member, or a count over the history.
struct CoreNumber {
  enum class Kind : uint8_t { member, n_detections, n_history };
  Kind kind = Kind::member;
  double AlertCore::*member = nullptr;
};

std::optional<CoreNumber> core_number(const std::string& name) {
  static const std::map<std::string, double AlertCore::*> members{
      {"ra", &AlertCore::ra},       {"dec", &AlertCore::dec},         {"mjd", &AlertCore::mjd_tai},
      {"mjd_tai", &AlertCore::mjd_tai}, {"mag", &AlertCore::mag},     {"mag_err", &AlertCore::mag_err},
      {"flux", &AlertCore::flux},   {"flux_err", &AlertCore::flux_err}, {"real_bogus", &AlertCore::real_bogus},
  };
  if (auto it = members.find(name); it != members.end()) return CoreNumber{CoreNumber::Kind::member, it->second};
  if (name == "n_detections") return CoreNumber{CoreNumber::Kind::n_detections, nullptr};
  if (name == "n_history") return CoreNumber{CoreNumber::Kind::n_history, nullptr};
  return std::nullopt;
}

// The `n_detections` field: the alert itself and its history's detections (counted when the
// history was made: engine/model/record.h).
size_t detections(const AlertCore& core) { return size_t{1} + core.history_detections; }

void put_core_number(const CoreNumber& field, const AlertCore& core, expr::Value& out) {
  switch (field.kind) {
    case CoreNumber::Kind::member: {
      const double v = core.*field.member;
      if (std::isnan(v))
        out.v.emplace<std::monostate>();
      else
        out.v.emplace<double>(v);
      return;
    }
    case CoreNumber::Kind::n_detections: out.v.emplace<double>(static_cast<double>(detections(core))); return;
    case CoreNumber::Kind::n_history: out.v.emplace<double>(static_cast<double>(core.history.size())); return;
  }
}

expr::Value raw_value(const RawView& v) { return v.valid() ? raw_node_value(v.node()) : expr::Value(); }

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
      {"n_detections", [](const Alert& a) { return expr::Value(static_cast<double>(detections(a.core()))); }},
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

// The raw paths of an AlertColumns as a tree of steps (parents before children), each step with
// the positions it found in the record shapes of the current call. Every alert of a call lives
// through it, and so does every shape its raw record holds: within a call a shape's address names
// one shape, so a remembered position is used on an address match alone. Positions are forgotten
// between calls (a shape freed since may have left its address to another).
struct AlertColumns::Plan {
  struct Step {
    std::string name;
    int parent = -1;   // -1: the raw record's root
    int column = -1;   // the column it fills, when a path ends here
    // Up to four shapes of this call (alerts of a batch come in a few schema versions).
    const RecordShape* shapes[4] = {nullptr, nullptr, nullptr, nullptr};
    uint32_t positions[4] = {0, 0, 0, 0};
    unsigned next = 0;
  };
  std::vector<Step> steps;
  std::vector<std::pair<size_t, CoreNumber>> core_numbers;  // (column, field)
  std::vector<std::pair<size_t, AlertField>> others;  // (column, reader): other core fields, scores, paths through lists
  // The raw steps are taken for kGroup alerts at a time, step by step: each alert's nodes are
  // apart from the others' (a thousand alerts' nodes are megabytes, read from the last-level
  // cache or memory), and a step's kGroup reads do not depend on each other, so the CPU has them
  // in flight together; taken alert by alert, each alert's chain of reads (root, `candidate`, its
  // fields) waited read after read (perf: most of the field reads' time on those loads).
  static constexpr size_t kGroup = 16;
  std::vector<uint32_t> at;  // at[step * kGroup + k]: the node of the group's alert k (UINT32_MAX: absent)
  std::span<const RawNode> nodes[kGroup];  // the group's alerts' nodes
  size_t columns = 0;

  // The position of `name` in `shape`, or UINT32_MAX.
  static uint32_t position_in(Step& step, const RecordShape* shape) {
    for (unsigned k = 0; k < 4; ++k)
      if (step.shapes[k] == shape) return step.positions[k];
    std::optional<uint32_t> found = shape->find(step.name);
    unsigned k = step.next++ % 4;
    step.shapes[k] = shape;
    step.positions[k] = found.value_or(UINT32_MAX);
    return step.positions[k];
  }
};

AlertColumns::AlertColumns(const std::vector<std::string>& paths) : plan_(std::make_unique<Plan>()) {
  plan_->columns = paths.size();
  for (size_t c = 0; c < paths.size(); ++c) {
    const std::string& path = paths[c];
    std::string raw = raw_alert_path(path);
    bool through_list = false;
    std::vector<std::string> names;
    for (size_t start = 0; start <= raw.size();) {
      size_t dot = raw.find('.', start);
      names.push_back(raw.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      through_list = through_list || (!names.back().empty() && names.back().find_first_not_of("0123456789") == std::string::npos);
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (auto number = core_number(path)) {
      plan_->core_numbers.emplace_back(c, *number);
      continue;
    }
    if (!is_raw_alert_field(path) || through_list) {
      plan_->others.emplace_back(c, compile_alert_field(path));
      continue;
    }
    int parent = -1;
    for (const std::string& name : names) {
      int found = -1;
      for (size_t s = 0; s < plan_->steps.size(); ++s)
        if (plan_->steps[s].parent == parent && plan_->steps[s].name == name) found = static_cast<int>(s);
      if (found < 0) {
        plan_->steps.push_back({});
        plan_->steps.back().name = name;
        plan_->steps.back().parent = parent;
        found = static_cast<int>(plan_->steps.size() - 1);
      }
      parent = found;
    }
    // Two paths naming one field ("candidate.drb", "raw.candidate.drb") each have a column.
    if (plan_->steps[static_cast<size_t>(parent)].column >= 0)
      plan_->others.emplace_back(c, compile_alert_field(path));
    else
      plan_->steps[static_cast<size_t>(parent)].column = static_cast<int>(c);
  }
  plan_->at.resize(plan_->steps.size() * Plan::kGroup);
}

AlertColumns::~AlertColumns() = default;
AlertColumns::AlertColumns(AlertColumns&&) noexcept = default;
AlertColumns& AlertColumns::operator=(AlertColumns&&) noexcept = default;

void AlertColumns::read(std::span<const Alert* const> alerts, std::vector<std::vector<expr::Value>>& columns) {
  Plan& plan = *plan_;
  columns.resize(plan.columns);
  for (auto& column : columns) column.resize(alerts.size());
  for (auto& [column, reader] : plan.others)
    for (size_t i = 0; i < alerts.size(); ++i) columns[column][i] = reader(*alerts[i]);
  if (!plan.core_numbers.empty())
    for (size_t i = 0; i < alerts.size(); ++i) {
      const AlertCore& core = alerts[i]->core();
      for (const auto& [column, field] : plan.core_numbers) put_core_number(field, core, columns[column][i]);
    }
  if (plan.steps.empty()) return;
  for (Plan::Step& step : plan.steps) {
    std::fill(std::begin(step.shapes), std::end(step.shapes), nullptr);
    step.next = 0;
  }
  constexpr uint32_t absent = UINT32_MAX;
  constexpr size_t kGroup = Plan::kGroup;
  for (size_t first = 0; first < alerts.size(); first += kGroup) {
    const size_t group = std::min(kGroup, alerts.size() - first);
    for (size_t k = 0; k < group; ++k) plan.nodes[k] = alerts[first + k]->core().raw.nodes();
    for (size_t s = 0; s < plan.steps.size(); ++s) {
      Plan::Step& step = plan.steps[s];
      const uint32_t* parents = step.parent < 0 ? nullptr : plan.at.data() + static_cast<size_t>(step.parent) * kGroup;
      uint32_t* found_at = plan.at.data() + s * kGroup;
      expr::Value* column = step.column >= 0 ? columns[static_cast<size_t>(step.column)].data() + first : nullptr;
      for (size_t k = 0; k < group; ++k) {
        std::span<const RawNode> nodes = plan.nodes[k];
        uint32_t parent = parents ? parents[k] : (nodes.empty() ? absent : 0);
        uint32_t found = absent;
        if (parent != absent) {
          const RawNode& node = nodes[parent];
          if (node.kind == RawNode::Kind::Record && node.shape != nullptr) {
            uint32_t position = Plan::position_in(step, node.shape);
            if (position < node.child_count) found = node.first_child + position;
          }
        }
        found_at[k] = found;
        if (column) {
          if (found == absent)
            column[k].v.emplace<std::monostate>();
          else
            put_raw_node_value(nodes[found], column[k]);
        }
      }
    }
  }
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
