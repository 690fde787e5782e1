// A node's side of the dashboard feed (engine/cluster/feed_relay.h): what its `dashboard` sinks
// keep goes to the coordinator one shipment at a time, the next only once the coordinator has
// acknowledged every part of the previous one (feed_ack_atom, engine/cluster/messages.h), so that
// at most one shipment is in transit from a node however slow its link or busy the coordinator.
// The page is a view: a part that cannot be made stops the shipping, never the node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "engine/cluster/feed_relay.h"
#include "engine/graph/workflow.h"

namespace ebs::cluster {

// What a node ships at most: every kBooksInterval, and before its books at the end and after a
// drain cut (the workflow's `defaults: {dashboard_shipment_bytes, dashboard_final_shipment_bytes}`).
struct FeedBudgets {
  size_t shipment_bytes = Workflow::kDefaultDashboardShipmentBytes;
  size_t final_bytes = Workflow::kFinalShipments * Workflow::kDefaultDashboardShipmentBytes;
};

// Why `shipment` and `final` cannot be the budgets (one out of its range); empty when they can.
std::string feed_budget_problem(int64_t shipment, int64_t final);

// A cluster run's budgets: `run --dashboard-shipment-bytes`, `--dashboard-final-shipment-bytes`
// (when set) over the workflow's. Without the final flag the final budget is the workflow's, unless
// it gave none (Workflow::dashboard_final_shipment_given): then four of the run's shipments.
// Nothing, and why in `problem`, when the final budget would be below the shipment's.
std::optional<FeedBudgets> feed_budgets(const Workflow& workflow, std::optional<int64_t> shipment_flag,
                                        std::optional<int64_t> final_flag, std::string& problem);

class FeedShipper {
 public:
  using Send = std::function<void(FeedPart&&)>;
  // `feed` null: nothing to ship. `node`: this node's name, for the log.
  FeedShipper(FeedRelay* feed, std::string node) : feed_(feed), node_(std::move(node)) {}

  // The coordinator serves `run --http` and asked for the feed (feed_atom): until then nothing ships.
  void want() { wanted_ = true; }
  // The run's budgets, once its workflow is known (prepare); until then the defaults.
  void set_budgets(const FeedBudgets& budgets) { budgets_ = budgets; }
  const FeedBudgets& budgets() const { return budgets_; }
  // Every kBooksInterval: the newest kept records not shipped yet, up to the shipment budget (the
  // older over it skipped, counted: FeedRelay::ship_unshipped), in parts of `part_bytes`, unless a
  // part of the previous shipment is still unacknowledged (then nothing; they stay in the feed,
  // and the next shipment takes the newest of them).
  FeedShipment tick(size_t part_bytes, const Send& send);
  // The coordinator added a part (feed_ack_atom).
  void acknowledged() {
    if (in_transit_ > 0) --in_transit_;
  }
  // Before the books at the end, and again after a drain cut once the instances ended: the newest
  // left, up to the final budget, whatever is in transit.
  FeedShipment last(size_t part_bytes, const Send& send);
  // A restart's next attempt (on_node_loss: restart), once the earlier attempt's instances ended:
  // what they kept is dropped, and what ships next carries `epoch` (FeedRelay::begin_attempt).
  void begin_attempt(uint64_t epoch) {
    if (feed_) feed_->begin_attempt(epoch);
  }
  size_t in_transit() const { return in_transit_; }
  // In all, this run: the kept records shipped, and those skipped (never shipped).
  const FeedShipment& total() const { return total_; }

 private:
  FeedShipment ship(size_t budget_bytes, size_t part_bytes, const Send& send);

  FeedRelay* feed_;
  std::string node_;
  bool wanted_ = false;
  FeedBudgets budgets_;
  size_t in_transit_ = 0;  // parts sent and not yet acknowledged
  FeedShipment total_;
};

}  // namespace ebs::cluster
