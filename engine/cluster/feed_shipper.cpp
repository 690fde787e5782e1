#include "engine/cluster/feed_shipper.h"

#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include <exception>

#include "engine/util/byte_size.h"

namespace ebs::cluster {

std::string feed_budget_problem(int64_t shipment, int64_t final) {
  std::string problem = byte_setting_problem("dashboard_shipment_bytes", shipment, dashboard_budget_range(false));
  return problem.empty() ? byte_setting_problem("dashboard_final_shipment_bytes", final, dashboard_budget_range(true))
                         : problem;
}

std::optional<FeedBudgets> feed_budgets(const Workflow& workflow, std::optional<int64_t> shipment_flag,
                                        std::optional<int64_t> final_flag, std::string& problem) {
  const int64_t shipment = shipment_flag.value_or(workflow.dashboard_shipment_bytes);
  const int64_t final = final_flag                                ? *final_flag
                        : workflow.dashboard_final_shipment_given ? workflow.dashboard_final_shipment_bytes
                                                                  : Workflow::kFinalShipments * shipment;
  problem = feed_budget_problem(shipment, final);
  if (!problem.empty()) return std::nullopt;
  if (final < shipment) {
    problem = (final_flag ? std::string("run --dashboard-final-shipment-bytes")
                          : std::string("the workflow's dashboard_final_shipment_bytes")) +
              ", " + describe_bytes(final) + ", must not be below " +
              (shipment_flag ? "run --dashboard-shipment-bytes" : "the workflow's dashboard_shipment_bytes") + ", " +
              describe_bytes(shipment);
    return std::nullopt;
  }
  return FeedBudgets{static_cast<size_t>(shipment), static_cast<size_t>(final)};
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
