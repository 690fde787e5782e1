// What the dashboard page shows besides the graph: the latest alerts (with their cutouts and light
// curves), sky events and coincidences. `dashboard` sink instances write into it; the HTTP server
// reads it from its own threads. main() builds one feed and hands it to both (no global).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/model/record.h"

namespace ebs::dashboard {

struct FeedLimits {
  size_t alerts = 50;         // latest alerts kept whole (cutouts, light curve)
  size_t events = 20;         // latest sky events
  size_t coincidences = 500;  // latest coincidences
  size_t positions = 100000;  // alert positions remembered to place coincidences on the sky
};

class DashboardFeed {
 public:
  explicit DashboardFeed(FeedLimits limits = {}) : limits_(limits) {}

  // The first call sets the limits; later ones (more dashboard sinks) only raise them.
  void widen(const FeedLimits& limits);
  void add(const RecordPtr& record);
  void clear();

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

  uint64_t records_seen() const;

 private:
  struct Position {
    double ra, dec;
    std::string object_id;
  };
  mutable std::mutex mutex_;
  FeedLimits limits_;
  std::deque<std::shared_ptr<const Alert>> alerts_;       // oldest first
  std::deque<std::shared_ptr<const SkyEvent>> events_;     // latest sequence per event id
  std::deque<std::shared_ptr<const Coincidence>> coincidences_;
  std::unordered_map<int64_t, Position> positions_;
  std::deque<int64_t> position_order_;
  uint64_t seen_ = 0;
  bool widened_ = false;
};

}  // namespace ebs::dashboard
