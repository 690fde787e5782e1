#include "engine/util/hash.h"

#include <doctest/doctest.h>

#include <cstdio>

using namespace ebs;

TEST_CASE("FNV-1a as this project has always computed it, fed whole or in pieces") {
  // The offset basis is the published one without its last digit (1469598103934665603, not
  // ...6037): stored fingerprints and cache names depend on it, so it stays (computed in Python).
  CHECK(fnv1a64("") == 1469598103934665603ull);
  CHECK(fnv1a64("a") == 0x44bd8ad473cd9906ull);
  CHECK(fnv1a64("foobar") == 0x88fad7c0a8ff07f2ull);
  CHECK(Fnv1a64().add("foo").add("").add("bar").value() == fnv1a64("foobar"));
}

TEST_CASE("hex64 writes printf's %016llx") {
  for (uint64_t value : {0ull, 1ull, 0xabcdef0123456789ull, ~0ull, 0x0f00000000000000ull}) {
    char expected[17];
    std::snprintf(expected, sizeof expected, "%016llx", static_cast<unsigned long long>(value));
    CHECK(hex64(value) == expected);
  }
}
