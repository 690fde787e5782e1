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

TEST_CASE("base64: groups read four at a time decode as one at a time, blanks anywhere") {
  std::string bytes;
  uint32_t state = 12345;
  for (int i = 0; i < 3000; ++i) {
    state = state * 1103515245u + 12345u;
    bytes += static_cast<char>(state >> 16);
  }
  for (size_t n : {size_t(0), size_t(1), size_t(2), size_t(3), size_t(299), size_t(3000)}) {
    std::string part = bytes.substr(0, n);
    std::string text = base64_encode(part);
    CHECK(base64_decode(text, "t") == part);
    // Blanks between groups and inside them (a line break every 76 characters, as MIME writes,
    // and odd places), so that the four-at-a-time path stops and starts again.
    std::string spaced;
    for (size_t i = 0; i < text.size(); ++i) {
      if (i % 76 == 0 && i) spaced += "\r\n";
      if (i % 13 == 5) spaced += ' ';
      spaced += text[i];
    }
    spaced += "\n";
    CHECK(base64_decode(spaced, "t") == part);
  }
  // A bad character far into a text is reported at its own offset, whichever path meets it.
  std::string text = base64_encode(bytes);
  for (size_t at : {size_t(1000), size_t(1001), size_t(1002), size_t(1003)}) {
    std::string bad = text;
    bad[at] = '!';
    try {
      base64_decode(bad, "t");
      FAIL("expected a fault");
    } catch (const Fault& f) {
      CHECK(f.message() == "invalid base64: invalid character at offset " + std::to_string(at));
    }
  }
  CHECK_THROWS_AS(base64_decode(text.substr(0, text.size() - 1), "t"), Fault);  // truncated
  CHECK_THROWS_AS(base64_decode(base64_encode(bytes.substr(0, 2999)) + "TQ==", "t"), Fault);  // after padding
}
