// `query --cone/--object/--event` and SQL in CSV and VOTable on a repository of the shared data's
// 86 real ZTF alerts, read back by /usr/bin/python3 astropy and compared with what astropy computes
// from the same database (sqlite3 + SkyCoord separations + Time scales).
#include "actors/sinks/repository/query_forms.h"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "actors/sinks/repository/repository_commands.h"
#include "test/support/repository_test_support.h"
#include "actors/common/repository/writer.h"
#include "test/support/ztf_alerts.h"
#include "test/support/command_runner.h"
#include "test/support/python_oracle.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;
using nlohmann::json;

namespace {

test::CommandRun query(std::vector<std::string> args) {
  args.insert(args.begin(), "query");
  return test::run_command(register_repository_commands, std::move(args));
}

// Reads a VOTable and a CSV written by `query` with astropy; computes the same answer from the
// database with sqlite3 and astropy; prints the differences as JSON.
constexpr const char* kOracle = R"PY(
import sys, json, sqlite3, io, warnings
import numpy as np
from astropy import log
log.setLevel('ERROR')  # the leap-second table's staleness warning is not the answer
warnings.simplefilter('ignore')
from astropy.io.votable import parse_single_table
from astropy.table import Table
from astropy.coordinates import SkyCoord
from astropy.time import Time
import astropy.units as u
db, votable, csv, kind, a, b, c = sys.argv[1:8]
vt = parse_single_table(votable, verify='exception').to_table()
ct = Table.read(csv, format='ascii.csv')
con = sqlite3.connect(db)
out = {'votable_columns': vt.colnames, 'csv_columns': ct.colnames}
if kind == 'cone':
    ra, dec, radius = float(a), float(b), float(c)
    rows = con.execute('SELECT alert_id, ra, dec, mjd_tai, mag FROM alerts').fetchall()
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    sep = SkyCoord([r[1] for r in rows] * u.deg, [r[2] for r in rows] * u.deg).separation(centre).arcsec
    hits = sorted([(s, r) for s, r in zip(sep, rows) if s <= radius], key=lambda h: h[0])
    expected_ids = [h[1][0] for h in hits]
    mjd = np.array([h[1][3] for h in hits])
    expected = {'alert_id': expected_ids, 'sep_arcsec': [h[0] for h in hits], 'ra': [h[1][1] for h in hits],
                'dec': [h[1][2] for h in hits], 'mjd_tai': list(mjd), 'mag': [h[1][4] for h in hits]}
else:
    rows = con.execute('SELECT mjd_tai, band, kind, mag, limit_mag, alert_id FROM lightcurve WHERE object_id = ? '
                       'ORDER BY mjd_tai, band, kind', (a,)).fetchall()
    mjd = np.array([r[0] for r in rows])
    expected = {'mjd_tai': list(mjd), 'band': [r[1] for r in rows], 'kind': [r[2] for r in rows],
                'mag': [r[3] for r in rows], 'limit_mag': [r[4] for r in rows], 'alert_id': [r[5] for r in rows]}
t = Time(mjd, format='mjd', scale='tai').utc
expected['jd_utc'] = list(t.jd)
expected['iso_utc'] = [s + 'Z' for s in t.isot]
out['rows'] = {'votable': len(vt), 'csv': len(ct), 'expected': len(mjd)}
diffs = {}
for name, values in expected.items():
    for label, table in (('votable', vt), ('csv', ct)):
        got = table[name]
        if name in ('band', 'kind', 'iso_utc'):
            diffs[label + ':' + name] = int(sum(1 for g, e in zip(got, values) if str(g) != str(e)))
        elif name == 'alert_id':
            diffs[label + ':' + name] = int(sum(1 for g, e in zip(got, values) if int(g) != int(e)))
        else:
            g = np.ma.filled(np.ma.asarray(got, dtype=float), np.nan)
            e = np.array([np.nan if v is None else v for v in values], dtype=float)
            same_nan = np.isnan(g) == np.isnan(e)
            d = np.abs(np.where(np.isnan(g) | np.isnan(e), 0, g - e))
            diffs[label + ':' + name] = float(d.max()) if len(d) and same_nan.all() else (0.0 if same_nan.all() else 1e9)
out['diffs'] = diffs
out['units'] = {n: str(vt[n].unit) for n in vt.colnames if vt[n].unit is not None}
print(json.dumps(out))
)PY";

struct Repository {
  TempDir dir{"query-forms"};
  std::string path = dir.file("ztf.db");
  std::vector<RecordPtr> alerts;
  Repository() {
    for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01"}) {
      auto part = ebs::test::ztf_alerts(folder);
      alerts.insert(alerts.end(), part.begin(), part.end());
    }
    Writer writer(path);
    writer.begin();
    for (const RecordPtr& r : alerts) writer.add(*r);
    const AlertCore& first = static_cast<const Alert&>(*alerts.front()).core();
    Coincidence co;
    co.event_id = "S230518h";
    co.event_sequence = 2;
    co.alert_id = first.alert_id;
    co.object_id = first.object_id;
    co.time_difference_s = 3600;
    co.searched_probability = 0.42;
    co.alert_ra = first.ra;  // as the coincidence actor fills them
    co.alert_dec = first.dec;
    co.alert_mag = first.mag;
    co.alert_band = first.band;
    co.alert_mjd_tai = first.mjd_tai;
    writer.add(co);
    writer.commit(alerts.size() + 1, alerts.size());
  }
  const AlertCore& first() const { return static_cast<const Alert&>(*alerts.front()).core(); }
};

json oracle(const Repository& repo, const std::vector<std::string>& form, const std::string& kind,
            const std::vector<std::string>& args) {
  std::vector<std::string> base = {repo.path};
  base.insert(base.end(), form.begin(), form.end());
  auto votable = base, csv = base;
  votable.insert(votable.end(), {"--format", "votable"});
  csv.insert(csv.end(), {"--format", "csv"});
  test::CommandRun v = query(votable), c = query(csv);
  REQUIRE_MESSAGE(v.code == 0, v.err);
  REQUIRE_MESSAGE(c.code == 0, c.err);
  std::ofstream(repo.dir.file("out.vot")) << v.out;
  std::ofstream(repo.dir.file("out.csv")) << c.out;
  std::vector<std::string> oracle_args = {repo.path, repo.dir.file("out.vot"), repo.dir.file("out.csv"), kind};
  oracle_args.insert(oracle_args.end(), args.begin(), args.end());
  const std::string out = test::run_python_oracle(kOracle, oracle_args);
  const size_t start = out.rfind("{\"votable_columns\"");  // after any warning the oracle printed
  REQUIRE_MESSAGE(start != std::string::npos, out);
  return json::parse(out.substr(start));
}

}  // namespace

TEST_CASE("query --cone on real ZTF alerts: VOTable and CSV read back by astropy equal astropy's own cone") {
  Repository repo;
  REQUIRE(repo.alerts.size() == 86);
  const double ra = repo.first().ra, dec = repo.first().dec;
  // 3 degrees: the largest cone, so that several alerts of the night fall in it.
  const json r = oracle(repo, {"--cone", std::to_string(ra), std::to_string(dec), "10800"}, "cone",
                        {std::to_string(ra), std::to_string(dec), "10800"});
  INFO(r.dump());
  CHECK(r["rows"]["expected"].get<int>() >= 2);
  CHECK(r["rows"]["votable"] == r["rows"]["expected"]);
  CHECK(r["rows"]["csv"] == r["rows"]["expected"]);
  for (const auto& item : r["diffs"].items()) {
    const std::string& name = item.key();
    const auto& diff = item.value();  // clang 14 lambdas (INFO) cannot capture structured bindings
    INFO(name);
    if (name.find("sep_arcsec") != std::string::npos) CHECK(diff.get<double>() < 1e-6);
    else if (name.find("jd_utc") != std::string::npos) CHECK(diff.get<double>() < 1e-8);  // ~1 ms
    else CHECK(diff.get<double>() == 0);
  }
  // Columns in the order the table promises: id and the survey's own key, position, separation, then time and its twins.
  const std::vector<std::string> columns = r["votable_columns"];
  REQUIRE(columns.size() >= 10);
  CHECK(std::vector<std::string>(columns.begin(), columns.begin() + 10) ==
        std::vector<std::string>{"alert_id", "alert_key", "object_id", "survey", "ra", "dec", "sep_arcsec", "mjd_tai", "iso_utc",
                                 "jd_utc"});
  CHECK(r["csv_columns"] == r["votable_columns"]);
  CHECK(r["units"]["ra"] == "deg");
  CHECK(r["units"]["sep_arcsec"] == "arcsec");
}

TEST_CASE("query --cone takes sexagesimal positions, as catalog cone does") {
  Repository repo;
  const double ra = repo.first().ra, dec = repo.first().dec;
  auto sexagesimal = [](double degrees, double unit) {
    const double value = std::abs(degrees) / unit;
    const int whole = static_cast<int>(value), minutes = static_cast<int>((value - whole) * 60);
    const double seconds = ((value - whole) * 60 - minutes) * 60;
    char text[64];
    std::snprintf(text, sizeof text, "%s%02d:%02d:%09.6f", degrees < 0 ? "-" : "", whole, minutes, seconds);
    return std::string(text);
  };
  test::CommandRun degrees = query({repo.path, "--cone", std::to_string(ra), std::to_string(dec), "2", "--format",
                                    "jsonl", "--tai-only"});
  test::CommandRun text = query({repo.path, "--cone", sexagesimal(ra, 15), sexagesimal(dec, 1), "2", "--format",
                                 "jsonl", "--tai-only"});
  REQUIRE_MESSAGE(degrees.code == 0, degrees.err);
  REQUIRE_MESSAGE(text.code == 0, text.err);
  auto a = test::json_lines(degrees.out), b = test::json_lines(text.out);
  REQUIRE(a.size() >= 1);
  REQUIRE(a.size() == b.size());
  CHECK(a[0]["alert_id"] == std::to_string(repo.first().alert_id));  // ids in JSON are strings
  CHECK(b[0]["alert_id"] == a[0]["alert_id"]);
  CHECK(b[0]["sep_arcsec"].get<double>() < 0.001);
  CHECK(!a[0].contains("iso_utc"));

  test::CommandRun bad = query({repo.path, "--cone", "25:00:00", "0", "5"});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("RA: '25:00:00' is outside [0, 360)") != std::string::npos);
  test::CommandRun wide = query({repo.path, "--cone", "10", "0", "20000"});
  CHECK(wide.code == 1);
  CHECK(wide.err.find("RADIUS: '20000' arcsec is outside") != std::string::npos);
}

TEST_CASE("query --object: the light curve in VOTable and CSV equals the database as astropy reads it") {
  Repository repo;
  // The object with the longest stored light curve.
  test::CommandRun pick = query({repo.path,
                                 "SELECT object_id, count(*) AS n FROM lightcurve GROUP BY object_id "
                                 "ORDER BY n DESC, object_id LIMIT 1",
                                 "--format", "jsonl"});
  REQUIRE(pick.code == 0);
  const json best = json::parse(pick.out);
  CHECK(pick.out.find("{\"object_id\":") == 0);  // SELECT order, not name order
  const std::string object = best["object_id"];
  const json r = oracle(repo, {"--object", object}, "object", {object, "-", "-"});
  INFO(r.dump());
  CHECK(r["rows"]["expected"] == best["n"]);
  CHECK(r["rows"]["votable"] == best["n"]);
  for (const auto& item : r["diffs"].items()) {
    const std::string& name = item.key();
    const auto& diff = item.value();  // clang 14 lambdas (INFO) cannot capture structured bindings
    INFO(name);
    CHECK(diff.get<double>() < (name.find("jd_utc") != std::string::npos ? 1e-8 : 1e-12));
  }
  test::CommandRun unknown = query({repo.path, "--object", "ZTFnobody"});
  CHECK(unknown.code == 1);
  CHECK(unknown.err.find("no object 'ZTFnobody'") != std::string::npos);
}

TEST_CASE("query --event: coincidences carry the alert's position, magnitude and time") {
  Repository repo;
  test::CommandRun r = query({repo.path, "--event", "S230518h", "--format", "jsonl"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto rows = test::json_lines(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["object_id"] == repo.first().object_id);
  CHECK(rows[0]["ra"].get<double>() == repo.first().ra);
  CHECK(rows[0]["dec"].get<double>() == repo.first().dec);
  CHECK(rows[0]["mag"].get<double>() == repo.first().mag);
  CHECK(rows[0]["mjd_tai"].get<double>() == repo.first().mjd_tai);
  CHECK(rows[0]["iso_utc"] == time::mjd_tai_to_iso_utc(repo.first().mjd_tai));
  CHECK(rows[0]["searched_probability"] == 0.42);
  test::CommandRun table = query({repo.path, "--event", "S230518h", "--format", "table"});
  CHECK(table.out.find("event_id event_sequence status") == 0);
  CHECK(query({repo.path, "--event", "S000000x"}).code == 1);
}

TEST_CASE("query --event: a repository of coincidences without their alerts still shows the alert as found") {
  TempDir dir("query-event-only");
  const std::string path = dir.file("events.db");
  Coincidence co;
  co.event_id = "S230518h";
  co.event_sequence = 1;
  co.alert_id = 1234567890123;
  co.object_id = "ZTF23abcdefg";
  co.searched_probability = 0.25;
  co.alert_ra = 210.5;
  co.alert_dec = -7.25;
  co.alert_mag = 19.5;
  co.alert_band = "r";
  co.alert_mjd_tai = 60083.5;
  {
    Writer writer(path);
    writer.begin();
    writer.add(co);
    writer.commit(1, 0);
  }
  test::CommandRun r = query({path, "--event", "S230518h", "--format", "jsonl"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto rows = test::json_lines(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["alert_id"] == "1234567890123");
  CHECK(rows[0]["ra"] == 210.5);
  CHECK(rows[0]["dec"] == -7.25);
  CHECK(rows[0]["mag"] == 19.5);
  CHECK(rows[0]["band"] == "r");
  CHECK(rows[0]["mjd_tai"] == 60083.5);
  CHECK(rows[0]["iso_utc"] == time::mjd_tai_to_iso_utc(60083.5));
  CHECK(rows[0]["jd_utc"].get<double>() == doctest::Approx(time::mjd_tai_to_utc(60083.5) + 2400000.5).epsilon(1e-15));
}

TEST_CASE("query --event lists each candidate's current state whatever came first, alerts or the UPDATE") {
  // Alerts before the UPDATE leave rows of both notices (active, then updated); alerts after it
  // only the UPDATE's. The candidate list is the same either way; --history shows every row.
  TempDir dir("query-event-current");
  const std::string path = dir.file("events.db");
  auto row = [](const std::string& object, uint32_t sequence, Coincidence::Status status) {
    Coincidence co;
    co.event_id = "S230518h";
    co.event_sequence = sequence;
    co.alert_id = static_cast<int64_t>(std::hash<std::string>{}(object) >> 2);
    co.object_id = object;
    co.status = status;
    co.alert_mjd_tai = 60083.5;
    return co;
  };
  {
    Writer writer(path);
    writer.begin();
    for (const Coincidence& co : {row("ZTFa", 1, Coincidence::Status::active), row("ZTFa", 2, Coincidence::Status::updated),
                                  row("ZTFb", 2, Coincidence::Status::active), row("ZTFc", 1, Coincidence::Status::active),
                                  row("ZTFc", 1, Coincidence::Status::withdrawn)})
      writer.add(co);
    writer.commit(5, 0);
  }
  test::CommandRun current = query({path, "--event", "S230518h", "--format", "jsonl"});
  REQUIRE_MESSAGE(current.code == 0, current.err);
  std::map<std::string, std::pair<int, std::string>> state;
  for (const json& r : test::json_lines(current.out))
    state[r["object_id"].get<std::string>()] = {r["event_sequence"].get<int>(), r["status"].get<std::string>()};
  CHECK(state.size() == 3);
  CHECK(test::json_lines(current.out).size() == 3);
  CHECK(state["ZTFa"] == std::make_pair(2, std::string("updated")));
  CHECK(state["ZTFb"] == std::make_pair(2, std::string("active")));
  CHECK(state["ZTFc"] == std::make_pair(1, std::string("withdrawn")));
  test::CommandRun history = query({path, "--event", "S230518h", "--history", "--format", "jsonl"});
  REQUIRE_MESSAGE(history.code == 0, history.err);
  CHECK(test::json_lines(history.out).size() == 5);
}

TEST_CASE("query: SQL or one form, not both") {
  Repository repo;
  CHECK(query({repo.path}).code != 0);
  CHECK(query({repo.path, "SELECT 1", "--object", "x"}).code != 0);
  test::CommandRun votable = query({repo.path, "SELECT alert_id FROM alerts WHERE 0", "--format", "votable"});
  REQUIRE(votable.code == 0);
  CHECK(votable.out.find("<FIELD name=\"alert_id\" datatype=\"long\"") != std::string::npos);  // columns without rows
}
