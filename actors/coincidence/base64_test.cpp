#include "actors/coincidence/base64.h"

#include <doctest/doctest.h>

#include <string>

#include "engine/util/fault.h"

using ebs::coincidence::decode_base64;

static std::string as_string(const std::vector<std::uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST_CASE("base64 decodes the RFC 4648 test vectors") {
  CHECK(as_string(decode_base64("", "t")) == "");
  CHECK(as_string(decode_base64("Zg==", "t")) == "f");
  CHECK(as_string(decode_base64("Zm8=", "t")) == "fo");
  CHECK(as_string(decode_base64("Zm9v", "t")) == "foo");
  CHECK(as_string(decode_base64("Zm9vYg==", "t")) == "foob");
  CHECK(as_string(decode_base64("Zm9vYmE=", "t")) == "fooba");
  CHECK(as_string(decode_base64("Zm9vYmFy", "t")) == "foobar");
}

TEST_CASE("base64 skips line breaks and decodes all byte values") {
  // bytes 0..255 encoded with 76-column MIME line breaks
  std::string encoded =
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\n"
      "OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\n"
      "cnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmq\n"
      "q6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj\n"
      "5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==\n";
  auto bytes = decode_base64(encoded, "t");
  REQUIRE(bytes.size() == 256);
  for (int i = 0; i < 256; ++i) CHECK(bytes[i] == i);
}

TEST_CASE("corrupt base64 is a fault naming the place") {
  auto fails_with = [](std::string_view text, std::string expected) {
    try {
      decode_base64(text, "notice S1");
      FAIL("no fault for " << text);
    } catch (const ebs::Fault& fault) {
      CHECK(fault.place() == "notice S1");
      CHECK(fault.message().find(expected) != std::string::npos);
    }
  };
  fails_with("Zm9v-mFy", "unexpected character '-'");  // OpenSSL alone would stop at '-'
  fails_with("Zm9vYmF", "not a multiple of 4");
  fails_with("Zg==Zm9v", "unexpected character 'Z'");
  fails_with("Zm9v*mFy", "unexpected character '*'");
  fails_with("Z===", "padding");
}
