// What a consumer group has committed, for tests that kill and restart consumers (header only,
// tests only; links ebs_kafka).
#pragma once

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/common/kafka/kafka_client.h"

namespace ebs::test {

// The offsets the group has committed on each of the topic's partitions (-1: none).
inline std::vector<int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                              const std::string& topic, int partitions) {
  rd_kafka_conf_t* conf = kafka::make_conf({{"bootstrap.servers", bootstrap}, {"group.id", group}}, "committed");
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  REQUIRE(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  REQUIRE(rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<int64_t> out(partitions, -1);
  for (int i = 0; i < list->cnt; ++i) out[list->elems[i].partition] = list->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return out;
}

// Messages the group has committed on the topic: the sum of its committed offsets.
inline int64_t committed_messages(const std::string& bootstrap, const std::string& group, const std::string& topic,
                                  int partitions) {
  int64_t total = 0;
  for (int64_t offset : committed_offsets(bootstrap, group, topic, partitions)) total += std::max<int64_t>(0, offset);
  return total;
}

}  // namespace ebs::test
