#include "actors/sources/dead_letter_replay.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "engine/model/record_json.h"
#include "engine/runtime/actor_logic.h"

namespace ebs {

namespace {

class DeadLetterReplay final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    path_ = context.config.input_path("path");
    only_actor_ = context.config.has("actor") ? context.config.string("actor") : "";
    in_.open(path_);
    if (!in_) fail(context.config.place("path"), path_ + ": cannot open: " + std::strerror(errno));
    acks_ = std::make_shared<AckTracker>(AckTracker::Listener{}, context.acks);
  }

  ProduceResult produce(size_t max_records, Emitter& out) override {
    std::vector<RecordPtr> alerts;
    auto token = std::make_shared<const AckToken>(acks_, 0);
    std::string line;
    while (alerts.size() < max_records && std::getline(in_, line)) {
      ++line_number_;
      if (line.empty()) continue;
      std::string place = path_ + ":" + std::to_string(line_number_);
      auto letter = nlohmann::json::parse(line, nullptr, false);
      if (letter.is_discarded() || !letter.is_object() || letter.value("type", "") != "DeadLetter") {
        out.read(1);
        out.failed_raw(line, "text", Fault(FaultKind::failed, place, "not a dead letter (JSON line)"), {token});
        continue;
      }
      if (!only_actor_.empty() && letter.value("actor", "") != only_actor_) {
        out.read(1);
        out.filtered(1);
        continue;
      }
      out.read(1);
      std::string format = letter.value("original_format", "");
      if (format != "json") {
        // Why it cannot come back this way, and which way it can (docs/reliability.md).
        std::string why =
            letter.value("kind", "") == "undelivered"
                ? "a filter output's undelivered message (" + format +
                      "), not an alert: send it to its output again (a Kafka topic's with ebs-flow replay "
                      "--kind undelivered, a webhook's with ebs-flow filters replay --to-webhook; docs/filters.md)"
            : format == "avro-datum"
                ? std::string("its original is a bare Avro datum, not an alert's JSON: frame it with its "
                              "topic's schema id to send it again (ebs-flow replay skips it)")
                : "its original is " + (format.empty() ? std::string("of an unknown format") : "`" + format + "`") +
                      ", not an alert's JSON: send it back through its source (ebs-flow replay)";
        out.failed_raw(line, "text", Fault(FaultKind::failed, place, why), {token});
        continue;
      }
      try {
        alerts.push_back(alert_from_json(letter.at("original"), place));
      } catch (const std::exception& e) {
        out.failed_raw(line, "text", Fault(FaultKind::failed, place, e.what()), {token});
      }
    }
    if (!alerts.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(alerts), {token}));
    return in_ ? ProduceResult::more() : ProduceResult::done();
  }

 private:
  std::string path_;
  std::string only_actor_;
  std::ifstream in_;
  size_t line_number_ = 0;
  std::shared_ptr<AckTracker> acks_;
};

}  // namespace

void register_dead_letter_replay(ActorRegistry& registry) {
  ActorType t;
  t.name = "dead-letters";
  t.description = "Replays the alerts of a dead-letter file (once the cause is fixed)";
  t.version = "1.0";
  t.outputs = {{"alerts", PortType::alert, "the alerts that had failed"}};
  t.input_time_scale = "tai";  // dead letters hold records already on the engine's scale
  t.blocking = true;
  t.config = {{"path", ValueKind::string, true, "", "the dead-letter file (JSON lines); relative to the workflow file"},
              {"actor", ValueKind::string, false, "", "replay only the letters of this actor"}};
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) { check_input_exists(c, "path", problems); };
  t.create = [](const ActorContext&) { return std::make_unique<DeadLetterReplay>(); };
  registry.add(std::move(t));
}

}  // namespace ebs
