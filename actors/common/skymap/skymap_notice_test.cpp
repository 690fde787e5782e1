#include "actors/common/skymap/skymap_notice.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <nlohmann/json.hpp>
#include <thread>

#include "test/support/skymap_oracle.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs::skymap;
namespace fs = std::filesystem;

namespace {

fs::path rrt_path() { return ebs::test::data_dir() / "skymaps" / "rrt_small_area.fits"; }
fs::path notice_path(const char* name) { return ebs::test::data_dir() / "gcn" / "lvk-fink-mm" / name; }

std::string read_text(const fs::path& path) {
  auto bytes = read_file_bytes(path.string());
  return std::string(bytes.begin(), bytes.end());
}

// Expects a fault whose text contains every one of `needles`.
template <typename F>
void expect_fault(F&& action, std::initializer_list<std::string> needles) {
  try {
    action();
    FAIL("no fault");
  } catch (const ebs::Fault& fault) {
    for (const auto& needle : needles) {
      INFO("fault: " << fault.what());
      CHECK(std::string(fault.what()).find(needle) != std::string::npos);
    }
  }
}

// Offset of the data of the first extension: after its header's END card, rounded to 2880.
std::size_t extension_data_offset(const std::vector<std::uint8_t>& fits) {
  std::size_t offset = 0;
  int headers_seen = 0;
  while (offset + 80 <= fits.size()) {
    if (std::memcmp(fits.data() + offset, "END     ", 8) == 0) {
      offset = (offset / 2880 + 1) * 2880;
      if (++headers_seen == 2) return offset;
      continue;
    }
    offset += 80;
  }
  FAIL("no extension data");
  return 0;
}

void replace_text(std::vector<std::uint8_t>& bytes, const std::string& from, const std::string& to) {
  std::string_view view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto at = view.find(from);
  REQUIRE(at != std::string_view::npos);
  std::memcpy(bytes.data() + at, to.data(), to.size());
}

std::vector<std::uint8_t> gzip(const std::vector<std::uint8_t>& bytes) {
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<std::uint8_t> out(deflateBound(&stream, bytes.size()) + 32);
  stream.next_in = const_cast<Bytef*>(bytes.data());
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace

TEST_CASE("bad FITS input is a fault naming the source and the reason") {
  auto good = read_file_bytes(rrt_path().string());
  CHECK(Skymap::from_bytes(good, "rrt").rows() == 345);

  SUBCASE("not FITS at all") {
    std::string text = "this is not a FITS file";
    std::vector<std::uint8_t> bytes(text.begin(), text.end());
    expect_fault([&] { Skymap::from_bytes(bytes, "note.txt"); }, {"note.txt", "not a FITS file"});
    auto dir = ebs::test::scratch_dir("bad");
    ebs::test::write_text(dir / "note.txt", text);
    expect_fault([&] { load_skymap((dir / "note.txt").string()); }, {"note.txt", "not a FITS file"});
  }
  SUBCASE("truncated FITS, cut anywhere") {
    for (std::size_t size : {std::size_t{100}, std::size_t{2880}, std::size_t{4000}, std::size_t{5760},
                             std::size_t{5761}, std::size_t{8000}, std::size_t{8640}, good.size() - 300}) {
      INFO("cut at " << size);
      std::vector<std::uint8_t> bytes(good.begin(), good.begin() + size);
      expect_fault([&] { Skymap::from_bytes(bytes, "cut.fits"); }, {"cut.fits"});
    }
  }
  SUBCASE("a file without its final padding is read") {
    std::size_t data = extension_data_offset(good);
    std::vector<std::uint8_t> unpadded(good.begin(), good.begin() + data + 345 * 16);
    CHECK(Skymap::from_bytes(unpadded, "unpadded.fits").rows() == 345);
  }
  SUBCASE("missing PROBDENSITY column") {
    auto bytes = good;
    replace_text(bytes, "'PROBDENSITY'", "'PROBDENSITX'");
    expect_fault([&] { Skymap::from_bytes(bytes, "renamed.fits"); }, {"renamed.fits", "missing column PROBDENSITY"});
  }
  SUBCASE("negative probability") {
    auto bytes = good;
    std::size_t data = extension_data_offset(bytes);
    // Row 5's PROBDENSITY (rows are UNIQ K, PROBDENSITY D, big-endian) becomes -1.0.
    const std::uint8_t minus_one[8] = {0xbf, 0xf0, 0, 0, 0, 0, 0, 0};
    std::memcpy(bytes.data() + data + 16 * 4 + 8, minus_one, 8);
    expect_fault([&] { Skymap::from_bytes(bytes, "negative.fits"); },
                 {"negative.fits", "row 5", "PROBDENSITY", "negative"});
  }
  SUBCASE("NaN probability") {
    auto bytes = good;
    std::size_t data = extension_data_offset(bytes);
    const std::uint8_t quiet_nan[8] = {0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
    std::memcpy(bytes.data() + data + 16 * 2 + 8, quiet_nan, 8);
    expect_fault([&] { Skymap::from_bytes(bytes, "nan.fits"); }, {"nan.fits", "row 3", "NaN"});
  }
  SUBCASE("overlapping pixels") {
    expect_fault([] { Skymap::from_columns("overlap", SkymapOrdering::nuniq, {}, {4, 16}, {0.1, 0.1}, {}); },
                 {"overlap", "overlap"});
  }
  SUBCASE("gzip-compressed FITS is read; corrupt gzip is a fault") {
    auto packed = gzip(good);
    Skymap map = Skymap::from_bytes(packed, "rrt.fits.gz");
    CHECK(map.rows() == 345);
    packed.resize(packed.size() / 2);
    expect_fault([&] { Skymap::from_bytes(packed, "half.fits.gz"); }, {"half.fits.gz", "gunzip"});
  }
  SUBCASE("random byte corruption: a map or a fault, never a crash") {
    // (Under ASan set ASAN_OPTIONS=allocator_may_return_null=1: cfitsio callocs sizes read from a
    // corrupt header and handles the NULL it gets, as it does without ASan.)
    std::mt19937_64 random(99);
    std::uniform_int_distribution<std::size_t> where(0, good.size() - 1);
    std::uniform_int_distribution<int> byte(0, 255);
    int faults = 0;
    for (int trial = 0; trial < 400; ++trial) {
      auto bytes = good;
      // Mostly the headers (first 5760 bytes), where cfitsio's parsing is exercised.
      for (int k = 0; k < 4; ++k) bytes[trial % 4 == 0 ? where(random) : where(random) % 5760] = static_cast<std::uint8_t>(byte(random));
      try {
        Skymap map = Skymap::from_bytes(bytes, "corrupt.fits");
        CHECK(map.rows() > 0);
      } catch (const ebs::Fault& fault) {
        ++faults;
        CHECK(std::string(fault.what()).find("corrupt.fits") != std::string::npos);
      }
    }
    CHECK(faults > 0);
  }
  SUBCASE("missing file") {
    expect_fault([] { Skymap::from_file("/nonexistent/map.fits"); }, {"/nonexistent/map.fits", "cannot open"});
  }
}

TEST_CASE("notices: embedded maps, and notices without a usable map") {
  auto initial = nlohmann::json::parse(read_text(notice_path("S230518h-initial.json")));
  CHECK(notice_id(initial) == "S230518h");
  Skymap map = skymap_from_notice(initial, "S230518h-initial.json");
  CHECK(map.rows() == 16896);
  CHECK(map.source().find("S230518h") != std::string::npos);
  CHECK(map.header().creator == "ligo-skymap-from-samples");

  SUBCASE("retraction: no event") {
    nlohmann::json retraction = {{"alert_type", "RETRACTION"}, {"superevent_id", "S230518h"}, {"event", nullptr}};
    expect_fault([&] { skymap_from_notice(retraction, "topic/0/42"); },
                 {"topic/0/42", "S230518h", "no sky map", "RETRACTION"});
  }
  SUBCASE("corrupt base64") {
    auto corrupt = initial;
    std::string encoded = corrupt["event"]["skymap"];
    encoded[1000] = '*';
    corrupt["event"]["skymap"] = encoded;
    expect_fault([&] { skymap_from_notice(corrupt, "corrupt.json"); },
                 {"corrupt.json", "S230518h", "event.skymap", "invalid base64"});
  }
  SUBCASE("truncated base64") {
    auto truncated = initial;
    std::string encoded = truncated["event"]["skymap"];
    truncated["event"]["skymap"] = encoded.substr(0, encoded.size() / 2 + 1);
    expect_fault([&] { skymap_from_notice(truncated, "short.json"); }, {"short.json", "S230518h"});
  }
  SUBCASE("valid base64 of something else") {
    auto other = initial;
    other["event"]["skymap"] = "aGVsbG8gd29ybGQ=";  // "hello world"
    expect_fault([&] { skymap_from_notice(other, "other.json"); }, {"other.json", "not a FITS file"});
  }
  SUBCASE("not JSON") {
    expect_fault([] { skymap_from_notice_text("{not json", "broken.json"); }, {"broken.json", "not valid JSON"});
  }
  SUBCASE("a GCN Localization's healpix_file") {
    auto bytes = read_file_bytes(rrt_path().string());
    // Re-encode with the oracle's independent base64 encoder.
    auto dir = ebs::test::scratch_dir("healpix-file");
    std::string encoded = ebs::test::run_python_oracle(
        "import base64, sys\nsys.stdout.write(base64.b64encode(open(sys.argv[1], 'rb').read()).decode())\n",
        {rrt_path().string()});
    nlohmann::json notice = {{"id", {"1234"}}, {"ra", 10.0}, {"dec", 20.0}, {"healpix_file", encoded}};
    Skymap from_notice = skymap_from_notice(notice, "swift.json");
    CHECK(from_notice.rows() == 345);
    CHECK(from_notice.source().find("healpix_file") != std::string::npos);
  }
}

TEST_CASE("maps over http from a loopback server") {
  auto fits = read_file_bytes(rrt_path().string());
  std::string body(fits.begin(), fits.end());
  auto packed = gzip(fits);
  std::string packed_body(packed.begin(), packed.end());
  httplib::Server server;
  server.Get("/api/superevents/S1/files/bayestar.multiorder.fits,2",
             [&](const httplib::Request&, httplib::Response& res) { res.set_content(body, "application/fits"); });
  server.Get("/map.fits.gz", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(packed_body, "application/gzip");
  });
  server.Get("/busy", [](const httplib::Request&, httplib::Response& res) { res.status = 503; });
  int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serving([&] { server.listen_after_bind(); });
  for (int i = 0; i < 500 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(server.is_running());
  std::string base = "http://127.0.0.1:" + std::to_string(port);

  Skymap map = Skymap::from_url(base + "/api/superevents/S1/files/bayestar.multiorder.fits,2");
  CHECK(map.rows() == 345);
  CHECK(map.header().map_version == 2);
  CHECK(load_skymap(base + "/map.fits.gz").rows() == 345);
  try {
    Skymap::from_url(base + "/missing.fits");
    FAIL("no fault");
  } catch (const ebs::Fault& fault) {
    CHECK(fault.kind() == ebs::FaultKind::failed);
    CHECK(fault.message().find("404") != std::string::npos);
  }
  try {
    Skymap::from_url(base + "/busy");
    FAIL("no fault");
  } catch (const ebs::Fault& fault) {
    CHECK(fault.kind() == ebs::FaultKind::disconnected);
  }
  server.stop();
  serving.join();
  // Nothing listens there any more: a transport error, retried later.
  try {
    Skymap::from_url(base + "/api/superevents/S1/files/bayestar.multiorder.fits,2", {5, 2});
    FAIL("no fault");
  } catch (const ebs::Fault& fault) {
    CHECK(fault.kind() == ebs::FaultKind::disconnected);
  }
  CHECK_THROWS_AS(Skymap::from_url("file:///etc/passwd"), ebs::Fault);
}
