// Records kept past their acknowledgement, from a Kafka source whose records view librdkafka's
// buffers (docs/kafka.md, "Messages viewed, not copied"): the dashboard feed, which keeps the
// latest alerts during and after the run, must keep bytes of its own.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "actors/sinks/dashboard/dashboard_sink.h"
#include "test/support/kafka_test_support.h"
#include "test/support/test_data.h"
#include "test/support/ztf_alerts.h"

namespace ebs {


TEST_CASE("alerts the dashboard keeps after the run view no Kafka buffer: every pin released, the consumer free to go") {
  test::KafkaFixture f;
  f.broker.create_topic("ztf", 2);
  REQUIRE(f.publish("ztf", {(test::data_dir() / "ztf").string()}).messages == 86);
  // The process-wide feed of `run --http`: it outlives the run (--linger) with the latest alerts.
  dashboard::DashboardFeed feed;
  f.registry.add(dashboard::dashboard_sink_type(feed));
  RunResult r = f.run(R"(
name: kept
actors:
  - id: src
    type: kafka
    config: {topics: [ztf], assign: true, start: earliest, stop_at_end: true, view_budget_bytes: 64 MiB,
             bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
  - id: page
    type: dashboard
    inputs: [src.alerts]
    config: {keep_alerts: 20}
)");
  REQUIRE(r.accounting_ok);
  CHECK(test::actor_counter(r, "src", "messages_viewed") == 86);
  // Read once every instance has ended, with the feed holding its 20 alerts: their messages (and
  // the consumer each keeps) are released, since the feed keeps bytes of its own.
  CHECK(test::actor_counter(r, "src", "pinned_bytes") == 0);
  const nlohmann::json kept = feed.alerts_json();
  REQUIRE(kept.size() == 20);
  auto alert = feed.alert(std::stoll(kept[0].at("alert_id").get<std::string>()));
  REQUIRE(alert);
  CHECK(test::cutout_bytes(*alert, Cutout::Kind::science).size() > 1000);
  CHECK(feed.lightcurve_json(alert->core().alert_id)["points"].size() >= 1);
}

}  // namespace ebs
