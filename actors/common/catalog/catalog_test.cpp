#include "actors/common/catalog/catalog.h"

#include <doctest/doctest.h>
#include <healpix_cxx/healpix_base.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

#include "actors/common/catalog/catalog_builder.h"
#include "actors/common/catalog/catalog_config.h"
#include "test/support/python_oracle.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs::catalog;

namespace {

struct Source {
  double ra, dec, pmra = 0, pmdec = 0;
};

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("ebs_catalog_" + std::to_string(::getpid()) + "_" + name);
}

// Writes sources with id = their position in `sources`; returns the file.
std::filesystem::path write_catalog(const std::vector<Source>& sources, const std::string& name,
                                    std::optional<int> index_order, std::optional<double> epoch_mjd = {}) {
  CatalogDescription description;
  description.name = name;
  description.epoch_mjd = epoch_mjd;
  CatalogWriter writer(description);
  for (size_t i = 0; i < sources.size(); ++i) {
    SourceFields s;
    s.ra_deg = sources[i].ra;
    s.dec_deg = sources[i].dec;
    if (epoch_mjd) {
      s.pmra_mas_per_yr = sources[i].pmra;
      s.pmdec_mas_per_yr = sources[i].pmdec;
    }
    const std::string id = std::to_string(i);
    s.id = id;
    writer.add(s);
  }
  const auto path = temp_path(name + ".ebscat");
  writer.write(path, 0, index_order);
  return path;
}

// Catalogue index -> position in the original source list.
std::vector<size_t> original_positions(const Catalog& catalog) {
  std::vector<size_t> out(catalog.size());
  for (uint32_t i = 0; i < catalog.size(); ++i) out[i] = std::stoul(*catalog.row(i).id);
  return out;
}

double wrap_ra(double ra) {
  ra = std::fmod(ra, 360.0);
  if (ra < 0) ra += 360.0;
  if (ra >= 360.0) ra -= 360.0;
  return ra;
}

// A point `distance_arcsec` from (ra, dec) in direction `angle`, exactly on the sphere.
Source offset(double ra, double dec, double distance_arcsec, double angle) {
  const UnitVector p = unit_vector(ra, dec);
  const double rho = std::hypot(p.x, p.y);
  UnitVector east{0, 1, 0}, north{-1, 0, 0};
  if (rho > 0) {
    east = {-p.y / rho, p.x / rho, 0};
    north = {-p.z * p.x / rho, -p.z * p.y / rho, rho};
  }
  const double d = distance_arcsec / kArcsecPerRad, c = std::cos(d), s = std::sin(d);
  const double e = std::sin(angle) * s, n = std::cos(angle) * s;
  const UnitVector q{c * p.x + e * east.x + n * north.x, c * p.y + e * east.y + n * north.y,
                     c * p.z + e * east.z + n * north.z};
  Source out{};
  to_ra_dec(q, out.ra, out.dec);
  return out;
}

// Hard places for a HEALPix index: the poles, RA 0/360, and pixel borders and corners at every
// order the index may use.
std::vector<Source> awkward_points(std::mt19937_64& rng, size_t count) {
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Source> points;
  for (size_t i = 0; i < count; ++i) {
    switch (i % 4) {
      case 0:  // poles
        points.push_back({360 * u(rng), (i % 8 == 0 ? 1 : -1) * (90 - 0.02 * u(rng) * u(rng))});
        break;
      case 1:  // RA 0/360
        points.push_back({wrap_ra(0.01 * (2 * u(rng) - 1)), 170 * u(rng) - 85});
        break;
      default: {  // on a pixel border or corner at order 0..11
        const int order = static_cast<int>(i / 4 % 12);
        const Healpix_Base2 base(order, NEST);
        const int64 pixel = static_cast<int64>(u(rng) * static_cast<double>(base.Npix()));
        std::vector<vec3> border;
        base.boundaries(pixel, 3, border);
        const vec3& v = border[static_cast<size_t>(u(rng) * static_cast<double>(border.size())) % border.size()];
        Source s{};
        to_ra_dec({v.x, v.y, v.z}, s.ra, s.dec);
        points.push_back(s);
      }
    }
  }
  return points;
}

// Every source within `radius` by brute force: (original position, separation in arcsec).
std::vector<std::pair<size_t, double>> brute_force(const std::vector<UnitVector>& sources, const UnitVector& target,
                                                   double radius_arcsec) {
  std::vector<std::pair<size_t, double>> out;
  const double cos_limit = std::cos(std::min(radius_arcsec / kArcsecPerRad + 1e-9, kPi));
  for (size_t i = 0; i < sources.size(); ++i) {
    const UnitVector& s = sources[i];
    if (s.x * target.x + s.y * target.y + s.z * target.z < cos_limit - 1e-12) continue;
    const double sep = separation_rad(s, target) * kArcsecPerRad;
    if (sep <= radius_arcsec) out.emplace_back(i, sep);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.second < b.second; });
  return out;
}

}  // namespace

TEST_CASE("no match missed at pixel borders, poles and RA 0/360, at any index order and radius") {
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Source> sources;
  for (int i = 0; i < 8000; ++i) sources.push_back({360 * u(rng), std::asin(2 * u(rng) - 1) * kDegPerRad});
  // Clusters at the awkward places, a few arcsec to arcmin apart, and the exact poles.
  for (const Source& anchor : awkward_points(rng, 1500))
    for (int k = 0; k < 4; ++k) sources.push_back(offset(anchor.ra, anchor.dec, 400 * u(rng) * u(rng), 2 * kPi * u(rng)));
  sources.push_back({0, 90});
  sources.push_back({123, -90});
  sources.push_back({0, 0});
  std::vector<UnitVector> vectors;
  for (const Source& s : sources) vectors.push_back(unit_vector(s.ra, s.dec));

  std::vector<Source> queries;
  for (const Source& anchor : awkward_points(rng, 240)) queries.push_back(offset(anchor.ra, anchor.dec, 5 * u(rng), 2 * kPi * u(rng)));
  for (int i = 0; i < 60; ++i) {
    const Source& s = sources[static_cast<size_t>(u(rng) * static_cast<double>(sources.size()))];
    queries.push_back(offset(s.ra, s.dec, 2 * u(rng), 2 * kPi * u(rng)));
  }
  queries.push_back({0, 90});
  queries.push_back({359.9999999, -89.9999});

  size_t total_matches = 0, checked = 0;
  for (int index_order : {0, 3, 6, 9, 12}) {
    const auto path = write_catalog(sources, "borders" + std::to_string(index_order), index_order);
    const Catalog catalog(path);
    std::filesystem::remove(path);
    REQUIRE(catalog.info().index_order == index_order);
    const std::vector<size_t> original = original_positions(catalog);
    std::vector<Match> matches;
    for (double radius : {1.5, 30.0, 300.0, 7200.0, 40.0 * 3600, 120.0 * 3600}) {
      // The widest radii are costly against brute force: test them on fewer queries.
      const size_t stride = radius > 3600 ? 15 : 1;
      for (size_t q = 0; q < queries.size(); q += stride) {
        const Source& query = queries[q];
        CAPTURE(index_order);
        CAPTURE(radius);
        CAPTURE(query.ra);
        CAPTURE(query.dec);
        const auto expected = brute_force(vectors, unit_vector(query.ra, query.dec), radius);
        catalog.all_within(query.ra, query.dec, radius, matches);
        REQUIRE(matches.size() == expected.size());
        for (size_t k = 0; k < matches.size(); ++k) {
          CHECK(std::abs(matches[k].sep_arcsec - expected[k].second) < 1e-9);
          if (k == 0 || expected[k].second != expected[k - 1].second)
            CHECK(original[matches[k].index] == expected[k].first);
        }
        const auto nearest = catalog.nearest(query.ra, query.dec, radius);
        CHECK(nearest.has_value() == !expected.empty());
        if (nearest) CHECK(nearest->sep_arcsec == matches.front().sep_arcsec);
        total_matches += matches.size();
        ++checked;
      }
    }
  }
  MESSAGE(checked << " queries compared with brute force, " << total_matches << " matches");
  CHECK(total_matches > 10000);
}

TEST_CASE("sources on a ring just inside the radius are all found, at the largest radius each order serves") {
  // The radii at which the index switches strategy or order (a quarter and half the pixel scale)
  // and beyond, with
  // sources on rings at 0.999 r (must match) and 1.001 r (must not) around awkward query points.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> radii;
  for (int order = 0; order <= 12; ++order) {
    const double scale_arcsec = std::sqrt(4 * kPi / (12.0 * std::ldexp(1.0, 2 * order))) * kArcsecPerRad;
    radii.push_back(0.2499 * scale_arcsec);
    radii.push_back(0.37 * scale_arcsec);
    radii.push_back(0.4999 * scale_arcsec);
    radii.push_back(0.62 * scale_arcsec);
    radii.push_back(0.8 * scale_arcsec);
    radii.push_back(0.97 * scale_arcsec);
  }
  std::vector<Source> queries;
  for (const Source& anchor : awkward_points(rng, 32)) queries.push_back(offset(anchor.ra, anchor.dec, 0.5 * u(rng), 2 * kPi * u(rng)));
  std::vector<Source> sources;
  for (size_t q = 0; q < queries.size(); ++q)
    for (double radius : radii)
      for (int k = 0; k < 16; ++k) {
        const double angle = 2 * kPi * (k + u(rng)) / 16;
        sources.push_back(offset(queries[q].ra, queries[q].dec, radius * (k % 2 ? 0.999 : 1.001), angle));
      }
  std::vector<UnitVector> vectors;
  for (const Source& s : sources) vectors.push_back(unit_vector(s.ra, s.dec));
  size_t compared = 0;
  for (int index_order : {1, 5, 8, 11}) {
    const auto path = write_catalog(sources, "rings" + std::to_string(index_order), index_order);
    const Catalog catalog(path);
    std::filesystem::remove(path);
    std::vector<Match> matches;
    for (const Source& query : queries)
      for (double radius : radii) {
        CAPTURE(index_order);
        CAPTURE(radius);
        CAPTURE(query.ra);
        CAPTURE(query.dec);
        const auto expected = brute_force(vectors, unit_vector(query.ra, query.dec), radius);
        catalog.all_within(query.ra, query.dec, radius, matches);
        REQUIRE(matches.size() == expected.size());
        ++compared;
      }
  }
  MESSAGE(compared << " ring queries compared with brute force");
}

TEST_CASE("proper motions: sources are found where they are at the query epoch") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Source> sources;
  for (int i = 0; i < 5000; ++i) {
    // Fast movers (up to 10"/yr, like Barnard's star) and slow ones, near the poles too.
    const double dec = i % 10 == 0 ? 89.999 - 0.01 * u(rng) : std::asin(2 * u(rng) - 1) * kDegPerRad;
    const double pm = i % 50 == 0 ? 10000 : 300;
    sources.push_back({360 * u(rng), dec, pm * (2 * u(rng) - 1), pm * (2 * u(rng) - 1)});
  }
  const double epoch = mjd_from_julian_epoch(2016.0);
  const auto path = write_catalog(sources, "moving", std::nullopt, epoch);
  const Catalog catalog(path);
  std::filesystem::remove(path);
  CHECK(catalog.info().max_proper_motion_mas_per_yr > 9000);
  const std::vector<size_t> original = original_positions(catalog);

  for (double years : {-16.0, 0.0, 9.3, 30.0}) {
    std::vector<UnitVector> moved;
    for (const Source& s : sources)
      moved.push_back(propagate_proper_motion(unit_vector(s.ra, s.dec), s.pmra, s.pmdec, years));
    size_t matched = 0;
    for (int q = 0; q < 400; ++q) {
      // Aim at where a source has moved to, within the radius.
      const size_t target = static_cast<size_t>(u(rng) * static_cast<double>(sources.size()));
      double ra, dec;
      to_ra_dec(moved[target], ra, dec);
      const Source query = offset(ra, dec, 1.2 * u(rng), 2 * kPi * u(rng));
      for (double radius : {1.5, 30.0}) {
        const auto expected = brute_force(moved, unit_vector(query.ra, query.dec), radius);
        const auto matches = catalog.all_within(query.ra, query.dec, radius, epoch + years * kDaysPerJulianYear);
        REQUIRE(matches.size() == expected.size());
        for (size_t k = 0; k < matches.size(); ++k) {
          CHECK(original[matches[k].index] == expected[k].first);
          CHECK(std::abs(matches[k].sep_arcsec - expected[k].second) < 1e-6);
        }
        matched += !matches.empty();
      }
    }
    CHECK(matched >= 400);  // every 1.5" query aimed at a moved source finds it
  }
  // Without an epoch, positions are taken at the catalogue epoch.
  const Source& fast = sources[0];
  const UnitVector later = propagate_proper_motion(unit_vector(fast.ra, fast.dec), fast.pmra, fast.pmdec, 20);
  double ra, dec;
  to_ra_dec(later, ra, dec);
  const double moved_arcsec = separation_rad(later, unit_vector(fast.ra, fast.dec)) * kArcsecPerRad;
  REQUIRE(moved_arcsec > 3);
  CHECK(catalog.all_within(ra, dec, 1.0, epoch + 20 * kDaysPerJulianYear).size() >= 1);
  for (const Match& m : catalog.all_within(ra, dec, 1.0)) CHECK(original[m.index] != 0);
}

TEST_CASE("ZTF alerts against GCVS: the index finds what brute force finds") {
  const auto data = ebs::test::data_dir();
  // Independent reader of the alerts: python's avro, candidate ra/dec of every alert file.
  const std::string dump = ebs::test::run_python_oracle(
      "import avro.datafile, avro.io, glob\n"
      "for f in sorted(glob.glob('" + (data / "ztf").string() + "/*/*.avro')):\n"
      "    with avro.datafile.DataFileReader(open(f, 'rb'), avro.io.DatumReader()) as r:\n"
      "        for rec in r:\n"
      "            print(repr(rec['candidate']['ra']), repr(rec['candidate']['dec']))\n");
  std::vector<std::pair<double, double>> alerts;
  {
    std::istringstream in(dump);
    double ra, dec;
    while (in >> ra >> dec) alerts.emplace_back(ra, dec);
  }
  REQUIRE(alerts.size() == 86);

  // GCVS positions read straight from the CSV for the brute force.
  std::vector<std::pair<double, double>> gcvs;
  {
    std::ifstream in(data / "catalogs" / "gcvs.csv");
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      const size_t a = line.find(','), b = line.find(',', a + 1);
      gcvs.emplace_back(std::stod(line.substr(0, a)), std::stod(line.substr(a + 1, b - a - 1)));
    }
  }
  REQUIRE(gcvs.size() == 59099);

  const CatalogConfig config = load_catalog_config(
      ebs::test::source_dir() / "catalogs" / "gcvs.yaml",
      [&](const std::string& name) -> std::optional<std::string> {
        if (name == "EBS_DATA") return data.string();
        return std::nullopt;
      });
  const auto path = temp_path("gcvs.ebscat");
  build_catalog(config, path);
  const Catalog catalog(path);
  std::filesystem::remove(path);

  size_t total = 0;
  for (double radius : {5.0, 60.0, 1800.0}) {
    size_t matched = 0;
    for (const auto& [ra, dec] : alerts) {
      std::vector<std::pair<double, double>> expected;
      for (const auto& [gra, gdec] : gcvs)
        if (angular_separation_arcsec(ra, dec, gra, gdec) <= radius) expected.emplace_back(gra, gdec);
      std::vector<std::pair<double, double>> found;
      for (const Match& m : catalog.all_within(ra, dec, radius)) {
        const CatalogRow row = catalog.row(m.index);
        found.emplace_back(row.ra_deg, row.dec_deg);
        CHECK(std::abs(m.sep_arcsec - angular_separation_arcsec(ra, dec, row.ra_deg, row.dec_deg)) < 1e-6);
      }
      std::sort(expected.begin(), expected.end());
      std::sort(found.begin(), found.end());
      CHECK(found == expected);
      matched += found.size();
    }
    MESSAGE("GCVS matches of the 86 ZTF alerts within " << radius << "\": " << matched);
    total += matched;
  }
  CHECK(total > 0);
}

TEST_CASE("opening something that is not a catalogue is a fault naming it") {
  const auto path = temp_path("not-a-catalog.ebscat");
  std::ofstream(path) << "hello";
  CHECK_THROWS_WITH_AS(Catalog{path}, doctest::Contains((path.string() + ": ").c_str()), ebs::Fault);
  std::filesystem::remove(path);
  CHECK_THROWS_WITH_AS(Catalog{"/nonexistent.ebscat"}, doctest::Contains("/nonexistent.ebscat: catalogue file not found"),
                       ebs::Fault);
}
