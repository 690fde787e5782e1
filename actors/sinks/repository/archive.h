// Retention: rows older than a cutoff move out of the repository into compressed archive files
// (one JSON line per row, gzip; `<table>-<cutoff>.jsonl.gz` in the archive folder), or, when the
// user asks for it, are deleted. Old alerts with their annotations and cutout rows, old
// light-curve points, and old sky events with their coincidences move; objects (the summaries)
// stay. Everything happens in one write transaction: the rows leave the database only once their
// archive files are complete, fsync'ed and renamed into place.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ebs::repository {

struct ArchiveOptions {
  double older_than_days = 0;
  bool delete_only = false;  // delete without writing archive files
  std::string archive_dir;   // default: DB.archive beside the database
  double now_mjd_tai = NAN;  // default: the system clock
  int busy_timeout_ms = 10000;
};

struct ArchiveResult {
  double cutoff_mjd_tai = NAN;
  std::map<std::string, int64_t> rows;  // per table, moved or deleted
  std::vector<std::string> files;
};

ArchiveResult archive(const std::string& database, const ArchiveOptions& options);

}  // namespace ebs::repository
