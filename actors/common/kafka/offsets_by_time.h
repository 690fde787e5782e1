// Offsets by time on any cluster, the embedded one too. librdkafka's mock cluster answers every
// ListOffsets by timestamp with "none" (rdkafka_mock_handlers.c: "FIXME: by timestamp"), so a
// partition it leaves without an offset although its last message is that late is searched
// here: a binary search over the partition's message timestamps.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <string>

namespace ebs::kafka {

// As rd_kafka_offsets_for_times: `list` holds a time (ms since 1970) in each element's offset and
// gets the first offset whose message timestamp is >= that time, or RD_KAFKA_OFFSET_END (-1)
// when no message is that late. Where the cluster says -1 but the partition's last message is
// that late, the offset is found by binary search, reading single messages with a consumer of
// its own made from `properties` (bootstrap.servers, security; its group and commit settings are
// its own, so nothing is committed): about log2(messages) reads per such partition. The search
// takes timestamps as non-decreasing within a partition (LogAppendTime, or producers writing in
// time order, as `replay` does). `rk` is only asked, never assigned. Returns the lookup's error;
// a message that cannot be read in time raises a `disconnected` Fault naming the partition.
rd_kafka_resp_err_t offsets_for_times(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* list,
                                      const std::map<std::string, std::string>& properties, int timeout_ms);

}  // namespace ebs::kafka
