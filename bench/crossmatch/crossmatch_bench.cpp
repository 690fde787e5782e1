// crossmatch_bench: alerts/s of the crossmatch actor (3 catalogues) and of the classify actor
// (ready-made Sherlock rules, 9 catalogues), next to the bare catalogue queries they make, in one
// run (the machine is noisy: compare the ratios). Catalogues: GCVS (59,099 real stars), a
// synthetic uniform catalogue of --sources sources and GLADE (2,000 real galaxies). Alerts: half
// within 2" of a random GCVS star, half uniform on the sky.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <random>

#include "actors/common/catalog/catalog_builder.h"
#include "actors/crossmatch/crossmatch_actors.h"
#include "actors/common/catalog/sky_geometry.h"
#include "test/support/collecting_emitter.h"

using namespace ebs;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<BatchView> make_alert_batches(const catalog::Catalog& gcvs, size_t count, size_t batch_size, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<BatchView> batches;
  std::vector<RecordPtr> records;
  for (size_t i = 0; i < count; ++i) {
    auto core = std::make_shared<AlertCore>();
    core->alert_id = i;
    core->object_id = "bench" + std::to_string(i);
    core->survey = "bench";
    core->mjd_tai = 60000;
    core->mag = 19;
    if (i % 2 == 0) {
      const auto star = gcvs.position(static_cast<uint32_t>(u(rng) * gcvs.size()));
      // A small random displacement (< ~2").
      const double d = 2.0 / catalog::kArcsecPerRad;
      catalog::UnitVector p{star.x + d * (u(rng) - 0.5), star.y + d * (u(rng) - 0.5), star.z + d * (u(rng) - 0.5)};
      catalog::to_ra_dec(p, core->ra, core->dec);
    } else {
      core->ra = 360 * u(rng);
      core->dec = std::asin(2 * u(rng) - 1) * catalog::kDegPerRad;
      if (core->ra >= 360) core->ra = 0;
    }
    records.push_back(std::make_shared<const Alert>(core));
    if (records.size() == batch_size || i + 1 == count) {
      batches.push_back(BatchView::make(PortType::alert, std::move(records), {}));
      records.clear();
    }
  }
  return batches;
}

double run_actor(const ActorType& type, const std::string& yaml, const fs::path& dir, const std::vector<BatchView>& batches,
                 size_t& annotated) {
  ActorContext context = test::make_context(type, yaml, dir.string());
  context.config = ActorConfig(YAML::Load(yaml), (dir / "workflow.yaml").string(), &type.config);
  auto logic = type.create(context);
  logic->open(context);
  test::CollectingEmitter warm;
  logic->on_batch(0, batches.front(), warm);  // rows of the first matches cached, as in a long run
  test::CollectingEmitter out;
  const auto start = Clock::now();
  for (const BatchView& b : batches) logic->on_batch(0, b, out);
  const double s = seconds_since(start);
  annotated = 0;
  for (const RecordPtr& r : out.records()) annotated += static_cast<const Alert&>(*r).annotations().size();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("crossmatch and classify actor throughput");
  size_t alerts = 200000, sources = 1000000;
  std::string data = EBS_SOURCE_DIR "/../shared/data";
  app.add_option("--alerts", alerts, "alerts per measurement");
  app.add_option("--sources", sources, "sources in the synthetic catalogue");
  app.add_option("--data", data, "shared test data folder (catalogues)");
  CLI11_PARSE(app, argc, argv);
  ::setenv("EBS_DATA", data.c_str(), 1);

  const fs::path dir = fs::temp_directory_path() / ("ebs_crossmatch_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::mt19937_64 rng(7);
  {
    catalog::CatalogDescription description;
    description.name = "uniform";
    catalog::CatalogWriter writer(description);
    std::uniform_real_distribution<double> u(0, 1);
    for (size_t i = 0; i < sources; ++i) {
      catalog::SourceFields s;
      s.ra_deg = std::min(360 * u(rng), 359.9999999);
      s.dec_deg = std::asin(2 * u(rng) - 1) * catalog::kDegPerRad;
      const std::string id = std::to_string(i);
      s.id = id;
      writer.add(s);
    }
    writer.write(dir / "uniform.ebscat", 0, std::nullopt);
  }
  const std::string catalogs = EBS_SOURCE_DIR "/catalogs/";
  auto store = std::make_shared<catalog::CatalogStore>();
  auto gcvs = store->open(catalogs + "gcvs.yaml", dir / "cache");
  auto uniform = store->open(dir / "uniform.ebscat", dir / "cache");
  auto glade = store->open(catalogs + "glade-gwemopt-S190814bv.yaml", dir / "cache");
  const auto batches = make_alert_batches(*gcvs, alerts, 1024, rng);

  // Bare queries: the same three cone queries per alert, without records or annotations.
  size_t matches = 0;
  auto start = Clock::now();
  for (const BatchView& b : batches)
    for (size_t i = 0; i < b.size(); ++i) {
      const AlertCore& a = static_cast<const Alert&>(b[i]).core();
      matches += gcvs->nearest(a.ra, a.dec, 2.0, a.mjd_tai).has_value();
      matches += uniform->nearest(a.ra, a.dec, 2.0, a.mjd_tai).has_value();
      matches += glade->nearest(a.ra, a.dec, 30.0, a.mjd_tai).has_value();
    }
  const double bare = seconds_since(start);

  const std::string crossmatch_yaml = "catalogues:\n  - {file: " + catalogs + "gcvs.yaml, radius_arcsec: 2}\n  - {file: " +
                                      (dir / "uniform.ebscat").string() + ", radius_arcsec: 2}\n  - {file: " + catalogs +
                                      "glade-gwemopt-S190814bv.yaml, radius_arcsec: 30}\n";
  size_t annotated = 0;
  const double xmatch = run_actor(crossmatch_actor_type(store), crossmatch_yaml + "cache_dir: cache\n", dir, batches, annotated);
  const size_t xmatch_annotations = annotated;
  const double classify = run_actor(classify_actor_type(store), "rules: " + catalogs + "rules/sherlock.yaml\ncache_dir: cache\n",
                                    dir, batches, annotated);

  const double n = static_cast<double>(alerts);
  std::printf("alerts: %zu (half within 2\" of a GCVS star), synthetic catalogue: %zu sources\n", alerts, sources);
  std::printf("bare queries, 3 catalogues (nearest):   %10.0f alerts/s  (%zu matches)\n", n / bare, matches);
  std::printf("crossmatch actor, 3 catalogues:         %10.0f alerts/s  (%zu annotations)  %.2fx the bare queries' time\n",
              n / xmatch, xmatch_annotations, xmatch / bare);
  std::printf("classify actor, Sherlock rules (11 searches, 9 catalogues): %10.0f alerts/s  (%zu annotations)\n", n / classify,
              annotated);
  fs::remove_all(dir);
  return 0;
}
