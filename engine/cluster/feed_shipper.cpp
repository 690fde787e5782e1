#include "engine/cluster/feed_shipper.h"

#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include <exception>

namespace ebs::cluster {

FeedBudgets feed_budgets(const Workflow& workflow) {
  return {static_cast<size_t>(workflow.dashboard_shipment_bytes), static_cast<size_t>(workflow.dashboard_final_shipment_bytes)};
}

FeedShipment FeedShipper::tick(size_t part_bytes, const Send& send) {
  if (in_transit_ > 0) return {};
  return ship(budgets_.shipment_bytes, part_bytes, send);
}

FeedShipment FeedShipper::last(size_t part_bytes, const Send& send) { return ship(budgets_.final_bytes, part_bytes, send); }

FeedShipment FeedShipper::ship(size_t budget_bytes, size_t part_bytes, const Send& send) {
  if (!wanted_ || !feed_) return {};
  auto stop = [&](const char* what) {
    spdlog::error("node {}: the dashboard feed is no longer shipped to the coordinator: {}", node_, what);
    wanted_ = false;
  };
  try {
    FeedShipment shipment = feed_->ship_unshipped(budget_bytes, part_bytes, [&](FeedPart&& part) {
      send(std::move(part));
      ++in_transit_;
    });
    total_.parts += shipment.parts;
    total_.records += shipment.records;
    total_.bytes += shipment.bytes;
    total_.skipped += shipment.skipped;
    return shipment;
  } catch (const std::exception& e) {
    stop(e.what());
  } catch (const kj::Exception& e) {  // Cap'n Proto's limits
    stop(e.getDescription().cStr());
  }
  return {};
}

}  // namespace ebs::cluster
