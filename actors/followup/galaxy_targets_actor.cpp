#include "actors/followup/galaxy_targets_actor.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "actors/common/cosmology.h"
#include "actors/common/catalog/catalog_store.h"
#include "actors/followup/followup_command.h"
#include "actors/followup/galaxy_targets.h"
#include "engine/runtime/actor_logic.h"

namespace ebs::followup {

namespace {

constexpr double degree = M_PI / 180.0;

struct Target {
  std::string event_id;
  std::uint32_t sequence = 0;
  std::size_t rank = 0;
  std::uint32_t index = 0;  // in the galaxy table
  double probability = 0;
  double x = 0, y = 0, z = 0;        // unit vector
  double max_separation_rad = 0;     // host_radius_kpc at the galaxy's angular-diameter distance
};

class GalaxyTargetsActor final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& config = context.config;
    auto optional = [&](const char* key) { return config.has(key) ? config.string(key) : std::string(); };
    GalaxyLoadOptions load;
    load.distance_error_column = optional("distance_error_column");
    load.magnitude_column = optional("magnitude_column");
    load.magnitude_band = optional("magnitude_band");
    // As for crossmatch: the catalogue resolves against the workflow's folder, builds in the cache.
    try {
      galaxies_ = load_galaxy_table(catalog::resolve_path(catalog::workflow_dir(config), config.string("catalog")),
                                    catalog::catalogue_cache_dir(context), load);
    } catch (const Fault& f) {
      fail(config.place("catalog"), f.place() + ": " + f.message());
    }
    options_.weight = parse_luminosity_weight(config.string("weight"), config.place("weight"));
    options_.distance_error_fraction = config.number("distance_error_fraction");
    top_ = static_cast<std::size_t>(config.integer("top"));
    host_radius_kpc_ = config.number("host_radius_kpc");
    out_dir_ = catalog::resolve_path(context.run_dir, config.string("out_dir"));  // outputs go in the run folder
    provenance_ = {context.actor_id, context.type_name, context.type_version, config.hash()};
    std::filesystem::create_directories(out_dir_);
    // Every instance gets every event (its targets annotate that instance's alerts); the first
    // writes the ranked lists and passes the events on, so a parallel actor writes them once.
    first_instance_ = context.instance == 0;
  }

  void on_batch(size_t port, const BatchView& batch, Emitter& out) override {
    if (port == 1) {
      on_events(batch, out);
      return;
    }
    std::vector<RecordPtr> records;
    records.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& alert = static_cast<const Alert&>(batch[i]);
      const AlertCore& core = alert.core();
      if (!std::isfinite(core.ra) || !(core.dec >= -90 && core.dec <= 90)) {
        records.push_back(batch.record(i));  // nothing to match; the crossmatch actors report bad positions
        continue;
      }
      const double x = std::cos(core.dec * degree) * std::cos(core.ra * degree);
      const double y = std::cos(core.dec * degree) * std::sin(core.ra * degree);
      const double z = std::sin(core.dec * degree);
      AnnotationChain chain = alert.annotations();
      bool annotated = false;
      for (const Target& t : targets_) {
        const double separation = 2 * std::asin(std::min(1.0, 0.5 * std::sqrt((x - t.x) * (x - t.x) + (y - t.y) * (y - t.y) +
                                                                                (z - t.z) * (z - t.z))));
        if (separation > t.max_separation_rad) continue;
        Annotation a;
        a.kind = Annotation::Kind::score;
        a.provenance = provenance_;
        a.name = "host_probability";
        a.value = t.probability;
        a.catalogue = galaxies_.name;
        a.source_id = galaxies_.id[t.index];
        a.separation_arcsec = separation / degree * 3600;
        a.redshift = galaxies_.redshift[t.index];
        // Score annotations are written as name, value and details: the galaxy goes in the details too.
        a.details = nlohmann::json{{"event_id", t.event_id},
                                   {"catalogue", galaxies_.name},
                                   {"galaxy_id", galaxies_.id[t.index]},
                                   {"separation_arcsec", a.separation_arcsec},
                                   {"event_sequence", t.sequence},
                                   {"rank", t.rank},
                                   {"distance_mpc", galaxies_.distance_mpc[t.index]},
                                   {"projected_kpc", host_radius_kpc_ * separation / t.max_separation_rad}}
                        .dump();
        chain = chain.append(std::move(a));
        annotated = true;
      }
      records.push_back(annotated ? std::make_shared<const Alert>(alert.shared_core(), std::move(chain)) : batch.record(i));
    }
    if (!records.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(records), batch.acks()));
  }

 private:
  void on_events(const BatchView& batch, Emitter& out) {
    std::vector<uint32_t> keep;
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& event = static_cast<const SkyEvent&>(batch[i]);
      const std::string place = event.source + ":" + event.event_id;
      try {
        if (event.retracted) {
          std::erase_if(targets_, [&](const Target& t) { return t.event_id == event.event_id; });
        } else if (event.localization.shape == Localization::Shape::skymap && !event.localization.skymap_fits.empty()) {
          rank_event(event, place);
        }
        keep.push_back(static_cast<uint32_t>(i));
      } catch (const Fault& f) {
        out.failed(batch.record(i), f, batch.acks());
      }
    }
    if (keep.empty()) return;
    if (first_instance_) out.forward(1, batch.select(keep));
    else out.filtered(keep.size());  // the first instance passes them on
  }

  void rank_event(const SkyEvent& event, const std::string& place) {
    const skymap::Skymap map = skymap::Skymap::from_bytes(event.localization.skymap_fits, place);
    if (!map.has_distance()) return;  // a 2-D map: no volume to rank galaxies in
    const GalaxyRanking ranking = rank_galaxies(map, galaxies_, options_);
    const std::filesystem::path file =
        out_dir_ / (event.event_id + "-" + std::to_string(event.sequence) + ".galaxies.jsonl");
    if (first_instance_) {
      std::ofstream lines(file, std::ios::binary | std::ios::trunc);
      write_galaxy_ranking(galaxies_, ranking, top_, 1, lines);
      if (!lines) fail(file.string(), "cannot write the ranked galaxies");
    }
    // A newer notice of the same event replaces its targets.
    std::erase_if(targets_, [&](const Target& t) { return t.event_id == event.event_id; });
    for (std::size_t rank = 0; rank < ranking.galaxies.size() && rank < top_; ++rank) {
      const RankedGalaxy& g = ranking.galaxies[rank];
      Target t;
      t.event_id = event.event_id;
      t.sequence = event.sequence;
      t.rank = rank + 1;
      t.index = g.index;
      t.probability = g.probability;
      const double ra = galaxies_.ra_deg[g.index] * degree, dec = galaxies_.dec_deg[g.index] * degree;
      t.x = std::cos(dec) * std::cos(ra);
      t.y = std::cos(dec) * std::sin(ra);
      t.z = std::sin(dec);
      // D_A = D_L / (1 + z)², z from the catalogue or, without one, from D_L.
      const double distance = galaxies_.distance_mpc[g.index];
      double z = galaxies_.redshift[g.index];
      if (!(z >= 0)) z = cosmology_.redshift_at_luminosity_distance(distance);
      const double angular_diameter_kpc = 1000 * distance / ((1 + z) * (1 + z));
      t.max_separation_rad = host_radius_kpc_ / angular_diameter_kpc;
      targets_.push_back(t);
    }
  }

  GalaxyTable galaxies_;
  GalaxyRankingOptions options_;
  std::size_t top_ = 100;
  bool first_instance_ = true;
  double host_radius_kpc_ = 30;
  std::filesystem::path out_dir_;
  Provenance provenance_;
  FlatLambdaCDM cosmology_;
  std::vector<Target> targets_;
};

}  // namespace

ActorType galaxy_targets_actor_type() {
  ActorType t;
  t.name = "galaxy-targets";
  t.description = "Ranks a galaxy catalogue by host probability for each 3-D sky map; annotates alerts near top galaxies";
  t.version = "1.0";
  t.inputs = {{"alerts", PortType::alert, "survey alerts"},
              {"events", PortType::sky_event, "sky events (notices); every instance needs every one", "broadcast"}};
  t.outputs = {{"alerts", PortType::alert, "every alert; host_probability scores near ranked galaxies"},
               {"events", PortType::sky_event, "every sky event (ranked lists written to out_dir)"}};
  t.config = {
      {"catalog", ValueKind::string, true, "", "galaxy catalogue: YAML config (catalogs/*.yaml) or .ebscat, relative to the workflow file"},
      {"out_dir", ValueKind::string, false, "galaxy-targets", "where <event>-<sequence>.galaxies.jsonl are written (relative to the run folder)"},
      {"top", ValueKind::integer, false, "100", "galaxies kept per event (listed and matched against alerts)"},
      {"weight", ValueKind::string, false, "none", "luminosity weight: none, B or K"},
      {"magnitude_column", ValueKind::string, false, "", "kept column with the magnitude for the weight"},
      {"magnitude_band", ValueKind::string, false, "", "band of magnitude_column"},
      {"distance_error_column", ValueKind::string, false, "", "kept column with distance errors (Mpc)"},
      {"distance_error_fraction", ValueKind::number, false, "0", "distance error as a fraction, where none is given"},
      {"host_radius_kpc", ValueKind::number, false, "30", "projected radius around a ranked galaxy for host_probability"},
      {"cache_dir", ValueKind::string, false, "", "where YAML catalogue configs are built (default: $EBS_CATALOG_CACHE, else ~/.cache/ebs-flow/catalogs; docs/catalogs.md)"}};
  t.create = [](const ActorContext&) { return std::make_unique<GalaxyTargetsActor>(); };
  t.uses_cutouts = uses_no_cutouts;
  return t;
}

}  // namespace ebs::followup
