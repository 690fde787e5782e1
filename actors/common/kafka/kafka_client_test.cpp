#include "actors/common/kafka/kafka_client.h"

#include <doctest/doctest.h>

#include "engine/util/fault.h"

namespace ebs::kafka {

TEST_CASE("an embedded broker takes messages from a publisher; bad properties name their place") {
  EmbeddedBroker broker;
  CHECK(broker.bootstrap_servers().find("127.0.0.1:") != std::string::npos);
  broker.create_topic("t", 2);
  Publisher publisher({{"bootstrap.servers", broker.bootstrap_servers()}}, "t");
  for (int i = 0; i < 20; ++i) publisher.publish("message " + std::to_string(i));
  publisher.flush();
  CHECK(publisher.delivered() == 20);
  CHECK(publisher.failed() == 0);

  CHECK_THROWS_WITH_AS(make_conf({{"no.such.property", "1"}}, "wf.yaml:3:7"),
                       doctest::Contains("wf.yaml:3:7: kafka property no.such.property=1: "), Fault);
}

}  // namespace ebs::kafka
