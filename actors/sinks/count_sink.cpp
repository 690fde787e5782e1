#include "actors/sinks/count_sink.h"

#include <spdlog/spdlog.h>

#include "engine/runtime/actor_logic.h"

namespace ebs {

namespace {

class CountSink final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    id_ = context.actor_id;
    expect_ = context.config.integer("expect");
    place_ = context.config.place("expect");
  }
  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    count_ += batch.size();
    out.delivered(batch.size());
  }
  void on_end_of_stream(Emitter&) override {
    if (expect_ >= 0 && static_cast<int64_t>(count_) != expect_)
      spdlog::error("{}: {} counted {} records, expected {}", place_, id_, count_, expect_);
    else
      spdlog::info("{}: {} records", id_, count_);
  }

 private:
  std::string id_;
  std::string place_;
  int64_t expect_ = -1;
  uint64_t count_ = 0;
};

}  // namespace

void register_count_sink(ActorRegistry& registry) {
  ActorType t;
  t.name = "count";
  t.description = "Counts records; logs the total (and a mismatch with `expect`)";
  t.version = "1.0";
  t.inputs = {{"in", PortType::any, "records of any type"}};
  t.config = {{"expect", ValueKind::integer, false, "-1", "expected total; -1 = no expectation"}};
  t.create = [](const ActorContext&) { return std::make_unique<CountSink>(); };
  t.uses_cutouts = uses_no_cutouts;
  registry.add(std::move(t));
}

}  // namespace ebs
