#include "actors/transforms/filter.h"

#include <spdlog/spdlog.h>

#include <map>

#include "engine/expr/alert_field.h"
#include "engine/expr/program.h"
#include "engine/runtime/actor_logic.h"

namespace ebs {

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
      if (is_raw_alert_field(f)) raw_fields_.push_back({f, raw_alert_path(f), false});
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
    if (auto* errors = std::get_if<std::vector<expr::CompileError>>(&compiled))
      for (const expr::CompileError& e : *errors)  // at the offending column inside the expression
        problems.push_back({c.place_in("where", static_cast<size_t>(e.column - 1)), "in expression: " + e.message});
  };
  t.adds_fields = [](const ActorConfig&) { return std::vector<std::string>{}; };
  t.create = [](const ActorContext&) { return std::make_unique<Filter>(); };
  t.uses_cutouts = uses_no_cutouts;
  registry.add(std::move(t));
}

}  // namespace ebs
