// What the dashboard page shows besides the graph: the latest alerts (with their cutouts and light
// curves), sky events and coincidences. Alerts are kept as the page shows them, in memory of their
// own (no raw payload; cutouts copied): kept past their acknowledgement, a record must not hold its
// source's buffer (a Kafka message's fetch buffer and consumer, docs/kafka.md). `dashboard` sink instances write into it; the HTTP server
// reads it from its own threads. main() builds one feed and hands it to both (no global).
//
// In a cluster run the sinks run on nodes: each node's feed ships what it keeps to the
// coordinator's feed (ship_unshipped / add_part, engine/cluster/feed_relay.h), whose page shows
// it. Nothing else crosses: the page reads the coordinator's own feed and never waits on a node.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/cluster/feed_relay.h"
#include "engine/model/record.h"

namespace ebs::dashboard {

struct FeedLimits {
  size_t alerts = 50;         // latest alerts kept (cutouts, light curve; not the raw payload)
  size_t events = 20;         // latest sky events
  size_t coincidences = 500;  // latest coincidences
  size_t positions = 100000;  // alert positions remembered to place coincidences on the sky
};

class DashboardFeed final : public cluster::FeedRelay {
 public:
  explicit DashboardFeed(FeedLimits limits = {}) : limits_(limits) {}

  // The first call sets the limits; later ones (more dashboard sinks) only raise them.
  void widen(const FeedLimits& limits);
  void add(const RecordPtr& record);

  // JSON views for the page (newest first).
  nlohmann::json alerts_json() const;
  // Latest first; each with its candidates ("coincidences": alerts, placed on the sky) and its
  // "pairs" with other sky events (GW x GRB/neutrino, listed under both events).
  nlohmann::json events_json() const;
  nlohmann::json coincidences_json() const;
  // Detections and upper limits of a kept alert (its history and itself); null if not kept.
  nlohmann::json lightcurve_json(int64_t alert_id) const;

  std::shared_ptr<const Alert> alert(int64_t alert_id) const;
  std::shared_ptr<const SkyEvent> event(const std::string& event_id) const;

  // Records the sinks received, on this process and (a coordinator) on the nodes (after a
  // restart: in the current attempt).
  uint64_t records_seen() const;
  // A coordinator: the kept records its nodes skipped, never shipped (over a shipment's budget,
  // ship_unshipped), in the current attempt; a node: those it skipped.
  uint64_t records_not_shipped() const;

  // A cluster run (engine/cluster/feed_relay.h). What a node ships is what it keeps, without
  // what the page never shows (an alert's raw payload, a notice's text); the coordinator keeps it
  // under the same limits, so once a node has shipped everything the two pages show the same.
  cluster::FeedShipment ship_unshipped(size_t budget_bytes, size_t part_bytes,
                                       const std::function<void(cluster::FeedPart&&)>& send) override;
  void begin_attempt(uint64_t epoch) override;
  void add_part(const std::string& node, const cluster::FeedPart& part) override;

 private:
  struct Position {
    double ra, dec;
    std::string object_id;
  };
  // A kept record and its place in the order records came (`arrival`): what a node has shipped
  // is everything up to an arrival. `sort_time` (sky events): the time by which the newest are
  // kept past keep_events (dashboard_feed.cpp keep_newest_events).
  template <class T>
  struct Kept {
    uint64_t arrival;
    std::shared_ptr<const T> record;
    double sort_time = 0;
    const T& operator*() const { return *record; }
    const T* operator->() const { return record.get(); }
  };
  void widen_locked(const FeedLimits& limits);
  // `from_node`: a coordinator adding what a node kept, which already applied the sequence rule of
  // sky events (its latest copy replaces whatever is here, so that both pages show the same).
  void add_locked(const RecordPtr& record, bool from_node);
  void begin_attempt_locked(uint64_t epoch);

  mutable std::mutex mutex_;
  FeedLimits limits_;
  std::deque<Kept<Alert>> alerts_;              // oldest first
  std::deque<Kept<SkyEvent>> events_;           // latest sequence per event id
  std::deque<Kept<Coincidence>> coincidences_;
  std::unordered_map<int64_t, Position> positions_;
  std::deque<int64_t> position_order_;
  uint64_t seen_ = 0;      // records this process's sinks received
  uint64_t arrivals_ = 0;  // records kept so far, from here or from nodes
  uint64_t shipped_ = 0;   // a node: the arrival up to which the kept records were shipped or skipped
  uint64_t seen_shipped_ = 0;
  uint64_t skipped_ = 0;   // a node: kept records skipped, never shipped (every count goes when it moves)
  std::set<uint64_t> events_carried_;  // a node: the arrivals of sky events over the last shipment's budget
  uint64_t epoch_ = 1;     // the attempt (kFirstEpoch, engine/cluster/messages.h; begin_attempt)
  std::map<std::string, uint64_t> seen_on_nodes_;     // a coordinator: records each node's sinks received
  std::map<std::string, uint64_t> skipped_on_nodes_;  // a coordinator: records each node skipped
  bool widened_ = false;
};

}  // namespace ebs::dashboard
