#include "engine/runtime/credit_window.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace ebs;

TEST_CASE("a window of batches closes when they are spent and opens as credit comes back") {
  CreditWindow window({4, 0});
  for (int i = 0; i < 4; ++i) {
    CHECK(window.open());
    window.spend(1'000'000);  // bytes are unlimited: any size goes
  }
  CHECK_FALSE(window.open());
  CHECK(window.batches() == 0);
  window.grant({2, 2'000'000});
  CHECK(window.open());
  CHECK(window.batches() == 2);
  CHECK_FALSE(window.empty());
  window.grant({2, 2'000'000});
  CHECK(window.empty());
}

TEST_CASE("a byte limit closes the window before the batches run out") {
  CreditWindow window({16, 100});
  window.spend(60);
  CHECK(window.open());  // 40 bytes left
  window.spend(60);      // one batch may overshoot the bytes: at most window + one batch in flight
  CHECK(window.bytes() == -20);
  CHECK_FALSE(window.open());
  window.grant({1, 60});
  CHECK(window.open());
}

TEST_CASE("a batch larger than the whole byte window goes once the edge is empty") {
  CreditWindow window({16, 100});
  window.spend(500);
  CHECK_FALSE(window.open());  // the big batch is in flight
  window.grant({1, 500});
  CHECK(window.empty());
  CHECK(window.open());
  window.spend(500);
  CHECK_FALSE(window.open());
}

TEST_CASE("credit dips below zero on a flush and comes back whole") {
  CreditWindow window({2, 0});
  window.spend(1);
  window.spend(1);
  window.spend(1);  // a flush sends what it holds regardless
  CHECK(window.batches() == -1);
  CHECK_FALSE(window.open());
  window.grant({3, 3});
  CHECK(window.empty());
}

TEST_CASE("the receiver grants every half window of batches, with their bytes") {
  CreditGrant grant({16, 0});
  for (int i = 0; i < 7; ++i) CHECK_FALSE(grant.consume(10).has_value());
  auto credit = grant.consume(10);
  REQUIRE(credit.has_value());
  CHECK(credit->batches == 8);
  CHECK(credit->bytes == 80);
  CHECK_FALSE(grant.consume(10).has_value());  // counting starts again
}

TEST_CASE("with a byte limit the receiver also grants every half window of bytes") {
  CreditGrant grant({16, 1000});
  CHECK_FALSE(grant.consume(300).has_value());
  auto credit = grant.consume(300);  // 600 >= 500
  REQUIRE(credit.has_value());
  CHECK(credit->batches == 2);
  CHECK(credit->bytes == 600);
}

TEST_CASE("a window of one batch grants each batch; a closed grant gives nothing") {
  CreditGrant one({1, 0});
  CHECK(one.consume(5).has_value());
  CreditGrant ended({16, 0});
  ended.close();
  for (int i = 0; i < 20; ++i) CHECK_FALSE(ended.consume(1).has_value());
}

TEST_CASE("sender and receiver together keep at most the window in flight") {
  CreditLimits limits{8, 0};
  CreditWindow window(limits);
  CreditGrant grant(limits);
  int in_flight = 0, peak = 0, delivered = 0;
  while (delivered < 1000) {
    while (window.open()) {
      window.spend(100);
      peak = std::max(peak, ++in_flight);
    }
    // The receiver consumes one batch at a time and sends credit back when the grant says so.
    --in_flight;
    ++delivered;
    if (auto credit = grant.consume(100)) window.grant(*credit);
  }
  CHECK(peak == 8);
}
