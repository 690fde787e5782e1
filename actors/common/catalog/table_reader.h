// Reads the rows of a catalogue's source table, whatever its format (CSV, whitespace or
// fixed-width text, FITS binary/ASCII table), as cells of the selected columns.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/common/catalog/catalog_config.h"

namespace ebs::catalog {

struct Cell {
  enum class Kind { null, text, number, integer };
  Kind kind = Kind::null;
  std::string_view text;  // valid until the next call of next_row
  double number = 0;
  int64_t integer = 0;
};

class TableReader {
 public:
  virtual ~TableReader() = default;

  const std::vector<std::string>& column_names() const { return names_; }
  // Index of a column by name (exact first, then case-insensitive), or -1.
  int find_column(std::string_view name) const;

  // Chooses the columns `next_row` fills, in this order.
  virtual void select(std::vector<int> columns) = 0;
  // Reads the next data row; false at the end. A malformed row throws a Fault naming file and
  // row; the reader stays usable for the following rows.
  virtual bool next_row(std::vector<Cell>& cells) = 0;
  // 1-based number of the last data row read (header lines not counted).
  int64_t row_number() const { return row_; }
  // Where the last row came from, for messages: "file:row N" (plus the text line where useful).
  virtual std::string row_place() const;
  const std::string& file_name() const { return file_name_; }

 protected:
  std::vector<std::string> names_;
  std::string file_name_;
  int64_t row_ = 0;
};

std::unique_ptr<TableReader> open_table(const CatalogConfig& config);

}  // namespace ebs::catalog
