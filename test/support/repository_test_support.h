// Shared by the repository tests and the benchmark: temporary folders, hand-made alerts and
// alerts from the real simulator actor.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "actors/sources/simulator.h"
#include "engine/graph/actor_registry.h"
#include "engine/runtime/ack.h"
#include "engine/runtime/actor_logic.h"
#include "engine/runtime/batch.h"
#include "test/support/collecting_emitter.h"
#include "test/support/temp_dir.h"

namespace ebs::repository::testing {

using ebs::test_support::TempDir;

inline std::shared_ptr<AlertCore> make_core(int64_t alert_id, const std::string& object_id, double ra, double dec,
                                            double mjd, std::vector<Photometry> history = {}) {
  auto core = std::make_shared<AlertCore>();
  core->alert_id = alert_id;
  core->object_id = object_id;
  core->survey = "test";
  core->ra = ra;
  core->dec = dec;
  core->mjd_tai = mjd;
  core->band = "r";
  core->mag = 18.5;
  core->mag_err = 0.05;
  core->history = std::move(history);
  count_history_detections(*core);
  return core;
}

inline std::shared_ptr<const Alert> make_alert(int64_t alert_id, const std::string& object_id, double ra,
                                               double dec, double mjd, std::vector<Photometry> history = {}) {
  return std::make_shared<const Alert>(make_core(alert_id, object_id, ra, dec, mjd, std::move(history)));
}

inline Photometry detection(double mjd, const std::string& band, double mag) {
  Photometry p;
  p.mjd_tai = mjd;
  p.band = band;
  p.kind = Photometry::Kind::detection;
  p.mag = mag;
  p.mag_err = 0.1;
  return p;
}

inline Annotation classification(const std::string& label, double probability, const std::string& version = "1") {
  Annotation a;
  a.kind = Annotation::Kind::classification;
  a.name = label;
  a.value = probability;
  a.provenance = {"classifier", "test-classifier", version, "cafe"};
  return a;
}

// `count` alerts from the simulator actor (ZTF-like raw records with light-curve histories).
inline std::vector<RecordPtr> simulated_alerts(int64_t count, int64_t seed, int64_t objects = 0,
                                               const std::string& extra = "") {
  ActorRegistry registry;
  register_simulator(registry);
  const ActorType& type = *registry.find("simulator");
  ActorContext context = ebs::test::make_context(
      type, "{count: " + std::to_string(count) + ", seed: " + std::to_string(seed) +
                ", objects: " + std::to_string(objects) + (extra.empty() ? "" : ", " + extra) + "}");
  context.batch_size = 1024;
  auto logic = type.create(context);
  logic->open(context);
  ebs::test::CollectingEmitter out;
  while (logic->produce(1024, out).state != ProduceResult::State::done) {
  }
  logic->on_end_of_stream(out);
  // The simulator's candids repeat after a few hundred alerts (its id mixes the time and a
  // serial number by XOR): number the alerts 1, 2, 3, ... so that each is its own alert.
  std::vector<RecordPtr> records;
  uint64_t next_id = static_cast<uint64_t>(seed) << 32;
  for (const RecordPtr& r : out.records(0)) {
    const auto& alert = static_cast<const Alert&>(*r);
    auto core = std::make_shared<AlertCore>(alert.core());
    core->alert_id = ++next_id;
    records.push_back(std::make_shared<const Alert>(std::move(core), alert.annotations()));
  }
  return records;
}

// A repository sink type (SQLite `repository`, `postgres-repository`) opened outside CAF: each
// batch goes in with its own acknowledgement token; what the sink sends on is collected in `out`.
struct RepositorySinkHarness {
  ActorRegistry registry;
  ActorContext context;
  std::unique_ptr<ActorLogic> logic;
  std::shared_ptr<AckTracker> tracker = std::make_shared<AckTracker>();
  ebs::test::CollectingEmitter out;

  RepositorySinkHarness(void (*register_actors)(ActorRegistry&), const std::string& type_name,
                        const std::string& actor_id, const std::string& yaml, const std::string& run_dir) {
    register_actors(registry);
    const ActorType& type = *registry.find(type_name);
    context = ebs::test::make_context(type, yaml, run_dir);
    context.actor_id = actor_id;
    logic = type.create(context);
    logic->open(context);
  }

  // Sends records as one source batch with its own acknowledgement token.
  void send(std::vector<RecordPtr> records, PortType type = PortType::alert) {
    size_t n = records.size();
    logic->on_batch(0, BatchView::make(type, std::move(records), {std::make_shared<const AckToken>(tracker, n)}), out);
  }
};

inline std::vector<RecordPtr> slice(const std::vector<RecordPtr>& all, size_t from, size_t to) {
  return {all.begin() + static_cast<long>(from), all.begin() + static_cast<long>(to)};
}

}  // namespace ebs::repository::testing
