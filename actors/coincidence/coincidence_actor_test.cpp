#include "actors/coincidence/coincidence_actor.h"

#include <doctest/doctest.h>
#include <healpix_cxx/healpix_base.h>

#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "actors/common/skymap/error_region.h"
#include "actors/common/notices/notice.h"
#include "actors/common/skymap/skymap.h"
#include "engine/model/record_json.h"
#include "test/support/collecting_emitter.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::coincidence;
using namespace ebs::notices;
using namespace ebs::skymap;

namespace {

using ebs::test::read_file;

std::shared_ptr<SkyEvent> notice(const std::string& rel) {
  auto events = parse_notice(read_file(ebs::test::data_dir().string() + "/gcn/" + rel), rel);
  REQUIRE(events.size() == 1);
  return events[0];
}

// Centre of the map's pixel of rank `rank` (0 = highest density).
std::pair<double, double> pixel_centre(const Skymap& map, size_t rank) {
  uint64_t uniq = map.ranked_uniq()[rank];
  int order = (63 - __builtin_clzll(uniq)) / 2 - 1;
  int64_t ipix = static_cast<int64_t>(uniq - (uint64_t{1} << (2 * (order + 1))));
  T_Healpix_Base<int64_t> base(order, NEST);
  pointing p = base.pix2ang(ipix);
  return {p.phi * 180 / M_PI, 90 - p.theta * 180 / M_PI};
}

RecordPtr alert(uint64_t id, const std::string& object, double ra, double dec, double mjd) {
  auto core = std::make_shared<AlertCore>();
  core->alert_id = id;
  core->object_id = object;
  core->ra = ra;
  core->dec = dec;
  core->mjd_tai = mjd;
  core->mag = 18 + static_cast<double>(id) / 4;
  core->band = "g";
  return std::make_shared<const Alert>(core);
}

BatchView batch(PortType type, std::vector<RecordPtr> records) { return BatchView::make(type, std::move(records), {}); }

std::vector<std::string> summary(const test::CollectingEmitter& out) {
  std::vector<std::string> lines;
  for (const RecordPtr& r : out.records(0)) {
    auto& c = static_cast<const Coincidence&>(*r);
    lines.push_back(c.event_id + " " + c.object_id + " " + std::string(to_string(c.status)));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

struct Actor {
  ActorType type = coincidence_actor_type();
  std::unique_ptr<ActorLogic> logic;
  test::CollectingEmitter out;
  explicit Actor(const std::string& yaml = "") {
    auto context = test::make_context(type, yaml);
    logic = type.create(context);
    logic->open(context);
  }
  void alerts(std::vector<RecordPtr> r) { logic->on_batch(0, batch(PortType::alert, std::move(r)), out); }
  void events(std::vector<RecordPtr> r) { logic->on_batch(1, batch(PortType::sky_event, std::move(r)), out); }
};

}  // namespace

TEST_CASE("GW map: alerts in the 90% region match; both arrival orders agree; retraction withdraws") {
  auto gw = notice("lvk-fink-mm/S230518h-initial.json");
  auto bytes = reinterpret_cast<const std::uint8_t*>(gw->localization.skymap_fits.data());
  Skymap map = Skymap::from_bytes({bytes, gw->localization.skymap_fits.size()}, "map");
  auto [ra_in, dec_in] = pixel_centre(map, 0);
  auto [ra_out, dec_out] = pixel_centre(map, map.rows() - 1);
  REQUIRE(map.at(ra_out, dec_out).searched_prob > 0.9);
  double t0 = gw->mjd_tai;
  std::vector<RecordPtr> alerts = {
      alert(1, "ZTFin", ra_in, dec_in, t0 + 0.5),       // inside, after: match
      alert(2, "ZTFin", ra_in, dec_in, t0 + 0.7),       // same object again: no second coincidence
      alert(3, "ZTFout", ra_out, dec_out, t0 + 0.5),    // outside the 90% region
      alert(4, "ZTFearly", ra_in, dec_in, t0 - 0.5),    // before the GW
      alert(5, "ZTFlate", ra_in, dec_in, t0 + 20),      // after the window
  };
  Actor event_first, alerts_first;
  event_first.events({gw});
  event_first.alerts(alerts);
  alerts_first.alerts(alerts);
  alerts_first.events({gw});
  CHECK(summary(event_first.out) == std::vector<std::string>{"S230518h ZTFin active"});
  CHECK(summary(event_first.out) == summary(alerts_first.out));
  auto& c = static_cast<const Coincidence&>(*event_first.out.records(0)[0]);
  CHECK(c.alert_id == 1);
  // The alert as found travels with the coincidence, in both arrival orders.
  for (const auto* found : {&c, &static_cast<const Coincidence&>(*alerts_first.out.records(0)[0])}) {
    CHECK(found->alert_ra == ra_in);
    CHECK(found->alert_dec == dec_in);
    CHECK(found->alert_mag == 18.25);
    CHECK(found->alert_band == "g");
    CHECK(found->alert_mjd_tai == t0 + 0.5);
  }
  CHECK(c.time_difference_s == doctest::Approx(0.5 * 86400));
  CHECK(c.searched_probability == doctest::Approx(map.at(ra_in, dec_in).searched_prob));
  CHECK(to_json(c).dump().find("chance_probability") != std::string::npos);
  // Accounting: alerts forwarded, events consumed.
  CHECK(event_first.out.forwarded_records == 5);
  CHECK(event_first.out.filtered_records == 1);

  auto retraction = parse_notice(
      R"({"alert_type":"RETRACTION","time_created":"2023-05-18T17:00:00Z","superevent_id":"S230518h","event":null})", "r");
  event_first.events({retraction[0]});
  auto after = summary(event_first.out);
  CHECK(after == std::vector<std::string>{"S230518h ZTFin active", "S230518h ZTFin withdrawn"});
  event_first.alerts({alert(6, "ZTFnew", ra_in, dec_in, t0 + 1)});
  CHECK(summary(event_first.out).size() == 2);  // a retracted event matches nothing
  event_first.events({gw});                      // a late copy of an older notice: ignored
  event_first.alerts({alert(7, "ZTFnew2", ra_in, dec_in, t0 + 1)});
  CHECK(summary(event_first.out).size() == 2);
}

TEST_CASE("UPDATE supersedes the map and re-checks emitted coincidences") {
  auto initial = notice("lvk-fink-mm/S230518h-initial.json");
  auto update = notice("lvk-fink-mm/S230518h-update.json");
  auto bytes = reinterpret_cast<const std::uint8_t*>(initial->localization.skymap_fits.data());
  Skymap map = Skymap::from_bytes({bytes, initial->localization.skymap_fits.size()}, "map");
  auto [ra, dec] = pixel_centre(map, 0);
  Actor actor;
  actor.events({initial});
  actor.alerts({alert(1, "ZTFa", ra, dec, initial->mjd_tai + 1)});
  actor.events({update});
  auto lines = summary(actor.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "S230518h ZTFa active");
  CHECK((lines[1] == "S230518h ZTFa updated" || lines[1] == "S230518h ZTFa withdrawn"));
  auto& second = static_cast<const Coincidence&>(*actor.out.records(0)[1]);
  CHECK(second.event_sequence == update->sequence);
  actor.logic->on_end_of_stream(actor.out);
  // The live state: the updated coincidence, or nothing when the new map withdrew it.
  CHECK(actor.out.records(2).size() == (second.status == Coincidence::Status::updated ? 1u : 0u));
}

TEST_CASE("neutrino error circle; sky index gives the same coincidences as the naive loop") {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<RecordPtr> events;
  for (int i = 0; i < 100; ++i) {
    auto e = std::make_shared<SkyEvent>();
    e->event_id = "nu" + std::to_string(i);
    e->kind = SkyEvent::Kind::neutrino;
    e->mjd_tai = 60000;
    e->localization.shape = Localization::Shape::circle;
    e->localization.ra = 360 * uniform(rng);
    e->localization.dec = std::asin(2 * uniform(rng) - 1) * 180 / M_PI;
    e->localization.radius_deg = 0.5 + 5 * uniform(rng);
    events.push_back(e);
  }
  std::vector<RecordPtr> alerts;
  for (int i = 0; i < 20000; ++i)
    alerts.push_back(alert(i, "o" + std::to_string(i), 360 * uniform(rng), std::asin(2 * uniform(rng) - 1) * 180 / M_PI,
                           60000 + 2 * uniform(rng)));
  Actor indexed, naive("sky_index: false");
  indexed.events(events);
  indexed.alerts(alerts);
  naive.events(events);
  naive.alerts(alerts);
  auto found = summary(indexed.out);
  CHECK(found.size() > 20);
  CHECK(found == summary(naive.out));
  // Brute force: angular distance <= radius.
  size_t expected = 0;
  for (auto& a : alerts)
    for (auto& e : events) {
      auto& ev = static_cast<const SkyEvent&>(*e);
      auto& al = static_cast<const Alert&>(*a).core();
      double c = std::sin(ev.localization.dec * M_PI / 180) * std::sin(al.dec * M_PI / 180) +
                 std::cos(ev.localization.dec * M_PI / 180) * std::cos(al.dec * M_PI / 180) *
                     std::cos((ev.localization.ra - al.ra) * M_PI / 180);
      if (std::acos(std::min(1.0, c)) * 180 / M_PI <= ev.localization.radius_deg) ++expected;
    }
  CHECK(found.size() == expected);
}

TEST_CASE("an event without a usable localization is a dead letter; the actor goes on") {
  auto e = std::make_shared<SkyEvent>();
  e->event_id = "S0";
  e->source = "lvk";
  e->kind = SkyEvent::Kind::gravitational_wave;
  e->mjd_tai = 60000;
  e->localization.shape = Localization::Shape::skymap;
  e->localization.skymap_fits = "not a FITS file";
  Actor actor;
  actor.events({e});
  CHECK(actor.out.failed_records == 1);
  CHECK(actor.out.faults[0].place().find("S0") != std::string::npos);
  actor.alerts({alert(1, "x", 10, 10, 60000.5)});
  CHECK(actor.out.forwarded_records == 1);
}

TEST_CASE("config check names bad windows") {
  ActorType type = coincidence_actor_type();
  auto context = test::make_context(type, "window_gw_days: [5, 1]");
  std::vector<Problem> problems;
  type.check(context.config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("lo > hi") != std::string::npos);
}

// ---- GW x GRB / neutrino pairs (RAVEN) ----
// The data hold no natural pair (the LVK notices carry no external_coinc), so real GRB and
// neutrino notices are moved in time (and the GBM one onto the GW map's peak) to meet S230518h.
namespace {

std::shared_ptr<SkyEvent> moved(const std::string& rel, const SkyEvent& gw, double seconds_after_gw, double ra = NAN,
                                double dec = NAN) {
  auto events = parse_notice(read_file(ebs::test::data_dir().string() + "/gcn/" + rel), rel);
  REQUIRE(!events.empty());
  auto e = std::make_shared<SkyEvent>(*events[0]);
  e->mjd_tai = gw.mjd_tai + seconds_after_gw / 86400;
  if (std::isfinite(ra)) {
    e->localization.ra = ra;
    e->localization.dec = dec;
  }
  return e;
}

std::shared_ptr<SkyEvent> retraction_of(const SkyEvent& e) {
  auto r = std::make_shared<SkyEvent>(e);
  r->retracted = true;
  r->sequence = e.sequence + 1;
  return r;
}

double term(const Coincidence& c, const std::string& name) {
  for (const auto& t : c.terms)
    if (t.name == name) return t.value;
  FAIL("no term " << name);
  return NAN;
}

std::vector<std::string> pair_json(const test::CollectingEmitter& out) {
  std::vector<std::string> lines;
  for (const RecordPtr& r : out.records(0)) lines.push_back(to_json(*r).dump());
  std::sort(lines.begin(), lines.end());
  return lines;
}

const Coincidence* pair_with(const test::CollectingEmitter& out, const std::string& other, Coincidence::Status status) {
  for (const RecordPtr& r : out.records(0)) {
    auto& c = static_cast<const Coincidence&>(*r);
    if (c.other_event_id == other && c.status == status) return &c;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("GW x GRB and GW x neutrino: RAVEN windows, FARs and odds; both arrival orders agree") {
  auto gw = notice("lvk-fink-mm/S230518h-initial.json");
  Skymap map = Skymap::from_bytes(std::string_view(gw->localization.skymap_fits), "map");
  auto [peak_ra, peak_dec] = pixel_centre(map, 0);
  const std::string gbm = "gcn-schema-notices/fermi/gbm/trigger.flight1.example.json";
  auto grb = moved(gbm, *gw, 1.7, peak_ra, peak_dec);  // GRB 170817A came 1.7 s after its merger
  auto grb_early = moved(gbm, *gw, -1.5);               // before the [-1, +5] s window
  grb_early->event_id = "early";
  auto nu = moved("gcn-schema-notices/icecube/single_neutrino_alerts.gold_bronze_track_alerts.example.json", *gw, 300);
  auto nu_late = moved("voevent-fink-mm/voevent_number=825.xml", *gw, 501);  // after +500 s
  std::vector<RecordPtr> externals = {grb, grb_early, nu, nu_late};

  Actor gw_first, gw_last;
  gw_first.events({gw});
  gw_first.events(externals);
  gw_last.events(externals);
  gw_last.events({gw});
  REQUIRE(gw_first.out.records(0).size() == 2);
  CHECK(pair_json(gw_first.out) == pair_json(gw_last.out));
  CHECK(gw_first.out.filtered_records == 5);  // every event consumed

  const Coincidence* with_grb = pair_with(gw_first.out, grb->event_id, Coincidence::Status::active);
  REQUIRE(with_grb);
  CHECK(with_grb->event_id == "S230518h");
  CHECK(with_grb->alert_id == 0);
  CHECK(with_grb->object_id.empty());
  CHECK(with_grb->other_event_sequence == grb->sequence);
  CHECK(with_grb->time_difference_s == doctest::Approx(1.7).epsilon(1e-5));
  // Untargeted: (5 - (-1)) s * 325/yr * FAR_gw, then divided by the overlap integral.
  double temporal = 6 * 325 / (365.25 * 86400) * gw->far_hz;
  CHECK(term(*with_grb, "temporal_far_hz") == doctest::Approx(temporal).epsilon(1e-12));
  double overlap = term(*with_grb, "overlap_integral");
  CHECK(overlap == doctest::Approx(overlap_integral(map, RegionDensity(ErrorRegion::circle(
                                                              peak_ra, peak_dec, grb->localization.radius_deg,
                                                              grb->localization.containment_probability)))));
  // A GBM circle on the GW's densest pixel: the localizations agree better than chance.
  CHECK(overlap > 1);
  CHECK(with_grb->false_alarm_rate == doctest::Approx(temporal / overlap).epsilon(1e-12));
  CHECK(with_grb->searched_probability == doctest::Approx(map.at(peak_ra, peak_dec).searched_prob));

  const Coincidence* with_nu = pair_with(gw_first.out, nu->event_id, Coincidence::Status::active);
  REQUIRE(with_nu);
  CHECK(with_nu->time_difference_s == doctest::Approx(300).epsilon(1e-7));
  CHECK(term(*with_nu, "temporal_far_hz") == doctest::Approx(1000 * 13.91 / (365.25 * 86400) * gw->far_hz));
  double s = 0.34064, p_astro = 1 - 0.09901845917358532;  // the notices' p_astro and 1 - Terrestrial
  double nu_overlap = term(*with_nu, "overlap_integral");
  CHECK(term(*with_nu, "odds") == doctest::Approx(nu_overlap * s / (1 - s) * p_astro / (1 - p_astro)));
  CHECK(to_json(*with_nu)["other_event_id"] == nu->event_id);

  // End of stream: the live state holds both pairs.
  gw_first.logic->on_end_of_stream(gw_first.out);
  CHECK(gw_first.out.records(2).size() == 2);
}

TEST_CASE("a GRB notice with its own FAR (Swift BAT-GUANO) pairs through RAVEN's targeted search") {
  auto gw = notice("lvk-fink-mm/S230518h-initial.json");
  auto swift = moved("gwcelery-tests/kafka_alert_swift.json", *gw, 15);  // inside [-10, +20], outside [-1, +5]
  REQUIRE(swift->far_hz == doctest::Approx(5.39583726e-08));
  Actor actor;
  actor.events({swift, gw});
  REQUIRE(actor.out.records(0).size() == 1);
  auto& c = static_cast<const Coincidence&>(*actor.out.records(0)[0]);
  double z = 30 * swift->far_hz * gw->far_hz, z_max = 30 * 1e-3 * (2.0 / 86400);
  CHECK(term(c, "temporal_far_hz") == doctest::Approx(z * (1 - std::log(z / z_max))).epsilon(1e-12));
  CHECK(term(c, "window_lo_s") == -10);
  CHECK(term(c, "window_hi_s") == 20);
}

TEST_CASE("pairs follow UPDATEs and RETRACTIONs of either event, in both arrival orders") {
  auto initial = notice("lvk-fink-mm/S230518h-initial.json");
  auto update = notice("lvk-fink-mm/S230518h-update.json");
  const std::string gbm = "gcn-schema-notices/fermi/gbm/trigger.flight1.example.json";
  auto grb = moved(gbm, *initial, 2);
  auto grb_moved_out = moved(gbm, *initial, 30);  // a later GBM notice puts the burst outside the window
  grb_moved_out->sequence = grb->sequence + 1;

  for (bool gw_first : {true, false}) {
    CAPTURE(gw_first);
    Actor actor;
    if (gw_first) {
      actor.events({initial});
      actor.events({grb});
    } else {
      actor.events({grb});
      actor.events({initial});
    }
    actor.events({update});  // the GW's new notice: the pair is re-checked
    REQUIRE(actor.out.records(0).size() == 2);
    auto& updated = static_cast<const Coincidence&>(*actor.out.records(0)[1]);
    CHECK(updated.status == Coincidence::Status::updated);
    CHECK(updated.event_sequence == update->sequence);
    actor.events({retraction_of(*grb)});  // the GRB is retracted: the pair is withdrawn
    REQUIRE(actor.out.records(0).size() == 3);
    auto& withdrawn = static_cast<const Coincidence&>(*actor.out.records(0)[2]);
    CHECK(withdrawn.status == Coincidence::Status::withdrawn);
    CHECK(withdrawn.other_event_id == grb->event_id);
    actor.events({grb});  // a late copy of the retracted GRB's notice changes nothing
    actor.events({update});
    CHECK(actor.out.records(0).size() == 3);  // the withdrawn pair does not come back
  }

  Actor moved_out;
  moved_out.events({initial, grb});
  moved_out.events({grb_moved_out});
  CHECK(summary(moved_out.out).size() == 2);
  CHECK(pair_with(moved_out.out, grb->event_id, Coincidence::Status::withdrawn));

  Actor gw_retracted;
  gw_retracted.events({grb, initial});
  gw_retracted.events({retraction_of(*initial)});
  REQUIRE(gw_retracted.out.records(0).size() == 2);
  CHECK(pair_with(gw_retracted.out, grb->event_id, Coincidence::Status::withdrawn));
  gw_retracted.events({update});  // notices of a retracted GW are ignored
  CHECK(gw_retracted.out.records(0).size() == 2);
  gw_retracted.logic->on_end_of_stream(gw_retracted.out);
  CHECK(gw_retracted.out.records(2).empty());  // nothing live
}

TEST_CASE("pair_events: false leaves events unpaired") {
  auto gw = notice("lvk-fink-mm/S230518h-initial.json");
  Actor actor("pair_events: false");
  actor.events({gw, moved("gcn-schema-notices/fermi/gbm/trigger.flight1.example.json", *gw, 1)});
  CHECK(actor.out.records(0).empty());
}

TEST_CASE("keyed instances expire events by the stream's clock, as one instance does by its own alerts") {
  auto gw = notice("lvk-fink-mm/S230518h-initial.json");
  auto bytes = reinterpret_cast<const std::uint8_t*>(gw->localization.skymap_fits.data());
  Skymap map = Skymap::from_bytes({bytes, gw->localization.skymap_fits.size()}, "map");
  auto [ra_in, dec_in] = pixel_centre(map, 0);
  const double t0 = gw->mjd_tai;
  // One instance sees another object's alert 30 days on: the event expires (window 14 d).
  Actor one;
  one.events({gw});
  one.alerts({alert(1, "ZTFother", 0, 0, t0 + 30)});
  one.alerts({alert(2, "ZTFin", ra_in, dec_in, t0 + 1)});  // a late-arriving alert of an expired event
  CHECK(summary(one.out).empty());
  // An instance keyed to ZTFin only never sees ZTFother's alert, only the clock it advanced.
  Actor keyed;
  keyed.events({gw});
  keyed.logic->on_stream_time(0, t0 + 30);
  keyed.alerts({alert(2, "ZTFin", ra_in, dec_in, t0 + 1)});
  CHECK(summary(keyed.out) == summary(one.out));
  // Without the clock it would still match: the clock is what makes the instances agree.
  Actor unclocked;
  unclocked.events({gw});
  unclocked.alerts({alert(2, "ZTFin", ra_in, dec_in, t0 + 1)});
  CHECK(summary(unclocked.out) == std::vector<std::string>{"S230518h ZTFin active"});
}

TEST_CASE("parallel instances: every one knows every event, only the first pairs events with events") {
  auto gw = notice("lvk-fink-mm/S230518h-initial.json");
  Skymap map = Skymap::from_bytes(std::string_view(gw->localization.skymap_fits), "map");
  auto [peak_ra, peak_dec] = pixel_centre(map, 0);
  auto grb = moved("gcn-schema-notices/fermi/gbm/trigger.flight1.example.json", *gw, 1.7, peak_ra, peak_dec);
  ActorType type = coincidence_actor_type();
  size_t pairs_made = 0;
  for (size_t instance = 0; instance < 4; ++instance) {
    auto context = test::make_context(type, "");
    context.instance = instance;
    context.parallelism = 4;
    auto logic = type.create(context);
    logic->open(context);
    test::CollectingEmitter out;
    logic->on_batch(1, batch(PortType::sky_event, {gw, grb}), out);
    pairs_made += out.records(0).size();
    CHECK((instance == 0) == (out.records(0).size() == 1));
  }
  CHECK(pairs_made == 1);  // the pair of one instance, once
}

TEST_CASE("annotate_alerts: every alert carries each active sky map at its position, as Skymap::at reads it") {
  auto gw = notice("lvk-fink-mm/S230518h-initial.json");
  auto bytes = reinterpret_cast<const std::uint8_t*>(gw->localization.skymap_fits.data());
  Skymap map = Skymap::from_bytes({bytes, gw->localization.skymap_fits.size()}, "map");
  REQUIRE(map.has_distance());
  double t0 = gw->mjd_tai;
  // Positions across the map: its densest pixel, its least dense, and random ones (most outside
  // the 90 % region: the annotation does not depend on a match).
  std::vector<std::pair<double, double>> positions = {pixel_centre(map, 0), pixel_centre(map, map.rows() - 1)};
  std::mt19937 random(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 200; ++i) positions.push_back({360 * u(random), std::asin(2 * u(random) - 1) * 180 / M_PI});
  auto alerts_at = [&](uint64_t first_id) {
    std::vector<RecordPtr> alerts;
    for (size_t i = 0; i < positions.size(); ++i)
      alerts.push_back(alert(first_id + i, "ZTF" + std::to_string(i), positions[i].first, positions[i].second, t0 + 1));
    return alerts;
  };

  Actor plain, annotating(R"({annotate_alerts: true})");
  for (Actor* a : {&plain, &annotating}) {
    a->alerts(alerts_at(1));  // no event yet: nothing to annotate
    a->events({gw});
    a->alerts(alerts_at(1000));
  }
  auto before = annotating.out.records(1);
  REQUIRE(before.size() == 2 * positions.size());
  for (size_t i = 0; i < positions.size(); ++i)
    CHECK(static_cast<const Alert&>(*before[i]).annotations().empty());
  // Without the option the alerts go on unchanged (the same batch).
  for (const RecordPtr& r : plain.out.records(1)) CHECK(static_cast<const Alert&>(*r).annotations().empty());

  size_t with_distance = 0, without_moments = 0;
  for (size_t i = 0; i < positions.size(); ++i) {
    const auto& a = static_cast<const Alert&>(*before[positions.size() + i]);
    REQUIRE(a.annotations().size() == 1);
    const Annotation& note = *a.annotations().list()[0];
    SkymapLookup at = map.at(positions[i].first, positions[i].second);
    CHECK(note.kind == Annotation::Kind::score);
    CHECK(note.name == "sky_map");
    CHECK(note.value == at.searched_prob);
    CHECK(note.provenance.actor == "under_test");
    CHECK(note.provenance.config_hash == "S230518h/" + std::to_string(gw->sequence));
    auto d = nlohmann::json::parse(note.details);
    CHECK(d["event_id"] == "S230518h");
    CHECK(d["searched_probability"].get<double>() == at.searched_prob);
    CHECK(d["probdensity_sr"].get<double>() == at.probdensity);
    CHECK(d["searched_area_deg2"].get<double>() == at.searched_area);
    CHECK(d["covered"] == at.covered);
    REQUIRE(at.distance);
    ++with_distance;
    // A direction without support has DISTMU = +inf: left out, like its moments.
    if (std::isfinite(at.distance->mu))
      CHECK(d["distmu_mpc"].get<double>() == at.distance->mu);
    else
      CHECK_FALSE(d.contains("distmu_mpc"));
    CHECK(d["distsigma_mpc"].get<double>() == at.distance->sigma);
    double mean = at.distance->conditional_mean();
    if (std::isfinite(mean)) {
      CHECK(d["distance_mean_mpc"].get<double>() == mean);
      CHECK(d["distance_std_mpc"].get<double>() == at.distance->conditional_std());
      CHECK(mean > 0);
    } else {
      CHECK_FALSE(d.contains("distance_mean_mpc"));  // finite values only: valid JSON
      ++without_moments;
    }
    for (const auto& [key, value] : d.items()) CHECK((!value.is_number() || std::isfinite(value.get<double>())));
  }
  CHECK(with_distance == positions.size());
  // The densest pixel is inside every credible region; the least dense is outside the 90 %.
  CHECK(static_cast<const Alert&>(*before[positions.size()]).annotations().list()[0]->value < 0.01);
  CHECK(static_cast<const Alert&>(*before[positions.size() + 1]).annotations().list()[0]->value > 0.9);
  // A filter reads it as score.sky_map; accounting is unchanged (alerts forwarded one to one).
  CHECK(annotating.out.forwarded_records == plain.out.forwarded_records);

  // Once the event is retracted no map is active: alerts pass without annotation.
  annotating.events({parse_notice(
      R"({"alert_type":"RETRACTION","time_created":"2023-05-18T17:00:00Z","superevent_id":"S230518h","event":null})", "r")[0]});
  annotating.alerts({alert(5000, "ZTFafter", positions[0].first, positions[0].second, t0 + 1)});
  CHECK(static_cast<const Alert&>(*annotating.out.records(1).back()).annotations().empty());
  MESSAGE(without_moments << " of " << positions.size() << " positions have no finite distance moments");
}

TEST_CASE("annotate_alerts: an alert after the event's expiry is not annotated, whatever batch it comes in") {
  // A replay whose notice reaches the actor before alerts of a later night: only an alert inside
  // the event's life (its window, 14 d for a GW, plus the 1 d grace) carries the map, also when an
  // alert past it shares the batch, or is the first the actor sees (expiry had not run yet).
  auto gw = notice("lvk-fink-mm/S230518h-initial.json");
  const double t0 = gw->mjd_tai;
  Actor a(R"({annotate_alerts: true})");
  a.events({gw});
  a.alerts({alert(1, "ZTFlate", 120, -30, t0 + 200), alert(2, "ZTFin", 120, -30, t0 + 14.9),
            alert(3, "ZTFjustafter", 120, -30, t0 + 15.1)});
  auto out = a.out.records(1);
  REQUIRE(out.size() == 3);
  CHECK(static_cast<const Alert&>(*out[0]).annotations().empty());
  CHECK(static_cast<const Alert&>(*out[1]).annotations().size() == 1);
  CHECK(static_cast<const Alert&>(*out[2]).annotations().empty());
}

TEST_CASE("annotate_alerts: alerts without valid coordinates pass unannotated; the name is configurable") {
  auto gw = notice("lvk-fink-mm/S230518h-initial.json");
  Actor a(R"({annotate_alerts: true, annotation_name: gw_map})");
  a.events({gw});
  a.alerts({alert(1, "ZTFnan", NAN, 10, gw->mjd_tai + 1), alert(2, "ZTFok", 120, -30, gw->mjd_tai + 1)});
  auto out = a.out.records(1);
  REQUIRE(out.size() == 2);
  CHECK(static_cast<const Alert&>(*out[0]).annotations().empty());
  REQUIRE(static_cast<const Alert&>(*out[1]).annotations().size() == 1);
  CHECK(static_cast<const Alert&>(*out[1]).annotations().list()[0]->name == "gw_map");
  auto type = coincidence_actor_type();
  std::vector<Problem> problems;
  type.check(test::make_context(type, R"({annotation_name: ""})").config, problems);
  CHECK(problems.size() == 1);
}
