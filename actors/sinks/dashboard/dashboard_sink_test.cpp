#include "actors/sinks/dashboard/dashboard_sink.h"

#include <doctest/doctest.h>

#include "test/support/ztf_alerts.h"
#include "engine/cluster/feed_shipper.h"
#include "engine/model/record_wire.h"
#include "engine/runtime/actor_logic.h"
#include "engine/util/fault.h"
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

namespace {

// The parts a node's feed ships now, as its node sends them.
std::vector<cluster::FeedPart> take(DashboardFeed& node, size_t budget, size_t part_bytes,
                                   cluster::FeedShipment* shipment = nullptr, bool keep_newest = false) {
  std::vector<cluster::FeedPart> parts;
  cluster::FeedShipment sent =
      node.ship_unshipped(budget, part_bytes, keep_newest, [&](cluster::FeedPart&& part) { parts.push_back(std::move(part)); });
  CHECK(sent.parts == parts.size());
  if (shipment) *shipment = sent;
  return parts;
}

// Every part a node's feed has to ship now, into the coordinator's feed; the parts' sizes.
std::vector<size_t> ship(DashboardFeed& node, DashboardFeed& coordinator, size_t budget, size_t part_bytes) {
  std::vector<size_t> sizes;
  for (const cluster::FeedPart& part : take(node, budget, part_bytes)) {
    sizes.push_back(part.encodings.size());
    coordinator.add_part("node2", part);
  }
  return sizes;
}

}  // namespace

TEST_CASE("a node's feed ships what it keeps to the coordinator's, whose page then shows the same (a cluster run)") {
  DashboardFeed node, coordinator;
  node.widen({.alerts = 3, .events = 20, .coincidences = 500});
  auto alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 5);
  REQUIRE(alerts.size() == 5);
  REQUIRE(!alerts[4]->core().raw.empty());
  auto event = std::make_shared<SkyEvent>();
  event->event_id = "S230518h";
  event->sequence = 2;
  event->localization.shape = Localization::Shape::circle;
  event->localization.ra = 10;
  event->localization.radius_deg = 3;
  event->notice_json = std::string(100000, 'x');  // not shown by the page: not shipped
  // The coincidence of an alert that the node no longer keeps when it ships: placed on the map
  // by the position the coincidence itself carries.
  auto coincidence = std::make_shared<Coincidence>();
  coincidence->event_id = "S230518h";
  coincidence->alert_id = alerts[0]->core().alert_id;
  coincidence->object_id = alerts[0]->core().object_id;
  coincidence->alert_ra = alerts[0]->core().ra;
  coincidence->alert_dec = alerts[0]->core().dec;
  node.add(event);
  for (const auto& a : alerts) node.add(a);
  node.add(coincidence);
  Annotation tag;
  tag.name = "bright";
  node.add(alerts[3]->annotated(tag));  // the same alert, further downstream: replaces its copy

  std::vector<size_t> sizes = ship(node, coordinator, size_t{8} << 20, size_t{256} << 10);
  REQUIRE(!sizes.empty());
  CHECK(coordinator.alerts_json() == node.alerts_json());
  CHECK(coordinator.events_json() == node.events_json());
  CHECK(coordinator.coincidences_json() == node.coincidences_json());
  CHECK(coordinator.records_seen() == node.records_seen());
  CHECK(coordinator.events_json()[0]["coincidences"][0]["ra"].get<double>() == doctest::Approx(alerts[0]->core().ra));
  // What the page needs came along (cutouts, history), the raw payload and the notice's text not.
  auto shipped = coordinator.alert(alerts[4]->core().alert_id);
  REQUIRE(shipped);
  CHECK(shipped->core().raw.empty());
  CHECK(ebs::test::cutout_bytes(*shipped, Cutout::Kind::science) ==
        ebs::test::cutout_bytes(*alerts[4], Cutout::Kind::science));
  CHECK(coordinator.lightcurve_json(alerts[4]->core().alert_id) == node.lightcurve_json(alerts[4]->core().alert_id));
  CHECK(coordinator.event("S230518h")->notice_json.empty());
  const size_t whole = encode_record(*alerts[4]).size();
  MESSAGE("a ZTF alert: " << whole << " bytes encoded, " << encode_record(*shipped).size() << " as shipped");
  CHECK(encode_record(*shipped).size() < whole);

  // Nothing new: nothing to ship. A new record: only it.
  CHECK(take(node, size_t{8} << 20, size_t{256} << 10).empty());
  auto second = std::make_shared<Coincidence>(*coincidence);
  second->status = Coincidence::Status::withdrawn;
  node.add(second);
  auto parts = take(node, size_t{8} << 20, size_t{256} << 10);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0].types.size() == 1);
  coordinator.add_part("node2", parts[0]);
  CHECK(coordinator.coincidences_json() == node.coincidences_json());
  // A record the sinks receive but do not keep moves only the count.
  node.add(std::make_shared<DeadLetter>());
  parts = take(node, size_t{8} << 20, size_t{256} << 10);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0].types.empty());
  coordinator.add_part("node2", parts[0]);
  CHECK(coordinator.records_seen() == node.records_seen());
}

TEST_CASE("a node's feed ships at most its budget a time, the rest later, in parts of at most the part size") {
  DashboardFeed node, coordinator;
  node.widen({.alerts = 5});
  auto alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 5);
  for (const auto& a : alerts) node.add(a);
  // A budget below one alert: one alert a time (a record larger than the budget still goes).
  for (size_t i = 0; i < 5; ++i) {
    std::vector<size_t> sizes = ship(node, coordinator, 1000, 1000);
    REQUIRE(sizes.size() == 1);
    CHECK(sizes[0] > 1000);
    CHECK(coordinator.alerts_json().size() == i + 1);
  }
  CHECK(coordinator.alerts_json() == node.alerts_json());

  // A budget of everything, parts smaller than two alerts: one alert a part, oldest first.
  DashboardFeed node2, coordinator2;
  node2.widen({.alerts = 5});
  for (const auto& a : alerts) node2.add(a);
  std::vector<cluster::FeedPart> parts = take(node2, size_t{8} << 20, 1000);
  REQUIRE(parts.size() == 5);
  for (const auto& p : parts) CHECK(p.types.size() == 1);
  for (const auto& p : parts) coordinator2.add_part("node1", p);
  CHECK(coordinator2.alerts_json() == node2.alerts_json());

  // Records the node dropped before it shipped them are never shipped: the coordinator keeps
  // what the node keeps.
  DashboardFeed node3, coordinator3;
  node3.widen({.alerts = 2});
  for (const auto& a : alerts) node3.add(a);
  ship(node3, coordinator3, size_t{8} << 20, size_t{256} << 10);
  CHECK(coordinator3.alerts_json() == node3.alerts_json());
  CHECK(coordinator3.alerts_json().size() == 2);
}

TEST_CASE("a damaged part of a node's feed is a fault naming the node") {
  DashboardFeed coordinator;
  auto alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 1);
  cluster::FeedPart part{R"({"keep_alerts": 50, "keep_events": 20, "keep_coincidences": 500, "records": 1})",
                         std::string(1, static_cast<char>(PortType::alert)), encode_record(*alerts[0])};
  part.encodings.resize(part.encodings.size() / 2);
  CHECK_THROWS_WITH_AS(coordinator.add_part("node2", part), doctest::Contains("node 'node2'"), Fault);
  part.state = R"({"keep_alerts": 0})";
  CHECK_THROWS_WITH_AS(coordinator.add_part("node2", part), doctest::Contains("keep_alerts"), Fault);
  CHECK(coordinator.alerts_json().empty());
}

TEST_CASE("a node's feed splits its shipment into parts at the part size and stops at the budget, record by record") {
  // Coincidences of one size: the boundaries fall between records, exactly.
  auto coincidence = [](int i) {
    auto c = std::make_shared<Coincidence>();
    c->event_id = "S230518h";
    c->alert_id = 1000 + i;
    c->object_id = "ZTF20aaaaa" + std::to_string(10 + i);
    return c;
  };
  const size_t one = encode_record(*coincidence(0)).size();
  REQUIRE(encode_record(*coincidence(89)).size() == one);
  auto filled = [&](DashboardFeed& feed) {
    feed.widen({.coincidences = 10});
    for (int i = 0; i < 10; ++i) feed.add(coincidence(i));
  };
  for (size_t per_part : {size_t{1}, size_t{3}, size_t{4}}) {
    CAPTURE(per_part);
    // A part size of exactly `per_part` records' bytes holds them, and so does one byte short of one more.
    for (size_t part_bytes : {per_part * one, per_part * one + one - 1}) {
      DashboardFeed node, coordinator;
      filled(node);
      cluster::FeedShipment shipment;
      std::vector<cluster::FeedPart> parts = take(node, size_t{8} << 20, part_bytes, &shipment);
      CHECK(shipment.records == 10);
      CHECK(shipment.left == 0);
      CHECK(shipment.bytes == 10 * one);
      REQUIRE(parts.size() == (10 + per_part - 1) / per_part);
      for (size_t i = 0; i < parts.size(); ++i) {
        CHECK(parts[i].encodings.size() <= part_bytes);
        CHECK(parts[i].types.size() == (i + 1 < parts.size() ? per_part : 10 - per_part * (parts.size() - 1)));
        CHECK(parts[i].encodings.size() == parts[i].types.size() * one);
        coordinator.add_part("node2", parts[i]);
      }
      CHECK(coordinator.coincidences_json() == node.coincidences_json());
    }
  }
  // The budget: exactly 4 records' bytes ship 4, one byte less 3; the rest goes next, in order.
  for (size_t budget : {4 * one, 4 * one - 1}) {
    const size_t first = budget / one;
    DashboardFeed node, coordinator;
    filled(node);
    cluster::FeedShipment shipment;
    for (const auto& part : take(node, budget, 3 * one, &shipment)) coordinator.add_part("node2", part);
    CHECK(shipment.records == first);
    CHECK(shipment.left == 10 - first);
    CHECK(coordinator.coincidences_json().size() == first);
    CHECK(coordinator.coincidences_json()[0]["alert_id"] == std::to_string(1000 + first - 1));  // newest first
    while (shipment.left > 0)
      for (const auto& part : take(node, budget, 3 * one, &shipment)) coordinator.add_part("node2", part);
    CHECK(coordinator.coincidences_json() == node.coincidences_json());
    CHECK(take(node, budget, 3 * one).empty());
  }
  // The last shipment over its budget: the newest that fit go, in order; the older never.
  DashboardFeed node, coordinator;
  filled(node);
  for (const auto& part : take(node, 2 * one, size_t{256} << 10)) coordinator.add_part("node2", part);  // 0, 1
  cluster::FeedShipment shipment;
  for (const auto& part : take(node, 3 * one, size_t{256} << 10, &shipment, true)) coordinator.add_part("node2", part);
  CHECK(shipment.records == 3);
  CHECK(shipment.left == 5);
  nlohmann::json shown = coordinator.coincidences_json();
  REQUIRE(shown.size() == 5);
  const std::vector<int> expected{9, 8, 7, 1, 0};  // newest first
  for (size_t i = 0; i < expected.size(); ++i) CHECK(shown[i]["alert_id"] == std::to_string(1000 + expected[i]));
  CHECK(take(node, size_t{8} << 20, size_t{256} << 10).empty());
}

TEST_CASE("the coordinator takes a node's sky event as that node kept it, whatever its sequence") {
  // The node applied the sequence rule: what it ships replaces the coordinator's copy, so that a
  // record the node never shipped (dropped before its turn, or an earlier attempt's) cannot make
  // the two pages differ.
  auto event = [](int sequence) {
    auto e = std::make_shared<SkyEvent>();
    e->event_id = "S230518h";
    e->sequence = sequence;
    return e;
  };
  DashboardFeed earlier, node, coordinator;
  earlier.add(event(5));
  for (const auto& part : take(earlier, size_t{8} << 20, size_t{256} << 10)) coordinator.add_part("node2", part);
  node.add(event(3));
  for (const auto& part : take(node, size_t{8} << 20, size_t{256} << 10)) coordinator.add_part("node2", part);
  CHECK(coordinator.event("S230518h")->sequence == 3);
  CHECK(coordinator.events_json() == node.events_json());
  // Its own sinks' records still follow the rule.
  DashboardFeed single;
  single.add(event(5));
  single.add(event(3));
  CHECK(single.event("S230518h")->sequence == 5);
}

TEST_CASE("a node ships its feed only when asked, one acknowledged shipment at a time, the last whatever is in transit") {
  DashboardFeed node, coordinator;
  node.widen({.coincidences = 10});
  auto coincidence = [](int i) {
    auto c = std::make_shared<Coincidence>();
    c->event_id = "S230518h";
    c->alert_id = 1000 + i;
    return c;
  };
  for (int i = 0; i < 10; ++i) node.add(coincidence(i));
  const size_t one = encode_record(*coincidence(0)).size();
  cluster::FeedShipper shipper(&node, "node2");
  std::vector<cluster::FeedPart> sent;
  auto send = [&](cluster::FeedPart&& part) { sent.push_back(std::move(part)); };
  // Not asked (the coordinator serves no page): nothing goes.
  CHECK(shipper.tick(3 * one, one, send).records == 0);
  CHECK(shipper.last(3 * one, one, send).records == 0);
  CHECK(sent.empty());
  shipper.want();
  CHECK(shipper.tick(3 * one, one, send).records == 3);  // three parts of one record
  CHECK(sent.size() == 3);
  CHECK(shipper.in_transit() == 3);
  // Until every part is acknowledged, nothing more goes: the rest stays in the feed.
  for (int ack = 0; ack < 3; ++ack) {
    CHECK(shipper.tick(3 * one, one, send).records == 0);
    CHECK(sent.size() == 3);
    shipper.acknowledged();
  }
  CHECK(shipper.tick(3 * one, one, send).records == 3);
  CHECK(sent.size() == 6);
  // The last shipment goes whatever is in transit: the newest that fit (8, 9; 6 and 7 left out).
  cluster::FeedShipment last = shipper.last(2 * one, 3 * one, send);
  CHECK(last.records == 2);
  CHECK(last.left == 2);
  REQUIRE(sent.size() == 7);
  CHECK(shipper.in_transit() == 4);
  for (const auto& part : sent) coordinator.add_part("node2", part);
  nlohmann::json shown = coordinator.coincidences_json();
  REQUIRE(shown.size() == 8);
  CHECK(shown[0]["alert_id"] == "1009");
  CHECK(shown[2]["alert_id"] == "1005");
}

}  // namespace ebs::dashboard
