// catalog_bench: a synthetic all-sky catalogue (default 10 million sources) through the real
// writer and index: build time, in-memory bytes per source, and single-core cone queries/s at
// 1.5" and 30", next to a brute-force scan and healpix_cxx query_disc_inclusive measured in the
// same run (ratios, since the machine is noisy). `--sources 1000000` for a quick run.
#include <healpix_cxx/healpix_base.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <unistd.h>
#include <vector>

#include "actors/common/catalog/catalog.h"
#include "actors/common/catalog/catalog_builder.h"
#include "actors/common/catalog/sky_geometry.h"

using namespace ebs::catalog;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Point {
  double ra, dec;
};

std::vector<Point> random_points(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Point> points(count);
  for (Point& p : points) p = {360 * u(rng), std::asin(2 * u(rng) - 1) * kDegPerRad};
  for (Point& p : points)
    if (p.ra >= 360) p.ra = 0;
  return points;
}

std::filesystem::path build(const std::vector<Point>& sources, const std::string& name, double& seconds) {
  const auto path = std::filesystem::temp_directory_path() / ("catalog_bench_" + std::to_string(::getpid()) + "_" + name + ".ebscat");
  const auto start = Clock::now();
  CatalogDescription description;
  description.name = name;
  CatalogWriter writer(description);
  for (const Point& p : sources) {
    SourceFields s;
    s.ra_deg = p.ra;
    s.dec_deg = p.dec;
    writer.add(s);
  }
  writer.write(path);
  seconds = seconds_since(start);
  return path;
}

// Queries/s of `query(point)` over all points; `found` counts non-empty answers.
template <class Query>
double rate(const std::vector<Point>& points, size_t& found, Query&& query) {
  found = 0;
  const auto start = Clock::now();
  for (const Point& p : points) found += query(p);
  return static_cast<double>(points.size()) / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("catalog_bench: HEALPix cone index against brute force");
  size_t sources = 10'000'000, queries = 1'000'000, brute_sources = 100'000, brute_queries = 2'000;
  app.add_option("--sources", sources, "Sources in the synthetic catalogue");
  app.add_option("--queries", queries, "Cone queries per measurement");
  app.add_option("--brute-sources", brute_sources, "Sources in the brute-force comparison catalogue");
  app.add_option("--brute-queries", brute_queries, "Queries for the brute-force scan");
  CLI11_PARSE(app, argc, argv);

  std::printf("catalog_bench: %zu sources, %zu queries per figure (single core)\n", sources, queries);
  const std::vector<Point> catalog_points = random_points(sources, 1);
  double build_seconds = 0;
  const auto path = build(catalog_points, "big", build_seconds);
  const auto file_bytes = std::filesystem::file_size(path);
  auto start = Clock::now();
  const Catalog catalog(path);
  const double load_seconds = seconds_since(start);
  std::filesystem::remove(path);
  std::printf("  build (sort + SQLite)        %8.2f s  (%.2f M sources/s), file %.1f bytes/source\n", build_seconds,
              sources / build_seconds / 1e6, static_cast<double>(file_bytes) / sources);
  std::printf("  load index                   %8.2f s\n", load_seconds);
  std::printf("  index memory                 %8.1f bytes/source (target <= 40), index order %d\n",
              catalog.index_bytes_per_source(), catalog.info().index_order);

  // Alerts land anywhere: uniform query points. A second set sits 1" from catalogue sources.
  const std::vector<Point> uniform = random_points(queries, 2);
  std::vector<Point> near_sources(queries);
  {
    std::mt19937_64 rng(3);
    std::uniform_int_distribution<size_t> pick(0, sources - 1);
    for (Point& p : near_sources) {
      const Point& s = catalog_points[pick(rng)];
      p = {s.ra, std::clamp(s.dec + 1.0 / 3600, -90.0, 90.0)};
    }
  }
  size_t found = 0;
  for (double radius : {1.5, 30.0}) {
    const double r_uniform = rate(uniform, found, [&](const Point& p) {
      return catalog.nearest(p.ra, p.dec, radius).has_value();
    });
    const size_t found_uniform = found;
    const double r_near = rate(near_sources, found, [&](const Point& p) {
      return catalog.nearest(p.ra, p.dec, radius).has_value();
    });
    const size_t found_near = found;
    std::vector<Match> matches;
    const double r_all = rate(uniform, found, [&](const Point& p) {
      catalog.all_within(p.ra, p.dec, radius, matches);
      return !matches.empty();
    });
    std::printf("  nearest %4.1f\"  uniform points %10.0f queries/s (%zu matched), near sources %10.0f queries/s (%zu matched)\n",
                radius, r_uniform, found_uniform, r_near, found_near);
    std::printf("  all_within %4.1f\" uniform      %10.0f queries/s\n", radius, r_all);
  }

  // Reference points measured in the same run.
  {
    const Healpix_Base2 base(catalog.info().index_order, NEST);
    rangeset<int64> pixels;
    const size_t n = std::min<size_t>(queries, 200'000);
    const std::vector<Point> some(uniform.begin(), uniform.begin() + static_cast<std::ptrdiff_t>(n));
    const double r_disc = rate(some, found, [&](const Point& p) {
      base.query_disc_inclusive(pointing(unit_vector(p.ra, p.dec).x == 0 ? vec3(1, 0, 0)
                                                                         : vec3(unit_vector(p.ra, p.dec).x,
                                                                                unit_vector(p.ra, p.dec).y,
                                                                                unit_vector(p.ra, p.dec).z)),
                                1.5 / kArcsecPerRad, pixels);
      return pixels.nranges() > 0;
    });
    std::printf("  healpix_cxx query_disc_inclusive 1.5\" at order %d alone: %10.0f queries/s\n",
                catalog.info().index_order, r_disc);
  }
  {
    const std::vector<Point> small_points = random_points(brute_sources, 4);
    double small_build = 0;
    const auto small_path = build(small_points, "small", small_build);
    const Catalog small(small_path);
    std::filesystem::remove(small_path);
    std::vector<UnitVector> vectors;
    for (const Point& p : small_points) vectors.push_back(unit_vector(p.ra, p.dec));
    const std::vector<Point> some(uniform.begin(), uniform.begin() + static_cast<std::ptrdiff_t>(std::min(brute_queries, queries)));
    size_t brute_found = 0, index_found = 0;
    const double r_brute = rate(some, brute_found, [&](const Point& p) {
      const UnitVector target = unit_vector(p.ra, p.dec);
      const double limit = std::cos(30.0 / kArcsecPerRad);
      bool any = false;
      for (const UnitVector& v : vectors)
        if (v.x * target.x + v.y * target.y + v.z * target.z >= limit && separation_rad(v, target) * kArcsecPerRad <= 30.0)
          any = true;
      return any;
    });
    const double r_index = rate(some, index_found, [&](const Point& p) { return small.nearest(p.ra, p.dec, 30.0).has_value(); });
    std::printf("  %zu sources, 30\": brute-force scan %10.0f queries/s, index %10.0f queries/s (x%.0f); same matches: %s\n",
                brute_sources, r_brute, r_index, r_index / r_brute, brute_found == index_found ? "yes" : "NO");
  }
  return 0;
}
