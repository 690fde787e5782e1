#include "actors/common/kafka/offsets_by_time.h"

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "actors/common/kafka/kafka_client.h"
#include "engine/util/fault.h"

namespace ebs::kafka {

namespace {

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const { rd_kafka_topic_partition_list_destroy(list); }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

// A consumer that reads single messages at chosen offsets (assign, poll, unassign).
class MessageReader {
 public:
  MessageReader(std::map<std::string, std::string> properties, int timeout_ms) : timeout_ms_(timeout_ms) {
    properties["group.id"] = "ebs-flow-offsets-by-time";
    properties["enable.auto.commit"] = "false";
    properties["enable.auto.offset.store"] = "false";
    properties["enable.partition.eof"] = "false";
    properties.emplace("log_level", "3");
    rd_kafka_conf_t* conf = make_conf(properties, "kafka offsets by time");
    char error[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!rk) fail("kafka offsets by time", error);
    rd_kafka_poll_set_consumer(rk);
    rk_.reset(rk);
  }
  ~MessageReader() { rd_kafka_consumer_close(rk_.get()); }
  MessageReader(const MessageReader&) = delete;
  MessageReader& operator=(const MessageReader&) = delete;

  // The offset and timestamp (ms) of the first message at or after `offset`.
  std::pair<int64_t, int64_t> first_at_or_after(const std::string& topic, int32_t partition, int64_t offset) {
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
    rd_kafka_assign(rk_.get(), list.get());  // a new assignment: messages fetched for an older one are dropped
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    std::pair<int64_t, int64_t> found{-1, -1};
    while (found.first < 0 && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 100);
      if (!m) continue;
      if (!m->err && m->partition == partition && m->offset >= offset)
        found = {m->offset, rd_kafka_message_timestamp(m, nullptr)};
      rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk_.get(), nullptr);
    if (found.first < 0)
      disconnected(topic + "/" + std::to_string(partition),
                   "could not read the message at offset " + std::to_string(offset) + " to find an offset by time");
    return found;
  }

 private:
  int timeout_ms_;
  KafkaHandle rk_;
};

}  // namespace

rd_kafka_resp_err_t offsets_for_times(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* list,
                                      const std::map<std::string, std::string>& properties, int timeout_ms) {
  std::vector<int64_t> times(static_cast<size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) times[static_cast<size_t>(i)] = list->elems[i].offset;
  if (rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, list, timeout_ms)) return err;
  std::unique_ptr<MessageReader> reader;  // made when a partition needs the search
  for (int i = 0; i < list->cnt; ++i) {
    rd_kafka_topic_partition_t& e = list->elems[i];
    if (e.err || e.offset >= 0) continue;
    const int64_t ms = times[static_cast<size_t>(i)];
    int64_t low = 0, high = 0;
    if (rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, e.topic, e.partition, &low, &high, timeout_ms)) {
      e.err = err;
      continue;
    }
    if (high <= low) continue;  // empty: the end
    if (!reader) reader = std::make_unique<MessageReader>(properties, timeout_ms);
    if (reader->first_at_or_after(e.topic, e.partition, high - 1).second < ms) continue;  // none that late: the end
    // The smallest position x in [low, high - 1] whose first message at or after x is that late.
    int64_t lo = low, hi = high - 1;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (reader->first_at_or_after(e.topic, e.partition, mid).second >= ms) hi = mid;
      else lo = mid + 1;
    }
    e.offset = reader->first_at_or_after(e.topic, e.partition, lo).first;
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace ebs::kafka
