#include "engine/util/percent_encoding.h"

#include <doctest/doctest.h>

namespace ebs {

TEST_CASE("percent_encoded keeps RFC 3986's unreserved characters and encodes every other byte") {
  CHECK(percent_encoded("") == "");
  CHECK(percent_encoded("AZaz09-._~") == "AZaz09-._~");
  CHECK(percent_encoded("al%69ce") == "al%2569ce");
  CHECK(percent_encoded("bob?x#y/z w+") == "bob%3Fx%23y%2Fz%20w%2B");
  CHECK(percent_encoded("caf\xc3\xa9") == "caf%C3%A9");
  CHECK(percent_encoded(std::string_view("\0\xff", 2)) == "%00%FF");
}

}  // namespace ebs
