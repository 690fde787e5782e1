// Writes records into a PostgreSQL repository with the SQLite writer's tables and semantics
// (actors/common/repository/writer.h): alerts unique on alert_id and on (survey, alert_key), with
// the SQLite writer's identity rule (repository::identity_outcome): the same alert again is a
// repeat that adds nothing but new annotations, a different alert under a stored id a conflict
// that writes nothing (the sink dead-letters it), never a replace; light-curve points de-duplicated per object
// (a per-object set of stored points, loaded on first sight), objects updated by the alerts that
// are new, annotations appended with their provenance (unique on alert and fingerprint), sky events
// and coincidences, and sink progress.
//
// Records are buffered by add() and written by commit() in one transaction, as multi-row INSERTs
// with bound parameters: one round trip per table and a few thousand rows, not one per row. A
// failed commit rolls back and keeps the buffer, so the same records can be committed again after
// reconnect(); whatever a lost COMMIT did or did not store, writing them again adds nothing twice.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/sinks/postgres/pg_connection.h"
#include "actors/common/repository/rows.h"
#include "actors/common/repository/writer.h"

namespace ebs::postgres {

class PgWriter {
 public:
  // Connects and migrates. Of the options, the SQLite-only ones (busy_timeout_ms, fsync,
  // max_size_mb, cutouts_dir) do not apply; a cutouts_dir is refused.
  explicit PgWriter(std::string url, repository::WriterOptions options = {});

  // Buffers a record (Alert, SkyEvent, Coincidence) checked with repository::Writer::validate;
  // a sky event's credible-region MOCs are made here, so that a map that cannot be read is the
  // event's fault, not the commit's.
  void add(RecordPtr record);
  size_t pending() const { return buffer_.size(); }
  // Writes and commits what is buffered; raises a Fault (kind from pg_connection.h) after rolling
  // back, with the buffer kept. Returns what became of each buffered record, in add() order:
  // stored, a repeat, or a conflict (with its reason).
  std::vector<repository::AddResult> commit();
  // Forgets the buffer (the sink has given up on it).
  void discard();
  // A new connection to the same server (after a `disconnected` fault).
  void reconnect();

  const repository::WriteCounts& counts() const { return counts_; }
  const Connection& connection() const { return *connection_; }

 private:
  void write(repository::WriteCounts& counts, std::vector<repository::AddResult>& outcomes);
  // The stored identities of the alerts whose insert was refused, keyed by alert_id and by
  // survey + "\n" + alert_key.
  std::unordered_map<std::string, repository::StoredIdentity> stored_identities(
      const std::vector<const AlertCore*>& refused);
  void load_points(const std::vector<const AlertCore*>& cores);

  std::string url_;
  repository::WriterOptions options_;
  std::unique_ptr<Connection> connection_;
  std::vector<RecordPtr> buffer_;
  std::unordered_map<const Record*, std::vector<repository::EventMoc>> mocs_;  // of buffered sky events
  std::unordered_map<std::string, repository::PointSet> points_by_object_;
  std::unordered_set<std::string_view> raw_exclude_;
  repository::WriteCounts counts_;
  double last_commit_seconds_ = 0;
};

}  // namespace ebs::postgres
