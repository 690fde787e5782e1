#include "actors/common/catalog/catalog.h"

#include <healpix_cxx/healpix_base.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "actors/common/catalog/catalog_format.h"
#include "actors/common/sqlite/sqlite_db.h"
#include "engine/util/fault.h"

namespace ebs::catalog {

using namespace sqlite;  // raw-handle helpers (actors/common/sqlite)

namespace {

// Cone queries touch the big arrays at random: 2 MB pages spare most TLB misses (transparent huge
// pages are "madvise" on Debian). Only whole huge pages inside the buffer are advised.
template <class T>
void advise_huge_pages(const std::vector<T>& buffer) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<uintptr_t>(buffer.data());
  const uintptr_t end = begin + buffer.capacity() * sizeof(T);
  const uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1), last = end & ~(kHuge - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

}  // namespace

struct Catalog::HealpixBases {
  std::vector<Healpix_Base2> at_order;  // NEST, orders 0..index_order
  std::vector<Healpix_Base2> finer;     // finer[k]: order index_order + k (k >= 1; finer[0] unused)
};

struct Catalog::RowReader {
  SqliteDatabase db;
  SqliteStatement select;
  // A shared flock(2) on the file while this catalogue is open: the catalogue cache removes no
  // build that a run holds (catalog_store.cpp, remove_unused_builds takes an exclusive one).
  int in_use_fd = -1;
  ~RowReader() {
    if (in_use_fd >= 0) ::close(in_use_fd);
  }
};

nlohmann::json to_json(const CatalogRow& row) {
  nlohmann::json out = nlohmann::json::object();
  out["index"] = row.index;
  if (row.id) out["id"] = *row.id;
  out["ra"] = row.ra_deg;
  out["dec"] = row.dec_deg;
  if (row.type) out["type"] = *row.type;
  auto put = [&](const char* key, const std::optional<double>& value) {
    if (value) out[key] = *value;
  };
  put("redshift", row.redshift);
  put("distance_mpc", row.distance_mpc);
  put("semi_major_arcsec", row.semi_major_arcsec);
  put("axis_ratio", row.axis_ratio);
  put("position_angle_deg", row.position_angle_deg);
  put("magnitude", row.magnitude);
  put("pmra_mas_per_yr", row.pmra_mas_per_yr);
  put("pmdec_mas_per_yr", row.pmdec_mas_per_yr);
  if (!row.extra.empty()) out["extra"] = row.extra;
  return out;
}

Catalog::Catalog(const std::filesystem::path& path) : bases_(std::make_unique<HealpixBases>()), path_(path) {
  const std::string place = path.string();
  if (!std::filesystem::exists(path)) fail(place, "catalogue file not found");
  rows_ = std::make_unique<RowReader>();
  rows_->in_use_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (rows_->in_use_fd < 0) fail(place, std::string("cannot open the catalogue file: ") + std::strerror(errno));
  // Blocks only while a cache prune holds the file (an unlink); one removed meanwhile is gone. A
  // file system without locks (ENOLCK on some NFS mounts) only loses that protection.
  int locked;
  do locked = ::flock(rows_->in_use_fd, LOCK_SH);
  while (locked != 0 && errno == EINTR);
  if (locked != 0 && errno != ENOLCK && errno != EINVAL)
    fail(place, std::string("cannot lock the catalogue file for reading: ") + std::strerror(errno));
  struct stat held {};
  if (::fstat(rows_->in_use_fd, &held) != 0 || held.st_nlink == 0)
    fail(place, "catalogue file not found (removed while it was being opened)");
  rows_->db = open_sqlite(place, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, place);
  sqlite3* db = rows_->db.get();

  std::map<std::string, std::string> metadata;
  {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM metadata", -1, &raw, nullptr) != SQLITE_OK)
      fail(place, "not an ebs-flow catalogue (no metadata table): " + std::string(sqlite3_errmsg(db)));
    SqliteStatement statement(raw);
    while (sqlite3_step(raw) == SQLITE_ROW)
      metadata[reinterpret_cast<const char*>(sqlite3_column_text(raw, 0))] =
          reinterpret_cast<const char*>(sqlite3_column_text(raw, 1));
  }
  if (metadata["format"] != kFormatName) fail(place, "not an ebs-flow catalogue (metadata format is not ebs-catalog)");
  if (metadata["format_version"] != std::to_string(kFormatVersion))
    fail(place, "catalogue format version " + metadata["format_version"] + " is not supported (expected " +
                    std::to_string(kFormatVersion) + "); rebuild it");
  try {
    info_.name = metadata["name"];
    info_.version = metadata["version"];
    info_.description = metadata["description"];
    info_.object_type = metadata["object_type"];
    info_.source_file = metadata["source_file"];
    info_.content_hash = metadata["content_hash"];
    info_.epoch_label = metadata["epoch"];
    info_.magnitude_band = metadata["magnitude_band"];
    if (!metadata["epoch_mjd"].empty()) info_.epoch_mjd = std::stod(metadata["epoch_mjd"]);
    info_.rows = std::stoull(metadata["row_count"]);
    info_.skipped_rows = std::stoll(metadata["skipped_rows"]);
    info_.index_order = std::stoi(metadata["index_order"]);
    info_.max_proper_motion_mas_per_yr = std::stod(metadata["max_proper_motion_mas_per_yr"]);
    info_.fields = nlohmann::json::parse(metadata["fields"]);
    info_.extra_columns = nlohmann::json::parse(metadata["extra_columns"]).get<std::vector<std::string>>();
  } catch (const std::exception& e) {
    fail(place, std::string("damaged catalogue metadata: ") + e.what());
  }
  const int order = info_.index_order;
  if (order < 0 || order > kMaxIndexOrder) fail(place, "damaged catalogue: index order " + std::to_string(order));

  const bool has_motion = info_.epoch_mjd && info_.max_proper_motion_mas_per_yr > 0;
  if (has_motion) {
    epoch_mjd_ = *info_.epoch_mjd;
    max_pm_rad_per_yr_ = info_.max_proper_motion_mas_per_yr / (1000.0 * kArcsecPerRad) * (1 + 1e-6);
  }
  const int64_t pixels = 12 * (int64_t{1} << (2 * order));
  positions_.reserve(info_.rows);
  advise_huge_pages(positions_);
  if (has_motion) {
    proper_motions_.reserve(info_.rows);
    advise_huge_pages(proper_motions_);
  }
  offsets_.reserve(static_cast<size_t>(pixels) + 1);
  advise_huge_pages(offsets_);
  offsets_.assign(static_cast<size_t>(pixels) + 1, 0);  // counts per pixel first, then prefix sums
  {
    SqliteStatement statement =
        prepare_sql(db, "SELECT idx, hpx, ra, dec, pmra, pmdec FROM sources ORDER BY idx", place);
    sqlite3_stmt* st = statement.get();
    int64_t previous_pixel = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const int64_t index = sqlite3_column_int64(st, 0);
      const int64_t pixel = sqlite3_column_int64(st, 1);
      if (index != static_cast<int64_t>(positions_.size()) || pixel < previous_pixel || pixel >= pixels)
        fail(place + ":row " + std::to_string(index), "damaged catalogue: sources not sorted by HEALPix pixel");
      previous_pixel = pixel;
      ++offsets_[static_cast<size_t>(pixel) + 1];
      positions_.push_back(unit_vector(sqlite3_column_double(st, 2), sqlite3_column_double(st, 3)));
      if (has_motion && (std::abs(sqlite3_column_double(st, 4)) > kMaxProperMotion ||
                         std::abs(sqlite3_column_double(st, 5)) > kMaxProperMotion))
        fail(place + ":row " + std::to_string(index), "damaged catalogue: proper motion beyond the supported range");
      if (has_motion)
        proper_motions_.push_back({static_cast<int32_t>(std::lround(sqlite3_column_double(st, 4) / kProperMotionStep)),  // NULL reads as 0
                                   static_cast<int32_t>(std::lround(sqlite3_column_double(st, 5) / kProperMotionStep))});
    }
    if (rc != SQLITE_DONE) fail(place, std::string("SQLite: ") + sqlite3_errmsg(db));
  }
  if (positions_.size() != info_.rows)
    fail(place, "damaged catalogue: " + std::to_string(positions_.size()) + " sources, metadata says " +
                    std::to_string(info_.rows));
  for (size_t p = 1; p < offsets_.size(); ++p) offsets_[p] += offsets_[p - 1];

  bases_->finer.resize(static_cast<size_t>(kSortOrder - order + 1));
  for (int k = 1; order + k <= kSortOrder; ++k) bases_->finer[static_cast<size_t>(k)].Set(order + k, NEST);
  for (int o = 0; o <= order; ++o) {
    bases_->at_order.emplace_back(o, NEST);
    // Measured: the 3x3 block around a pixel holds every disc of radius < 0.68 x the pixel
    // scale sqrt(4 pi / Npix) centred in the pixel (orders 1-12, incl. poles and the
    // polar/equatorial transition); half the pixel scale leaves a wide margin.
    max_radius_at_order_.push_back(0.5 * std::sqrt(4 * kPi / (12.0 * std::ldexp(1.0, 2 * o))));
  }

  std::string select = "SELECT * FROM sources WHERE idx = ?";
  rows_->select = prepare_sql(db, select, place);
}

Catalog::~Catalog() = default;

double Catalog::index_bytes_per_source() const {
  const double bytes = static_cast<double>(positions_.capacity() * sizeof(UnitVector) +
                                           offsets_.capacity() * sizeof(uint32_t) +
                                           proper_motions_.capacity() * sizeof(std::array<int32_t, 2>));
  return positions_.empty() ? 0.0 : bytes / static_cast<double>(positions_.size());
}

void Catalog::candidate_ranges(const UnitVector& target, double radius_rad, Ranges& out) const {
  out.count = 0;
  out.far.clear();
  const int index_order = info_.index_order;
  if (radius_rad >= kPi) {
    out.near[out.count++] = {0, static_cast<uint32_t>(positions_.size())};
    return;
  }
  const vec3 direction(target.x, target.y, target.z);
  auto add = [&](int64 p, int shift) {
    if (p < 0) return;
    const Range range{offsets_[static_cast<size_t>(p << shift)], offsets_[static_cast<size_t>((p + 1) << shift)]};
    if (range.begin == range.end) return;
    for (size_t k = 0; k < out.count; ++k)
      if (out.near[k].begin == range.begin) return;  // order-0 neighbour lists can repeat a pixel
    out.near[out.count++] = range;
  };
  if (radius_rad <= 0.5 * max_radius_at_order_[static_cast<size_t>(index_order)]) {
    // Tiny radius: find the target's sub-pixel at the finest order whose 3x3 block still holds
    // the disc; if that sub-pixel is not on the border of its index pixel, the whole block, and
    // so the disc, is inside the index pixel: one range, no neighbours (~90% of 1.5" queries).
    int depth = 0;
    while (index_order + depth + 1 <= kSortOrder &&
           radius_rad <= 0.5 * std::sqrt(4 * kPi / (12.0 * std::ldexp(1.0, 2 * (index_order + depth + 1)))))
      ++depth;
    int64 child;
    if (depth >= 2) {
      const int64 sub = bases_->finer[static_cast<size_t>(depth)].vec2pix(direction);
      uint64_t x = 0, y = 0;
      for (int bit = 0; bit < depth; ++bit) {
        x |= ((static_cast<uint64_t>(sub) >> (2 * bit)) & 1u) << bit;
        y |= ((static_cast<uint64_t>(sub) >> (2 * bit + 1)) & 1u) << bit;
      }
      const uint64_t last = (uint64_t{1} << depth) - 1;
      if (x > 0 && x < last && y > 0 && y < last) {
        add(sub >> (2 * depth), 0);
        return;
      }
      child = sub >> (2 * (depth - 1));
    } else {
      child = bases_->finer[1].vec2pix(direction);
    }
    // Small radius: the target's quadrant (its child pixel) says which corner it is near; the
    // pixel and the 3 neighbours around that corner hold the disc. Measured: safe below 0.34 x
    // the pixel scale; a quarter is used. 4 ranges instead of 9.
    const int64 pixel = child >> 2;
    fix_arr<int64, 8> neighbours;  // SW, W, NW, N, NE, E, SE, S
    bases_->at_order[static_cast<size_t>(index_order)].neighbors(pixel, neighbours);
    static constexpr int kCornerNeighbours[4][3] = {{0, 6, 7}, {4, 6, 5}, {0, 2, 1}, {4, 2, 3}};
    add(pixel, 0);
    for (int k : kCornerNeighbours[child & 3]) add(neighbours[static_cast<size_t>(k)], 0);
    std::sort(out.near.begin(), out.near.begin() + static_cast<std::ptrdiff_t>(out.count),
              [](const Range& a, const Range& b) { return a.begin < b.begin; });
    return;
  }
  int order = index_order;
  while (order >= 0 && radius_rad > max_radius_at_order_[static_cast<size_t>(order)]) --order;
  if (order >= 0) {
    const Healpix_Base2& base = bases_->at_order[static_cast<size_t>(order)];
    const int shift = 2 * (index_order - order);
    const int64 pixel = base.vec2pix(direction);
    fix_arr<int64, 8> neighbours;
    base.neighbors(pixel, neighbours);
    add(pixel, shift);
    for (size_t k = 0; k < 8; ++k) add(neighbours[k], shift);
    std::sort(out.near.begin(), out.near.begin() + static_cast<std::ptrdiff_t>(out.count),
              [](const Range& a, const Range& b) { return a.begin < b.begin; });
    return;
  }
  // Wider than a third of the sky: let healpix_cxx find the pixels at a coarse order.
  const int coarse = std::min(index_order, 3);
  const int shift = 2 * (index_order - coarse);
  rangeset<int64> pixels;
  bases_->at_order[static_cast<size_t>(coarse)].query_disc_inclusive(pointing(direction), radius_rad, pixels);
  for (tsize k = 0; k < pixels.nranges(); ++k) {
    const Range range{offsets_[static_cast<size_t>(pixels.ivbegin(k) << shift)],
                      offsets_[static_cast<size_t>(pixels.ivend(k) << shift)]};
    if (range.begin != range.end) out.far.push_back(range);
  }
}

std::optional<Match> Catalog::nearest(double ra_deg, double dec_deg, double radius_arcsec,
                                      std::optional<double> epoch_mjd) const {
  std::optional<Match> best;
  for_each_within(ra_deg, dec_deg, radius_arcsec, epoch_mjd, [&](uint32_t index, double sep) {
    if (!best || sep < best->sep_arcsec) best = Match{index, sep};
  });
  return best;
}

void Catalog::all_within(double ra_deg, double dec_deg, double radius_arcsec, std::vector<Match>& out,
                         std::optional<double> epoch_mjd) const {
  out.clear();
  for_each_within(ra_deg, dec_deg, radius_arcsec, epoch_mjd,
                  [&](uint32_t index, double sep) { out.push_back({index, sep}); });
  std::sort(out.begin(), out.end(), [](const Match& a, const Match& b) {
    return a.sep_arcsec < b.sep_arcsec || (a.sep_arcsec == b.sep_arcsec && a.index < b.index);
  });
}

std::vector<Match> Catalog::all_within(double ra_deg, double dec_deg, double radius_arcsec,
                                       std::optional<double> epoch_mjd) const {
  std::vector<Match> out;
  all_within(ra_deg, dec_deg, radius_arcsec, out, epoch_mjd);
  return out;
}

CatalogRow Catalog::row(uint32_t index) const {
  if (index >= positions_.size())
    fail(path_.string() + ":row " + std::to_string(index),
         "no such source (the catalogue has " + std::to_string(positions_.size()) + ")");
  std::lock_guard lock(rows_mutex_);
  sqlite3_stmt* st = rows_->select.get();
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, index);
  if (sqlite3_step(st) != SQLITE_ROW)
    fail(path_.string() + ":row " + std::to_string(index), std::string("SQLite: ") + sqlite3_errmsg(rows_->db.get()));
  CatalogRow row;
  row.index = index;
  row.ra_deg = sqlite3_column_double(st, 2);
  row.dec_deg = sqlite3_column_double(st, 3);
  auto number = [st](int column) -> std::optional<double> {
    if (sqlite3_column_type(st, column) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(st, column);
  };
  auto text = [st](int column) -> std::optional<std::string> {
    if (sqlite3_column_type(st, column) == SQLITE_NULL) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, column)),
                       static_cast<size_t>(sqlite3_column_bytes(st, column)));
  };
  row.pmra_mas_per_yr = number(4);
  row.pmdec_mas_per_yr = number(5);
  row.id = text(6);
  row.type = text(7);
  row.redshift = number(8);
  row.distance_mpc = number(9);
  row.semi_major_arcsec = number(10);
  row.axis_ratio = number(11);
  row.position_angle_deg = number(12);
  row.magnitude = number(13);
  for (size_t e = 0; e < info_.extra_columns.size(); ++e) {
    const int column = 14 + static_cast<int>(e);
    nlohmann::json value;
    switch (sqlite3_column_type(st, column)) {
      case SQLITE_INTEGER: value = sqlite3_column_int64(st, column); break;
      case SQLITE_FLOAT: value = sqlite3_column_double(st, column); break;
      case SQLITE_NULL: break;
      default: value = *text(column); break;
    }
    row.extra[info_.extra_columns[e]] = value;
  }
  sqlite3_reset(st);
  return row;
}

}  // namespace ebs::catalog
