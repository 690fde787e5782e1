#include "engine/util/backoff.h"

#include <doctest/doctest.h>

using std::chrono::milliseconds;

TEST_CASE("Backoff doubles from the first wait, stays at the cap, and starts over after reset") {
  ebs::Backoff backoff(milliseconds(200), milliseconds(1000));
  CHECK(backoff.next() == milliseconds(200));
  CHECK(backoff.next() == milliseconds(400));
  CHECK(backoff.next() == milliseconds(800));
  CHECK(backoff.next() == milliseconds(1000));
  CHECK(backoff.next() == milliseconds(1000));
  backoff.reset();
  CHECK(backoff.next() == milliseconds(200));
}

TEST_CASE("Backoff never overflows near the largest cap") {
  ebs::Backoff backoff(milliseconds(1), milliseconds::max());
  for (int i = 0; i < 100; ++i) CHECK(backoff.next() > milliseconds(0));
  CHECK(backoff.next() == milliseconds::max());
}
