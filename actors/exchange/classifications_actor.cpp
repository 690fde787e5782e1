// `classifications`: our classifiers' outputs as ELAsTiCC brokerClassification records.
#include <chrono>
#include <cmath>

#include "actors/exchange/class_map.h"
#include "actors/exchange/exchange_actors.h"
#include "engine/runtime/actor_logic.h"
#include "engine/time/time_scale.h"

namespace ebs::exchange {

namespace {

constexpr double kUnixEpochMjd = 40587.0;

// ms since 1970 UTC of an MJD TAI (NaN: 0, which no alert has).
int64_t unix_ms_of(double mjd_tai) {
  if (!std::isfinite(mjd_tai)) return 0;
  return static_cast<int64_t>(std::llround((time::mjd_tai_to_utc(mjd_tai) - kUnixEpochMjd) * 86400000.0));
}

// The diaSourceId: an LSST-shaped alert's own (raw diaSource.diaSourceId), else the alert id —
// for ZTF the candid, which is both the alert's and its detection's id.
int64_t dia_source_id_of(const AlertCore& core) {
  if (auto id = core.raw.path("diaSource.diaSourceId").as_int()) return *id;
  return core.alert_id;
}

// The originating alert's timestamp: an ELAsTiCC alert's own, else its detection time (UTC).
int64_t alert_timestamp_of(const AlertCore& core) {
  if (auto ms = core.raw.path("elasticcPublishTimestamp").as_int()) return *ms;
  return unix_ms_of(core.mjd_tai);
}

class ClassificationsLogic final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    map_ = class_map_from(context.config);
    if (context.config.has("from")) from_ = context.config.strings("from");
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    std::vector<RecordPtr> made;
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& alert = static_cast<const Alert&>(batch[i]);
      const AlertCore& core = alert.core();
      for (ClassifierOutput& o : distributions(alert, map_, from_)) {
        if (o.broker != map_.broker_name) continue;  // another broker's, joined: not ours to publish
        auto c = std::make_shared<Classification>();
        c->alert_id = core.alert_id;
        c->alert_key = core.alert_key.empty() ? std::to_string(core.alert_id) : core.alert_key;
        c->dia_source_id = dia_source_id_of(core);
        c->object_id = core.object_id;
        c->survey = core.survey;
        c->alert_timestamp_ms = alert_timestamp_of(core);
        c->ingest_timestamp_ms = now_ms;
        c->broker_name = std::move(o.broker);
        c->broker_version = std::move(o.broker_version);
        c->classifier_name = std::move(o.classifier);
        c->classifier_params = std::move(o.params);
        c->classes = std::move(o.classes);
        made.push_back(std::move(c));
      }
    }
    // The classifications hold the alerts' acknowledgements: the source commits once the
    // classifications sink has delivered them.
    if (!made.empty()) out.emit(0, BatchView::make(PortType::classification, std::move(made), batch.acks()));
    out.forward(1, batch);
  }

 private:
  ClassMap map_;
  std::vector<std::string> from_;
};

}  // namespace

void register_classifications(ActorRegistry& registry) {
  ActorType t;
  t.name = "classifications";
  t.description = "Our scorers' and classify's outputs as ELAsTiCC brokerClassification records (class ids mapped by a documented table)";
  t.version = "1.0";
  t.inputs = {{"in", PortType::alert, "alerts with xgboost-score, classify or consensus annotations"}};
  t.outputs = {{"classifications", PortType::classification, "one per classifier per alert (for ZTF alertId = diaSourceId = candid)"},
               {"alerts", PortType::alert, "the same alerts, unchanged"}};
  t.config = class_map_config_keys();
  t.config.push_back({"from", ValueKind::list, false, "", "actor ids whose annotations are published (default: every xgboost-score, classify and consensus actor)"});
  t.check = check_class_map;
  t.create = [](const ActorContext&) { return std::make_unique<ClassificationsLogic>(); };
  t.uses_cutouts = uses_no_cutouts;
  registry.add(std::move(t));
}

}  // namespace ebs::exchange
