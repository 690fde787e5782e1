#include "actors/common/gzip.h"

#include <doctest/doctest.h>
#include <zlib.h>

#include <filesystem>
#include <string>

#include "engine/util/fault.h"
#include "test/support/subprocess.h"

namespace {

// gzip bytes as zlib's own file writer makes them.
std::string gzip_with_zlib(const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / "ebs_gzip_test.gz";
  gzFile out = gzopen(path.c_str(), "wb");
  REQUIRE(out != nullptr);
  REQUIRE(gzwrite(out, text.data(), static_cast<unsigned>(text.size())) == static_cast<int>(text.size()));
  REQUIRE(gzclose(out) == Z_OK);
  std::string bytes = ebs::test::read_file(path);
  std::filesystem::remove(path);
  return bytes;
}

}  // namespace

TEST_CASE("gunzip restores what zlib's gzip writer wrote, larger than its first guess too") {
  std::string text;
  for (int i = 0; i < 200000; ++i) text += "SIMPLE  = T " + std::to_string(i % 97);
  const std::string gz = gzip_with_zlib(text);
  CHECK(ebs::is_gzip(gz));
  CHECK_FALSE(ebs::is_gzip(text));
  CHECK(ebs::gunzip(gz, "map.fits.gz") == text);
}

TEST_CASE("corrupt and truncated gzip raise a fault naming the place") {
  std::string gz = gzip_with_zlib(std::string(10000, 'x') + "tail");
  std::string corrupt = gz;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x5a);
  CHECK_THROWS_WITH_AS(ebs::gunzip(corrupt, "cutout"), doctest::Contains("cannot gunzip"), ebs::Fault);
  CHECK_THROWS_WITH_AS(ebs::gunzip(gz.substr(0, gz.size() / 2), "cutout"), doctest::Contains("truncated"), ebs::Fault);
}
