#include "engine/model/alert_identity.h"

#include <doctest/doctest.h>

using namespace ebs;

TEST_CASE("text alert ids hash to documented, stable, positive 63-bit ids") {
  // Values from an independent implementation (Python, FNV-1a 64 & (2^63 - 1)): they must never
  // change, stored repositories rely on them.
  CHECK(alert_id_of_text("02a59543o0040o_006230") == 4080382691826661096);
  CHECK(alert_id_of_text("02a59543o0040o_006231") == 4080383791338289307);
  CHECK(alert_id_of_text("02a59543o0040o_006230") != alert_id_of_text("02a59543o0040o_006231"));
  CHECK(alert_id_of_text("") > 0);
}

TEST_CASE("integer alert ids parse signed and whole, or not at all") {
  CHECK(parse_alert_id("1105522232515015004") == 1105522232515015004);
  CHECK(parse_alert_id("-1105522232515015004") == -1105522232515015004);
  CHECK(parse_alert_id("9223372036854775807") == INT64_MAX);
  CHECK_FALSE(parse_alert_id("9223372036854775808").has_value());  // overflow, not a wrap
  CHECK_FALSE(parse_alert_id("02a59543o0040o_006230").has_value());  // ATLAS: not "2"
  CHECK_FALSE(parse_alert_id("").has_value());
}
