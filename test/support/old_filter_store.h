// A filter store's tables as older ebs-flow versions made them, for the tests of their migration.
#pragma once

#include <cstdint>
#include <string>

#include "actors/common/sqlite/sqlite_db.h"

namespace ebs::test {

// Puts back the `output_counts` table as main at 3b34ce4 made it (no `rate_limited` column), with
// one row for a Kafka output in JSON: 8 delivered, 1 dead-lettered, 0 lost.
inline void make_counts_table_of_3b34ce4(const std::string& store_path, int64_t filter_id, const std::string& topic) {
  ebs::sqlite::Database old(store_path, ebs::sqlite::Database::Mode::read_write);
  old.execute(R"sql(
DROP TABLE output_counts;
CREATE TABLE output_counts(filter_id INTEGER NOT NULL REFERENCES filters(id) ON DELETE CASCADE,
  kind TEXT NOT NULL, target TEXT NOT NULL, format TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0,
  dead_lettered INTEGER NOT NULL DEFAULT 0, lost INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(filter_id, kind, target, format));
)sql");
  old.execute("INSERT INTO output_counts VALUES(" + std::to_string(filter_id) + ", 'kafka', '" + topic +
              "', 'json', 8, 1, 0)");
}

}  // namespace ebs::test
