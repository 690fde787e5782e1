// repository_bench: the repository writer (what the `repository` sink runs) on simulated alerts
// with 30-point light-curve histories, next to raw SQLite inserts of the same rows in the same
// run (ratios: the machine is noisy):
//   raw-alerts   one INSERT per alert row (same columns, raw JSON, the same two indexes on alerts)
//   raw-naive-lc the same plus every light-curve point each alert carries (INSERT OR IGNORE)
//   repository   the writer: alerts, objects, de-duplicated light-curve points, annotations
//   postgres     the PostgreSQL writer (the `postgres-repository` sink) on the same alerts, into a
//                private PostgreSQL 15 server the bench starts (synchronous_commit=off: like
//                SQLite's WAL with synchronous=NORMAL, a commit does not wait for its fsync)
// Then cone-search latency (p50/p99) on `--cone-alerts` stored alerts (default 1 million).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "actors/sinks/postgres/pg_writer.h"
#include "actors/common/repository/raw_json.h"
#include "actors/common/repository/reader.h"
#include "test/support/repository_test_support.h"
#include "actors/common/repository/schema.h"
#include "actors/common/repository/sky_index.h"
#include "actors/common/repository/writer.h"
#include "test/support/postgres_server.h"

using namespace ebs;
using namespace ebs::repository;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The same JSON text the repository stores (the same serializer: the comparison is about SQLite).
std::string raw_json(const AlertCore& c) {
  std::string out;
  append_raw_json(out, c.raw.root(), {"prv_candidates"});
  return out;
}

// Plain SQLite: the alerts table of the repository layout, rows inserted one by one in
// transactions of `commit_every` rows.
double raw_inserts(const std::string& path, const std::vector<RecordPtr>& alerts, bool naive_lightcurve,
                   size_t commit_every) {
  Database db(path, Database::Mode::read_write);
  db.execute("PRAGMA journal_mode=WAL");
  db.execute("PRAGMA synchronous=NORMAL");
  migrate(db);
  Statement insert = db.prepare(
      "INSERT OR IGNORE INTO alerts(alert_id, object_id, survey, schema_version, ra, dec, hpx, mjd_tai, band, mag, "
      "mag_err, flux, flux_err, is_diff_pos, real_bogus, raw) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
      "?12, ?13, ?14, ?15, ?16)");
  Statement point = db.prepare(
      "INSERT OR IGNORE INTO lightcurve(object_id, mjd_tai, band, kind, mag, mag_err, flux, flux_err, limit_mag, "
      "is_diff_pos, alert_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  auto start = Clock::now();
  db.execute("BEGIN");
  size_t n = 0;
  for (const RecordPtr& r : alerts) {
    const AlertCore& c = static_cast<const Alert&>(*r).core();
    insert.bind(1, static_cast<int64_t>(c.alert_id)).bind(2, c.object_id).bind(3, c.survey).bind(4, c.schema_version);
    insert.bind(5, c.ra).bind(6, c.dec).bind(7, sky_pixel(c.ra, c.dec)).bind(8, c.mjd_tai).bind(9, c.band);
    insert.bind(10, c.mag).bind(11, c.mag_err).bind(12, c.flux).bind(13, c.flux_err);
    insert.bind(14, static_cast<int64_t>(c.is_diff_pos)).bind(15, c.real_bogus).bind(16, raw_json(c));
    insert.run();
    if (naive_lightcurve)
      for (const Photometry& p : c.history) {
        point.bind(1, c.object_id).bind(2, p.mjd_tai).bind(3, p.band).bind(4, to_string(p.kind)).bind(5, p.mag);
        point.bind(6, p.mag_err).bind(7, p.flux).bind(8, p.flux_err).bind(9, p.limit_mag);
        point.bind(10, static_cast<int64_t>(p.is_diff_pos)).bind(11, static_cast<int64_t>(c.alert_id));
        point.run();
      }
    if (++n % commit_every == 0) db.execute("COMMIT; BEGIN");
  }
  db.execute("COMMIT");
  return static_cast<double>(alerts.size()) / seconds_since(start);
}

double through_writer(const std::string& path, const std::vector<RecordPtr>& alerts, size_t commit_every,
                      bool store_raw = true) {
  WriterOptions options;
  options.store_raw = store_raw;
  Writer writer(path, options);
  auto start = Clock::now();
  size_t n = 0;
  writer.begin();
  for (const RecordPtr& r : alerts) {
    writer.add(*r);
    if (++n % commit_every == 0) {
      writer.commit(commit_every, commit_every);
      writer.begin();
    }
  }
  writer.commit(n % commit_every, n % commit_every);
  return static_cast<double>(alerts.size()) / seconds_since(start);
}

double through_postgres(const std::string& url, const std::vector<RecordPtr>& alerts, size_t commit_every) {
  postgres::PgWriter writer(url);
  auto start = Clock::now();
  size_t n = 0;
  for (const RecordPtr& r : alerts) {
    writer.add(r);
    if (++n % commit_every == 0) writer.commit();
  }
  writer.commit();
  return static_cast<double>(alerts.size()) / seconds_since(start);
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"repository_bench"};
  int64_t alerts_count = 100000, alerts_per_object = 30, cone_alerts = 1000000, queries = 2000;
  size_t commit_every = 5000;
  app.add_option("--alerts", alerts_count, "simulated alerts for the write benchmark")->capture_default_str();
  app.add_option("--alerts-per-object", alerts_per_object,
                 "alerts per object (light-curve histories grow to 30 points, as ZTF's)")
      ->capture_default_str();
  app.add_option("--cone-alerts", cone_alerts, "alerts stored for the cone benchmark")->capture_default_str();
  app.add_option("--queries", queries, "cone queries per radius")->capture_default_str();
  app.add_option("--commit-every", commit_every, "records per transaction")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  testing::TempDir dir("repository-bench");
  const int64_t objects = std::max<int64_t>(1, alerts_count / alerts_per_object);
  auto alerts = testing::simulated_alerts(alerts_count, 1, objects);
  size_t carried = 0;
  for (const RecordPtr& r : alerts) carried += static_cast<const Alert&>(*r).core().history.size();
  std::printf("write: %lld simulated alerts of %lld objects, %.1f light-curve points carried per alert, "
              "commit every %zu\n",
              static_cast<long long>(alerts_count), static_cast<long long>(objects),
              static_cast<double>(carried) / static_cast<double>(alerts.size()), commit_every);
  double raw_rate = raw_inserts(dir.file("raw.db"), alerts, false, commit_every);
  double naive_rate = raw_inserts(dir.file("naive.db"), alerts, true, commit_every);
  double writer_rate = through_writer(dir.file("repo.db"), alerts, commit_every);
  double writer_no_raw_rate = through_writer(dir.file("repo-no-raw.db"), alerts, commit_every, false);
  Database repo(dir.file("repo.db"), Database::Mode::read_only);
  std::printf("  raw-alerts    %8.0f alerts/s  (alert rows only)\n", raw_rate);
  std::printf("  raw-naive-lc  %8.0f alerts/s  (every carried light-curve point)\n", naive_rate);
  std::printf("  repository    %8.0f alerts/s  (%lld light-curve rows, %lld objects)   %.2fx raw-alerts, %.2fx naive\n",
              writer_rate, static_cast<long long>(repo.scalar("SELECT count(*) FROM lightcurve")),
              static_cast<long long>(repo.scalar("SELECT count(*) FROM objects")), writer_rate / raw_rate,
              writer_rate / naive_rate);
  std::printf("  repository without raw JSON  %8.0f alerts/s\n", writer_no_raw_rate);
  {
    ebs::test::PostgresServer server("-c synchronous_commit=off -c shared_buffers=256MB");
    const std::string url = server.create_database("bench");
    double postgres_rate = through_postgres(url, alerts, commit_every);
    std::string rows = server.psql("bench", "SELECT (SELECT count(*) FROM lightcurve) || ' ' || (SELECT count(*) FROM objects)");
    std::printf("  postgres      %8.0f alerts/s  (light-curve rows, objects: %s)   %.2fx repository (SQLite)\n",
                postgres_rate, rows.substr(0, rows.find('\n')).c_str(), postgres_rate / writer_rate);
  }

  // Cone search: alerts spread uniformly over the sky, written without raw records.
  std::printf("cone: storing %lld alerts ...\n", static_cast<long long>(cone_alerts));
  {
    WriterOptions options;
    options.store_raw = false;
    Writer writer(dir.file("cone.db"), options);
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> u(0, 1);
    auto start = Clock::now();
    writer.begin();
    for (int64_t i = 1; i <= cone_alerts; ++i) {
      double ra = 360 * u(rng), dec = std::asin(2 * u(rng) - 1) * 180 / M_PI;
      writer.add(Alert(testing::make_core(static_cast<uint64_t>(i), "o" + std::to_string(i / 3), ra, dec, 60000 + i * 1e-5)));
      if (i % 20000 == 0) {
        writer.commit(20000, 20000);
        writer.begin();
      }
    }
    writer.commit(0, 0);
    std::printf("  stored in %.1f s\n", seconds_since(start));
  }
  Reader reader(dir.file("cone.db"));
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  for (double radius : {2.0, 60.0, 600.0}) {
    std::vector<double> ms;
    size_t found = 0;
    for (int64_t q = 0; q < queries; ++q) {
      double ra = 360 * u(rng), dec = std::asin(2 * u(rng) - 1) * 180 / M_PI;
      auto start = Clock::now();
      found += reader.cone(ra, dec, radius, 10000).size();
      ms.push_back(seconds_since(start) * 1e3);
    }
    std::printf("  radius %5.0f\": p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%.2f alerts per cone)\n", radius,
                percentile(ms, 0.5), percentile(ms, 0.99), percentile(ms, 1.0),
                static_cast<double>(found) / static_cast<double>(queries));
  }
  return 0;
}
