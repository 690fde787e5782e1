#include "actors/sources/simulator.h"

#include <doctest/doctest.h>

#include <set>

#include "test/support/collecting_emitter.h"

using namespace ebs;
using ebs::test::CollectingEmitter;

namespace {
std::vector<RecordPtr> simulate(const std::string& config, size_t instance = 0, size_t parallelism = 1) {
  ActorRegistry registry;
  register_simulator(registry);
  const ActorType& type = *registry.find("simulator");
  ActorContext context = ebs::test::make_context(type, config);
  context.instance = instance;
  context.parallelism = parallelism;
  auto logic = type.create(context);
  logic->open(context);
  CollectingEmitter out;
  for (int guard = 0; guard < 10000; ++guard)
    if (logic->produce(1000, out).state == ProduceResult::State::done) break;
  CHECK(out.read_records == out.forwarded_records);
  return out.records();
}
const Alert& alert(const RecordPtr& r) { return static_cast<const Alert&>(*r); }
}  // namespace

TEST_CASE("the simulator makes exactly `count` alerts, the same ones for the same seed") {
  auto a = simulate("{count: 2500, seed: 3}");
  auto b = simulate("{count: 2500, seed: 3}");
  auto c = simulate("{count: 2500, seed: 4}");
  REQUIRE(a.size() == 2500);
  REQUIRE(b.size() == 2500);
  for (size_t i = 0; i < a.size(); i += 97) {
    CHECK(alert(a[i]).core().object_id == alert(b[i]).core().object_id);
    CHECK(alert(a[i]).core().mag == alert(b[i]).core().mag);
  }
  CHECK(alert(a[10]).core().mag != alert(c[10]).core().mag);
}

TEST_CASE("simulated alerts stay in their sky region and carry light curves and raw fields") {
  auto alerts = simulate("{count: 3000, seed: 1, ra_min: 10, ra_max: 20, dec_min: -5, dec_max: 5, objects: 50}");
  size_t with_history = 0, upper_limits = 0;
  double last_mjd = 0;
  for (const RecordPtr& r : alerts) {
    const AlertCore& c = alert(r).core();
    CHECK(c.ra >= 9.99);
    CHECK(c.ra <= 20.01);
    CHECK(c.dec >= -5.01);
    CHECK(c.dec <= 5.01);
    CHECK(c.mjd_tai > last_mjd);  // time moves forward
    last_mjd = c.mjd_tai;
    CHECK((c.band == "g" || c.band == "r" || c.band == "i"));
    CHECK(c.raw.path("candidate.magpsf").as_double() == c.mag);
    CHECK(c.raw.path("objectId").as_string() == c.object_id);
    CHECK(c.raw.path("candidate.jd").as_double().value() == doctest::Approx(c.mjd_tai + 2400000.5));
    CHECK(c.raw.path("prv_candidates").size() == c.history.size());
    CHECK(c.raw.path("candidate.ssnamenr").is_null());
    with_history += !c.history.empty();
    uint32_t detections = 0;
    for (const Photometry& p : c.history) {
      upper_limits += p.kind == Photometry::Kind::upper_limit;
      detections += p.kind == Photometry::Kind::detection;
      CHECK(p.mjd_tai < c.mjd_tai);
    }
    CHECK(c.history_detections == detections);  // what `n_detections` reads
  }
  CHECK(with_history > 2500);  // 50 objects, 3000 alerts: nearly all have earlier points
  CHECK(upper_limits > 0);
}

TEST_CASE("parallel instances split the count between them") {
  auto first = simulate("{count: 1001, seed: 2}", 0, 2);
  auto second = simulate("{count: 1001, seed: 2}", 1, 2);
  CHECK(first.size() == 501);
  CHECK(second.size() == 500);
  CHECK(alert(first[0]).core().alert_id != alert(second[0]).core().alert_id);
}

TEST_CASE("corrupt_fraction damages a share of declinations for quality gates to catch") {
  auto alerts = simulate("{count: 5000, seed: 8, corrupt_fraction: 0.1}");
  size_t bad = 0;
  for (const RecordPtr& r : alerts) bad += !(std::abs(alert(r).core().dec) <= 90);
  CHECK(bad > 350);
  CHECK(bad < 650);
}

TEST_CASE("alert ids are unique across a run and across instances") {
  std::set<uint64_t> ids;
  for (size_t instance = 0; instance < 3; ++instance)
    for (const RecordPtr& r : simulate("{count: 9000, seed: 5, objects: 30}", instance, 3))
      CHECK(ids.insert(alert(r).core().alert_id).second);
  CHECK(ids.size() == 9000);
}
