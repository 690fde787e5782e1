#include "actors/transforms/filter.h"

#include <spdlog/spdlog.h>

#include <map>

#include "engine/runtime/actor_logic.h"

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
  std::string raw = path.starts_with("raw.") ? path.substr(4) : path;
  return [raw](const Alert& a) { return raw_value(a.core().raw.path(raw)); };
}

namespace {

expr::Program compile_or_fail(const ActorConfig& config) {
  auto compiled = expr::Program::compile(config.string("where"));
  if (auto* program = std::get_if<expr::Program>(&compiled)) return *program;
  const auto& errors = std::get<std::vector<expr::CompileError>>(compiled);
  fail(config.place("where"), "in expression:\n" + expr::describe(config.string("where"), errors));
}

class Filter final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    program_ = compile_or_fail(context.config);
    actor_id_ = context.actor_id;
    for (const std::string& f : program_->fields()) {
      fields_.push_back(compile_alert_field(f));
      // Raw paths can be missing from a record (a typo, another survey's schema); core fields
      // and scores are always there or null by design.
      if (!core_fields().count(f) && !f.starts_with("score.")) raw_fields_.push_back({f, f.starts_with("raw.") ? f.substr(4) : f, false});
    }
    values_.resize(fields_.size());
  }

  std::vector<std::string> closing_warnings() const override {
    std::vector<std::string> out;
    for (const RawField& f : raw_fields_)
      if (f.warned) out.push_back("field '" + f.path + "' was absent from every record of a batch (a typo, or another survey's schema?)");
    return out;
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    for (RawField& f : raw_fields_) {
      if (f.warned || batch.empty()) continue;
      bool present = false;
      for (size_t i = 0; i < batch.size() && !present; ++i)
        present = static_cast<const Alert&>(batch[i]).core().raw.path(f.raw).valid();
      if (!present) {
        f.warned = true;
        spdlog::warn("{}: the field '{}' is absent from all {} records of a batch: the condition reads it as null "
                     "(said once)", actor_id_, f.path, batch.size());
      }
    }
    std::vector<uint32_t> keep;
    keep.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& alert = static_cast<const Alert&>(batch[i]);
      for (size_t f = 0; f < fields_.size(); ++f) values_[f] = fields_[f](alert);
      if (program_->test(values_)) keep.push_back(static_cast<uint32_t>(i));
    }
    out.filtered(batch.size() - keep.size());
    if (!keep.empty()) out.forward(0, batch.select(keep));
  }

 private:
  struct RawField {
    std::string path, raw;
    bool warned = false;
  };
  std::string actor_id_;
  std::vector<RawField> raw_fields_;
  std::optional<expr::Program> program_;
  std::vector<AlertField> fields_;
  std::vector<expr::Value> values_;
};

}  // namespace

void register_filter(ActorRegistry& registry) {
  ActorType t;
  t.name = "filter";
  t.description = "Keeps the alerts for which an expression is true (null counts as false)";
  t.version = "1.0";
  t.inputs = {{"in", PortType::alert, "alerts"}};
  t.outputs = {{"out", PortType::alert, "alerts that pass"}};
  t.config = {{"where", ValueKind::expression, true, "",
               "the condition, e.g. \"candidate.drb > 0.8 and mag < 19.5\" (docs/expressions.md)"}};
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    if (!c.node("where").IsScalar()) return;  // the type check already reported it
    auto compiled = expr::Program::compile(c.string("where"));
    if (auto* errors = std::get_if<std::vector<expr::CompileError>>(&compiled)) {
      // Point at the offending column inside the expression when it sits on one line.
      YAML::Node where = c.node("where");
      YAML::Mark mark = where.Mark();
      bool quoted = where.Tag() == "!";
      for (const expr::CompileError& e : *errors) {
        std::string place = c.place("where");
        if (!mark.is_null()) {
          place = c.file() + ":" + std::to_string(mark.line + 1) + ":" +
                  std::to_string(mark.column + 1 + (quoted ? 1 : 0) + e.column - 1);
        }
        problems.push_back({place, "in expression: " + e.message});
      }
    }
  };
  t.adds_fields = [](const ActorConfig&) { return std::vector<std::string>{}; };
  t.reads_fields = [](const ActorConfig& c) {
    std::vector<FieldRead> reads;
    std::vector<std::string> core;
    for (const auto& [name, field] : core_fields()) core.push_back(name);
    auto compiled = expr::Program::compile(c.string("where"));
    if (auto* program = std::get_if<expr::Program>(&compiled))
      for (const std::string& f : program->fields())
        if (!core_fields().count(f)) reads.push_back({f, c.place("where"), c.string("where"), core});
    return reads;
  };
  t.create = [](const ActorContext&) { return std::make_unique<Filter>(); };
  registry.add(std::move(t));
}

}  // namespace ebs
