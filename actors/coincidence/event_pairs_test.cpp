// GW x GRB pairs from the real coincidence actor, on real notices (S230518h and a Fermi GBM notice
// moved in time to meet it, as actors/coincidence's tests do), stored in the SQLite repository.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "actors/coincidence/coincidence_actor.h"
#include "actors/common/notices/notice.h"
#include "actors/common/repository/reader.h"
#include "test/support/repository_test_support.h"
#include "actors/common/repository/writer.h"
#include "test/support/collecting_emitter.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::repository;
using testing::TempDir;

namespace {

std::shared_ptr<SkyEvent> notice(const std::string& rel) {
  std::ifstream in(ebs::test::data_dir() / "gcn" / rel, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  auto events = notices::parse_notice(text.str(), rel);
  REQUIRE(events.size() == 1);
  return events[0];
}

// A real GBM notice at `seconds_after_gw`, renamed so that two bursts can meet the same GW.
std::shared_ptr<SkyEvent> burst(const SkyEvent& gw, const std::string& event_id, double seconds_after_gw) {
  auto e = std::make_shared<SkyEvent>(*notice("gcn-schema-notices/fermi/gbm/trigger.flight1.example.json"));
  e->event_id = event_id;
  e->mjd_tai = gw.mjd_tai + seconds_after_gw / 86400;
  return e;
}

struct CoincidenceActor {
  ActorType type = coincidence::coincidence_actor_type();
  std::unique_ptr<ActorLogic> logic;
  ebs::test::CollectingEmitter out;
  CoincidenceActor() {
    auto context = ebs::test::make_context(type, "");
    logic = type.create(context);
    logic->open(context);
  }
  void events(std::vector<RecordPtr> r) {
    logic->on_batch(1, BatchView::make(PortType::sky_event, std::move(r), {}), out);
  }
};

void write_all(Writer& writer, const std::vector<RecordPtr>& records) {
  writer.begin();
  for (const RecordPtr& r : records) writer.add(*r);
  writer.commit(records.size(), 0);
}

}  // namespace

TEST_CASE("GW x GRB pairs: two bursts with one GW are two rows, replays add none, withdrawals add a status row") {
  auto gw = notice("lvk-fink-mm/S230518h-initial.json");
  auto grb_a = burst(*gw, "GRB-A", 1.2);
  auto grb_b = burst(*gw, "GRB-B", 3.0);
  CoincidenceActor actor;
  actor.events({gw, grb_a, grb_b});
  std::vector<RecordPtr> pairs = actor.out.records(0);
  REQUIRE(pairs.size() == 2);

  TempDir dir("repo-pairs");
  const std::string path = dir.file("pairs.db");
  {
    Writer writer(path);
    write_all(writer, {gw, grb_a, grb_b});
    write_all(writer, pairs);
    CHECK(writer.database().scalar("SELECT count(*) FROM coincidences") == 2);
    write_all(writer, pairs);  // a replay
    CHECK(writer.database().scalar("SELECT count(*) FROM coincidences") == 2);
    CHECK(writer.database().scalar("SELECT count(*) FROM coincidences WHERE alert_id = 0 AND object_id = '' "
                                   "AND other_event_sequence = " + std::to_string(grb_a->sequence)) == 2);

    auto retracted = std::make_shared<SkyEvent>(*grb_a);
    retracted->retracted = true;
    retracted->sequence = grb_a->sequence + 1;
    actor.events({retracted});
    REQUIRE(actor.out.records(0).size() == 3);
    write_all(writer, {retracted, actor.out.records(0)[2]});
    CHECK(writer.database().scalar("SELECT count(*) FROM coincidences") == 3);
    CHECK(writer.database().scalar("SELECT count(*) FROM coincidences WHERE other_event_id = 'GRB-A' AND "
                                   "status = 'withdrawn'") == 1);
  }

  Reader reader(path);
  auto from_gw = reader.event_coincidences("S230518h", true);  // every row
  REQUIRE(from_gw["coincidences"].size() == 3);
  CHECK(from_gw["coincidences"][0]["other_event_id"] == "GRB-A");
  CHECK(from_gw["coincidences"][2]["other_event_id"] == "GRB-B");
  // Each pair's current state: GRB-A withdrawn, GRB-B active.
  auto current = reader.event_coincidences("S230518h");
  REQUIRE(current["coincidences"].size() == 2);
  CHECK(current["coincidences"][0]["other_event_id"] == "GRB-A");
  CHECK(current["coincidences"][0]["status"] == "withdrawn");
  CHECK(current["coincidences"][1]["other_event_id"] == "GRB-B");
  CHECK(current["coincidences"][1]["status"] == "active");
  // Asking for a burst finds its pair too, with the burst's own notices.
  auto from_grb = reader.event_coincidences("GRB-B");
  REQUIRE(from_grb.is_object());
  REQUIRE(from_grb["coincidences"].size() == 1);
  CHECK(from_grb["coincidences"][0]["event_id"] == "S230518h");
  CHECK(from_grb["coincidences"][0]["false_alarm_rate"].get<double>() ==
        doctest::Approx(static_cast<const Coincidence&>(*pairs[1]).false_alarm_rate));
  CHECK(from_grb["notices"].size() == 1);
  CHECK(from_grb["coincidences"][0]["terms"].size() ==
        static_cast<const Coincidence&>(*pairs[1]).terms.size());
}

TEST_CASE("a coincidence needs exactly one of an alert or another event") {
  TempDir dir("repo-pairs-bad");
  Writer writer(dir.file("bad.db"));
  Coincidence neither;
  neither.event_id = "S230518h";
  CHECK_THROWS_AS(writer.add(neither), Fault);
  Coincidence both = neither;
  both.alert_id = 3;
  both.object_id = "ZTF1";
  both.other_event_id = "GRB-A";
  CHECK_THROWS_AS(writer.add(both), Fault);
}
