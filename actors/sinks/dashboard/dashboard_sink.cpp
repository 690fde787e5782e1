#include "actors/sinks/dashboard/dashboard_sink.h"

#include "engine/runtime/actor_logic.h"

namespace ebs::dashboard {

namespace {

class DashboardSink final : public ActorLogic {
 public:
  explicit DashboardSink(DashboardFeed& feed) : feed_(feed) {}

  void open(const ActorContext& context) override {
    FeedLimits limits;
    limits.alerts = static_cast<size_t>(context.config.integer("keep_alerts"));
    limits.events = static_cast<size_t>(context.config.integer("keep_events"));
    limits.coincidences = static_cast<size_t>(context.config.integer("keep_coincidences"));
    feed_.widen(limits);
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    for (size_t i = 0; i < batch.size(); ++i) feed_.add(batch.record(i));
    out.delivered(batch.size());
  }

 private:
  DashboardFeed& feed_;
};

}  // namespace

ActorType dashboard_sink_type(DashboardFeed& feed) {
  ActorType t;
  t.name = "dashboard";
  t.description = "Shows the latest alerts (cutouts, light curves), sky events and coincidences on the "
                  "`ebs-flow run --http` page";
  t.version = "1.0";
  t.inputs = {{"in", PortType::any, "alerts, sky events and coincidences (other records are counted only)"}};
  t.config = {{"keep_alerts", ValueKind::integer, false, "50", "latest alerts kept for the page"},
              {"keep_events", ValueKind::integer, false, "20", "sky events kept: the newest by their time"},
              {"keep_coincidences", ValueKind::integer, false, "500", "latest coincidences kept"}};
  t.check = [](const ActorConfig& config, std::vector<Problem>& problems) {
    for (const char* key : {"keep_alerts", "keep_events", "keep_coincidences"})
      if (config.integer(key) < 1 || config.integer(key) > 100000)
        problems.push_back({config.place(key), std::string(key) + " must be between 1 and 100000"});
  };
  // The page shows the cutouts.
  t.uses_cutouts = [](const ActorConfig&, const std::vector<std::string>&) { return true; };
  t.create = [&feed](const ActorContext&) { return std::make_unique<DashboardSink>(feed); };
  return t;
}

}  // namespace ebs::dashboard

namespace ebs {

void register_dashboard_actors(ActorRegistry& registry, dashboard::DashboardFeed& feed) {
  registry.add(dashboard::dashboard_sink_type(feed));
}

}  // namespace ebs
