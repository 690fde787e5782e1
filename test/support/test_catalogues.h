// Test helper: the ready-made catalogue configs (catalogs/*.yaml) over the shared test data,
// built once per test process into a temporary cache through a CatalogStore.
#pragma once

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "actors/common/catalog/catalog_store.h"
#include "test/support/test_data.h"

namespace ebs::crossmatch::testing {

inline std::filesystem::path repo_dir() { return ebs::test::source_dir(); }

// Removed at exit.
struct TemporaryFolder {
  std::filesystem::path path;
  explicit TemporaryFolder(std::filesystem::path p) : path(std::move(p)) { std::filesystem::create_directories(path); }
  TemporaryFolder(TemporaryFolder&& o) noexcept : path(std::move(o.path)) { o.path.clear(); }
  ~TemporaryFolder() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

inline std::filesystem::path test_cache_dir() {
  static const TemporaryFolder dir = [] {
    ::setenv("EBS_DATA", ebs::test::data_dir().string().c_str(), 1);  // read by the catalogue configs
    return TemporaryFolder(std::filesystem::temp_directory_path() / ("ebs_xmatch_cache_" + std::to_string(::getpid())));
  }();
  return dir.path;
}

// The point `arcsec` from (ra, dec) towards position angle `angle_deg` (east of north).
inline std::pair<double, double> offset_position(double ra, double dec, double arcsec, double angle_deg) {
  const catalog::UnitVector p = catalog::unit_vector(ra, dec);
  const double rho = std::hypot(p.x, p.y);
  const catalog::UnitVector east{-p.y / rho, p.x / rho, 0}, north{-p.z * p.x / rho, -p.z * p.y / rho, rho};
  const double d = arcsec / catalog::kArcsecPerRad, c = std::cos(d), s = std::sin(d);
  const double a = angle_deg * catalog::kPi / 180, e = std::sin(a) * s, n = std::cos(a) * s;
  const catalog::UnitVector q{c * p.x + e * east.x + n * north.x, c * p.y + e * east.y + n * north.y,
                              c * p.z + e * east.z + n * north.z};
  double out_ra = 0, out_dec = 0;
  catalog::to_ra_dec(q, out_ra, out_dec);
  return {out_ra, out_dec};
}

inline catalog::CatalogStore& test_store() {
  static catalog::CatalogStore store;
  return store;
}

// catalogs/<config>.yaml, built and loaded once.
inline std::shared_ptr<const catalog::Catalog> ready_made(const std::string& config) {
  return test_store().open(repo_dir() / "catalogs" / (config + ".yaml"), test_cache_dir());
}

}  // namespace ebs::crossmatch::testing
