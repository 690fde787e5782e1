#include "actors/sinks/repository/table_output.h"

#include <doctest/doctest.h>

#include <sstream>

#include "actors/common/repository/reader.h"
#include "actors/common/repository/writer.h"
#include "engine/time/time_scale.h"
#include "test/support/repository_test_support.h"
#include "engine/util/fault.h"

using namespace ebs;
using namespace ebs::repository;
using nlohmann::json;

namespace {

std::string write(TableFormat format, const std::vector<TableColumn>& columns, const std::vector<std::vector<json>>& rows,
                  bool utc = true) {
  std::ostringstream out;
  TableOptions options;
  options.format = format;
  options.utc_times = utc;
  TableWriter writer(out, options);
  writer.begin(columns);
  for (const auto& row : rows) writer.row(row);
  writer.end();
  return out.str();
}

// MS220722v's DATE-OBS (the shared data's time test vector) as MJD TAI.
const double kMjdTai = time::iso_utc_to_mjd_tai("2022-07-22T21:57:12.384");

}  // namespace

TEST_CASE("JSON lines keep SELECT order, print ids as strings and add UTC beside MJD TAI") {
  const std::string out = write(TableFormat::jsonl, {{"object_id"}, {"alert_id"}, {"mjd_tai"}, {"mag"}},
                                {{"ZTF1", 1311156250015010003, kMjdTai, 18.5}, {"ZTF2", 2, nullptr, nullptr}});
  std::istringstream lines(out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  CHECK(first.find("{\"object_id\":\"ZTF1\",\"alert_id\":\"1311156250015010003\",\"mjd_tai\":") == 0);
  const json row = json::parse(first);
  CHECK(row["iso_utc"] == "2022-07-22T21:57:12.384Z");
  CHECK(row["jd_utc"].get<double>() == doctest::Approx(59782.914727 + 2400000.5).epsilon(1e-12));
  CHECK(first.find("\"jd_utc\":") < first.find("\"mag\":"));  // twins sit beside their MJD TAI column
  CHECK(json::parse(second)["iso_utc"].is_null());
  CHECK(write(TableFormat::jsonl, {{"mjd_tai"}}, {{60000.0}}, false) == "{\"mjd_tai\":60000.0}\n");
}

TEST_CASE("CSV: a header, RFC 4180 quoting, empty nulls, JSON cells as text") {
  const std::string out = write(TableFormat::csv, {{"name"}, {"n"}, {"details"}},
                                {{"a,b", 1, json{{"x", 1}}}, {"say \"hi\"", nullptr, nullptr}});
  CHECK(out == "name,n,details\r\n\"a,b\",1,\"{\"\"x\"\":1}\"\r\n\"say \"\"hi\"\"\",,\r\n");
}

TEST_CASE("the aligned table pads columns, right-aligns numbers and cuts long text") {
  TableOptions options;
  options.format = TableFormat::table;
  options.max_cell_chars = 10;
  std::ostringstream out;
  TableWriter writer(out, options);
  writer.begin({{"object_id"}, {"ndet"}, {"note"}});
  writer.row({"ZTF1", 3, "short"});
  writer.row({"ZTF22", 12, "a rather long note"});
  writer.end();
  CHECK(out.str() ==
        "object_id ndet note\n"
        "--------- ---- ----------\n"
        "ZTF1         3 short\n"
        "ZTF22       12 a rathe...\n");
  std::ostringstream empty;
  TableWriter none(empty, options);
  none.begin({{"x"}});
  none.end();
  CHECK(empty.str() == "x\n-\n(no rows)\n");
}

TEST_CASE("VOTable: types from declarations and values, units, UCDs, time systems, escaped text") {
  const std::string out =
      write(TableFormat::votable, {{"ra", ColumnType::real}, {"n", ColumnType::integer}, {"note"}, {"mjd_tai"}},
            {{150.25, 3, "<a & b>", kMjdTai}, {nullptr, nullptr, nullptr, nullptr}});
  CHECK(out.find("<FIELD name=\"ra\" datatype=\"double\" unit=\"deg\" ucd=\"pos.eq.ra;meta.main\" ref=\"icrs\">") !=
        std::string::npos);
  CHECK(out.find("<FIELD name=\"n\" datatype=\"long\"") != std::string::npos);
  CHECK(out.find("<FIELD name=\"note\" datatype=\"char\" arraysize=\"*\"") != std::string::npos);
  CHECK(out.find("<FIELD name=\"mjd_tai\" datatype=\"double\" unit=\"d\" ucd=\"time.epoch\" ref=\"tai\">") !=
        std::string::npos);
  CHECK(out.find("<FIELD name=\"jd_utc\" datatype=\"double\" unit=\"d\" ucd=\"time.epoch\" ref=\"utc\">") !=
        std::string::npos);
  CHECK(out.find("<TD>&lt;a &amp; b&gt;</TD>") != std::string::npos);
  CHECK(out.find("<TR><TD></TD><TD></TD><TD></TD><TD></TD><TD></TD><TD></TD></TR>") != std::string::npos);
  CHECK(out.rfind("</VOTABLE>\n") == out.size() - 11);
}

TEST_CASE("formats by name; a bad one names the choices") {
  CHECK(parse_table_format("votable") == TableFormat::votable);
  CHECK(parse_table_format("json") == TableFormat::jsonl);
  CHECK_THROWS_WITH_AS(parse_table_format("fits"), doctest::Contains("--format: unknown format 'fits' (table, csv"),
                       Fault);
}

TEST_CASE("query --format: alerts.raw is the same JSON cell whether the row holds it compact or as text") {
  testing::TempDir dir("table-raw");
  auto alerts = testing::simulated_alerts(30, 4, 5);
  auto cells_of = [&](WriterOptions::RawFormat format) {
    const std::string path = dir.file(format == WriterOptions::RawFormat::json ? "json.db" : "compact.db");
    {
      WriterOptions options;
      options.raw_format = format;
      Writer writer(path, options);
      writer.begin();
      for (const RecordPtr& r : alerts) writer.add(*r);
      writer.commit(alerts.size(), alerts.size());
    }
    std::vector<std::vector<json>> rows;
    Reader(path).query_rows("SELECT alert_id, raw FROM alerts ORDER BY alert_id", json::object(), [](const Statement&) {},
                            [&](const Statement& s) { rows.push_back(statement_cells(s)); });
    return rows;
  };
  const auto compact = cells_of(WriterOptions::RawFormat::compact);
  REQUIRE(compact.size() == alerts.size());
  CHECK(compact[0][1]["candidate"].is_object());
  CHECK(compact == cells_of(WriterOptions::RawFormat::json));
}
