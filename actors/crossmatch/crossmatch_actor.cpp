// The `crossmatch` actor: per alert and per configured catalogue, the nearest source (mode
// nearest) or every source (mode all) within the catalogue's radius, with proper motions moved
// to the alert's epoch, appended as crossmatch annotations.
#include <nlohmann/json.hpp>

#include "actors/crossmatch/crossmatch_actors.h"
#include "engine/runtime/actor_logic.h"
#include "engine/util/fault.h"

namespace ebs {

namespace crossmatch {

// The family builds on the catalogue library (actors/common/catalog).
using namespace ::ebs::catalog;

namespace {

struct CatalogueSpec {
  std::string name;  // empty: the catalogue's own name
  std::filesystem::path path;
  double radius_arcsec = 0;
  bool nearest_only = true;
  std::string place;
};

// The `catalogues:` list; a Fault names the place of the first bad entry.
std::vector<CatalogueSpec> read_catalogue_specs(const ActorConfig& config) {
  const YAML::Node list = config.node("catalogues");
  if (!list.IsSequence() || list.size() == 0) fail(config.place("catalogues"), "catalogues must be a non-empty list");
  std::vector<CatalogueSpec> specs;
  for (const YAML::Node& item : list) {
    const std::string place = place_of(config.file(), item);
    if (!item.IsMap()) fail(place, "a catalogue entry is a map {file, radius_arcsec, mode, name}");
    CatalogueSpec spec;
    spec.place = place;
    for (const auto& kv : item) {
      const std::string key = kv.first.as<std::string>();
      const std::string value_place = place_of(config.file(), kv.second);
      try {
        if (key == "file")
          spec.path = resolve_path(workflow_dir(config), kv.second.as<std::string>());
        else if (key == "radius_arcsec")
          spec.radius_arcsec = kv.second.as<double>();
        else if (key == "name")
          spec.name = kv.second.as<std::string>();
        else if (key == "mode") {
          const std::string mode = kv.second.as<std::string>();
          if (mode != "nearest" && mode != "all") fail(value_place, "mode must be nearest or all, not '" + mode + "'");
          spec.nearest_only = mode == "nearest";
        } else
          fail(place_of(config.file(), kv.first), "unknown key '" + key + "' (file, radius_arcsec, mode, name)");
      } catch (const YAML::Exception& e) {
        fail(value_place, "bad value for " + key + ": " + e.msg);
      }
    }
    if (spec.path.empty()) fail(place, "a catalogue entry needs a file (.ebscat or catalogue YAML config)");
    if (!(spec.radius_arcsec > 0) || spec.radius_arcsec > 180 * 3600.0)
      fail(place, "radius_arcsec must be > 0 and at most 648000");
    specs.push_back(std::move(spec));
  }
  return specs;
}

// `tns`: one catalogue, the TNS public objects (catalogs/tns.yaml or a built .ebscat), nearest.
std::vector<CatalogueSpec> read_tns_spec(const ActorConfig& config) {
  CatalogueSpec spec;
  spec.name = "tns";
  spec.place = config.place("file");
  spec.path = resolve_path(workflow_dir(config), config.string("file"));
  spec.radius_arcsec = config.number("radius_arcsec");
  if (!(spec.radius_arcsec > 0) || spec.radius_arcsec > 3600)
    fail(config.place("radius_arcsec"), "radius_arcsec must be > 0 and at most 3600");
  return {spec};
}

using SpecReader = std::vector<CatalogueSpec> (*)(const ActorConfig&);

// ActorType::needed_files: every catalogue file the specs name, with a YAML config's data file.
std::vector<std::string> catalogue_files_of(SpecReader specs, const ActorConfig& config) {
  std::vector<std::string> files;
  for (const CatalogueSpec& spec : specs(config))
    for (std::string& file : catalogue_files(spec.path)) files.push_back(std::move(file));
  return files;
}

class CrossmatchActor final : public ActorLogic {
 public:
  CrossmatchActor(std::shared_ptr<CatalogStore> store, SpecReader specs = read_catalogue_specs)
      : store_(std::move(store)), specs_(specs) {}

  void open(const ActorContext& context) override {
    for (CatalogueSpec& spec : specs_(context.config)) {
      std::shared_ptr<const Catalog> catalog;
      try {
        catalog = store_->open(spec.path, catalogue_cache_dir(context));
      } catch (const Fault& f) {
        fail(spec.place, f.place() + ": " + f.message());
      }
      const std::string name = spec.name.empty() ? catalog->info().name : spec.name;
      Search search{CatalogueHandle(name, catalog), spec.radius_arcsec, spec.nearest_only, {}};
      search.provenance = {context.actor_id, context.type_name, context.type_version, search.catalogue.content_hash()};
      searches_.push_back(std::move(search));
    }
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    std::vector<RecordPtr> records;
    records.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& alert = static_cast<const Alert&>(batch[i]);
      const AlertCore& core = alert.core();
      if (auto problem = coordinate_problem(core)) {
        out.failed(batch.record(i), Fault(FaultKind::failed, alert_place(core), *problem), batch.acks());
        continue;
      }
      AnnotationChain chain = alert.annotations();
      bool matched = false;
      for (Search& s : searches_) {
        s.catalogue.search(core.ra, core.dec, core.mjd_tai, s.radius_arcsec, s.nearest_only, matches_);
        for (const catalog::Match& m : matches_) {
          chain = chain.append(annotation(s, m));
          matched = true;
        }
      }
      records.push_back(matched ? std::make_shared<const Alert>(alert.shared_core(), std::move(chain)) : batch.record(i));
    }
    if (!records.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(records), batch.acks()));
  }

 private:
  struct Search {
    CatalogueHandle catalogue;
    double radius_arcsec;
    bool nearest_only;
    Provenance provenance;
  };

  static Annotation annotation(Search& s, const catalog::Match& m) {
    const SourceSummary& source = s.catalogue.source(m.index);
    Annotation a;
    a.kind = Annotation::Kind::crossmatch;
    a.provenance = s.provenance;
    a.catalogue = s.catalogue.name();
    a.source_id = source.id;
    a.separation_arcsec = m.sep_arcsec;
    a.object_type = source.type;
    a.redshift = source.redshift;
    nlohmann::json details = {{"ra", source.ra_deg}, {"dec", source.dec_deg}};
    if (std::isfinite(source.distance_mpc)) details["distance_mpc"] = source.distance_mpc;
    if (std::isfinite(source.semi_major_arcsec)) details["semi_major_arcsec"] = source.semi_major_arcsec;
    if (std::isfinite(source.magnitude)) details["magnitude"] = source.magnitude;
    a.details = details.dump();
    return a;
  }

  std::shared_ptr<CatalogStore> store_;
  SpecReader specs_;
  std::vector<Search> searches_;
  std::vector<catalog::Match> matches_;
};

}  // namespace
}  // namespace crossmatch

ActorType crossmatch_actor_type(std::shared_ptr<catalog::CatalogStore> store) {
  ActorType t;
  t.name = "crossmatch";
  t.description = "Annotates alerts with the nearest (or all) catalogue sources within per-catalogue radii";
  t.version = "1.0";
  t.inputs = {{"in", PortType::alert, "alerts"}};
  t.outputs = {{"out", PortType::alert, "every alert, with one crossmatch annotation per matched source"}};
  t.config = {
      {"catalogues", ValueKind::list, true, "",
       "list of {file: .ebscat or catalogue YAML config, radius_arcsec, mode: nearest|all, name}"},
      {"cache_dir", ValueKind::string, false, "",
       "where catalogue YAML configs are built (default: $EBS_CATALOG_CACHE, else ~/.cache/ebs-flow/catalogs; docs/catalogs.md)"}};
  t.check = [](const ActorConfig& config, std::vector<Problem>& problems) {
    try {
      for (const auto& spec : crossmatch::read_catalogue_specs(config))
        if (auto problem = catalog::catalogue_problem(spec.path)) problems.push_back({spec.place, *problem});
    } catch (const Fault& f) {
      problems.push_back({f.place(), f.message()});
    }
  };
  t.adds_fields = [](const ActorConfig&) { return std::vector<std::string>{}; };
  t.needed_files = [](const ActorConfig& config) {
    return crossmatch::catalogue_files_of(crossmatch::read_catalogue_specs, config);
  };
  t.create = [store](const ActorContext&) { return std::make_unique<crossmatch::CrossmatchActor>(store); };
  t.uses_cutouts = uses_no_cutouts;
  return t;
}

ActorType tns_actor_type(std::shared_ptr<catalog::CatalogStore> store) {
  ActorType t;
  t.name = "tns";
  t.description = "Names known transients: the nearest TNS public object (AT/SN name, TNS type, redshift) within a radius";
  t.version = "1.0";
  t.inputs = {{"in", PortType::alert, "alerts"}};
  t.outputs = {{"out", PortType::alert, "every alert; a known transient with a crossmatch annotation (catalogue tns, source_id its TNS name)"}};
  t.config = {
      {"file", ValueKind::string, true, "",
       "the TNS public objects: a catalogue YAML config (catalogs/tns.yaml, its file pointed at your tns_public_objects.csv) or a built .ebscat"},
      {"radius_arcsec", ValueKind::number, false, "2", "match radius"},
      {"cache_dir", ValueKind::string, false, "", "where a catalogue YAML config is built (default: $EBS_CATALOG_CACHE, else ~/.cache/ebs-flow/catalogs; docs/catalogs.md)"}};
  t.check = [](const ActorConfig& config, std::vector<Problem>& problems) {
    try {
      for (const auto& spec : crossmatch::read_tns_spec(config))
        if (auto problem = catalog::catalogue_problem(spec.path)) problems.push_back({spec.place, *problem});
    } catch (const Fault& f) {
      problems.push_back({f.place(), f.message()});
    }
  };
  t.adds_fields = [](const ActorConfig&) { return std::vector<std::string>{}; };
  t.needed_files = [](const ActorConfig& config) {
    return crossmatch::catalogue_files_of(crossmatch::read_tns_spec, config);
  };
  t.create = [store](const ActorContext&) {
    return std::make_unique<crossmatch::CrossmatchActor>(store, crossmatch::read_tns_spec);
  };
  t.uses_cutouts = uses_no_cutouts;
  return t;
}

}  // namespace ebs
