// The repository's tables on PostgreSQL: the SQLite migrations (actors/common/repository/schema.h)
// translated to PostgreSQL's dialect, so that both backends hold the same tables, columns and
// indexes, versioned in the same `schema_version` table.
//
// Translation: REAL -> DOUBLE PRECISION (SQLite's REAL is 8 bytes), INTEGER -> BIGINT (SQLite's
// are 64-bit), `x INTEGER PRIMARY KEY` -> an identity column (SQLite assigns the rowid when none is
// given), `WITHOUT ROWID` dropped (a plain table with a primary key index).
#pragma once

#include <string>
#include <string_view>

#include "actors/sinks/postgres/pg_connection.h"
#include "actors/common/repository/schema.h"

namespace ebs::postgres {

std::string postgres_dialect(std::string_view sqlite_sql);

// The layout version (0 for an empty database).
int schema_version(const Connection& connection);

// Brings the database to `target` in one transaction (an advisory lock lets one of several sinks
// starting together do it); returns the version it started at. A newer database is refused.
int migrate(const Connection& connection, int target = repository::kSchemaVersion);

}  // namespace ebs::postgres
