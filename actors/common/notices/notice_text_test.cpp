#include "actors/common/notices/notice_text.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "test/support/subprocess.h"
#include "test/support/test_data.h"

using namespace ebs::notices;

namespace {

// Where a "skymap" string value is in a notice's text: [open quote, close quote].
struct MapValue {
  size_t key = 0, open = 0, close = 0;
};
MapValue map_value(const std::string& text) {
  MapValue at;
  at.key = text.find("\"skymap\":");
  REQUIRE(at.key != std::string::npos);
  at.open = text.find_first_not_of(" \t\r\n", at.key + 9);
  REQUIRE(at.open != std::string::npos);
  REQUIRE(text[at.open] == '"');
  at.close = text.find('"', at.open + 1);
  REQUIRE(at.close != std::string::npos);
  return at;
}

// Every text that breaks the cut's property, the first few shown.
struct Mismatches {
  size_t checked = 0, cut = 0;
  std::vector<std::string> found;
  void check(const std::string& what, const std::string& text) {
    ++checked;
    if (NoticeText(text).cut_any()) ++cut;
    if (!cut_parses_as_whole(text)) found.push_back(what);
  }
};

}  // namespace

TEST_CASE("a notice's text parses with its maps cut out as it does whole, through every mutation") {
  // A real LVK notice with its map shortened (still long enough to be cut): 1,030 characters, so
  // plain_ascii's word loop and its tail loop (the last 6 bytes) both read the map.
  std::string lvk = ebs::test::read_file(ebs::test::data_dir() / "gcn/lvk-fink-mm/S230518h-initial.json");
  MapValue full = map_value(lvk);
  const size_t map_size = 1030;
  REQUIRE(full.close - full.open - 1 > map_size);
  std::string base = lvk.substr(0, full.open + 1 + map_size) + lvk.substr(full.close);
  REQUIRE(NoticeText(base).cut_any());
  MapValue map = map_value(base);
  REQUIRE(map.close - map.open - 1 == map_size);

  // Positions: near every place the cut looks at (the key, the colon, the quotes, the map's word
  // and tail bytes, the text's ends), and a stride through the rest.
  std::vector<size_t> positions;
  std::vector<size_t> near = {0, map.key, map.key + 8, map.open, map.open + 1 + 1024, map.close, base.size()};
  for (size_t pos = 0; pos <= base.size(); ++pos) {
    bool close_by = pos % 3 == 0;
    for (size_t place : near) close_by = close_by || (pos + 12 >= place && pos <= place + 12);
    if (close_by) positions.push_back(pos);
  }
  const std::vector<std::string> pieces = {"\"", "\\", ":", "{", "}", "[", "]", ",", " ", "\t",
                                           "\x01", "\x80", "\xff", "\x7f", "\\u0000", "\\\"", "\"skymap\":\""};
  Mismatches mismatches;
  for (size_t pos : positions) {
    for (const std::string& piece : pieces) {
      std::string inserted = base;
      inserted.insert(pos, piece);
      mismatches.check("insert at " + std::to_string(pos) + ": " + piece, inserted);
      if (pos < base.size()) {
        std::string replaced = base;
        replaced.replace(pos, 1, piece);
        mismatches.check("replace at " + std::to_string(pos) + ": " + piece, replaced);
      }
    }
  }
  for (size_t size = 0; size <= base.size(); ++size)
    mismatches.check("truncated to " + std::to_string(size), base.substr(0, size));

  // Fixed shapes.
  const std::string m = base.substr(map.open + 1, map_size);
  auto fixed = [&](const std::string& what, const std::string& text) { mismatches.check(what, text); };
  fixed("two skymap keys", "{\"skymap\":\"" + m + "\",\"skymap\":\"" + m.substr(1) + "\"}");
  fixed("skymap and healpix_file", "{\"healpix_file\" : \"" + m + "\", \"event\": {\"skymap\":\t\"" + m + "\"}}");
  fixed("a key spelled with an escape", "{\"sky\\u006dap\":\"" + m + "\"}");
  fixed("skymap an array element", "{\"a\":[\"skymap\",\"" + m + "\"]}");
  fixed("skymap an array element, then a colon", "[\"skymap\":\"" + m + "\"]");
  fixed("skymap a value", "{\"a\":\"skymap\",\"b\":\"" + m + "\"}");
  fixed("the map not terminated", base.substr(0, map.close));
  fixed("the map not terminated, the text ending in a backslash", base.substr(0, map.close) + "\\");
  fixed("an escaped quote before the map", "{\"x\":\"a\\\"\",\"skymap\":\"" + m + "\"}");
  fixed("an escaped backslash before the map", "{\"x\":\"a\\\\\",\"skymap\":\"" + m + "\"}");
  fixed("a key and map inside a string", "{\"x\":\"\\\"skymap\\\":\\\"" + m + "\\\"\",\"y\":1}");
  fixed("a key inside a string, the map outside", "{\"x\":\"\\\"skymap\\\":\",\"y\":\"" + m + "\"}");
  fixed("a NUL spelled in another value", "{\"x\":\"\\u0000" "0\",\"skymap\":\"" + m + "\"}");
  for (const char* bad : {"\x01", "\x1f", "\x80", "\xff", "\x7f", "\""}) {
    std::string tail = m;  // bytes 1024-1029 are read by plain_ascii's tail loop
    tail[1027] = bad[0];
    fixed(std::string("a byte in the map's tail: ") + bad, "{\"skymap\":\"" + tail + "\"}");
    std::string word = m;
    word[1019] = bad[0];
    fixed(std::string("a byte in the map's last word: ") + bad, "{\"skymap\":\"" + word + "\"}");
  }

  std::string first;
  for (size_t i = 0; i < mismatches.found.size() && i < 5; ++i) first += mismatches.found[i] + "\n";
  INFO("texts whose cut parse differs from the whole parse:\n" << first);
  CHECK(mismatches.found.empty());
  // Most of the texts were cut: the property was tested, not skipped.
  CHECK(mismatches.checked > 20000);
  CHECK(mismatches.cut * 2 > mismatches.checked);
}
