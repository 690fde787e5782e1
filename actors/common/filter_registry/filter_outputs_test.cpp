#include "actors/common/filter_registry/filter_outputs.h"

#include <doctest/doctest.h>

#include <thread>

using namespace ebs::filter_registry;

TEST_CASE("an output's alerts/s limit raised: the time before counts at the old limit, not the new one") {
  // Silent (0 alerts/s) for half a second, then 10 alerts/s: the half second earned nothing, so
  // offers made at once are all dropped (at the new limit, half a second would have earned 5).
  // Nothing is delivered (the webhook is closed), and none of the offers reaches it.
  OutputSettings settings;
  settings.max_per_second = 0;
  OutputQueue queue({Output::Kind::webhook, "http://127.0.0.1:1/hook"}, settings);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  queue.set_max_per_second(10);
  for (int i = 0; i < 10; ++i) queue.offer("{}", "", "");
  // A token takes 100 ms at the new limit: the offers, made at once, earn none.
  CHECK(queue.rate_limited() == 10);
}
