// An example ebs-flow plugin: `bright-tagger` appends a tag annotation to every alert brighter
// than a threshold and forwards all alerts; the verb `ebs-flow bright MAG` applies the same rule
// to one magnitude. Build it as a shared library against the engine's headers (see
// plugins/example/CMakeLists.txt) and load it with `plugins:` or `--plugin` (the actor type), or
// EBS_FLOW_PLUGINS (the verb too).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "engine/plugin/plugin_api.h"

namespace {

bool is_bright(double mag, double threshold) { return mag < threshold; }

class BrightTagger final : public ebs::ActorLogic {
 public:
  void open(const ebs::ActorContext& context) override {
    threshold_ = context.config.number("threshold");
    tag_.kind = ebs::Annotation::Kind::tag;
    tag_.name = context.config.string("tag");
    tag_.provenance = {context.actor_id, context.type_name, context.type_version, context.config.hash()};
  }

  void on_batch(size_t, const ebs::BatchView& batch, ebs::Emitter& out) override {
    std::vector<ebs::RecordPtr> records;
    records.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& alert = static_cast<const ebs::Alert&>(batch[i]);
      if (is_bright(alert.core().mag, threshold_))
        records.push_back(alert.annotated(tag_));  // append, never overwrite
      else
        records.push_back(batch.record(i));
    }
    out.forward(0, ebs::BatchView::make(ebs::PortType::alert, std::move(records), batch.acks()));
  }

 private:
  double threshold_ = 18;
  ebs::Annotation tag_;
};

void register_module(ebs::ActorRegistry& actors, ebs::CommandRegistry& commands) {
  ebs::ActorType t;
  t.name = "bright-tagger";
  t.description = "Example plugin: tags alerts brighter than a threshold";
  t.version = "1.0";
  t.inputs = {{"in", ebs::PortType::alert, "alerts"}};
  t.outputs = {{"out", ebs::PortType::alert, "the same alerts, bright ones tagged"}};
  t.config = {{"threshold", ebs::ValueKind::number, false, "18", "magnitude below which an alert is bright"},
              {"tag", ebs::ValueKind::string, false, "bright", "the tag's name"}};
  t.check = [](const ebs::ActorConfig& c, std::vector<ebs::Problem>& problems) {
    if (c.number("threshold") < -30 || c.number("threshold") > 40)
      problems.push_back({c.place("threshold"), "threshold must be a magnitude between -30 and 40"});
  };
  // It reads magnitudes only: a source may leave the cutouts unread (docs/plugins.md "Cutouts").
  t.uses_cutouts = ebs::uses_no_cutouts;
  t.create = [](const ebs::ActorContext&) { return std::make_unique<BrightTagger>(); };
  actors.add(std::move(t));

  commands.add("bright", "Example plugin: is a magnitude brighter than the tagger's threshold? (JSON)",
               [](CLI::App& app) {
                 auto mag = std::make_shared<double>(0);
                 auto threshold = std::make_shared<double>(18);
                 app.add_option("mag", *mag, "a magnitude")->required();
                 app.add_option("--threshold", *threshold, "magnitude below which an alert is bright (default 18)");
                 return ebs::CommandRegistry::Runner([mag, threshold] {
                   std::cout << "{\"mag\":" << *mag << ",\"threshold\":" << *threshold
                             << ",\"bright\":" << (is_bright(*mag, *threshold) ? "true" : "false") << "}\n";
                   return ebs::exit_code::ok;
                 });
               });
}

}  // namespace

EBS_FLOW_PLUGIN("example", register_module)
