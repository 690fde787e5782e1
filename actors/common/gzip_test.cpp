#include "actors/common/gzip.h"

#include <doctest/doctest.h>
#include <zlib.h>

#include <filesystem>
#include <string>
#include <vector>

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
  CHECK(ebs::gunzip(gz, "map.fits.gz", {.ceiling = text.size()}) == text);
}

TEST_CASE("corrupt and truncated gzip raise a fault naming the place") {
  std::string gz = gzip_with_zlib(std::string(10000, 'x') + "tail");
  std::string corrupt = gz;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x5a);
  CHECK_THROWS_WITH_AS(ebs::gunzip(corrupt, "cutout", {.ceiling = 1 << 20}), doctest::Contains("cannot gunzip"), ebs::Fault);
  CHECK_THROWS_WITH_AS(ebs::gunzip(gz.substr(0, gz.size() / 2), "cutout", {.ceiling = 1 << 20}), doctest::Contains("truncated"), ebs::Fault);
}

namespace {

// A FITS header of 80-character cards, padded to 2880 bytes.
std::string fits_header(const std::vector<std::string>& cards) {
  std::string header;
  for (std::string card : cards) {
    card.resize(80, ' ');
    header += card;
  }
  std::string end = "END";
  end.resize(80, ' ');
  header += end;
  header.resize((header.size() + 2879) / 2880 * 2880, ' ');
  return header;
}

}  // namespace

TEST_CASE("a gzip bomb stops at the ceiling with a fault, not gigabytes") {
  const std::string bomb = gzip_with_zlib(std::string(64 << 20, '\0'));  // 64 MiB of zeros: ~64 KB
  CHECK(bomb.size() < (1 << 20));
  CHECK_THROWS_WITH_AS(ebs::gunzip(bomb, "alert 7 cutoutScience", {.ceiling = ebs::kCutoutInflateCeiling}),
                       doctest::Contains("more than the ceiling of 4 MiB"), ebs::Fault);
  // Exactly at the ceiling is fine.
  CHECK(ebs::gunzip(gzip_with_zlib(std::string(1 << 20, 'x')), "c", {.ceiling = 1 << 20}).size() == (1 << 20));
}

TEST_CASE("gzip-compressed FITS inflates to the size its header declares, no further") {
  // A 63x63 float cutout: 2880 header bytes + 15,876 data bytes padded to 17,280.
  std::string cutout = fits_header({"SIMPLE  =                    T", "BITPIX  =                  -32", "NAXIS   =                    2",
                                    "NAXIS1  =                   63", "NAXIS2  =                   63"});
  cutout += std::string(17280, '\1');
  CHECK(ebs::fits_declared_size(cutout, "c") == 2880 + 17280);
  // ... followed by 100 MB no FITS reader needs: not inflated.
  std::string padded = gzip_with_zlib(cutout + std::string(100 << 20, '\0'));
  CHECK(ebs::gunzip(padded, "c", ebs::fits_inflate_limit(ebs::kCutoutInflateCeiling)) == cutout);
  // A short file keeps what it has (the FITS reader reports it truncated).
  CHECK(ebs::gunzip(gzip_with_zlib(cutout.substr(0, 5000)), "c", ebs::fits_inflate_limit(ebs::kCutoutInflateCeiling))
            .size() == 5000);

  // A sky map: an empty primary HDU, then a table whose declared size is too big or overflows.
  std::string primary = fits_header({"SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    0"});
  auto table = [](const std::string& rows) {
    return fits_header({"XTENSION= 'BINTABLE'", "BITPIX  =                    8", "NAXIS   =                    2",
                        "NAXIS1  =                   16", "NAXIS2  = " + rows, "PCOUNT  =                    0",
                        "GCOUNT  =                    1"});
  };
  std::string small = primary + table("                 100") + std::string(2880, '\0');
  CHECK(ebs::fits_declared_size(small, "m") == 3 * 2880);
  std::string big = gzip_with_zlib(primary + table("           100000000") + std::string(2880, '\0'));
  CHECK_THROWS_WITH_AS(ebs::gunzip(big, "S1 skymap", ebs::fits_inflate_limit(ebs::kSkymapInflateCeiling)),
                       doctest::Contains("bytes, more than the ceiling of 256 MiB"), ebs::Fault);
  std::string poisoned = gzip_with_zlib(primary + table(" 9223372036854775807"));
  CHECK_THROWS_WITH_AS(ebs::gunzip(poisoned, "S1 skymap", ebs::fits_inflate_limit(ebs::kSkymapInflateCeiling)),
                       doctest::Contains("overflows"), ebs::Fault);
}
