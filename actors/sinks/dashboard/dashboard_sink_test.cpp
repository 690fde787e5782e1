#include "actors/sinks/dashboard/dashboard_sink.h"

#include <doctest/doctest.h>

#include "test/support/ztf_alerts.h"
#include "engine/runtime/actor_logic.h"
#include "test/support/collecting_emitter.h"

namespace ebs::dashboard {

TEST_CASE("the dashboard sink keeps the latest alerts, events and coincidences, and delivers everything") {
  DashboardFeed feed;
  ActorType type = dashboard_sink_type(feed);
  auto context = test::make_context(type, "{keep_alerts: 3}");
  auto logic = type.create(context);
  logic->open(context);

  auto alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 5);
  REQUIRE(alerts.size() == 5);
  std::vector<RecordPtr> records(alerts.begin(), alerts.end());
  auto event = std::make_shared<SkyEvent>();
  event->event_id = "S230518h";
  event->kind = SkyEvent::Kind::gravitational_wave;
  event->sequence = 1;
  event->localization.shape = Localization::Shape::circle;
  event->localization.ra = 10;
  event->localization.dec = -5;
  event->localization.radius_deg = 3;
  records.push_back(event);
  auto coincidence = std::make_shared<Coincidence>();
  coincidence->event_id = "S230518h";
  coincidence->alert_id = alerts[0]->core().alert_id;
  coincidence->object_id = alerts[0]->core().object_id;
  coincidence->searched_probability = 0.42;
  records.push_back(coincidence);

  test::CollectingEmitter out;
  logic->on_batch(0, BatchView::make(PortType::any, records, {}), out);
  CHECK(out.delivered_records == records.size());
  CHECK(feed.records_seen() == records.size());

  nlohmann::json kept = feed.alerts_json();
  REQUIRE(kept.size() == 3);  // newest first
  CHECK(kept[0]["alert_id"] == std::to_string(alerts[4]->core().alert_id));
  REQUIRE(kept[0]["cutouts"].size() == 3);
  CHECK(kept[0]["cutouts"][2]["kind"] == "difference");
  CHECK(kept[0]["cutouts"][2]["format"] == "fits.gz");
  CHECK(!kept[0].contains("raw"));
  CHECK(!feed.alert(alerts[0]->core().alert_id));

  nlohmann::json lc = feed.lightcurve_json(alerts[4]->core().alert_id);
  REQUIRE(lc.is_object());
  size_t limits = 0, detections = 0;
  for (const auto& p : lc["points"]) (p["kind"] == "upper_limit" ? limits : detections)++;
  size_t expected_limits = 0, expected_detections = 1;  // the alert itself
  for (const Photometry& p : alerts[4]->core().history)
    (p.kind == Photometry::Kind::upper_limit ? expected_limits : expected_detections) += 1;
  CHECK(limits == expected_limits);
  CHECK(detections == expected_detections);

  nlohmann::json events = feed.events_json();
  REQUIRE(events.size() == 1);
  CHECK(events[0]["localization"]["shape"] == "circle");
  REQUIRE(events[0]["coincidences"].size() == 1);
  // The coincidence is placed on the sky with the position of its alert, even once the alert
  // itself has left the page.
  CHECK(events[0]["coincidences"][0]["ra"].get<double>() == doctest::Approx(alerts[0]->core().ra));
  CHECK(feed.coincidences_json()[0]["searched_probability"].get<double>() == doctest::Approx(0.42));

  // A later, older sequence of the same event does not replace the newer one.
  auto older = std::make_shared<SkyEvent>(*event);
  older->sequence = 0;
  older->alert_type = "PRELIMINARY";
  feed.add(older);
  CHECK(feed.events_json()[0]["sequence"] == 1);
}

TEST_CASE("keep limits are checked at validate time") {
  DashboardFeed feed;
  ActorType type = dashboard_sink_type(feed);
  ActorConfig config(YAML::Load("{keep_alerts: 0}"), "w.yaml", &type.config);
  std::vector<Problem> problems;
  type.check(config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "keep_alerts must be between 1 and 100000");
}

TEST_CASE("an updated coincidence replaces the earlier one of the same object on the map") {
  DashboardFeed feed;
  auto event = std::make_shared<SkyEvent>();
  event->event_id = "S1";
  feed.add(event);
  for (auto status : {Coincidence::Status::active, Coincidence::Status::updated}) {
    auto c = std::make_shared<Coincidence>();
    c->event_id = "S1";
    c->object_id = "ZTF20aaaaaaa";
    c->status = status;
    feed.add(c);
  }
  nlohmann::json events = feed.events_json();
  REQUIRE(events[0]["coincidences"].size() == 1);
  CHECK(events[0]["coincidences"][0]["status"] == "updated");
  CHECK(feed.coincidences_json().size() == 2);
}

TEST_CASE("a GW x GRB pair is listed under both events, in its latest state, and is not a candidate") {
  DashboardFeed feed;
  for (const char* id : {"S230518h", "bn230518001", "bn230518002"}) {
    auto event = std::make_shared<SkyEvent>();
    event->event_id = id;
    feed.add(event);
  }
  auto pair_with = [&](const char* other, Coincidence::Status status) {
    auto c = std::make_shared<Coincidence>();
    c->event_id = "S230518h";
    c->event_sequence = 2;
    c->other_event_id = other;
    c->other_event_sequence = 1;
    c->status = status;
    c->time_difference_s = 1.7;
    c->false_alarm_rate = 3e-12;
    c->terms = {{"temporal_far_hz", 4e-12, "raven"}, {"overlap_integral", NAN, "skymaps"}};
    feed.add(c);
  };
  pair_with("bn230518001", Coincidence::Status::active);
  pair_with("bn230518002", Coincidence::Status::active);
  pair_with("bn230518001", Coincidence::Status::withdrawn);
  nlohmann::json events = feed.events_json();  // newest first
  REQUIRE(events.size() == 3);
  const nlohmann::json& gw = events[2];
  CHECK(gw["event_id"] == "S230518h");
  CHECK(gw["coincidences"].empty());
  REQUIRE(gw["pairs"].size() == 2);
  CHECK(gw["pairs"][0]["other_event_id"] == "bn230518001");
  CHECK(gw["pairs"][0]["status"] == "withdrawn");
  CHECK(gw["pairs"][1]["other_event_id"] == "bn230518002");
  CHECK(gw["pairs"][1]["false_alarm_rate"].get<double>() == doctest::Approx(3e-12));
  CHECK(gw["pairs"][1]["terms"][0]["value"].get<double>() == doctest::Approx(4e-12));
  CHECK(gw["pairs"][1]["terms"][1]["value"].is_null());
  // From the burst's side the pair names the GW.
  const nlohmann::json& grb = events[0];
  CHECK(grb["event_id"] == "bn230518002");
  REQUIRE(grb["pairs"].size() == 1);
  CHECK(grb["pairs"][0]["other_event_id"] == "S230518h");
  CHECK(grb["pairs"][0]["other_event_sequence"] == 2);
}

}  // namespace ebs::dashboard
