#include "actors/transforms/alert_check.h"

#include <cmath>

#include "engine/runtime/actor_logic.h"

namespace ebs {

std::optional<std::string> alert_problem(const AlertCore& a) {
  if (a.object_id.empty()) return "no object id";
  if (auto problem = coordinate_problem(a)) return problem;
  if (!std::isfinite(a.mjd_tai)) return "no finite detection time";
  if (std::isnan(a.mag) && std::isnan(a.flux)) return "neither magnitude nor flux";
  return std::nullopt;
}

namespace {

class AlertCheck final : public ActorLogic {
 public:
  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    std::vector<uint32_t> keep;
    keep.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& alert = static_cast<const Alert&>(batch[i]);
      if (auto problem = alert_problem(alert.core())) {
        out.failed(batch.record(i), Fault(FaultKind::failed, alert_place(alert.core()), *problem), batch.acks());
      } else {
        keep.push_back(static_cast<uint32_t>(i));
      }
    }
    if (!keep.empty()) out.forward(0, batch.select(keep));
  }
};

}  // namespace

void register_alert_check(ActorRegistry& registry) {
  ActorType t;
  t.name = "alert-check";
  t.description = "Dead-letters alerts with impossible values (coordinates, time, ids)";
  t.version = "1.0";
  t.inputs = {{"in", PortType::alert, "alerts"}};
  t.outputs = {{"out", PortType::alert, "alerts that pass the checks"}};
  t.adds_fields = [](const ActorConfig&) { return std::vector<std::string>{}; };
  t.create = [](const ActorContext&) { return std::make_unique<AlertCheck>(); };
  t.uses_cutouts = uses_no_cutouts;
  registry.add(std::move(t));
}

}  // namespace ebs
