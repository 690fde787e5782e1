#include "actors/common/catalog/catalog_builder.h"

#include <healpix_cxx/healpix_base.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "actors/common/catalog/catalog_format.h"
#include "actors/common/catalog/sky_geometry.h"
#include "actors/common/sqlite/sqlite_db.h"
#include "engine/util/fault.h"
#include "engine/util/sha256.h"

namespace ebs::catalog {

using namespace sqlite;  // raw-handle helpers (actors/common/sqlite)

namespace {

std::string errno_text() { return std::strerror(errno); }

// The file a build is written to before it is renamed to its name: made by mkstemp beside the
// target (a name no other process, container or host sharing the folder can take: never removed
// up front, since it may be another's), removed unless renamed. Synced before the rename, and the
// folder after it: the build is written with SQLite's journal and syncs off, and a crash must not
// leave a cached file that every later run trips over.
struct TemporaryBuild {
  std::filesystem::path path;
  int fd = -1;
  bool renamed = false;

  TemporaryBuild(const std::filesystem::path& out, const std::string& place) {
    std::string name = out.string() + ".partial-XXXXXX";
    fd = ::mkstemp(name.data());
    if (fd < 0) fail(place, "cannot create a temporary file beside " + out.string() + ": " + errno_text());
    path = name;
    // mkstemp makes the file 0600: a cache folder shared by several users needs builds all can read.
    ::fchmod(fd, 0644);
  }
  TemporaryBuild(const TemporaryBuild&) = delete;
  TemporaryBuild& operator=(const TemporaryBuild&) = delete;
  ~TemporaryBuild() {
    if (fd >= 0) ::close(fd);
    std::error_code ec;
    if (!renamed) std::filesystem::remove(path, ec);
  }

  void rename_to(const std::filesystem::path& out) {
    if (::fsync(fd) != 0) fail(path.string(), "cannot sync the catalogue build: " + errno_text());
    ::close(fd);
    fd = -1;
    std::error_code ec;
    std::filesystem::rename(path, out, ec);
    if (ec) fail(out.string(), "cannot rename the catalogue build into place: " + ec.message());
    renamed = true;
    const std::filesystem::path folder = out.parent_path().empty() ? "." : out.parent_path();
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {  // the rename itself made durable; a folder that cannot be opened is not an error
      ::fsync(dir);
      ::close(dir);
    }
  }
};

}  // namespace

int choose_index_order(size_t rows) {
  if (rows < 24) return 0;
  const double order = std::log(static_cast<double>(rows) / 12.0) / std::log(4.0);
  return std::clamp(static_cast<int>(std::lround(order)), 0, kMaxIndexOrder);
}

std::string sha256_of_file(const std::filesystem::path& path) { return "sha256:" + sha256_hex_of_file(path); }

// ---------------------------------------------------------------------------------------------
// CatalogWriter

namespace {

// Strings of one column, back to back; null = a flag.
struct StringColumn {
  std::string arena;
  std::vector<uint64_t> offsets{0};
  std::vector<uint8_t> present;

  void add(std::optional<std::string_view> value) {
    present.push_back(value.has_value());
    if (value) arena.append(*value);
    offsets.push_back(arena.size());
  }
  std::string_view at(size_t i) const {
    return std::string_view(arena).substr(offsets[i], offsets[i + 1] - offsets[i]);
  }
};

struct ExtraSlot {
  Cell::Kind kind = Cell::Kind::null;
  double number = 0;
  int64_t integer = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
};

}  // namespace

struct CatalogWriter::Columns {
  std::vector<double> ra, dec;
  // pmra, pmdec, redshift, distance, semi-major axis, axis ratio, position angle, magnitude.
  std::vector<std::array<double, 8>> numbers;
  StringColumn id, type;
  std::vector<ExtraSlot> extras;  // row-major, extra_columns.size() per row
  std::string extra_arena;
};

CatalogWriter::CatalogWriter(CatalogDescription description)
    : description_(std::move(description)), columns_(std::make_unique<Columns>()) {}
CatalogWriter::~CatalogWriter() = default;

size_t CatalogWriter::size() const { return columns_->ra.size(); }

void CatalogWriter::add(const SourceFields& s, const std::vector<Cell>& extras) {
  Columns& c = *columns_;
  c.ra.push_back(s.ra_deg);
  c.dec.push_back(s.dec_deg);
  c.numbers.push_back({s.pmra_mas_per_yr, s.pmdec_mas_per_yr, s.redshift, s.distance_mpc, s.semi_major_arcsec,
                       s.axis_ratio, s.position_angle_deg, s.magnitude});
  c.id.add(s.id);
  c.type.add(s.type);
  for (size_t e = 0; e < description_.extra_columns.size(); ++e) {
    ExtraSlot slot;
    if (e < extras.size()) {
      const Cell& cell = extras[e];
      slot.kind = cell.kind;
      slot.number = cell.number;
      slot.integer = cell.integer;
      if (cell.kind == Cell::Kind::text) {
        slot.offset = c.extra_arena.size();
        slot.length = static_cast<uint32_t>(cell.text.size());
        c.extra_arena.append(cell.text);
      }
    }
    c.extras.push_back(slot);
  }
}

void CatalogWriter::write(const std::filesystem::path& out, int64_t skipped_rows, std::optional<int> index_order_override) const {
  const Columns& c = *columns_;
  const size_t n = c.ra.size();
  const std::string place = out.string();
  if (n > std::numeric_limits<uint32_t>::max() - 1) fail(place, "too many sources for one catalogue file");

  // Sort by the nested pixel at the finest order: sorted at every coarser order too.
  const Healpix_Base2 finest(kSortOrder, NEST);
  std::vector<int64_t> keys(n);
  double max_pm = 0;
  for (size_t i = 0; i < n; ++i) {
    const UnitVector v = unit_vector(c.ra[i], c.dec[i]);
    keys[i] = finest.vec2pix(vec3(v.x, v.y, v.z));
    const double pmra = c.numbers[i][0], pmdec = c.numbers[i][1];
    if (std::isfinite(pmra) && std::isfinite(pmdec)) max_pm = std::max(max_pm, std::hypot(pmra, pmdec));
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  const int index_order = index_order_override.value_or(choose_index_order(n));
  if (index_order < 0 || index_order > kMaxIndexOrder) fail(place, "index order must be 0.." + std::to_string(kMaxIndexOrder));
  const int shift = 2 * (kSortOrder - index_order);

  TemporaryBuild temporary(out, place);
  {
    SqliteDatabase db = open_sqlite(temporary.path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, place);
    execute_sql(db.get(), "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA page_size=8192;", place);
    std::string create = "CREATE TABLE metadata(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                         "CREATE TABLE sources(idx INTEGER PRIMARY KEY, hpx INTEGER NOT NULL, "
                         "ra REAL NOT NULL, dec REAL NOT NULL, pmra REAL, pmdec REAL, id TEXT, type TEXT, "
                         "redshift REAL, distance_mpc REAL, semi_major_arcsec REAL, axis_ratio REAL, "
                         "position_angle_deg REAL, magnitude REAL";
    std::string insert = "INSERT INTO sources VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?";
    for (const std::string& name : description_.extra_columns) {
      create += ", " + quote_identifier(kExtraColumnPrefix + name);
      insert += ",?";
    }
    execute_sql(db.get(), create + ");", place);
    execute_sql(db.get(), "BEGIN", place);
    SqliteStatement statement = prepare_sql(db.get(), insert + ")", place);
    sqlite3_stmt* st = statement.get();
    auto bind_number = [st](int column, double value) {
      if (std::isfinite(value)) sqlite3_bind_double(st, column, value);
      else sqlite3_bind_null(st, column);
    };
    auto bind_string = [st](int column, const StringColumn& strings, size_t i) {
      if (!strings.present[i]) {
        sqlite3_bind_null(st, column);
        return;
      }
      const std::string_view text = strings.at(i);
      sqlite3_bind_text(st, column, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    };
    const size_t extra_count = description_.extra_columns.size();
    for (size_t rank = 0; rank < n; ++rank) {
      const size_t i = order[rank];
      sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(rank));
      sqlite3_bind_int64(st, 2, keys[i] >> shift);
      sqlite3_bind_double(st, 3, c.ra[i]);
      sqlite3_bind_double(st, 4, c.dec[i]);
      bind_number(5, c.numbers[i][0]);
      bind_number(6, c.numbers[i][1]);
      bind_string(7, c.id, i);
      bind_string(8, c.type, i);
      for (int k = 2; k < 8; ++k) bind_number(7 + k, c.numbers[i][static_cast<size_t>(k)]);
      for (size_t e = 0; e < extra_count; ++e) {
        const ExtraSlot& slot = c.extras[i * extra_count + e];
        const int column = 15 + static_cast<int>(e);
        switch (slot.kind) {
          case Cell::Kind::null: sqlite3_bind_null(st, column); break;
          case Cell::Kind::number: bind_number(column, slot.number); break;
          case Cell::Kind::integer: sqlite3_bind_int64(st, column, slot.integer); break;
          case Cell::Kind::text:
            sqlite3_bind_text(st, column, c.extra_arena.data() + slot.offset, static_cast<int>(slot.length),
                              SQLITE_STATIC);
            break;
        }
      }
      if (sqlite3_step(st) != SQLITE_DONE) fail(place, std::string("SQLite: ") + sqlite3_errmsg(db.get()));
      sqlite3_reset(st);
    }

    nlohmann::json fields = nlohmann::json::object();
    for (const auto& [field, source] : description_.field_sources) fields[field] = source;
    const std::vector<std::pair<std::string, std::string>> metadata = {
        {"format", kFormatName},
        {"format_version", std::to_string(kFormatVersion)},
        {"name", description_.name},
        {"version", description_.version},
        {"description", description_.description},
        {"object_type", description_.object_type},
        {"source_file", description_.source_file},
        {"content_hash", description_.content_hash},
        {"config", description_.config_text},
        {"row_count", std::to_string(n)},
        {"skipped_rows", std::to_string(skipped_rows)},
        {"index_order", std::to_string(index_order)},
        {"epoch", description_.epoch_label},
        {"epoch_mjd", description_.epoch_mjd ? nlohmann::json(*description_.epoch_mjd).dump() : ""},
        {"max_proper_motion_mas_per_yr", nlohmann::json(max_pm).dump()},
        {"magnitude_band", description_.magnitude_band},
        {"fields", fields.dump()},
        {"extra_columns", nlohmann::json(description_.extra_columns).dump()},
    };
    SqliteStatement meta = prepare_sql(db.get(), "INSERT INTO metadata VALUES(?,?)", place);
    for (const auto& [key, value] : metadata) {
      sqlite3_bind_text(meta.get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
      sqlite3_bind_text(meta.get(), 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
      if (sqlite3_step(meta.get()) != SQLITE_DONE) fail(place, std::string("SQLite: ") + sqlite3_errmsg(db.get()));
      sqlite3_reset(meta.get());
    }
    statement.reset();
    meta.reset();
    execute_sql(db.get(), "COMMIT", place);
  }
  temporary.rename_to(out);
}

// ---------------------------------------------------------------------------------------------
// build_catalog: table rows -> SourceFields

namespace {

// A configured field resolved to positions in the selected cells.
struct ResolvedField {
  std::string name;
  std::vector<int> cells;  // indices into the selected cells, in preference order
  std::vector<std::string> column_names;
  std::optional<std::string> constant;
  bool present() const { return !cells.empty() || constant.has_value(); }
};

class RowConverter {
 public:
  RowConverter(const CatalogConfig& config, TableReader& reader) : config_(config), reader_(reader) {
    auto resolve = [&](const char* name, const FieldSource& source) {
      ResolvedField field;
      field.name = name;
      field.constant = source.constant;
      for (const std::string& column : source.columns) field.cells.push_back(select(column, name));
      field.column_names = source.columns;
      return field;
    };
    ra_ = resolve("ra", config.ra);
    dec_ = resolve("dec", config.dec);
    id_ = resolve("id", config.id);
    type_ = resolve("type", config.type);
    redshift_ = resolve("redshift", config.redshift);
    distance_ = resolve("distance", config.distance);
    major_axis_ = resolve("major_axis", config.major_axis);
    axis_ratio_ = resolve("axis_ratio", config.axis_ratio);
    position_angle_ = resolve("position_angle", config.position_angle);
    magnitude_ = resolve("magnitude", config.magnitude);
    pmra_ = resolve("pmra", config.pmra);
    pmdec_ = resolve("pmdec", config.pmdec);
    for (const std::string& column : config.keep) extra_cells_.push_back(select(column, "keep"));
    reader_.select(selected_);
  }

  // Converts the current row; throws a Fault naming row and column on bad values.
  void convert(const std::vector<Cell>& cells, SourceFields& out, std::vector<Cell>& extras) {
    id_text_.clear();
    type_text_.clear();
    out = SourceFields{};
    out.ra_deg = angle(cells, ra_, config_.ra_format, true);
    out.dec_deg = angle(cells, dec_, config_.dec_format, false);
    if (!(out.ra_deg >= 0.0 && out.ra_deg < 360.0))
      bad(ra_, "RA " + format(out.ra_deg) + " deg is outside [0, 360)");
    if (!(out.dec_deg >= -90.0 && out.dec_deg <= 90.0))
      bad(dec_, "Dec " + format(out.dec_deg) + " deg is outside [-90, 90]");
    if (text(cells, id_, id_text_)) out.id = id_text_;
    if (text(cells, type_, type_text_)) out.type = type_text_;
    out.redshift = number(cells, redshift_);
    out.distance_mpc = number(cells, distance_) * config_.distance_to_mpc;
    out.semi_major_arcsec =
        number(cells, major_axis_) * config_.major_axis_to_arcsec * (config_.major_axis_is_diameter ? 0.5 : 1.0);
    out.axis_ratio = number(cells, axis_ratio_);
    out.position_angle_deg = number(cells, position_angle_);
    // Sizes and distances are physical: a negative one, an axis ratio above 1 or an angle off the
    // circle is a broken row, refused with its place rather than matched with.
    if (out.distance_mpc < 0) bad(distance_, "distance " + format(out.distance_mpc) + " Mpc is negative");
    if (out.semi_major_arcsec < 0) bad(major_axis_, "size " + format(out.semi_major_arcsec) + " arcsec is negative");
    if (out.axis_ratio < 0 || out.axis_ratio > 1)
      bad(axis_ratio_, "axis ratio " + format(out.axis_ratio) + " is outside [0, 1]");
    if (out.position_angle_deg < 0 || out.position_angle_deg >= 360)
      bad(position_angle_, "position angle " + format(out.position_angle_deg) + " deg is outside [0, 360)");
    out.magnitude = number(cells, magnitude_);
    out.pmra_mas_per_yr = number(cells, pmra_);
    out.pmdec_mas_per_yr = number(cells, pmdec_);
    if (std::isnan(out.pmra_mas_per_yr) != std::isnan(out.pmdec_mas_per_yr))
      bad(pmra_, "only one of pmra and pmdec is given");
    if (std::abs(out.pmra_mas_per_yr) > kMaxProperMotion) bad(pmra_, "pmra " + format(out.pmra_mas_per_yr) + " mas/yr is beyond the supported " + format(kMaxProperMotion));
    if (std::abs(out.pmdec_mas_per_yr) > kMaxProperMotion) bad(pmdec_, "pmdec " + format(out.pmdec_mas_per_yr) + " mas/yr is beyond the supported " + format(kMaxProperMotion));
    extras.resize(extra_cells_.size());
    for (size_t e = 0; e < extra_cells_.size(); ++e) extras[e] = typed(cells[static_cast<size_t>(extra_cells_[e])]);
  }

  std::vector<std::pair<std::string, std::string>> field_sources() const {
    std::vector<std::pair<std::string, std::string>> out;
    auto describe = [&](const ResolvedField& f, const std::string& unit) {
      if (!f.present()) return;
      std::string text;
      for (const std::string& c : f.column_names) text += (text.empty() ? "" : " | ") + c;
      if (f.constant) text += (text.empty() ? "" : " else ") + ("'" + *f.constant + "'");
      if (!unit.empty()) text += " [" + unit + "]";
      out.emplace_back(f.name, text);
    };
    auto angle_unit = [](AngleFormat f, bool ra) -> std::string {
      if (f == AngleFormat::hours) return "hours";
      if (f == AngleFormat::sexagesimal) return ra ? "h:m:s" : "d:m:s";
      return "deg";
    };
    describe(ra_, angle_unit(config_.ra_format, true));
    describe(dec_, angle_unit(config_.dec_format, false));
    describe(id_, "");
    describe(type_, "");
    describe(redshift_, "");
    describe(distance_, config_.distance.unit);
    describe(major_axis_, config_.major_axis.unit + (config_.major_axis_is_diameter ? " diameter" : " semi-axis"));
    describe(axis_ratio_, "");
    describe(position_angle_, "deg");
    describe(magnitude_, config_.magnitude_band.empty() ? "mag" : "mag " + config_.magnitude_band);
    describe(pmra_, "mas/yr");
    describe(pmdec_, "mas/yr");
    return out;
  }

 private:
  int select(const std::string& column, const char* field) {
    const int index = reader_.find_column(column);
    if (index < 0) {
      std::string available;
      for (const std::string& name : reader_.column_names()) available += (available.empty() ? "" : ", ") + name;
      fail(reader_.file_name() + ":column " + column,
           std::string("no such column (mapped to ") + field + " in " + config_.config_file.string() +
               "); the table has: " + available);
    }
    for (size_t i = 0; i < selected_.size(); ++i)
      if (selected_[i] == index) return static_cast<int>(i);
    selected_.push_back(index);
    return static_cast<int>(selected_.size() - 1);
  }

  // The first non-null cell of a field and the name of its column; nullptr if none.
  const Cell* first(const std::vector<Cell>& cells, const ResolvedField& f, std::string* column) const {
    for (size_t k = 0; k < f.cells.size(); ++k) {
      const Cell& cell = cells[static_cast<size_t>(f.cells[k])];
      if (cell.kind != Cell::Kind::null) {
        if (column) *column = f.column_names[k];
        return &cell;
      }
    }
    return nullptr;
  }

  [[noreturn]] void bad(const ResolvedField& f, const std::string& message, const std::string& column = "") const {
    const std::string name = !column.empty() ? column : f.column_names.empty() ? f.name : f.column_names.front();
    fail(reader_.row_place() + ":column " + name, message);
  }

  static std::string format(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.10g", value);
    return text;
  }

  static bool parse_double(std::string_view text, double& value) {
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
  }

  // A numeric field: NaN when absent; non-finite values (FITS -inf, "nan") count as absent.
  double number(const std::vector<Cell>& cells, const ResolvedField& f) const {
    std::string column;
    const Cell* cell = first(cells, f, &column);
    double value = kNull;
    if (!cell) {
      if (!f.constant) return kNull;
      if (!parse_double(*f.constant, value)) bad(f, "the constant '" + *f.constant + "' is not a number");
    } else if (cell->kind == Cell::Kind::number) {
      value = cell->number;
    } else if (cell->kind == Cell::Kind::integer) {
      value = static_cast<double>(cell->integer);
    } else if (!parse_double(cell->text, value)) {
      bad(f, f.name + " '" + std::string(cell->text) + "' is not a number", column);
    }
    return std::isfinite(value) ? value : kNull;
  }

  double angle(const std::vector<Cell>& cells, const ResolvedField& f, AngleFormat format, bool is_ra) const {
    std::string column;
    const Cell* cell = first(cells, f, &column);
    if (!cell) bad(f, f.name + " is missing (empty, null or NaN)");
    const double scale = is_ra && format != AngleFormat::degrees ? 15.0 : 1.0;
    double value = kNull;
    if (cell->kind == Cell::Kind::number) {
      value = cell->number;
    } else if (cell->kind == Cell::Kind::integer) {
      value = static_cast<double>(cell->integer);
    } else if (format == AngleFormat::sexagesimal) {
      try {
        value = parse_sexagesimal(cell->text);
      } catch (const Fault& e) {
        bad(f, f.name + ": " + e.message(), column);
      }
    } else if (!parse_double(cell->text, value)) {
      bad(f, f.name + " '" + std::string(cell->text) + "' is not a number" +
                 (cell->text.find(':') != std::string_view::npos || cell->text.find(' ') != std::string_view::npos
                      ? " (declare format: sexagesimal)"
                      : ""),
          column);
    }
    if (!std::isfinite(value)) bad(f, f.name + " is not a finite number", column);
    return value * scale;
  }

  bool text(const std::vector<Cell>& cells, const ResolvedField& f, std::string& out) const {
    const Cell* cell = first(cells, f, nullptr);
    if (!cell) {
      if (!f.constant) return false;
      out = *f.constant;
      return true;
    }
    if (cell->kind == Cell::Kind::text) out.assign(cell->text);
    else if (cell->kind == Cell::Kind::integer) out = std::to_string(cell->integer);
    else out = format(cell->number);
    return true;
  }

  // Extra columns: text that is wholly a number is stored as one.
  static Cell typed(const Cell& cell) {
    if (cell.kind != Cell::Kind::text) return cell;
    Cell out = cell;
    int64_t integer = 0;
    auto [end, ec] = std::from_chars(cell.text.data(), cell.text.data() + cell.text.size(), integer);
    if (ec == std::errc() && end == cell.text.data() + cell.text.size() &&
        !(cell.text.size() > 1 && cell.text[0] == '0')) {
      out.kind = Cell::Kind::integer;
      out.integer = integer;
      return out;
    }
    double number = 0;
    if (parse_double(cell.text, number) && std::isfinite(number)) {
      out.kind = Cell::Kind::number;
      out.number = number;
    }
    return out;
  }

  const CatalogConfig& config_;
  TableReader& reader_;
  std::vector<int> selected_;
  ResolvedField ra_, dec_, id_, type_, redshift_, distance_, major_axis_, axis_ratio_, position_angle_,
      magnitude_, pmra_, pmdec_;
  std::vector<int> extra_cells_;
  std::string id_text_, type_text_;
};

}  // namespace

BuildReport build_catalog(const CatalogConfig& config, const std::filesystem::path& out,
                          const BuildOptions& options) {
  if (!std::filesystem::exists(config.data_file))
    fail(config.data_file.string(), "catalogue data file not found (configured in " + config.config_file.string() + ")");
  BuildReport report;
  report.content_hash = sha256_of_file(config.data_file);
  std::unique_ptr<TableReader> reader = open_table(config);
  RowConverter converter(config, *reader);

  CatalogDescription description;
  description.name = config.name;
  description.version = config.version;
  description.description = config.description;
  description.object_type = config.object_type;
  description.source_file = config.data_file.filename().string();
  description.content_hash = report.content_hash;
  description.config_text = config.text;
  description.epoch_label = config.epoch_label;
  description.epoch_mjd = config.epoch_mjd;
  description.magnitude_band = config.magnitude_band;
  description.extra_columns = config.keep;
  description.field_sources = converter.field_sources();
  CatalogWriter writer(std::move(description));

  std::vector<Cell> cells, extras;
  SourceFields fields;
  int64_t last_good_row = -1;
  while (true) {
    try {
      if (!reader->next_row(cells)) break;
      converter.convert(cells, fields, extras);
      writer.add(fields, extras);
      last_good_row = reader->row_number();
    } catch (const Fault& fault) {
      // A fault that did not move past a row is about the file, not a row: never skip it.
      if (!options.skip_bad_rows || reader->row_number() == last_good_row) throw;
      last_good_row = reader->row_number();
      ++report.skipped;
      if (report.skip_reasons.size() < options.reasons_kept) report.skip_reasons.push_back(fault.what());
    }
  }
  report.rows = static_cast<int64_t>(writer.size());
  report.index_order = choose_index_order(writer.size());
  writer.write(out, report.skipped);
  return report;
}

}  // namespace ebs::catalog
