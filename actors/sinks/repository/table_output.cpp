#include "actors/sinks/repository/table_output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "actors/common/repository/reader.h"
#include "actors/common/sqlite/sqlite_db.h"
#include "engine/time/time_scale.h"
#include "engine/util/fault.h"

namespace ebs::repository {

namespace {

constexpr std::string_view kMjdTai = "mjd_tai";

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// "mjd_tai" -> "", "first_mjd_tai" -> "first_"; nullopt for other names.
std::optional<std::string> mjd_tai_prefix(std::string_view name) {
  if (!ends_with(name, kMjdTai)) return std::nullopt;
  std::string_view prefix = name.substr(0, name.size() - kMjdTai.size());
  if (!prefix.empty() && prefix.back() != '_') return std::nullopt;
  return std::string(prefix);
}

// The ISO 8601 UTC text or the JD UTC of an MJD TAI cell; null for null, or before 1960 (no UTC).
nlohmann::json utc_twin(const nlohmann::json& mjd, bool jd) {
  if (!mjd.is_number() || !std::isfinite(mjd.get<double>())) return nullptr;
  try {
    const double mjd_tai = mjd.get<double>();
    return jd ? nlohmann::json(time::mjd_tai_to_utc(mjd_tai) + 2400000.5)
              : nlohmann::json(time::mjd_tai_to_iso_utc(mjd_tai));
  } catch (const Fault&) {
    return nullptr;
  }
}

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// A cell as text for CSV, VOTable and the aligned table: numbers in shortest round-trip form.
std::string cell_text(const nlohmann::json& cell) {
  if (cell.is_null()) return {};
  if (cell.is_string()) return cell.get<std::string>();
  if (cell.is_number_float() && !std::isfinite(cell.get<double>())) return {};
  return cell.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Numbers in the aligned table: 12 significant digits at most (MJD to ~1 s, RA/Dec to ~0.01").
std::string display_text(const nlohmann::json& cell, size_t max_chars) {
  if (cell.is_null()) return "--";
  if (cell.is_number_float()) {
    const double v = cell.get<double>();
    if (!std::isfinite(v)) return "--";
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.12g", v);
    return buffer;
  }
  std::string text = cell_text(cell);
  for (char& c : text)
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  if (text.size() > max_chars) {
    size_t cut = max_chars - 3;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
    text = text.substr(0, cut) + "...";
  }
  return text;
}

// Characters on screen of UTF-8 text (continuation bytes do not count).
size_t display_width(std::string_view text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string csv_quoted(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string xml_escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        // XML 1.0 allows no control characters but tab, newline and carriage return.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') out += ' ';
        else out += c;
    }
  }
  return out;
}

// The narrowest type holding both: integer + real = real; text with anything = text.
ColumnType merged(ColumnType a, ColumnType b) {
  if (a == ColumnType::unknown) return b;
  if (b == ColumnType::unknown || a == b) return a;
  if (a == ColumnType::text || b == ColumnType::text) return ColumnType::text;
  return ColumnType::real;
}

ColumnType type_of(const nlohmann::json& cell) {
  if (cell.is_number_integer() || cell.is_boolean()) return ColumnType::integer;
  if (cell.is_number_float()) return ColumnType::real;
  if (cell.is_null()) return ColumnType::unknown;
  return ColumnType::text;
}

// Units and UCDs of the repository's columns, for VOTable readers (TOPCAT plots by UCD).
struct FieldMeta {
  const char* unit = nullptr;
  const char* ucd = nullptr;
  const char* timesys = nullptr;
};

FieldMeta field_meta(std::string_view name) {
  if (name == "ra") return {"deg", "pos.eq.ra;meta.main"};
  if (name == "dec") return {"deg", "pos.eq.dec;meta.main"};
  if (name == "sep_arcsec" || name == "separation_arcsec") return {"arcsec", "pos.angDistance"};
  if (name == "mag" || name == "last_mag" || name == "limit_mag") return {"mag", "phot.mag"};
  if (name == "mag_err") return {"mag", "stat.error;phot.mag"};
  if (name == "object_id") return {nullptr, "meta.id;meta.main"};
  if (name == "alert_id" || name == "alert_key") return {nullptr, "meta.id"};
  if (name == "band" || name == "last_band") return {nullptr, "instr.bandpass"};
  if (mjd_tai_prefix(name)) return {"d", "time.epoch", "tai"};
  if (ends_with(name, "jd_utc")) return {"d", "time.epoch", "utc"};
  if (ends_with(name, "iso_utc")) return {nullptr, "time.epoch"};
  return {};
}

}  // namespace

TableFormat parse_table_format(std::string_view text, std::string_view place) {
  if (text == "table") return TableFormat::table;
  if (text == "csv") return TableFormat::csv;
  if (text == "jsonl" || text == "json") return TableFormat::jsonl;
  if (text == "votable" || text == "xml") return TableFormat::votable;
  fail(std::string(place), "unknown format '" + std::string(text) + "' (table, csv, jsonl or votable)");
}

std::string_view to_string(TableFormat format) {
  switch (format) {
    case TableFormat::table: return "table";
    case TableFormat::csv: return "csv";
    case TableFormat::jsonl: return "jsonl";
    case TableFormat::votable: return "votable";
  }
  return "jsonl";
}

std::string_view content_type(TableFormat format) {
  switch (format) {
    case TableFormat::table: return "text/plain; charset=utf-8";
    case TableFormat::csv: return "text/csv; charset=utf-8";
    case TableFormat::jsonl: return "application/x-ndjson";
    case TableFormat::votable: return "application/x-votable+xml";
  }
  return "text/plain";
}

bool is_id_column(std::string_view name) {
  return name == "alert_id" || ends_with(name, "_alert_id") || name == "candid";
}

void add_people_fields(nlohmann::json& value) {
  if (value.is_array()) {
    for (nlohmann::json& item : value) add_people_fields(item);
    return;
  }
  if (!value.is_object()) return;
  nlohmann::json added = nlohmann::json::object();
  for (auto& [key, item] : value.items()) {
    if (auto prefix = mjd_tai_prefix(key)) {
      added[*prefix + "iso_utc"] = utc_twin(item, false);
      added[*prefix + "jd_utc"] = utc_twin(item, true);
    } else if (item.is_number_integer() && is_id_column(key)) {
      item = item.dump();
    } else if (item.is_structured() && key != "raw" && key != "details" && key != "terms") {
      add_people_fields(item);
    }
  }
  value.update(added);
}

TableWriter::TableWriter(std::ostream& out, TableOptions options) : out_(out), options_(std::move(options)) {}

void TableWriter::begin(std::vector<TableColumn> columns) {
  input_ = std::move(columns);
  columns_.clear();
  for (size_t i = 0; i < input_.size(); ++i) {
    columns_.push_back({input_[i].name, input_[i].declared, std::nullopt, false});
    if (!options_.utc_times) continue;
    if (auto prefix = mjd_tai_prefix(input_[i].name)) {
      columns_.push_back({*prefix + "iso_utc", ColumnType::text, i, false});
      columns_.push_back({*prefix + "jd_utc", ColumnType::real, i, true});
    }
  }
  // JSON lines need neither widths nor types: each row goes out as it comes.
  settled_ = options_.format == TableFormat::jsonl;
}

void TableWriter::row(std::vector<nlohmann::json> cells) {
  if (cells.size() != input_.size()) fail("table", "a row of " + std::to_string(cells.size()) + " cells for " +
                                                        std::to_string(input_.size()) + " columns");
  // Expand: each input cell, followed by its ISO and JD UTC twins when it is an MJD TAI column.
  std::vector<nlohmann::json> expanded;
  expanded.reserve(columns_.size());
  size_t next = 0;
  for (const OutColumn& column : columns_) {
    if (!column.mjd_source) {
      expanded.push_back(std::move(cells[next++]));
      continue;
    }
    nlohmann::json value = utc_twin(expanded[expanded.size() - (column.jd ? 2 : 1)], column.jd);
    expanded.push_back(std::move(value));
  }
  ++rows_;
  if (settled_) {
    write_row(expanded);
    return;
  }
  held_.push_back(std::move(expanded));
  if (held_.size() >= kLookaheadRows) settle();
}

void TableWriter::settle() {
  for (size_t c = 0; c < columns_.size(); ++c) {
    OutColumn& column = columns_[c];
    column.width = display_width(column.name);
    ColumnType seen = ColumnType::unknown;
    for (const auto& row : held_) {
      const nlohmann::json& cell = row[c];
      column.width = std::max(column.width, display_width(display_text(cell, options_.max_cell_chars)));
      seen = merged(seen, type_of(cell));
      if (cell.is_string() && !is_ascii(cell.get_ref<const std::string&>())) column.unicode = true;
    }
    // The declared type, widened by what the values hold (SQLite stores any type in any column).
    column.type = merged(column.type, seen);
    if (column.type == ColumnType::unknown) column.type = ColumnType::text;
  }
  settled_ = true;
  write_header();
  for (const auto& row : held_) write_row(row);
  held_.clear();
  held_.shrink_to_fit();
}

void TableWriter::write_header() {
  switch (options_.format) {
    case TableFormat::jsonl: return;
    case TableFormat::csv: {
      for (size_t c = 0; c < columns_.size(); ++c) out_ << (c ? "," : "") << csv_quoted(columns_[c].name);
      out_ << "\r\n";
      return;
    }
    case TableFormat::table: {
      std::string names, rule;
      for (size_t c = 0; c < columns_.size(); ++c) {
        const OutColumn& column = columns_[c];
        const std::string pad(column.width - display_width(column.name), ' ');
        const bool right = column.type == ColumnType::integer || column.type == ColumnType::real;
        names += (c ? " " : "") + (right ? pad + column.name : column.name + pad);
        rule += (c ? " " : "") + std::string(column.width, '-');
      }
      while (!names.empty() && names.back() == ' ') names.pop_back();
      out_ << names << "\n" << rule << "\n";
      return;
    }
    case TableFormat::votable: {
      out_ << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           << "<VOTABLE version=\"1.4\" xmlns=\"http://www.ivoa.net/xml/VOTable/v1.3\">\n"
           << "<RESOURCE name=\"ebs-flow\">\n"
           << "<COOSYS ID=\"icrs\" system=\"ICRS\"/>\n"
           << "<TIMESYS ID=\"tai\" timeorigin=\"MJD-origin\" timescale=\"TAI\" refposition=\"TOPOCENTER\"/>\n"
           << "<TIMESYS ID=\"utc\" timeorigin=\"JD-origin\" timescale=\"UTC\" refposition=\"TOPOCENTER\"/>\n"
           << "<TABLE name=\"" << xml_escaped(options_.title) << "\">\n";
      if (!options_.description.empty())
        out_ << "<DESCRIPTION>" << xml_escaped(options_.description) << "</DESCRIPTION>\n";
      for (const OutColumn& column : columns_) {
        out_ << "<FIELD name=\"" << xml_escaped(column.name) << "\"";
        switch (column.type) {
          case ColumnType::integer: out_ << " datatype=\"long\""; break;
          case ColumnType::real: out_ << " datatype=\"double\""; break;
          default: out_ << " datatype=\"" << (column.unicode ? "unicodeChar" : "char") << "\" arraysize=\"*\"";
        }
        const FieldMeta meta = field_meta(column.name);
        if (meta.unit) out_ << " unit=\"" << meta.unit << "\"";
        if (meta.ucd) out_ << " ucd=\"" << meta.ucd << "\"";
        if (meta.timesys && column.type == ColumnType::real) out_ << " ref=\"" << meta.timesys << "\"";
        else if (column.name == "ra" || column.name == "dec") out_ << " ref=\"icrs\"";
        out_ << ">";
        if (column.mjd_source)
          out_ << "<DESCRIPTION>" << (column.jd ? "JD (UTC) of " : "ISO 8601 UTC of ")
               << xml_escaped(input_[*column.mjd_source].name) << "</DESCRIPTION>";
        else if (mjd_tai_prefix(column.name))
          out_ << "<DESCRIPTION>MJD (TAI)</DESCRIPTION>";
        out_ << "</FIELD>\n";
      }
      out_ << "<DATA>\n<TABLEDATA>\n";
      return;
    }
  }
}

void TableWriter::write_row(const std::vector<nlohmann::json>& cells) {
  switch (options_.format) {
    case TableFormat::jsonl: {
      // Written by hand: nlohmann::json objects sort their keys, the columns keep SELECT order.
      const auto dump = [](const nlohmann::json& value) {
        return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      };
      out_ << "{";
      for (size_t c = 0; c < columns_.size(); ++c) {
        const nlohmann::json& cell = cells[c];
        out_ << (c ? "," : "") << dump(columns_[c].name) << ":";
        if (cell.is_number_integer() && is_id_column(columns_[c].name)) out_ << dump(cell.dump());
        else if (cell.is_number_float() && !std::isfinite(cell.get<double>())) out_ << "null";
        else out_ << dump(cell);
      }
      out_ << "}\n";
      return;
    }
    case TableFormat::csv: {
      for (size_t c = 0; c < columns_.size(); ++c) out_ << (c ? "," : "") << csv_quoted(cell_text(cells[c]));
      out_ << "\r\n";
      return;
    }
    case TableFormat::table: {
      std::string line;
      for (size_t c = 0; c < columns_.size(); ++c) {
        const OutColumn& column = columns_[c];
        const std::string text = display_text(cells[c], options_.max_cell_chars);
        const size_t width = display_width(text);
        const std::string pad(column.width > width ? column.width - width : 0, ' ');
        const bool right = cells[c].is_number();
        line += (c ? " " : "") + (right ? pad + text : text + pad);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out_ << line << "\n";
      return;
    }
    case TableFormat::votable: {
      out_ << "<TR>";
      for (size_t c = 0; c < columns_.size(); ++c) {
        const nlohmann::json& cell = cells[c];
        // A long column holding a fraction (SQLite's loose typing, after the look-ahead): rounded.
        if (columns_[c].type == ColumnType::integer && cell.is_number_float() && std::isfinite(cell.get<double>()))
          out_ << "<TD>" << static_cast<int64_t>(std::llround(cell.get<double>())) << "</TD>";
        else if (columns_[c].type != ColumnType::text && !cell.is_null() && !cell.is_number())
          out_ << "<TD></TD>";  // text in a numeric column: null, rather than a file astropy refuses
        else
          out_ << "<TD>" << xml_escaped(cell_text(cell)) << "</TD>";
      }
      out_ << "</TR>\n";
      return;
    }
  }
}

void TableWriter::end() {
  if (!settled_) settle();
  if (options_.format == TableFormat::votable) out_ << "</TABLEDATA>\n</DATA>\n</TABLE>\n</RESOURCE>\n</VOTABLE>\n";
  else if (options_.format == TableFormat::table && rows_ == 0) out_ << "(no rows)\n";
  out_.flush();
}

std::vector<TableColumn> statement_columns(const Statement& statement) {
  std::vector<TableColumn> columns;
  for (int i = 0; i < statement.column_count(); ++i) {
    const char* name = sqlite3_column_name(statement.get(), i);
    const char* declared = sqlite3_column_decltype(statement.get(), i);
    ColumnType type = ColumnType::unknown;
    if (declared) {
      std::string d(declared);
      std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return std::toupper(c); });
      if (d.find("INT") != std::string::npos) type = ColumnType::integer;
      else if (d.find("REAL") != std::string::npos || d.find("DOUB") != std::string::npos ||
               d.find("FLOA") != std::string::npos)
        type = ColumnType::real;
      else if (d.find("TEXT") != std::string::npos || d.find("CHAR") != std::string::npos)
        type = ColumnType::text;
    }
    columns.push_back({name ? name : std::to_string(i), type});
  }
  return columns;
}

std::vector<nlohmann::json> statement_cells(const Statement& statement) {
  // row_to_json keys by name (sorted, and a repeated name once): read cells by position here.
  std::vector<nlohmann::json> cells;
  cells.reserve(static_cast<size_t>(statement.column_count()));
  for (int i = 0; i < statement.column_count(); ++i) {
    switch (sqlite3_column_type(statement.get(), i)) {
      case SQLITE_INTEGER: cells.emplace_back(statement.integer(i)); break;
      case SQLITE_FLOAT: cells.emplace_back(statement.number(i)); break;
      case SQLITE_TEXT:
      case SQLITE_BLOB:
        if (std::optional<nlohmann::json> json = json_column(statement, i)) cells.push_back(std::move(*json));
        else if (sqlite3_column_type(statement.get(), i) == SQLITE_BLOB)
          cells.emplace_back(sqlite3_column_bytes(statement.get(), i));
        else cells.emplace_back(std::string(statement.text(i)));
        break;
      default: cells.emplace_back(nullptr);
    }
  }
  return cells;
}

void write_json_rows(TableWriter& writer, const nlohmann::json& rows, const std::vector<std::string>& preferred) {
  std::vector<TableColumn> columns;
  const nlohmann::json first = rows.empty() ? nlohmann::json::object() : rows.front();
  for (const std::string& name : preferred)
    if (rows.empty() || first.contains(name)) columns.push_back({name});
  for (const auto& [key, value] : first.items())
    if (std::find(preferred.begin(), preferred.end(), key) == preferred.end()) columns.push_back({key});
  writer.begin(columns);
  for (const nlohmann::json& row : rows) {
    std::vector<nlohmann::json> cells;
    cells.reserve(columns.size());
    for (const TableColumn& column : columns) cells.push_back(row.value(column.name, nlohmann::json(nullptr)));
    writer.row(std::move(cells));
  }
  writer.end();
}

}  // namespace ebs::repository
