#include "engine/util/base64.h"

#include <doctest/doctest.h>

#include "engine/util/fault.h"

using namespace ebs;

TEST_CASE("base64 round trips every length and byte value") {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (size_t n = 0; n <= bytes.size(); n += 7) {
    std::string part = bytes.substr(0, n);
    CHECK(base64_decode(base64_encode(part), "t") == part);
  }
  CHECK(base64_encode("Man") == "TWFu");
  CHECK(base64_encode("Ma") == "TWE=");
  CHECK(base64_encode("M") == "TQ==");
  CHECK(base64_decode("TW\nFu\r\nTQ==\n", "t") == "ManM");
}

TEST_CASE("corrupt base64 is a fault with its place and offset") {
  for (const char* bad : {"TWF", "TW!u", "TQ==TQ==", "T===", "=AAA"}) {
    INFO(bad);
    try {
      base64_decode(bad, "notice S1");
      FAIL("expected a fault");
    } catch (const Fault& f) {
      CHECK(f.place() == "notice S1");
      CHECK(f.message().starts_with("invalid base64: "));
    }
  }
}
