// exchange_bench: (1) ELAsTiCC brokerClassification messages encoded and decoded per second
// (libavro, a 2-class message as our binary scores make); (2) the classification-join: 100,000
// alerts with two brokers' classifications each, the classifications arriving before their
// alerts and after them (wait_for both brokers), records per second of both orders in the same
// run (the machine is shared: compare the ratio); (3) consensus of three inputs per alert.
#include <chrono>
#include <cstdio>
#include <memory>

#include "actors/common/elasticc/broker_classification.h"
#include "actors/exchange/exchange_actors.h"
#include "engine/runtime/actor_logic.h"
#include "test/support/collecting_emitter.h"

using namespace ebs;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::shared_ptr<const Classification> classification(int64_t id, const char* broker, float p) {
  auto c = std::make_shared<Classification>();
  c->alert_id = id;
  c->alert_key = std::to_string(id);
  c->dia_source_id = id;
  c->alert_timestamp_ms = 1577836800000 + id;
  c->ingest_timestamp_ms = 1577836900000 + id;
  c->broker_name = broker;
  c->broker_version = "1.0";
  c->classifier_name = std::string(broker) + " classifier 1.0";
  c->classifier_params = "{}";
  c->classes = {{2222, p}, {200, 1 - p}};
  return c;
}

std::shared_ptr<const Alert> alert(int64_t id) {
  auto core = std::make_shared<AlertCore>();
  core->alert_id = id;
  core->object_id = "ZTF" + std::to_string(id);
  core->survey = "ZTF";
  return std::make_shared<const Alert>(core);
}

struct Logic {
  ActorRegistry registry;
  ActorContext context;
  std::unique_ptr<ActorLogic> logic;
  Logic(const std::string& type, const std::string& yaml) {
    exchange::register_classification_join(registry);
    exchange::register_consensus(registry);
    const ActorType& t = *registry.find(type);
    context = test::make_context(t, yaml);
    logic = t.create(context);
    logic->open(context);
  }
};

// Records per second through the join; `classifications_first` sends each block's
// classifications before its alerts.
double join_rate(bool classifications_first, size_t alerts, size_t block, uint64_t& out_alerts) {
  Logic join("classification-join", "{wait_for: [A, B], hold_seconds: 600, max_pending: 1000000}");
  test::CollectingEmitter out;
  auto start = Clock::now();
  for (size_t first = 0; first < alerts; first += block) {
    std::vector<RecordPtr> a, c;
    for (size_t i = first; i < first + block; ++i) {
      a.push_back(alert(static_cast<int64_t>(i + 1)));
      c.push_back(classification(static_cast<int64_t>(i + 1), "A", 0.3f));
      c.push_back(classification(static_cast<int64_t>(i + 1), "B", 0.6f));
    }
    BatchView alerts_batch = BatchView::make(PortType::alert, std::move(a), {});
    BatchView classes_batch = BatchView::make(PortType::classification, std::move(c), {});
    if (classifications_first) {
      join.logic->on_batch(1, classes_batch, out);
      join.logic->on_batch(0, alerts_batch, out);
    } else {
      join.logic->on_batch(0, alerts_batch, out);
      join.logic->on_batch(1, classes_batch, out);
    }
    out.sent.clear();  // the sink's job: do not keep what went on
  }
  join.logic->on_end_of_stream(out);
  const double s = seconds_since(start);
  out_alerts = out.forwarded_records;
  return 3.0 * static_cast<double>(alerts) / s;
}

}  // namespace

int main() {
  // (1) Codec.
  {
    elasticc::BrokerClassificationCodec codec;
    const size_t n = 200000;
    std::vector<std::string> datums;
    datums.reserve(n);
    auto start = Clock::now();
    for (size_t i = 0; i < n; ++i) datums.push_back(codec.encode(*classification(static_cast<int64_t>(i), "ebs-flow", 0.25f)));
    const double encode = seconds_since(start);
    start = Clock::now();
    size_t classes = 0;
    for (const std::string& d : datums) classes += codec.decode(d, "bench")->classes.size();
    const double decode = seconds_since(start);
    std::printf("brokerClassification (%zu bytes): encode %.0f msg/s, decode %.0f msg/s (%zu classes read)\n",
                datums[0].size(), static_cast<double>(n) / encode, static_cast<double>(n) / decode, classes);
  }
  // (2) Join, both orders in the same run.
  {
    const size_t n = 100000, block = 1000;
    uint64_t forwarded_a = 0, forwarded_b = 0;
    const double early = join_rate(true, n, block, forwarded_a);
    const double late = join_rate(false, n, block, forwarded_b);
    std::printf("classification-join, %zu alerts x 2 brokers: classifications first %.0f records/s, alerts first (held) %.0f records/s, ratio %.2f; alerts out %llu / %llu\n",
                n, early, late, late / early, static_cast<unsigned long long>(forwarded_a),
                static_cast<unsigned long long>(forwarded_b));
  }
  // (3) Consensus of three inputs per alert.
  {
    Logic join("classification-join", "{wait_for: [A, B, C], hold_seconds: 600}");
    test::CollectingEmitter joined;
    const size_t n = 50000;
    std::vector<RecordPtr> a, c;
    for (size_t i = 0; i < n; ++i) {
      a.push_back(alert(static_cast<int64_t>(i + 1)));
      for (const char* b : {"A", "B", "C"}) c.push_back(classification(static_cast<int64_t>(i + 1), b, 0.1f * static_cast<float>(i % 10)));
    }
    join.logic->on_batch(0, BatchView::make(PortType::alert, std::move(a), {}), joined);
    join.logic->on_batch(1, BatchView::make(PortType::classification, std::move(c), {}), joined);
    Logic vote("consensus", "{weights: {A: 1, B: 2, C: 3}}");
    test::CollectingEmitter out;
    auto start = Clock::now();
    for (const BatchView& b : joined.sent[0]) vote.logic->on_batch(0, b, out);
    const double s = seconds_since(start);
    std::printf("consensus of 3 inputs: %.0f alerts/s (%llu alerts)\n", static_cast<double>(out.forwarded_records) / s,
                static_cast<unsigned long long>(out.forwarded_records));
  }
  return 0;
}
