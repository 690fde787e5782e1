#include "actors/common/repository/raw_json.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <unordered_set>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include "test/support/compact_raw_blobs.h"
#include "test/support/repository_test_support.h"
#include "test/support/ztf_alerts.h"
#include "actors/common/repository/writer.h"
#include "engine/model/record_json.h"
#include "engine/util/fault.h"

using namespace ebs;
using namespace ebs::repository;

namespace {

template <class Pointer>
void check_same_as_record_json(const std::vector<Pointer>& alerts) {
  REQUIRE(!alerts.empty());
  for (const auto& r : alerts) {
    const RawRecord& raw = static_cast<const Alert&>(*r).core().raw;
    std::string text;
    append_raw_json(text, raw.root());
    nlohmann::json parsed = nlohmann::json::parse(text);
    CHECK(parsed == raw_to_json(raw.root()));
  }
}

// A record of one string field `s` holding `text`.
RawRecord string_record(const RecordShape& shape, std::string text) {
  auto kept = std::make_shared<std::string>(std::move(text));
  RawRecordBuilder b;
  b.set_string(b.begin_record(b.add_root(), &shape), *kept);
  return b.finish(kept, nullptr);
}

// alerts.raw read back from its compact BLOB (append_raw_compact, then append_stored_raw_json) is the
// JSON text the JSON form stores, byte for byte: with the writer's default fields left out, and
// with none left out (cutouts' bytes then as their length, as in the JSON).
void check_compact_reads_as_json(const std::vector<std::shared_ptr<const Alert>>& alerts, const std::string& what) {
  REQUIRE_MESSAGE(!alerts.empty(), what);
  const std::vector<std::string> defaults = WriterOptions{}.raw_exclude;
  const std::unordered_set<std::string_view> excluded(defaults.begin(), defaults.end());
  const std::unordered_set<std::string_view> none;
  size_t checked = 0;
  double largest_ratio = 0;
  for (const auto& alert : alerts) {
    const RawRecord& raw = alert->core().raw;
    for (const auto* exclude : {&excluded, &none}) {
      std::string json, compact, back;
      append_raw_json(json, raw.root(), *exclude);
      append_raw_compact(compact, raw.root(), *exclude);
      append_stored_raw_json(back, compact, true, what);
      if (back != json) {
        FAIL_CHECK(what << " alert " << alert->core().alert_key << ": the compact form reads back as\n"
                        << back << "\nnot\n" << json);
        return;
      }
      largest_ratio = std::max(largest_ratio, static_cast<double>(json.size()) / static_cast<double>(compact.size()));
      ++checked;
    }
  }
  CHECK(checked == 2 * alerts.size());
  // The readers' bound (max_raw_json_bytes: 64 bytes of text a stored byte, plus 1 MiB) must be
  // far above real rows: a quarter of it without the 1 MiB.
  MESSAGE(what << ": the largest JSON / compact ratio is " << largest_ratio);
  CHECK(largest_ratio < 16);
}

// This process's resident bytes (/proc/self/statm's second field, in pages).
size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t total_pages = 0, resident_pages = 0;
  statm >> total_pages >> resident_pages;
  REQUIRE_MESSAGE(statm, "/proc/self/statm unreadable");
  return resident_pages * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST_CASE("raw records as JSON text equal the engine's JSON form: real ZTF alerts (3.3 and 4.01)") {
  check_same_as_record_json(ebs::test::ztf_alerts("ztf/fink-20200101-v3.3"));
  check_same_as_record_json(ebs::test::ztf_alerts("ztf/kowalski-v3.3-v4.01"));
}

TEST_CASE("raw records as JSON text equal the engine's JSON form: simulated alerts") {
  check_same_as_record_json(testing::simulated_alerts(300, 17));
}

TEST_CASE("strings are escaped, doubles stay doubles, excluded fields are left out") {
  RecordShape shape("t", {"s", "d", "whole", "nan", "skip"});
  auto text = std::make_shared<std::string>(std::string("a\"b\\c\n\x01", 7));
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), &shape);
  b.set_string(f, *text);
  b.set_double(f + 1, 0.1);
  b.set_double(f + 2, 3.0);
  b.set_double(f + 3, NAN);
  b.set_int(f + 4, 1);
  RawRecord raw = b.finish(text, nullptr);
  std::string out;
  append_raw_json(out, raw.root(), {"skip"});
  CHECK(out == R"({"s":"a\"b\\c\n\u0001","d":0.1,"whole":3.0,"nan":null})");
}

TEST_CASE("the JSON text byte for byte: shortest doubles, NaN and infinities null, escapes, UTF-8 as it is") {
  // The expected text is what main's renderer (b8fda85) wrote for this record: alerts.raw of a
  // repository stays the same bytes across the change.
  RecordShape shape("t", {"d", "i", "s", "q\"k\x1f", "b", "n", "bytes"});
  // The string field, then the bytes field's five bytes (a NUL among them).
  auto text = std::make_shared<std::string>(
      std::string("tab\there\x1f|\x7f|\r\b\f/\xc3\xa9\xe2\x80\x94\xf0\x9f\x98\x80") + std::string("abc\0d", 5));
  const std::string_view s(text->data(), text->size() - 5);
  const std::string_view bytes(text->data() + s.size(), 5);
  const double doubles[] = {-0.0,
                            1e21,
                            5e-324,
                            NAN,
                            INFINITY,
                            -INFINITY,
                            1e-7,
                            0.1,
                            123456789012.0,
                            1.7976931348623157e308,
                            1e5,
                            1000.0,
                            -2.5e-300};
  const int64_t integers[] = {INT64_MIN, INT64_MAX, 0, -1};
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), &shape);
  uint32_t d = b.begin_list(f, std::size(doubles));
  for (size_t k = 0; k < std::size(doubles); ++k) b.set_double(d + k, doubles[k]);
  uint32_t i = b.begin_list(f + 1, std::size(integers));
  for (size_t k = 0; k < std::size(integers); ++k) b.set_int(i + k, integers[k]);
  b.set_string(f + 2, s);
  b.set_string(f + 3, std::string_view());
  b.set_bool(f + 4, false);
  b.set_null(f + 5);
  b.set_bytes(f + 6, bytes);
  RawRecord raw = b.finish(text, nullptr);
  std::string out;
  append_raw_json(out, raw.root());
  const std::string expected =
      "{\"d\":[-0.0,1e+21,5e-324,null,null,null,1e-07,0.1,123456789012.0,1.7976931348623157e+308,1e+05,1000.0,"
      "-2.5e-300],"
      "\"i\":[-9223372036854775808,9223372036854775807,0,-1],"
      "\"s\":\"tab\\there\\u001f|\x7f|\\r\\b\\f/\xc3\xa9\xe2\x80\x94\xf0\x9f\x98\x80\","
      "\"q\\\"k\\u001f\":\"\",\"b\":false,\"n\":null,\"bytes\":5}";
  CHECK(out == expected);
}

TEST_CASE("strings are tested for escapes eight bytes a step: every byte value at every place escapes as alone") {
  // A clean text is copied whole after a test of words (short texts one word of overlapping
  // loads, long ones whole words and their last eight bytes): a byte to escape anywhere (first,
  // last, in the tail after the last whole word, at every length to 17) must still be found, and
  // no clean byte escaped (bytes from 0x80, UTF-8, and the neighbours of '"', '\\' and 0x20).
  RecordShape shape("t", {"s"});
  auto escaped = [](unsigned char c) -> std::string {
    static constexpr char kHex[] = "0123456789abcdef";
    switch (c) {
      case '"': return "\\\"";
      case '\\': return "\\\\";
      case '\n': return "\\n";
      case '\r': return "\\r";
      case '\t': return "\\t";
      case '\b': return "\\b";
      case '\f': return "\\f";
      default:
        if (c < 0x20) return std::string("\\u00") + kHex[c >> 4] + kHex[c & 0xf];
        return std::string(1, static_cast<char>(c));
    }
  };
  for (size_t length = 1; length <= 17; ++length) {
    for (size_t at = 0; at < length; ++at) {
      for (int value = 1; value < 256; ++value) {
        std::string text(length, 'a');
        text[at] = static_cast<char>(value);
        std::string out;
        append_raw_json(out, string_record(shape, text).root());
        const std::string expected = "{\"s\":\"" + std::string(at, 'a') + escaped(static_cast<unsigned char>(value)) +
                                     std::string(length - at - 1, 'a') + "\"}";
        if (out != expected) {
          FAIL_CHECK("byte " << value << " at " << at << " of " << length << ": " << out);
          return;
        }
      }
    }
  }
  // Two escapes in one word, and a NUL (a string's bytes, not its end).
  std::string out;
  append_raw_json(out, string_record(shape, std::string("ab\"c\0\x1f" "defgh", 11)).root());
  CHECK(out == "{\"s\":\"ab\\\"c\\u0000\\u001fdefgh\"}");
}

TEST_CASE("appending after text already in the string keeps it, and long strings needing escapes grow the room") {
  RecordShape shape("t", {"s"});
  std::string out = "prefix";
  append_raw_json(out, string_record(shape, "a\"b").root());
  CHECK(out == R"(prefix{"s":"a\"b"})");

  // 6000 bytes, two of three escaped (\" and \u0001): ~18 KB of JSON, well past the first room.
  std::string text;
  for (int i = 0; i < 6000; ++i) text += i % 3 == 0 ? '"' : i % 3 == 1 ? '\x01' : 'x';
  std::string expected = "prefix{\"s\":\"";
  for (char c : text) expected += c == '"' ? std::string("\\\"") : c == '\x01' ? std::string("\\u0001") : std::string(1, c);
  expected += "\"}";
  out = "prefix";
  append_raw_json(out, string_record(shape, text).root());
  CHECK(out == expected);
  CHECK(nlohmann::json::parse(out.substr(6))["s"] == text);
}

TEST_CASE("the string's room stays near what was written: a huge field, and a reused string's capacity") {
  RecordShape shape("t", {"s"});
  // A 4 MB field needing no escapes: capacity near the text (room is not asked for 6
  // bytes per byte, the most an escape takes).
  std::string out;
  append_raw_json(out, string_record(shape, std::string(4 << 20, 'x')).root());
  CHECK(out.size() == (4u << 20) + 8);
  CHECK(out.capacity() <= 3 * out.size());  // about twice: the room doubled for the last "}"

  // A reused string keeps its capacity; a small record after a large one must not zero-fill
  // all of it (resize to the capacity did, each record). 64 MB reserved is mapped, not touched
  // (above glibc's largest mmap threshold): touching it shows as resident bytes.
  RawRecord small = string_record(shape, "small");
  std::string reused;
  reused.reserve(64 << 20);
  const size_t before = resident_bytes();
  append_raw_json(reused, small.root());
  const size_t after = resident_bytes();
  CHECK(reused == R"({"s":"small"})");
  const double grown_mb = (static_cast<double>(after) - static_cast<double>(before)) / (1 << 20);
  CHECK_MESSAGE(grown_mb < 16, "resident bytes grew by ", grown_mb, " MB");
}

TEST_CASE("alerts.raw's compact form reads back as the JSON text: every real alert of the shared data") {
  // ZTF 3.3 and 4.01 (fp_hists), PGIR, TURBO, Rubin LSSTCam v9 (Spark-written, raw FITS cutouts):
  // doubles of every magnitude, nulls of unions, nested records and lists, strings.
  for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01", "other-surveys/pgir",
                             "other-surveys/turbo", "lsst/rubin-lsstcam-v9-spark"})
    check_compact_reads_as_json(ebs::test::ztf_alerts(folder), folder);
}

TEST_CASE("alerts.raw's compact form reads back as the JSON text: simulated alerts") {
  std::vector<std::shared_ptr<const Alert>> alerts;
  for (const RecordPtr& r : testing::simulated_alerts(300, 17)) alerts.push_back(std::static_pointer_cast<const Alert>(r));
  check_compact_reads_as_json(alerts, "simulated");
}

TEST_CASE("alerts.raw's compact form: every kind of value, nesting, unicode, non-finite doubles, fields left out") {
  RecordShape shape("t", {"first", "d", "nested", "s", "bytes", "points", "empty", "last"});
  RecordShape point("t.point", {"x", "tags"});
  auto text = std::make_shared<std::string>(std::string("tab\there\x1f\"\\/\xc3\xa9\xe2\x80\x94\xf0\x9f\x98\x80") +
                                            std::string("abc\0d", 5));
  const std::string_view s(text->data(), text->size() - 5);
  const std::string_view bytes(text->data() + s.size(), 5);
  const double doubles[] = {-0.0, 1e21, 5e-324, NAN, INFINITY, -INFINITY, 0.1, 1.7976931348623157e308, 3.0};
  RawRecordBuilder b;
  const uint32_t f = b.begin_record(b.add_root(), &shape);
  b.set_int(f, INT64_MIN);
  const uint32_t d = b.begin_list(f + 1, std::size(doubles));
  for (size_t k = 0; k < std::size(doubles); ++k) b.set_double(d + k, doubles[k]);
  const uint32_t outer = b.begin_list(f + 2, 3);  // [[1, [true, null]], [], "x"]
  const uint32_t inner = b.begin_list(outer, 2);
  b.set_int(inner, 1);
  const uint32_t innermost = b.begin_list(inner + 1, 2);
  b.set_bool(innermost, true);
  b.set_null(innermost + 1);
  b.begin_list(outer + 1, 0);
  b.set_string(outer + 2, std::string_view(s.data(), 1));
  b.set_string(f + 3, s);
  b.set_bytes(f + 4, bytes);
  const uint32_t points = b.begin_list(f + 5, 2);  // records in a list, a record in a record's list
  for (uint32_t p = 0; p < 2; ++p) {
    const uint32_t fields = b.begin_record(points + p, &point);
    b.set_double(fields, 0.5 * p);
    const uint32_t tags = b.begin_list(fields + 1, p);
    if (p) b.set_string(tags, std::string_view(s.data() + s.size() - 4, 4));
  }
  b.set_string(f + 6, std::string_view());
  b.set_bool(f + 7, false);
  const RawRecord raw = b.finish(text, nullptr);
  const std::vector<std::unordered_set<std::string_view>> excludes = {
      {}, {"first"}, {"last"}, {"nested", "points"}, {"d", "s", "bytes"}, {"unknown"},
      {"first", "d", "nested", "s", "bytes", "points", "empty", "last"}};
  for (const auto& exclude : excludes) {
    std::string json, compact, back;
    append_raw_json(json, raw.root(), exclude);
    append_raw_compact(compact, raw.root(), exclude);
    append_stored_raw_json(back, compact, true, "test");
    CHECK(back == json);
  }
  std::string everything;
  append_raw_compact(everything, raw.root(), {});
  std::string back;
  append_stored_raw_json(back, everything, true, "test");
  CHECK(back ==
        "{\"first\":-9223372036854775808,\"d\":[-0.0,1e+21,5e-324,null,null,null,0.1,1.7976931348623157e+308,3.0],"
        "\"nested\":[[1,[true,null]],[],\"t\"],\"s\":\"tab\\there\\u001f\\\"\\\\/\xc3\xa9\xe2\x80\x94\xf0\x9f\x98\x80\","
        "\"bytes\":5,\"points\":[{\"x\":0.0,\"tags\":[]},{\"x\":0.5,\"tags\":[\"\xf0\x9f\x98\x80\"]}],\"empty\":\"\","
        "\"last\":false}");
  // Every field left out: an empty object, as the JSON form writes.
  std::string none;
  append_raw_compact(none, raw.root(), excludes.back());
  back.clear();
  append_stored_raw_json(back, none, true, "test");
  CHECK(back == "{}");
}

TEST_CASE("alerts.raw as text (rows stored as JSON) reads as it is") {
  std::string out = "x";
  append_stored_raw_json(out, R"({"candidate":{"drb":0.5}})", false, "test");
  CHECK(out == R"(x{"candidate":{"drb":0.5}})");
}

TEST_CASE("a damaged compact alerts.raw is a Fault naming its place, never a crash") {
  auto alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 1);
  REQUIRE(alerts.size() == 1);
  std::string compact;
  const std::vector<std::string> defaults = WriterOptions{}.raw_exclude;
  append_raw_compact(compact, alerts[0]->core().raw.root(), std::unordered_set<std::string_view>(defaults.begin(), defaults.end()));
  REQUIRE(compact.size() > 100);
  size_t faults = 0;
  auto read = [&](const std::string& bytes) {
    std::string out;
    try {
      append_stored_raw_json(out, bytes, true, "alerts.raw of alert 7");
      // A change the checks cannot see (a digit of a double, a byte of a string, which may then
      // not be UTF-8) reads as another record: text, as the JSON form would give for such values.
      CHECK(!out.empty());
    } catch (const Fault& f) {
      CHECK(f.place() == "alerts.raw of alert 7");
      CHECK(!f.message().empty());
      ++faults;
    }
  };
  // Every shorter prefix, and 2,000 copies with one byte changed.
  for (size_t size = 0; size < compact.size(); ++size) read(compact.substr(0, size));
  CHECK(faults == compact.size());
  std::mt19937 random(15);
  for (int i = 0; i < 2000; ++i) {
    std::string damaged = compact;
    damaged[random() % damaged.size()] = static_cast<char>(random());
    read(damaged);
  }
  // Text where a raw record was expected.
  std::string out;
  CHECK_THROWS_AS(append_stored_raw_json(out, "{\"candidate\":{}}", true, "x"), Fault);
}

TEST_CASE("a small compact alerts.raw cannot read as unbounded text: 1,000 references to a shape of a 1 MiB name") {
  // 1 MiB and 3 KB stored would read as 1 GB of JSON (a 3 MB blob as ~1 TB): a Fault naming the
  // row once the text passes max_raw_json_bytes, before the memory is taken.
  const std::string blob = test::repeated_name_raw_blob(1 << 20, 1000);
  REQUIRE(blob.size() < (1 << 20) + 4000);
  const size_t before = resident_bytes();
  std::string out = "kept";
  const std::string passed = "its JSON text would pass " + std::to_string(max_raw_json_bytes(blob.size())) + " bytes";
  CHECK_THROWS_WITH_AS(append_stored_raw_json(out, blob, true, "alerts.raw of alert 7"),
                       doctest::Contains(passed.c_str()), Fault);
  try {
    append_stored_raw_json(out, blob, true, "alerts.raw of alert 7");
  } catch (const Fault& f) {
    CHECK(f.place() == "alerts.raw of alert 7");
  }
  const double grown_mb = (static_cast<double>(resident_bytes()) - static_cast<double>(before)) / (1 << 20);
  CHECK_MESSAGE(grown_mb < 256, "resident bytes grew by ", grown_mb, " MB");
  CHECK(max_raw_json_bytes(blob.size()) == 64 * blob.size() + (1 << 20));
  // A text within the bound reads, whole; a bound of the caller's below it is kept.
  const std::string small = test::repeated_name_raw_blob(20, 3);
  std::string json;
  append_stored_raw_json(json, small, true, "x");
  const std::string field = "{\"" + std::string(20, 'n') + "\":null}";
  CHECK(json == "[" + field + "," + field + "," + field + "," + field + "]");
  json.clear();
  append_stored_raw_json(json, small, true, "x", 4 * field.size() + 5);
  CHECK(json.size() == 4 * field.size() + 5);
  CHECK_THROWS_WITH_AS(append_stored_raw_json(json, small, true, "x", 4 * field.size() + 4),
                       doctest::Contains("would pass"), Fault);
}

TEST_CASE("raw_json(raw) in SQL gives no text longer than the connection's SQLITE_LIMIT_LENGTH") {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> closing(db, sqlite3_close);
  register_raw_json(db);
  // 100 references to a name of 5,000 bytes: ~500 KB of text, within max_raw_json_bytes (~1.3 MB).
  const std::string blob = test::repeated_name_raw_blob(5000, 100);
  auto run = [&](const char* sql) {
    sqlite3_stmt* raw_statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &raw_statement, nullptr) == SQLITE_OK);
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(raw_statement, sqlite3_finalize);
    REQUIRE(sqlite3_bind_blob(raw_statement, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC) == SQLITE_OK);
    const int rc = sqlite3_step(raw_statement);
    return rc == SQLITE_ROW ? std::to_string(sqlite3_column_bytes(raw_statement, 0)) : std::string(sqlite3_errmsg(db));
  };
  const std::string whole = run("SELECT raw_json(?1, 7)");
  CHECK(whole == std::to_string(101 * (5000 + 9) + 102));
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 100000);
  const std::string limited = run("SELECT raw_json(?1, 7)");
  CHECK_MESSAGE(limited.find("raw_json: alerts.raw of alert 7") != std::string::npos, limited);
  CHECK_MESSAGE(limited.find("would pass 100000 bytes") != std::string::npos, limited);
}

TEST_CASE("a compact alerts.raw the reader refuses, each check: depth, varint, tag, trailing byte, shape, text") {
  auto message = [](const std::string& bytes) -> std::string {
    std::string out;
    try {
      append_stored_raw_json(out, bytes, true, "alerts.raw of alert 9");
    } catch (const Fault& f) {
      return f.place() + ": " + f.message();
    }
    return "read as " + out.substr(0, 80);
  };
  auto nested = [](int levels) {
    std::string bytes(1, '\x01');
    for (int i = 0; i < levels; ++i) bytes += "\x07\x01";
    return bytes + '\0';
  };
  // 512 lists in lists read; 513 are one more than a reader walks.
  CHECK(message(nested(512)) == "read as " + std::string(80, '['));
  CHECK(message(nested(513)).find("nested deeper than 512 levels") != std::string::npos);
  // An int's varint of ten bytes reads; of eleven is refused.
  CHECK(message(std::string("\x01\x03") + std::string(9, '\xff') + '\x01') == "read as -9223372036854775808");
  CHECK(message(std::string("\x01\x03") + std::string(10, '\xff') + '\x01').find("longer than ten bytes") !=
        std::string::npos);
  CHECK(message(std::string("\x01\x0a", 2)).find("unknown kind (10)") != std::string::npos);
  CHECK(message(std::string("\x01\x00\x00", 3)).find("1 bytes after the record") != std::string::npos);
  CHECK(message(std::string("\x01\x08\x00\x00", 4)).find("a shape not given before it") != std::string::npos);
  CHECK(message(std::string("\x01\x06\x64" "abc", 6)).find("a text runs past the end") != std::string::npos);
  CHECK(message(std::string("\x01\x06\x03" "abc", 6)) == "read as \"abc\"");
  for (const std::string& refused : {nested(513), std::string("\x01\x0a", 2), std::string("\x01\x06\x64" "abc", 6)})
    CHECK(message(refused).starts_with("alerts.raw of alert 9: damaged raw record (compact form): "));
}

TEST_CASE("alerts.raw's compact form: a double in 4 bytes only when a float gives it back bit for bit") {
  // Beyond a float's range a double is never cast to one (undefined behaviour: UBSan's
  // float-cast-overflow); NaN and infinities take 8 bytes and read as null either way.
  RecordShape shape("t", {"d"});
  auto stored_size = [&](double value) {
    RawRecordBuilder b;
    b.set_double(b.begin_record(b.add_root(), &shape), value);
    const RawRecord raw = b.finish(std::make_shared<std::string>(), nullptr);
    std::string json, compact, back;
    append_raw_json(json, raw.root());
    append_raw_compact(compact, raw.root(), {});
    append_stored_raw_json(back, compact, true, "test");
    CHECK(back == json);
    // version, a new shape "t" of one field "d", then the value's tag and bytes
    return compact.size() - 7;
  };
  CHECK(stored_size(0.5) == 5);
  CHECK(stored_size(-0.0) == 5);
  CHECK(stored_size(static_cast<double>(FLT_MAX)) == 5);
  CHECK(stored_size(static_cast<double>(FLT_TRUE_MIN)) == 5);
  CHECK(stored_size(0.1) == 9);
  CHECK(stored_size(std::nextafter(static_cast<double>(FLT_MAX), 1e300)) == 9);
  CHECK(stored_size(1e300) == 9);
  CHECK(stored_size(-1.7976931348623157e308) == 9);
  CHECK(stored_size(1e-300) == 9);
  CHECK(stored_size(INFINITY) == 9);
  CHECK(stored_size(NAN) == 9);
}
