// Query results written the way astronomers read them: an aligned table on a terminal, CSV,
// JSON lines, or an IVOA VOTable 1.4 (TABLEDATA; readable by astropy and TOPCAT). Columns keep
// their SELECT order. Beside every MJD TAI column (`mjd_tai`, `first_mjd_tai`, ...) the writer
// adds its ISO 8601 UTC and JD UTC twins (`iso_utc`, `jd_utc`, `first_iso_utc`, ...), labelled.
// `query` and `serve` both write through it.
//
// Rows stream: the writer holds at most `kLookaheadRows` rows (to choose column widths and
// VOTable types), then writes each row as it comes, so memory stays bounded whatever the query.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace ebs::sqlite {
class Statement;
}

namespace ebs::repository {

using sqlite::Statement;

enum class TableFormat { table, csv, jsonl, votable };

// "table", "csv", "jsonl" (or "json"), "votable" (or "xml"); a bad name raises a Fault at `place`.
TableFormat parse_table_format(std::string_view text, std::string_view place = "--format");
std::string_view to_string(TableFormat format);
// MIME type for HTTP answers.
std::string_view content_type(TableFormat format);

// The declared SQL type of a column, when it has one (expressions have none).
enum class ColumnType { unknown, integer, real, text };

struct TableColumn {
  std::string name;
  ColumnType declared = ColumnType::unknown;
};

struct TableOptions {
  TableFormat format = TableFormat::jsonl;
  bool utc_times = true;             // add iso_utc / jd_utc beside MJD TAI columns
  std::string title = "ebs-flow";    // VOTable TABLE name and DESCRIPTION
  std::string description;
  size_t max_cell_chars = 60;        // aligned table only: longer text is cut with "..."
};

class TableWriter {
 public:
  static constexpr size_t kLookaheadRows = 1000;

  TableWriter(std::ostream& out, TableOptions options);
  void begin(std::vector<TableColumn> columns);
  // One row, one cell per column given to begin(): null, integer, float, string, or JSON
  // (objects and arrays print as JSON text outside JSON lines).
  void row(std::vector<nlohmann::json> cells);
  void end();
  size_t rows() const { return rows_; }

 private:
  struct OutColumn {
    std::string name;
    ColumnType type = ColumnType::unknown;
    std::optional<size_t> mjd_source;  // an added UTC column: the MJD TAI column it comes from
    bool jd = false;                   // the added column is JD UTC (else ISO UTC)
    bool unicode = false;              // VOTable: text beyond ASCII
    size_t width = 0;                  // aligned table
  };
  void settle();  // chooses types and widths from the look-ahead, writes the header and the held rows
  void write_header();
  void write_row(const std::vector<nlohmann::json>& cells);

  std::ostream& out_;
  TableOptions options_;
  std::vector<TableColumn> input_;
  std::vector<OutColumn> columns_;
  std::vector<std::vector<nlohmann::json>> held_;
  bool settled_ = false;
  size_t rows_ = 0;
};

// Writes every row of a prepared statement (after Reader::query_rows' checks).
std::vector<TableColumn> statement_columns(const Statement& statement);
std::vector<nlohmann::json> statement_cells(const Statement& statement);

// Rows already in JSON (objects): columns in `preferred` order first, then the remaining keys of
// the first row in name order.
void write_json_rows(TableWriter& writer, const nlohmann::json& rows, const std::vector<std::string>& preferred);

// True for a column name holding an id that JSON prints as a string (alert_id, last_alert_id,
// candid): ids are not numbers to compute with, and JavaScript loses int64 precision.
bool is_id_column(std::string_view name);

// A JSON object as the pages show it: `iso_utc`/`jd_utc` (prefixed like their source) beside each
// MJD TAI key, id keys as strings; nested objects and arrays of objects too.
void add_people_fields(nlohmann::json& value);

}  // namespace ebs::repository
