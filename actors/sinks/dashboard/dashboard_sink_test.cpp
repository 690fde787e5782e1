#include "actors/sinks/dashboard/dashboard_sink.h"

#include <doctest/doctest.h>

#include <set>

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
                                   cluster::FeedShipment* shipment = nullptr) {
  std::vector<cluster::FeedPart> parts;
  cluster::FeedShipment sent =
      node.ship_unshipped(budget, part_bytes, [&](cluster::FeedPart&& part) { parts.push_back(std::move(part)); });
  CHECK(sent.parts == parts.size());
  if (shipment) *shipment = sent;
  return parts;
}

// A coincidence of S230518h with the alert `alert_id`: of one size for ids of one length.
std::shared_ptr<Coincidence> coincidence_with(int64_t alert_id) {
  auto c = std::make_shared<Coincidence>();
  c->event_id = "S230518h";
  c->alert_id = alert_id;
  return c;
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

TEST_CASE("a node's feed ships its newest records within the budget; the older over it are skipped, counted") {
  DashboardFeed node, coordinator;
  node.widen({.alerts = 5});
  auto alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 5);
  for (const auto& a : alerts) node.add(a);
  // A budget below one alert: the newest alone (a record larger than the budget still goes), the
  // four older skipped for good: the next shipment has nothing left to send.
  cluster::FeedShipment shipment;
  std::vector<cluster::FeedPart> parts = take(node, 1000, 1000, &shipment);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0].encodings.size() > 1000);
  CHECK(shipment.records == 1);
  CHECK(shipment.skipped == 4);
  coordinator.add_part("node2", parts[0]);
  REQUIRE(coordinator.alerts_json().size() == 1);
  CHECK(coordinator.alerts_json()[0] == node.alerts_json()[0]);  // the node's newest
  CHECK(coordinator.records_not_shipped() == 4);
  CHECK(node.records_not_shipped() == 4);
  CHECK(take(node, 1000, 1000).empty());
  // A new alert goes next; the count stays on every part.
  Annotation tag;
  tag.name = "again";
  node.add(alerts[0]->annotated(tag));
  parts = take(node, 1000, 1000, &shipment);
  REQUIRE(parts.size() == 1);
  CHECK(shipment.skipped == 0);
  coordinator.add_part("node2", parts[0]);
  CHECK(coordinator.alerts_json().size() == 2);
  CHECK(coordinator.records_not_shipped() == 4);

  // A budget of everything, parts smaller than two alerts: one alert a part, oldest first.
  DashboardFeed node2, coordinator2;
  node2.widen({.alerts = 5});
  for (const auto& a : alerts) node2.add(a);
  parts = take(node2, size_t{8} << 20, 1000);
  REQUIRE(parts.size() == 5);
  for (const auto& p : parts) CHECK(p.types.size() == 1);
  for (const auto& p : parts) coordinator2.add_part("node1", p);
  CHECK(coordinator2.alerts_json() == node2.alerts_json());
  CHECK(coordinator2.records_not_shipped() == 0);

  // Records the node dropped before it shipped them are never shipped: the coordinator keeps
  // what the node keeps.
  DashboardFeed node3, coordinator3;
  node3.widen({.alerts = 2});
  for (const auto& a : alerts) node3.add(a);
  ship(node3, coordinator3, size_t{8} << 20, size_t{256} << 10);
  CHECK(coordinator3.alerts_json() == node3.alerts_json());
  CHECK(coordinator3.alerts_json().size() == 2);
}

TEST_CASE("records arriving faster than the shipments take: the coordinator's newest are the node's, every shipment") {
  // Coincidences of one size, 30 a shipment period into a feed keeping 200, a budget of 10: the
  // node's page and the coordinator's share their newest after every shipment (oldest-first
  // shipping fell further behind every period), and the skipped are exactly the others.
  auto coincidence = [](int i) { return coincidence_with(100000 + i); };
  const size_t one = encode_record(*coincidence(0)).size();
  DashboardFeed node, coordinator;
  node.widen({.coincidences = 200});
  int made = 0;
  uint64_t shipped = 0;
  for (int period = 0; period < 12; ++period) {
    CAPTURE(period);
    for (int i = 0; i < 30; ++i) node.add(coincidence(made++));
    cluster::FeedShipment shipment;
    for (const auto& part : take(node, 10 * one, size_t{256} << 10, &shipment)) coordinator.add_part("node2", part);
    shipped += shipment.records;
    CHECK(shipment.records == 10);
    CHECK(shipment.skipped == 20);
    nlohmann::json shown = coordinator.coincidences_json(), kept = node.coincidences_json();
    for (size_t i = 0; i < 10; ++i) CHECK(shown[i] == kept[i]);  // the newest ten, in order
    CHECK(coordinator.records_not_shipped() + shipped == static_cast<uint64_t>(made));
  }
}

TEST_CASE("a shipment takes sky events first, then coincidences, then alerts, each from its newest back") {
  DashboardFeed node, coordinator;
  node.widen({.alerts = 5, .events = 20, .coincidences = 500});
  auto event = std::make_shared<SkyEvent>();
  event->event_id = "S230518h";
  event->localization.shape = Localization::Shape::skymap;
  event->localization.skymap_fits = std::string(50000, 'm');  // a sky map's size, larger than an alert
  auto coincidence = std::make_shared<Coincidence>();
  coincidence->event_id = "S230518h";
  coincidence->alert_id = 7;
  node.add(event);
  node.add(coincidence);
  auto alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 5);
  for (const auto& a : alerts) node.add(a);  // newer than the event: they would crowd it out
  auto shipped_bytes = [](const Alert& alert) {  // without its raw payload, as shipped
    auto core = std::make_shared<AlertCore>(alert.core());
    core->raw = RawRecord();
    return encode_record(Alert(std::move(core), alert.annotations())).size();
  };
  REQUIRE(encode_record(*event).size() > 50000);
  const size_t budget = encode_record(*event).size() + encode_record(*coincidence).size() +
                        shipped_bytes(*alerts[4]) + shipped_bytes(*alerts[3]) + 100;
  cluster::FeedShipment shipment;
  // The event, the coincidence and as many of the newest alerts as fit besides them.
  for (const auto& part : take(node, budget, size_t{256} << 10, &shipment))
    coordinator.add_part("node2", part);
  CHECK(shipment.records == 4);
  CHECK(shipment.skipped == 3);
  REQUIRE(coordinator.event("S230518h"));
  CHECK(coordinator.coincidences_json().size() == 1);
  nlohmann::json shown = coordinator.alerts_json();
  REQUIRE(shown.size() == 2);
  CHECK(shown[0] == node.alerts_json()[0]);
  CHECK(shown[1] == node.alerts_json()[1]);
}

TEST_CASE("sky events over a shipment's budget wait for the next shipments; one larger than the budget goes alone") {
  DashboardFeed node, coordinator;
  node.widen({.alerts = 5, .events = 20, .coincidences = 500});
  const std::vector<std::string> ids{"S230518h", "S230519a", "S230520b"};
  for (const std::string& id : ids) {
    auto event = std::make_shared<SkyEvent>();
    event->event_id = id;
    event->localization.shape = Localization::Shape::skymap;
    event->localization.skymap_fits = std::string(50000, 'm');  // a sky map: larger than the budget below
    node.add(event);
  }
  for (const auto& a : ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 2)) node.add(a);
  const size_t budget = 10000;
  cluster::FeedShipment shipment;
  // Each shipment: one event alone (at least one record goes), the newest waiting first; the
  // alerts of the first shipment give way to it, skipped and counted; the events never are.
  for (size_t round = 0; round < ids.size(); ++round) {
    CAPTURE(round);
    for (const auto& part : take(node, budget, size_t{256} << 10, &shipment)) coordinator.add_part("node2", part);
    CHECK(shipment.records == 1);
    CHECK(shipment.skipped == (round == 0 ? 2 : 0));
    CHECK(coordinator.event(ids[ids.size() - 1 - round]));
  }
  for (const std::string& id : ids) CHECK_MESSAGE(coordinator.event(id), id);
  CHECK(node.records_not_shipped() == 2);
  CHECK(coordinator.records_not_shipped() == 2);
  // Everything went or was counted: nothing more to ship.
  CHECK(take(node, budget, size_t{256} << 10, &shipment).empty());
  CHECK(shipment.records == 0);
}

TEST_CASE("past keep_events the feed keeps the newest sky events by their time, not by when they came") {
  auto event_at = [](const std::string& id, double mjd) {
    auto event = std::make_shared<SkyEvent>();
    event->event_id = id;
    event->mjd_tai = mjd;
    return event;
  };
  auto ids = [](const nlohmann::json& events) {
    std::set<std::string> out;
    for (const auto& e : events) out.insert(e["event_id"].get<std::string>());
    return out;
  };
  // The coordinator of a cluster run: node a ships two recent events, then node b one that
  // happened earlier (its shipment came late). Dropping by arrival, it dropped S230506a.
  DashboardFeed a, b, coordinator;
  a.widen({.alerts = 5, .events = 2, .coincidences = 500});
  b.widen({.alerts = 5, .events = 2, .coincidences = 500});
  a.add(event_at("S230505a", 60069.5));
  a.add(event_at("S230506a", 60070.5));
  for (const auto& part : take(a, size_t{8} << 20, size_t{256} << 10)) coordinator.add_part("a", part);
  b.add(event_at("S230501b", 60065.5));
  for (const auto& part : take(b, size_t{8} << 20, size_t{256} << 10)) coordinator.add_part("b", part);
  CHECK(ids(coordinator.events_json()) == std::set<std::string>{"S230505a", "S230506a"});
  // A newer one from b still pushes out the oldest, whichever node it came from.
  b.add(event_at("S230507b", 60071.5));
  for (const auto& part : take(b, size_t{8} << 20, size_t{256} << 10)) coordinator.add_part("b", part);
  CHECK(ids(coordinator.events_json()) == std::set<std::string>{"S230506a", "S230507b"});
  // One process's feed alike: a late notice of an older event does not push out a newer one.
  DashboardFeed feed;
  feed.widen({.alerts = 5, .events = 2, .coincidences = 500});
  feed.add(event_at("S230506a", 60070.5));
  feed.add(event_at("S230507b", 60071.5));
  feed.add(event_at("S230501b", 60065.5));
  CHECK(ids(feed.events_json()) == std::set<std::string>{"S230506a", "S230507b"});
  // A retraction has no time: it keeps the time of the copy it replaces. Ranked before every
  // timed event, the next new one dropped it, and S230506a went off the page.
  auto retraction = event_at("S230506a", NAN);
  retraction->retracted = true;
  retraction->sequence = 1;
  feed.add(retraction);
  CHECK(ids(feed.events_json()) == std::set<std::string>{"S230506a", "S230507b"});
  feed.add(event_at("S230505c", 60069.5));  // older than both: it goes at once
  CHECK(ids(feed.events_json()) == std::set<std::string>{"S230506a", "S230507b"});
  REQUIRE(feed.event("S230506a"));
  CHECK(feed.event("S230506a")->retracted);
  feed.add(event_at("S230508c", 60072.5));  // the retracted one is the oldest by its earlier time
  CHECK(ids(feed.events_json()) == std::set<std::string>{"S230507b", "S230508c"});
  // An untimed event never seen before sorts as the newest when it came, not before every timed one.
  feed.add(event_at("untimed", NAN));
  CHECK(ids(feed.events_json()) == std::set<std::string>{"S230508c", "untimed"});
  feed.add(event_at("S230509d", 60073.5));  // among equal times the earlier kept goes
  CHECK(ids(feed.events_json()) == std::set<std::string>{"untimed", "S230509d"});
}

TEST_CASE("after a restart the coordinator's page follows the new attempt: the earlier attempt's records are gone") {
  auto coincidence = [](int i) { return coincidence_with(1000 + i); };
  DashboardFeed node, coordinator;
  node.add(coincidence(1));
  node.add(coincidence(2));
  for (const auto& part : take(node, size_t{8} << 20, size_t{256} << 10)) coordinator.add_part("node2", part);
  node.add(coincidence(3));
  std::vector<cluster::FeedPart> late = take(node, size_t{8} << 20, size_t{256} << 10);  // still on its way
  REQUIRE(late.size() == 1);
  REQUIRE(coordinator.coincidences_json().size() == 2);
  // The restart: the coordinator first, then the node once its earlier sinks ended.
  coordinator.begin_attempt(2);
  CHECK(coordinator.coincidences_json().empty());
  CHECK(coordinator.records_seen() == 0);
  coordinator.add_part("node2", late[0]);  // the earlier attempt's: dropped
  CHECK(coordinator.coincidences_json().empty());
  CHECK(coordinator.records_seen() == 0);
  node.begin_attempt(2);
  CHECK(node.coincidences_json().empty());
  CHECK(take(node, size_t{8} << 20, size_t{256} << 10).empty());  // nothing of the earlier attempt goes
  node.add(coincidence(1));  // found again by the new attempt: shown once
  for (const auto& part : take(node, size_t{8} << 20, size_t{256} << 10)) coordinator.add_part("node2", part);
  CHECK(coordinator.coincidences_json() == node.coincidences_json());
  CHECK(coordinator.coincidences_json().size() == 1);
  CHECK(coordinator.records_seen() == 1);
  // A part of a newer attempt than the coordinator knows also begins it there.
  DashboardFeed other;
  other.add(coincidence(9));
  other.begin_attempt(3);
  other.add(coincidence(10));
  for (const auto& part : take(other, size_t{8} << 20, size_t{256} << 10)) coordinator.add_part("node1", part);
  REQUIRE(coordinator.coincidences_json().size() == 1);
  CHECK(coordinator.coincidences_json()[0]["alert_id"] == "1010");
}

TEST_CASE("a damaged part of a node's feed is a fault naming the node") {
  DashboardFeed coordinator;
  auto alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 1);
  cluster::FeedPart part{R"({"epoch": 1, "keep_alerts": 50, "keep_events": 20, "keep_coincidences": 500, "records": 1, "not_shipped": 0})",
                         std::string(1, static_cast<char>(PortType::alert)), encode_record(*alerts[0])};
  part.encodings.resize(part.encodings.size() / 2);
  CHECK_THROWS_WITH_AS(coordinator.add_part("node2", part), doctest::Contains("node 'node2'"), Fault);
  part.state = R"({"keep_alerts": 0})";
  CHECK_THROWS_WITH_AS(coordinator.add_part("node2", part), doctest::Contains("keep_alerts"), Fault);
  part.state = R"({"keep_alerts": 50, "keep_events": 20, "keep_coincidences": 500, "records": 1, "not_shipped": 0})";
  CHECK_THROWS_WITH_AS(coordinator.add_part("node2", part), doctest::Contains("epoch"), Fault);
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
      CHECK(shipment.skipped == 0);
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
  // The budget: exactly 4 records' bytes ship the newest 4, one byte less 3; the older are skipped.
  for (size_t budget : {4 * one, 4 * one - 1}) {
    const size_t first = budget / one;
    DashboardFeed node, coordinator;
    filled(node);
    cluster::FeedShipment shipment;
    for (const auto& part : take(node, budget, 3 * one, &shipment)) coordinator.add_part("node2", part);
    CHECK(shipment.records == first);
    CHECK(shipment.skipped == 10 - first);
    nlohmann::json shown = coordinator.coincidences_json();
    REQUIRE(shown.size() == first);
    for (size_t i = 0; i < first; ++i) CHECK(shown[i] == node.coincidences_json()[i]);  // the newest, newest first
    CHECK(coordinator.records_not_shipped() == 10 - first);
    CHECK(take(node, budget, 3 * one).empty());
  }
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
  // Three records a shipment, two in the last (a workflow refuses a final budget below a
  // shipment's; the shipper takes what it is given).
  shipper.set_budgets({3 * one, 2 * one});
  std::vector<cluster::FeedPart> sent;
  auto send = [&](cluster::FeedPart&& part) { sent.push_back(std::move(part)); };
  // Not asked (the coordinator serves no page): nothing goes.
  CHECK(shipper.tick(one, send).records == 0);
  CHECK(shipper.last(one, send).records == 0);
  CHECK(sent.empty());
  shipper.want();
  cluster::FeedShipment shipment = shipper.tick(one, send);  // three parts of one record: 7, 8, 9
  CHECK(shipment.records == 3);
  CHECK(shipment.skipped == 7);
  CHECK(sent.size() == 3);
  CHECK(shipper.in_transit() == 3);
  // Until every part is acknowledged, nothing more goes: what comes meanwhile stays in the feed.
  for (int i = 10; i < 14; ++i) node.add(coincidence(i));
  for (int ack = 0; ack < 3; ++ack) {
    CHECK(shipper.tick(one, send).records == 0);
    CHECK(sent.size() == 3);
    shipper.acknowledged();
  }
  shipment = shipper.tick(one, send);  // the newest that came meanwhile: 11, 12, 13
  CHECK(shipment.records == 3);
  CHECK(shipment.skipped == 1);
  CHECK(sent.size() == 6);
  // The last shipment goes whatever is in transit: the newest that fit (16, 17; 14 and 15 skipped).
  for (int i = 14; i < 18; ++i) node.add(coincidence(i));
  cluster::FeedShipment last = shipper.last(3 * one, send);
  CHECK(last.records == 2);
  CHECK(last.skipped == 2);
  REQUIRE(sent.size() == 7);
  CHECK(shipper.in_transit() == 4);
  CHECK(shipper.total().records == 8);
  CHECK(shipper.total().skipped == 10);
  for (const auto& part : sent) coordinator.add_part("node2", part);
  nlohmann::json shown = coordinator.coincidences_json();
  REQUIRE(shown.size() == 8);
  CHECK(shown[0]["alert_id"] == "1017");
  CHECK(shown[2]["alert_id"] == "1013");
  CHECK(shown[5]["alert_id"] == "1009");
  CHECK(coordinator.records_not_shipped() == 10);
}

TEST_CASE("a cluster run's dashboard budgets: the run flags over the workflow's keys; the final one not given follows "
          "the shipment's") {
  Workflow workflow;
  std::string problem;
  auto budgets = [&](std::optional<int64_t> shipment, std::optional<int64_t> final) {
    return cluster::feed_budgets(workflow, shipment, final, problem);
  };
  // No flag: the workflow's (here its defaults).
  REQUIRE(budgets(std::nullopt, std::nullopt));
  CHECK(budgets(std::nullopt, std::nullopt)->shipment_bytes == size_t{2} << 20);
  CHECK(budgets(std::nullopt, std::nullopt)->final_bytes == size_t{8} << 20);
  // The shipment's flag: a final budget the workflow did not give is four of the flag's shipments.
  REQUIRE(budgets(int64_t{1} << 20, std::nullopt));
  CHECK(budgets(int64_t{1} << 20, std::nullopt)->shipment_bytes == size_t{1} << 20);
  CHECK(budgets(int64_t{1} << 20, std::nullopt)->final_bytes == size_t{4} << 20);
  // A final budget the workflow gave stays, and may be refused against the flag's shipment: also
  // one that is four of the workflow's shipments (8 MiB here), which a workflow giving none has too.
  workflow.dashboard_final_shipment_bytes = 8 << 20;
  workflow.dashboard_final_shipment_given = true;
  CHECK(budgets(int64_t{1} << 20, std::nullopt)->final_bytes == size_t{8} << 20);
  CHECK_FALSE(budgets(int64_t{16} << 20, std::nullopt));
  CHECK(problem == "the workflow's dashboard_final_shipment_bytes, 8388608 (8 MiB), must not be below run "
                   "--dashboard-shipment-bytes, 16777216 (16 MiB)");
  workflow.dashboard_final_shipment_bytes = 6 << 20;
  CHECK(budgets(int64_t{1} << 20, std::nullopt)->final_bytes == size_t{6} << 20);
  CHECK_FALSE(budgets(int64_t{8} << 20, std::nullopt));
  CHECK(problem == "the workflow's dashboard_final_shipment_bytes, 6291456 (6 MiB), must not be below run "
                   "--dashboard-shipment-bytes, 8388608 (8 MiB)");
  // The final flag over both.
  CHECK(budgets(int64_t{8} << 20, int64_t{8} << 20)->final_bytes == size_t{8} << 20);
  CHECK_FALSE(budgets(std::nullopt, int64_t{1} << 20));
  CHECK(problem == "run --dashboard-final-shipment-bytes, 1048576 (1 MiB), must not be below the workflow's "
                   "dashboard_shipment_bytes, 2097152 (2 MiB)");
  // Out of range from code is refused as the flags refuse it.
  CHECK_FALSE(budgets(int64_t{1} << 10, std::nullopt));
  CHECK(problem.starts_with("'dashboard_shipment_bytes' must be a number of bytes from 65536 (64 KiB)"));
}

TEST_CASE("a node ships within the workflow's dashboard budgets: dashboard_shipment_bytes a tick, the final one at the end") {
  // The defaults, then the run's (the coordinator resolves them, feed_budgets, and sends them in
  // prepare; the node gives its shipper them).
  CHECK(cluster::FeedBudgets{}.shipment_bytes == size_t{2} << 20);
  CHECK(cluster::FeedBudgets{}.final_bytes == size_t{8} << 20);
  const cluster::FeedBudgets budgets{size_t{64} << 10, size_t{160} << 10};
  DashboardFeed node;
  node.widen({.coincidences = 5000});
  auto coincidence = [](int i) {
    auto c = std::make_shared<Coincidence>();
    c->event_id = "S230518h";
    c->alert_id = 100000 + i;  // one size for all
    return c;
  };
  for (int i = 0; i < 5000; ++i) node.add(coincidence(i));
  const size_t one = encode_record(*coincidence(0)).size();
  REQUIRE(5000 * one > (size_t{160} << 10));  // more than the final budget is kept
  cluster::FeedShipper shipper(&node, "node2");
  shipper.set_budgets(budgets);
  shipper.want();
  size_t bytes = 0;
  auto send = [&](cluster::FeedPart&& part) { bytes += part.encodings.size(); };
  // A tick takes as many of the newest as fit in 64 KiB, the last as many as fit in 160 KiB.
  const cluster::FeedShipment shipment = shipper.tick(16 << 10, send);
  MESSAGE(one << " B a coincidence: " << shipment.records << " records, " << bytes << " bytes a tick");
  CHECK(shipment.records == (size_t{64} << 10) / one);
  CHECK(bytes == shipment.records * one);
  CHECK(shipment.bytes <= size_t{64} << 10);
  CHECK(shipment.skipped == 5000 - shipment.records);
  for (int i = 5000; i < 10000; ++i) node.add(coincidence(i));
  bytes = 0;
  const cluster::FeedShipment last = shipper.last(16 << 10, send);  // whatever is in transit
  CHECK(last.records == (size_t{160} << 10) / one);
  CHECK(last.bytes <= size_t{160} << 10);
  CHECK(bytes == last.records * one);
}

}  // namespace ebs::dashboard
