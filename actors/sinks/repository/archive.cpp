#include "actors/sinks/repository/archive.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "actors/common/repository/raw_json.h"
#include "actors/common/repository/reader.h"
#include "actors/common/repository/schema.h"
#include "actors/common/sqlite/sqlite_db.h"
#include "engine/time/clock.h"

namespace ebs::repository {

namespace {

// Which rows of each table are old (?1 = the cutoff, MJD TAI). Dependent rows come before the
// rows they depend on: their conditions look those up.
struct TableRule {
  const char* table;
  const char* where;
};
constexpr TableRule kRules[] = {
    {"annotations", "mjd_tai < ?1"},
    {"cutouts", "alert_id IN (SELECT alert_id FROM alerts WHERE mjd_tai < ?1)"},
    {"alerts", "mjd_tai < ?1"},
    {"lightcurve", "mjd_tai < ?1"},
    {"coincidences",
     "EXISTS (SELECT 1 FROM sky_events e WHERE e.event_id = coincidences.event_id AND "
     "e.sequence = coincidences.event_sequence AND e.mjd_tai < ?1)"},
    {"sky_event_mocs",
     "EXISTS (SELECT 1 FROM sky_events e WHERE e.event_id = sky_event_mocs.event_id AND "
     "e.sequence = sky_event_mocs.sequence AND e.mjd_tai < ?1)"},
    {"sky_events", "mjd_tai < ?1"},
};

void fsync_path(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Writes the table's old rows into `file` (gzip JSON lines); returns how many.
int64_t write_archive(const Database& db, const TableRule& rule, double cutoff, const std::filesystem::path& file) {
  std::filesystem::path partial = file;
  partial += ".partial";
  gzFile out = gzopen(partial.c_str(), "wb6");
  if (!out) fail(partial.string(), "cannot create the archive file");
  Statement s = db.prepare(std::string("SELECT * FROM ") + rule.table + " WHERE " + rule.where);
  s.bind(1, cutoff);
  int64_t rows = 0;
  try {
    while (s.step()) {
      std::string line = row_to_json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      line += '\n';
      if (gzwrite(out, line.data(), static_cast<unsigned>(line.size())) != static_cast<int>(line.size()))
        fail(partial.string(), "cannot write the archive file (disk full?)");
      ++rows;
    }
  } catch (...) {
    gzclose(out);
    std::filesystem::remove(partial);
    throw;
  }
  if (gzclose(out) != Z_OK) fail(partial.string(), "cannot finish the archive file (disk full?)");
  if (rows == 0) {
    std::filesystem::remove(partial);
    return 0;
  }
  fsync_path(partial);
  std::filesystem::rename(partial, file);
  fsync_path(file.parent_path());
  return rows;
}

}  // namespace

ArchiveResult archive(const std::string& database, const ArchiveOptions& options) {
  if (!(options.older_than_days >= 0)) fail(database, "--older-than-days must be 0 or more");
  if (!std::filesystem::exists(database)) fail(database, "no such repository");
  Database db(database, Database::Mode::read_write, options.busy_timeout_ms);
  register_raw_json(db.get());
  if (schema_version(db) == 0) fail(database, "not an ebs-flow repository (no schema_version table)");
  migrate(db);

  ArchiveResult result;
  const double now = std::isnan(options.now_mjd_tai) ? time::now_mjd_tai() : options.now_mjd_tai;
  result.cutoff_mjd_tai = now - options.older_than_days;
  std::filesystem::path dir = options.archive_dir.empty() ? database + ".archive" : options.archive_dir;
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "before-mjd%.5f", result.cutoff_mjd_tai);

  Transaction transaction(db);
  try {
    if (!options.delete_only) {
      std::filesystem::create_directories(dir);
      for (const TableRule& rule : kRules) {
        // A second archive with the same cutoff (late rows) gets its own file, never overwrites.
        std::filesystem::path file = dir / (std::string(rule.table) + "-" + stamp + ".jsonl.gz");
        for (int n = 2; std::filesystem::exists(file); ++n)
          file = dir / (std::string(rule.table) + "-" + stamp + "-" + std::to_string(n) + ".jsonl.gz");
        int64_t rows = write_archive(db, rule, result.cutoff_mjd_tai, file);
        if (rows > 0) result.files.push_back(file.string());
      }
    }
    for (const TableRule& rule : kRules) {
      Statement del = db.prepare(std::string("DELETE FROM ") + rule.table + " WHERE " + rule.where);
      del.bind(1, result.cutoff_mjd_tai);
      result.rows[rule.table] = del.run();
    }
    transaction.commit();
  } catch (...) {
    // The rows stay in the database: their archive copies must not count as moved, nor stay to
    // be written again beside the next try's (a table's rows failing to read, a damaged
    // alerts.raw, after the tables before it were written).
    for (const std::string& file : result.files) std::filesystem::remove(file);
    throw;
  }
  return result;
}

}  // namespace ebs::repository
