// coincidence_bench: (1) the time to turn the MS230518e notice (order-11 map, base64 in JSON)
// into a SkyEvent and a Skymap, with OpenSSL's and the engine's base64 decoders side by side;
// (2) alerts per second through the coincidence actor with 100 active events (90 neutrino/GRB
// error circles, 10 GW maps), with the HEALPix sky index and with a naive per-event loop, in the
// same run (the machine is shared: compare the ratio); (3) GW x GRB/neutrino pairing: a GW
// notice arriving among 90 active error circles, all inside the RAVEN windows (90 pairs, each
// with its sky overlap integral), against the same arrival with pairing off.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <nlohmann/json.hpp>

#include "actors/coincidence/coincidence_actor.h"
#include "actors/common/notices/notice.h"
#include "actors/common/skymap/skymap.h"
#include "engine/util/base64.h"
#include "test/support/collecting_emitter.h"

using namespace ebs;
using namespace ebs::coincidence;
using namespace ebs::notices;
using namespace ebs::skymap;
using Clock = std::chrono::steady_clock;

namespace {

std::filesystem::path data_dir() {
  if (const char* env = std::getenv("EBS_TEST_DATA"); env && *env) return env;
  return EBS_DEFAULT_TEST_DATA;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

template <typename F>
double best_of(int runs, F&& f) {
  double best = 1e300;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    f();
    best = std::min(best, seconds_since(start));
  }
  return best;
}

}  // namespace

int main() {
  // (1) Notice -> SkyEvent -> Skymap.
  std::string mock = read_text(data_dir() / "gcn" / "lvk-fink-mm" / "MS230518e-mock-MDC.json");
  std::string encoded;
  {
    auto j = nlohmann::json::parse(mock);
    encoded = j["event"]["skymap"];
  }
  double decode = best_of(5, [&] { base64_decode(encoded, "bench"); });
  std::printf("base64 decode of the %.1f MB map: %.2f ms\n", encoded.size() / 1e6, decode * 1e3);
  std::shared_ptr<SkyEvent> event;
  double parse = best_of(5, [&] { event = parse_notice(mock, "mock")[0]; });
  auto bytes = reinterpret_cast<const std::uint8_t*>(event->localization.skymap_fits.data());
  std::size_t rows = 0;
  int order = 0;
  double load = best_of(5, [&] {
    Skymap map = Skymap::from_bytes({bytes, event->localization.skymap_fits.size()}, "bench");
    rows = map.rows();
    order = map.max_order();
  });
  std::printf("MS230518e notice -> SkyEvent (JSON, base64, FITS validated): %.1f ms; FITS bytes -> Skymap "
              "(%zu rows, order %d): %.1f ms (target < 50 ms)\n",
              parse * 1e3, rows, order, load * 1e3);

  // (2) Alerts through the actor with 100 active events.
  std::string s230518h = read_text(data_dir() / "gcn" / "lvk-fink-mm" / "S230518h-initial.json");
  auto gw = parse_notice(s230518h, "S230518h")[0];
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<RecordPtr> events;
  for (int i = 0; i < 100; ++i) {
    auto e = std::make_shared<SkyEvent>(i < 10 ? *gw : SkyEvent());
    e->event_id = "ev" + std::to_string(i);
    e->mjd_tai = 60000;
    if (i >= 10) {
      e->kind = i % 2 ? SkyEvent::Kind::neutrino : SkyEvent::Kind::gamma_ray_burst;
      e->localization.shape = Localization::Shape::circle;
      e->localization.ra = 360 * u(rng);
      e->localization.dec = std::asin(2 * u(rng) - 1) * 180 / M_PI;
      e->localization.radius_deg = i % 2 ? 0.5 + u(rng) : 1 + 10 * u(rng);
    }
    events.push_back(e);
  }
  const size_t kAlerts = 200000, kBatch = 1000;
  std::vector<BatchView> batches;
  for (size_t b = 0; b < kAlerts / kBatch; ++b) {
    std::vector<RecordPtr> alerts;
    for (size_t i = 0; i < kBatch; ++i) {
      auto core = std::make_shared<AlertCore>();
      core->alert_id = b * kBatch + i;
      core->object_id = "ZTF" + std::to_string(core->alert_id);
      core->ra = 360 * u(rng);
      core->dec = std::asin(2 * u(rng) - 1) * 180 / M_PI;
      core->mjd_tai = 60000.5 + 1e-6 * core->alert_id;
      alerts.push_back(std::make_shared<const Alert>(core));
    }
    batches.push_back(BatchView::make(PortType::alert, std::move(alerts), {}));
  }
  ActorType type = coincidence_actor_type();
  auto run = [&](const std::string& yaml, size_t& matches) {
    auto context = test::make_context(type, yaml);
    auto logic = type.create(context);
    test::CollectingEmitter setup;
    logic->on_batch(1, BatchView::make(PortType::sky_event, events, {}), setup);
    test::CollectingEmitter out;
    auto start = Clock::now();
    for (const BatchView& batch : batches) logic->on_batch(0, batch, out);
    double elapsed = seconds_since(start);
    matches = out.emitted_records;
    return kAlerts / elapsed;
  };
  size_t indexed_matches = 0, naive_matches = 0;
  // Pairs are measured separately below: here every event is at the same time, so the 10 maps
  // would pair with the 90 circles while the events are set up.
  double naive = run("{sky_index: false, pair_events: false}", naive_matches);
  double indexed = run("{sky_index: true, pair_events: false}", indexed_matches);
  std::printf("coincidence actor, 100 active events (10 GW maps, 90 circles), %zu alerts:\n", kAlerts);
  std::printf("  sky index:   %.0f alerts/s (%zu coincidences) (target >= 500000)\n", indexed, indexed_matches);
  std::printf("  naive loop:  %.0f alerts/s (%zu coincidences)\n", naive, naive_matches);
  std::printf("  speed-up %.1fx%s\n", indexed / naive, indexed_matches == naive_matches ? "" : "  MISMATCH");

  // (3) Event x event: externals first, then one GW map (it pairs with all 90 circles).
  std::vector<RecordPtr> externals(events.begin() + 10, events.end()), maps(events.begin(), events.begin() + 1);
  auto arrive = [&](const std::string& yaml, size_t& pairs) {
    auto context = test::make_context(type, yaml);
    auto logic = type.create(context);
    test::CollectingEmitter out;
    logic->on_batch(1, BatchView::make(PortType::sky_event, externals, {}), out);
    auto start = Clock::now();
    for (const RecordPtr& gw_event : maps) logic->on_batch(1, BatchView::make(PortType::sky_event, {gw_event}, {}), out);
    double elapsed = seconds_since(start);
    pairs = out.emitted_records;
    return elapsed;
  };
  size_t pairs = 0, unpaired = 0;
  double without = arrive("pair_events: false", unpaired);
  double with = arrive("pair_events: true", pairs);
  std::printf("GW x GRB/neutrino: a GW notice among 90 active circles: %zu pairs in %.1f ms (%.2f ms per pair, "
              "overlap integral included); the same arrival without pairing: %.1f ms\n",
              pairs, with * 1e3, pairs ? (with - without) * 1e3 / pairs : 0.0, without * 1e3);
  return indexed_matches == naive_matches && pairs == 90 ? 0 : 1;
}
