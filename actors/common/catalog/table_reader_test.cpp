#include "actors/common/catalog/table_reader.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <zlib.h>
#include <unistd.h>

#include "engine/util/fault.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

using namespace ebs::catalog;

namespace {

struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::string& content, const std::string& suffix = ".txt") {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("ebs_table_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + suffix);
    std::ofstream(path, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path); }
};

std::vector<std::vector<std::string>> read_all(const CatalogConfig& config, const std::vector<std::string>& columns) {
  auto reader = open_table(config);
  std::vector<int> selected;
  for (const auto& c : columns) {
    selected.push_back(reader->find_column(c));
    REQUIRE(selected.back() >= 0);
  }
  reader->select(selected);
  std::vector<std::vector<std::string>> rows;
  std::vector<Cell> cells;
  while (reader->next_row(cells)) {
    std::vector<std::string> row;
    for (const Cell& cell : cells) {
      switch (cell.kind) {
        case Cell::Kind::null: row.push_back("<null>"); break;
        case Cell::Kind::text: row.emplace_back(cell.text); break;
        case Cell::Kind::number: row.push_back(std::to_string(cell.number)); break;
        case Cell::Kind::integer: row.push_back(std::to_string(cell.integer)); break;
      }
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

TEST_CASE("CSV: quotes, padded separators, BOM, CRLF, comments and nulls") {
  TempFile file("\xEF\xBB\xBFid , name , \"R.A.\"\r\n# a comment\r\n1 , \"a, \"\"b\"\"\" , 10 20 30\r\n\r\n2 ,  , null\r\n");
  CatalogConfig config;
  config.data_file = file.path;
  config.comment_prefix = "#";
  config.null_values = {"", "null"};
  auto rows = read_all(config, {"id", "name", "R.A."});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == std::vector<std::string>{"1", "a, \"b\"", "10 20 30"});
  CHECK(rows[1] == std::vector<std::string>{"2", "<null>", "<null>"});
}

TEST_CASE("CSV: byte-string literals are stripped before null matching") {
  TempFile file("a,b\nb'NGC 1',b'---'\n");
  CatalogConfig config;
  config.data_file = file.path;
  config.byte_strings = true;
  config.null_values = {"", "---"};
  auto rows = read_all(config, {"a", "b"});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == std::vector<std::string>{"NGC 1", "<null>"});
}

TEST_CASE("CSV: a short row and an unterminated quote are faults naming the row") {
  TempFile file("a,b\n1,2\n3\n\"4,5\n6,7\n");
  CatalogConfig config;
  config.data_file = file.path;
  auto reader = open_table(config);
  reader->select({0, 1});
  std::vector<Cell> cells;
  CHECK(reader->next_row(cells));
  CHECK_THROWS_WITH_AS(reader->next_row(cells), doctest::Contains(":row 2 (line 3):column b: the row has 1 fields"),
                       ebs::Fault);
  CHECK_THROWS_WITH_AS(reader->next_row(cells), doctest::Contains("line 4: unterminated quoted field"), ebs::Fault);
  REQUIRE(reader->next_row(cells));  // the reader carries on after a bad row
  CHECK(cells[0].text == "6");
}

TEST_CASE("whitespace table without header, names from the configuration") {
  TempFile file("1 NGC4736 192.72 null\n2  NGC4548\t188.86 0.004\n");
  CatalogConfig config;
  config.data_file = file.path;
  config.format = TableFormat::whitespace;
  config.header = false;
  config.names = {"no", "name", "ra", "z"};
  config.null_values = {"null"};
  auto rows = read_all(config, {"name", "ra", "z"});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == std::vector<std::string>{"NGC4736", "192.72", "<null>"});
  CHECK(rows[1] == std::vector<std::string>{"NGC4548", "188.86", "0.004"});
}

TEST_CASE("fixed-width fields, short lines leave trailing fields null") {
  TempFile file("  0.0006250 -20.0743611  UVQSJ000000.15\r\n  1.5        2.0\r\n");
  CatalogConfig config;
  config.data_file = file.path;
  config.format = TableFormat::fixed;
  config.header = false;
  config.fixed_fields = {{"ra", 1, 11}, {"dec", 12, 23}, {"name", 26, 50}};
  auto rows = read_all(config, {"ra", "dec", "name"});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == std::vector<std::string>{"0.0006250", "-20.0743611", "UVQSJ000000.15"});
  CHECK(rows[1] == std::vector<std::string>{"1.5", "2.0", "<null>"});
}

TEST_CASE("VizieR '|' table: header, units and dashes lines") {
  const auto path = ebs::test::data_dir() / "catalogs" / "veron-agn-sample.txt";
  CatalogConfig config;
  config.data_file = path;
  config.delimiter = '|';
  config.comment_prefix = "#";
  config.skip_after_header = 2;
  auto rows = read_all(config, {"_RAJ2000", "_DEJ2000", "Name", "z", "Sp"});
  REQUIRE(rows.size() == 50);
  CHECK(rows[0] == std::vector<std::string>{"000.0054", "-2.0333", "FIRST J00000-0202", "1.356", "<null>"});
  CHECK(rows[3][4] == "S1");
}

TEST_CASE("FITS table: numbers, 64-bit integers, strings and nulls") {
  CatalogConfig config;
  config.format = TableFormat::fits;
  config.data_file = ebs::test::data_dir() / "catalogs" / "gaia-dr3-1000.fits";
  auto reader = open_table(config);
  CHECK(reader->column_names().size() == 152);
  const int source_id = reader->find_column("source_id"), ra = reader->find_column("RA");  // case-insensitive
  const int designation = reader->find_column("designation"), pmra = reader->find_column("pmra");
  const int radial_velocity = reader->find_column("radial_velocity");
  REQUIRE(source_id >= 0);
  REQUIRE(ra >= 0);
  reader->select({source_id, ra, designation, pmra, radial_velocity});
  std::vector<Cell> cells;
  REQUIRE(reader->next_row(cells));
  CHECK(cells[0].kind == Cell::Kind::integer);
  CHECK(cells[0].integer == 4267180339403392768);  // beyond double precision: read as int64
  CHECK(cells[1].kind == Cell::Kind::number);
  CHECK(cells[1].number == 286.7169128963743);
  CHECK(cells[2].text == "Gaia DR3 4267180339403392768");
  CHECK(cells[3].number == 2.5490278100064536);
  int rows = 1, null_rv = 0;
  while (reader->next_row(cells)) {
    ++rows;
    null_rv += cells[4].kind == Cell::Kind::null;
  }
  CHECK(rows == 1000);
  CHECK(reader->row_number() == 1000);
  CHECK(null_rv > 0);  // NaN, FITS's null for floats: most stars have no radial velocity
  MESSAGE(null_rv << " Gaia rows without radial velocity");
}

TEST_CASE("FITS: a missing file is a fault naming it") {
  CatalogConfig config;
  config.format = TableFormat::fits;
  config.data_file = "/nonexistent/x.fits";
  CHECK_THROWS_WITH_AS(open_table(config), doctest::Contains("/nonexistent/x.fits: cannot open FITS file"), ebs::Fault);
}

namespace {

// `bytes` gzipped (zlib's gzip framing), as `gzip` writes a .fits.gz.
std::string gzip_bytes(const std::string& bytes) {
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&stream, bytes.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

size_t count_rows(const CatalogConfig& config) {
  auto reader = open_table(config);
  reader->select({reader->find_column("source_id")});
  std::vector<Cell> cells;
  size_t rows = 0;
  while (reader->next_row(cells)) ++rows;
  return rows;
}

}  // namespace

TEST_CASE("FITS .gz catalogues inflate within what their headers declare; a bomb is a fault, not gigabytes") {
  const std::string fits = ebs::test::read_file(ebs::test::data_dir() / "catalogs" / "gaia-dr3-1000.fits");
  CatalogConfig config;
  config.format = TableFormat::fits;

  SUBCASE("the real Gaia table gzipped reads as the plain one") {
    TempFile gz(gzip_bytes(fits), ".fits.gz");
    config.data_file = gz.path;
    CHECK(count_rows(config) == 1000);
  }
  SUBCASE("64 MiB of data after the declared HDUs is never inflated") {
    TempFile gz(gzip_bytes(fits + std::string(size_t{64} << 20, '\0')), ".fits.gz");
    config.data_file = gz.path;
    CHECK(count_rows(config) == 1000);
  }
  SUBCASE("a table declaring 2,000,000,000 rows stops at the ceiling before inflating them") {
    std::string bomb = fits;
    // NAXIS2 of the table HDU (the second header), rewritten in place as a FITS card value.
    size_t second = bomb.find("XTENSION=");
    REQUIRE(second != std::string::npos);
    size_t card = bomb.find("NAXIS2  =", second);
    REQUIRE(card != std::string::npos);
    char value[21];
    std::snprintf(value, sizeof value, "%20lld", 2000000000LL);
    bomb.replace(card + 10, 20, value);
    TempFile gz(gzip_bytes(bomb), ".fits.gz");
    config.data_file = gz.path;
    CHECK_THROWS_WITH_AS(open_table(config), doctest::Contains("more than the ceiling of 1024 MiB"), ebs::Fault);
    CHECK_THROWS_WITH_AS(open_table(config), doctest::Contains(gz.path.string().c_str()), ebs::Fault);
  }
}

TEST_CASE("FITS: a table declaring more rows than the file holds is a fault naming it, and its handle is closed") {
  // Regressions of catalog_fuzz (synthetic tables): NAXIS2 = 100000 and 2^40 where 2 rows are
  // written, and a file cut 8 bytes into its data. cfitsio read past the end: a segfault.
  const std::filesystem::path regressions = ebs::test::source_dir() / "fuzz/regressions/catalog";
  auto open_files = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/fd"), std::filesystem::directory_iterator());
  };
  const auto before = open_files();
  for (const char* name : {"catalog-naxis2-more-rows.fits", "catalog-naxis2-huge.fits", "catalog-truncated.fits"}) {
    INFO(name);
    CatalogConfig config;
    config.format = TableFormat::fits;
    config.data_file = regressions / name;
    CHECK_THROWS_WITH_AS(open_table(config), doctest::Contains((std::string(name) + ": the table declares").c_str()), ebs::Fault);
  }
  CHECK(open_files() == before);
}
