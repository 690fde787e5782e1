#include "actors/common/catalog/table_reader.h"

#include <fitsio.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>

#include "actors/common/gzip.h"
#include "engine/util/fault.h"

namespace ebs::catalog {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

int TableReader::find_column(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return static_cast<int>(i);
  for (size_t i = 0; i < names_.size(); ++i)
    if (equals_ignoring_case(names_[i], name)) return static_cast<int>(i);
  return -1;
}

std::string TableReader::row_place() const { return file_name_ + ":row " + std::to_string(row_); }

namespace {

// CSV, whitespace-separated and fixed-width text. Hand-written because each format is a few lines
// of splitting and the catalogue formats (VizieR '|' tables, " , "-padded CSV, CRLF fixed-width)
// need exactly these knobs.
class TextTableReader final : public TableReader {
 public:
  explicit TextTableReader(const CatalogConfig& config) : config_(config), in_(config.data_file, std::ios::binary) {
    file_name_ = config.data_file.string();
    if (!in_) fail(file_name_, "cannot open the catalogue data file");
    std::string line;
    for (int i = 0; i < config_.skip_lines; ++i)
      if (!read_line(line)) fail(file_name_, "ends within the first skip_lines lines");
    if (config_.format == TableFormat::fixed) {
      for (const FixedField& f : config_.fixed_fields) names_.push_back(f.name);
    } else if (config_.header) {
      if (!read_content_line(line)) fail(file_name_, "has no header line");
      split(line);
      for (const std::string& f : fields_) names_.emplace_back(trim(f));
      for (int i = 0; i < config_.skip_after_header; ++i)
        if (!read_content_line(line)) fail(file_name_, "ends within the lines after the header");
    } else if (!config_.names.empty()) {
      names_ = config_.names;
    } else {
      fail(file_name_, "a table without header needs text.names in the configuration");
    }
  }

  void select(std::vector<int> columns) override { selected_ = std::move(columns); }

  bool next_row(std::vector<Cell>& cells) override {
    if (!read_content_line(line_text_)) return false;
    ++row_;
    if (config_.format == TableFormat::fixed) {
      cells.assign(selected_.size(), Cell{});
      for (size_t i = 0; i < selected_.size(); ++i) {
        const FixedField& f = config_.fixed_fields[static_cast<size_t>(selected_[i])];
        std::string_view line(line_text_);
        const size_t first = static_cast<size_t>(f.first - 1);
        // A short line leaves its trailing fields blank, as fixed-width writers trim blanks.
        std::string_view text = first < line.size() ? line.substr(first, static_cast<size_t>(f.last - f.first + 1)) : std::string_view{};
        cells[i] = make_cell(text);
      }
      return true;
    }
    split(line_text_);
    cells.assign(selected_.size(), Cell{});
    for (size_t i = 0; i < selected_.size(); ++i) {
      const size_t column = static_cast<size_t>(selected_[i]);
      if (column >= fields_.size())
        fail(row_place() + ":column " + names_[column],
             "the row has " + std::to_string(fields_.size()) + " fields, the header " +
                 std::to_string(names_.size()));
      cells[i] = make_cell(fields_[column]);
    }
    return true;
  }

  std::string row_place() const override {
    return file_name_ + ":row " + std::to_string(row_) + " (line " + std::to_string(line_) + ")";
  }

 private:
  bool read_line(std::string& line) {
    if (!std::getline(in_, line)) return false;
    ++line_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 BOM
    return true;
  }

  bool read_content_line(std::string& line) {
    while (read_line(line)) {
      if (trim(line).empty()) continue;
      if (!config_.comment_prefix.empty() && line.rfind(config_.comment_prefix, 0) == 0) continue;
      return true;
    }
    return false;
  }

  void split(const std::string& line) {
    size_t count = 0;
    auto next_field = [&]() -> std::string& {
      if (count == fields_.size()) fields_.emplace_back();
      std::string& f = fields_[count++];
      f.clear();
      return f;
    };
    if (config_.format == TableFormat::whitespace) {
      size_t i = 0;
      while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        if (i == line.size()) break;
        const size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        next_field().assign(line, start, i - start);
      }
      fields_.resize(count);
      return;
    }
    const char delimiter = config_.delimiter, quote = config_.quote;
    size_t i = 0;
    while (true) {
      std::string& f = next_field();
      while (i < line.size() && line[i] == ' ' && delimiter != ' ') ++i;
      if (i < line.size() && line[i] == quote) {
        ++i;
        while (true) {
          if (i >= line.size())
            fail(file_name_ + ":line " + std::to_string(line_), "unterminated quoted field");
          if (line[i] == quote) {
            if (i + 1 < line.size() && line[i + 1] == quote) {
              f += quote;
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          f += line[i++];
        }
        while (i < line.size() && line[i] != delimiter) {
          if (!std::isspace(static_cast<unsigned char>(line[i])))
            fail(file_name_ + ":line " + std::to_string(line_), "text after a closing quote");
          ++i;
        }
      } else {
        const size_t start = i;
        while (i < line.size() && line[i] != delimiter) ++i;
        f.assign(trim(std::string_view(line).substr(start, i - start)));
      }
      if (i >= line.size()) break;
      ++i;  // the delimiter
    }
    fields_.resize(count);
  }

  Cell make_cell(std::string_view raw) const {
    std::string_view text = trim(raw);
    if (config_.byte_strings && text.size() >= 3 && text[0] == 'b' &&
        (text[1] == '\'' || text[1] == '"') && text.back() == text[1])
      text = text.substr(2, text.size() - 3);
    for (const std::string& null_value : config_.null_values)
      if (text == null_value) return Cell{};
    Cell cell;
    cell.kind = Cell::Kind::text;
    cell.text = text;
    return cell;
  }

  CatalogConfig config_;
  std::ifstream in_;
  int64_t line_ = 0;
  std::string line_text_;
  std::vector<std::string> fields_;
  std::vector<int> selected_;
};

bool file_is_gzip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[2] = {};
  in.read(magic, 2);
  return in.gcount() == 2 && is_gzip(std::string_view(magic, 2));
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open FITS file: cannot read it");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string fits_error(int status) {
  char text[FLEN_STATUS] = {0};
  fits_get_errstatus(status, text);
  std::string message = text;
  char detail[FLEN_ERRMSG];
  while (fits_read_errmsg(detail)) message += std::string("; ") + detail;
  return message;
}

// FITS binary or ASCII tables through cfitsio, read in chunks of its optimal row count.
class FitsTableReader final : public TableReader {
 public:
  explicit FitsTableReader(const CatalogConfig& config) {
    file_name_ = config.data_file.string();
    int status = 0;
    if (file_is_gzip(file_name_)) {
      // cfitsio would inflate a .gz into memory without any bound: a 1 MB bomb, gigabytes. It is
      // inflated here instead, cut at the size its FITS headers declare, never above the ceiling.
      inflated_ = gunzip(read_whole_file(file_name_), file_name_, fits_hdus_inflate_limit(kCatalogInflateCeiling));
      memory_ = inflated_.data();
      memory_size_ = inflated_.size();
      if (fits_open_memfile(&file_, file_name_.c_str(), READONLY, &memory_, &memory_size_, 0, nullptr, &status))
        fail(file_name_, "cannot open FITS file: " + fits_error(status));
    } else if (fits_open_file(&file_, file_name_.c_str(), READONLY, &status)) {
      fail(file_name_, "cannot open FITS file: " + fits_error(status));
    }
    try {
      open_table(config);
    } catch (...) {  // a constructor that throws runs no destructor: close the handle here
      fits_close_file(file_, &status);
      file_ = nullptr;
      throw;
    }
  }

  ~FitsTableReader() override {
    int status = 0;
    if (file_) fits_close_file(file_, &status);
  }

 private:
  void open_table(const CatalogConfig& config) {
    int status = 0;
    int hdu_type = 0;
    if (config.fits_hdu.empty()) {
      int count = 0;
      fits_get_num_hdus(file_, &count, &status);
      bool found = false;
      for (int hdu = 2; hdu <= count && !found; ++hdu) {
        if (fits_movabs_hdu(file_, hdu, &hdu_type, &status)) break;
        found = hdu_type == BINARY_TBL || hdu_type == ASCII_TBL;
      }
      if (!found) fail(file_name_, "has no table HDU");
    } else if (std::all_of(config.fits_hdu.begin(), config.fits_hdu.end(), ::isdigit)) {
      if (fits_movabs_hdu(file_, std::stoi(config.fits_hdu), &hdu_type, &status))
        fail(file_name_ + "[" + config.fits_hdu + "]", "cannot move to HDU: " + fits_error(status));
    } else {
      std::string name = config.fits_hdu;
      if (fits_movnam_hdu(file_, ANY_HDU, name.data(), 0, &status))
        fail(file_name_ + "[" + config.fits_hdu + "]", "no HDU of that name: " + fits_error(status));
      fits_get_hdu_type(file_, &hdu_type, &status);
    }
    if (hdu_type != BINARY_TBL && hdu_type != ASCII_TBL) fail(file_name_, "the chosen HDU is not a table");
    int columns = 0;
    fits_get_num_cols(file_, &columns, &status);
    fits_get_num_rows(file_, &rows_, &status);
    for (int c = 1; c <= columns; ++c) {
      char key[FLEN_KEYWORD], value[FLEN_VALUE] = {0};
      fits_make_keyn("TTYPE", c, key, &status);
      fits_read_key(file_, TSTRING, key, value, nullptr, &status);
      names_.emplace_back(value);
    }
    long chunk = 0;
    fits_get_rowsize(file_, &chunk, &status);
    chunk_ = std::clamp<long>(chunk, 1, 10000);
    if (status) fail(file_name_, "cannot read the table header: " + fits_error(status));
    // The rows the header declares must be in the file: cfitsio reads past its end otherwise.
    // (Rows and heap, without the padding to 2880 bytes that some writers leave out.)
    LONGLONG header_start = 0, data_start = 0, data_end = 0, row_bytes = 0, rows = 0, heap = 0;
    fits_get_hduaddrll(file_, &header_start, &data_start, &data_end, &status);
    fits_read_key(file_, TLONGLONG, "NAXIS1", &row_bytes, nullptr, &status);
    fits_read_key(file_, TLONGLONG, "NAXIS2", &rows, nullptr, &status);
    int no_heap = 0;
    fits_read_key(file_, TLONGLONG, "PCOUNT", &heap, nullptr, &no_heap);
    if (status) fail(file_name_, "cannot read the table header: " + fits_error(status));
    // A gzipped file is read from memory, inflated: its size is what was inflated.
    std::error_code error;
    const auto file_size = memory_ ? static_cast<uintmax_t>(memory_size_) : std::filesystem::file_size(file_name_, error);
    const auto held = error ? 0 : file_size - std::min<uintmax_t>(file_size, static_cast<uintmax_t>(data_start));
    const long double declared = static_cast<long double>(row_bytes) * static_cast<long double>(rows) +
                                 static_cast<long double>(std::max<LONGLONG>(heap, 0));
    if (row_bytes < 0 || rows < 0 || declared > static_cast<long double>(held))
      fail(file_name_, "the table declares " + std::to_string(rows) + " rows of " + std::to_string(row_bytes) +
                           " bytes but the file holds " + std::to_string(held) + " bytes after its header");
  }

 public:
  void select(std::vector<int> columns) override {
    columns_.clear();
    for (int c : columns) {
      Column column;
      column.number = c + 1;
      int status = 0;
      LONGLONG repeat = 0, width = 0;
      fits_get_eqcoltypell(file_, column.number, &column.type, &repeat, &width, &status);
      if (status) fail(file_name_ + ":column " + names_[static_cast<size_t>(c)], fits_error(status));
      if (column.type == TSTRING) {
        column.width = static_cast<size_t>(std::max<LONGLONG>(repeat, 1));
      } else if (repeat != 1) {
        fail(file_name_ + ":column " + names_[static_cast<size_t>(c)],
             "is a vector column (" + std::to_string(repeat) + " values per row); only scalar columns can be mapped");
      }
      columns_.push_back(std::move(column));
    }
  }

  bool next_row(std::vector<Cell>& cells) override {
    if (row_ >= rows_) return false;
    if (row_ >= chunk_first_ + chunk_rows_) load_chunk(row_);
    const size_t k = static_cast<size_t>(row_ - chunk_first_);
    ++row_;
    cells.assign(columns_.size(), Cell{});
    for (size_t i = 0; i < columns_.size(); ++i) {
      const Column& column = columns_[i];
      if (column.nulls[k]) continue;
      Cell& cell = cells[i];
      if (column.type == TSTRING) {
        std::string_view text = trim(column.text_pointers[k]);
        if (text.empty()) continue;
        cell.kind = Cell::Kind::text;
        cell.text = text;
      } else if (is_integer(column.type)) {
        cell.kind = Cell::Kind::integer;
        cell.integer = column.integers[k];
      } else {
        cell.kind = Cell::Kind::number;
        cell.number = column.numbers[k];
      }
    }
    return true;
  }

 private:
  struct Column {
    int number = 0;
    int type = 0;
    size_t width = 0;
    std::vector<double> numbers;
    std::vector<LONGLONG> integers;
    std::vector<char> nulls;
    std::vector<char> text;
    std::vector<char*> text_pointers;
  };

  static bool is_integer(int type) {
    return type == TBYTE || type == TSBYTE || type == TSHORT || type == TUSHORT || type == TINT ||
           type == TUINT || type == TLONG || type == TLONGLONG || type == TLOGICAL;
  }

  void load_chunk(int64_t first) {
    chunk_first_ = first;
    chunk_rows_ = 0;  // until every column of the chunk is read
    const auto n = static_cast<size_t>(std::min<int64_t>(chunk_, rows_ - first));
    for (Column& column : columns_) {
      int status = 0, any_null = 0;
      column.nulls.assign(n, 0);
      if (column.type == TSTRING) {
        column.text.assign(n * (column.width + 1), '\0');
        column.text_pointers.resize(n);
        for (size_t k = 0; k < n; ++k) column.text_pointers[k] = column.text.data() + k * (column.width + 1);
        char empty[] = "";
        fits_read_col_str(file_, column.number, first + 1, 1, static_cast<LONGLONG>(n), empty,
                          column.text_pointers.data(), &any_null, &status);
      } else if (column.type == TLOGICAL) {
        std::vector<char> values(n);
        fits_read_colnull(file_, TLOGICAL, column.number, first + 1, 1, static_cast<LONGLONG>(n), values.data(),
                          column.nulls.data(), &any_null, &status);
        column.integers.assign(values.begin(), values.end());
      } else if (is_integer(column.type)) {
        column.integers.resize(n);
        fits_read_colnull(file_, TLONGLONG, column.number, first + 1, 1, static_cast<LONGLONG>(n),
                          column.integers.data(), column.nulls.data(), &any_null, &status);
      } else {
        column.numbers.resize(n);
        fits_read_colnull(file_, TDOUBLE, column.number, first + 1, 1, static_cast<LONGLONG>(n),
                          column.numbers.data(), column.nulls.data(), &any_null, &status);
        // A NaN is FITS's null for floating-point columns.
        for (size_t k = 0; k < n; ++k)
          if (std::isnan(column.numbers[k])) column.nulls[k] = 1;
      }
      if (status) {
        row_ = first + static_cast<int64_t>(n);  // the reader goes on after the chunk it could not read
        fail(file_name_ + ":row " + std::to_string(first + 1) + ":column " +
                 names_[static_cast<size_t>(column.number - 1)],
             fits_error(status));
      }
    }
    chunk_rows_ = static_cast<int64_t>(n);
  }

  std::string inflated_;  // a gzipped file, inflated within its limit; cfitsio reads it in place
  void* memory_ = nullptr;
  size_t memory_size_ = 0;
  fitsfile* file_ = nullptr;
  long rows_ = 0;
  long chunk_ = 1;
  int64_t chunk_first_ = 0;
  int64_t chunk_rows_ = 0;
  std::vector<Column> columns_;
};

}  // namespace

std::unique_ptr<TableReader> open_table(const CatalogConfig& config) {
  if (config.format == TableFormat::fits) return std::make_unique<FitsTableReader>(config);
  return std::make_unique<TextTableReader>(config);
}

}  // namespace ebs::catalog
