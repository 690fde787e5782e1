#include "actors/transforms/passthrough.h"

#include "engine/runtime/actor_logic.h"

namespace ebs {

namespace {
class Passthrough final : public ActorLogic {
 public:
  void on_batch(size_t, const BatchView& batch, Emitter& out) override { out.forward(0, batch); }
};
}  // namespace

void register_passthrough(ActorRegistry& registry) {
  ActorType t;
  t.name = "passthrough";
  t.description = "Forwards every batch unchanged";
  t.version = "1.0";
  t.inputs = {{"in", PortType::any, "records"}};
  t.outputs = {{"out", PortType::any, "the same records"}};
  t.adds_fields = [](const ActorConfig&) { return std::vector<std::string>{}; };
  t.create = [](const ActorContext&) { return std::make_unique<Passthrough>(); };
  t.uses_cutouts = uses_no_cutouts;
  registry.add(std::move(t));
}

}  // namespace ebs
