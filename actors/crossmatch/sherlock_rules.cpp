#include "actors/crossmatch/sherlock_rules.h"

#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/graph/actor_config.h"
#include "engine/util/fault.h"
#include "engine/util/hash.h"

namespace ebs::crossmatch {

// The family builds on the catalogue library (actors/common/catalog).
using namespace ::ebs::catalog;

namespace fs = std::filesystem;

namespace {

bool is_class(const std::string& c) {
  return std::find(kSherlockClasses.begin(), kSherlockClasses.end(), c) != kSherlockClasses.end();
}

struct Reader {
  std::string file;
  std::string at(const YAML::Node& n) const { return place_of(file, n); }
  template <class T>
  T get(const YAML::Node& n, const std::string& what) const {
    try {
      return n.as<T>();
    } catch (const YAML::Exception&) {
      fail(at(n), "bad value for " + what);
    }
  }
  void known_keys(const YAML::Node& map, const std::vector<std::string>& keys) const {
    if (!map.IsMap()) fail(at(map), "expected a map");
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::string list;
        for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
        fail(at(kv.first), "unknown key '" + key + "' (" + list + ")");
      }
    }
  }
  double positive(const YAML::Node& n, const std::string& what) const {
    const double v = get<double>(n, what);
    if (!(v > 0)) fail(at(n), what + " must be > 0");
    return v;
  }
  std::string klass(const YAML::Node& n, bool allow_skip) const {
    const std::string c = get<std::string>(n, "class");
    if (!is_class(c) && !(allow_skip && c == "skip"))
      fail(at(n), "'" + c + "' is not a Sherlock class (VS, CV, BS, AGN, NT, SN, ORPHAN, UNCLEAR" +
                      (allow_skip ? std::string(" or skip)") : std::string(")")));
    return c;
  }
};

}  // namespace

RuleSet load_rule_set(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "rules file not found");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  Reader r{path.string()};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    fail(place_of(path.string(), e.mark), e.msg);
  }
  RuleSet rules;
  rules.file = path;
  rules.content_hash = "fnv1a64:" + hex64(fnv1a64(text));
  if (!root.IsMap()) fail(path.string(), "a rule set is a YAML map");
  r.known_keys(root, {"version", "description", "synonym_radius_arcsec", "stop_on_synonym", "nucleus", "galaxy_association",
                      "cosmology", "catalogues", "searches"});
  if (!root["version"]) fail(path.string() + ":1:1", "a rule set needs a version");
  rules.version = r.get<std::string>(root["version"], "version");
  if (root["synonym_radius_arcsec"]) rules.synonym_radius_arcsec = r.positive(root["synonym_radius_arcsec"], "synonym_radius_arcsec");
  if (root["stop_on_synonym"]) rules.stop_on_synonym = r.get<bool>(root["stop_on_synonym"], "stop_on_synonym");
  if (const YAML::Node n = root["nucleus"]) {
    r.known_keys(n, {"radius_arcsec", "fraction_of_semi_major"});
    if (n["radius_arcsec"]) rules.nucleus_radius_arcsec = r.get<double>(n["radius_arcsec"], "radius_arcsec");
    if (n["fraction_of_semi_major"])
      rules.nucleus_fraction_of_semi_major = r.get<double>(n["fraction_of_semi_major"], "fraction_of_semi_major");
    if (rules.nucleus_radius_arcsec < 0 || rules.nucleus_fraction_of_semi_major < 0 || rules.nucleus_fraction_of_semi_major > 1)
      fail(r.at(n), "nucleus radius must be >= 0 and the fraction in [0, 1]");
  }
  if (const YAML::Node n = root["galaxy_association"]) {
    r.known_keys(n, {"stretch", "large_galaxy_factors", "max_kpc", "min_distance_mpc"});
    if (n["stretch"]) rules.stretch = r.positive(n["stretch"], "stretch");
    if (n["max_kpc"]) rules.max_kpc = r.positive(n["max_kpc"], "max_kpc");
    if (n["min_distance_mpc"]) rules.min_distance_mpc = r.positive(n["min_distance_mpc"], "min_distance_mpc");
    if (const YAML::Node list = n["large_galaxy_factors"]) {
      if (!list.IsSequence()) fail(r.at(list), "large_galaxy_factors is a list of {above_arcmin, factor}");
      for (const YAML::Node& item : list) {
        r.known_keys(item, {"above_arcmin", "factor"});
        if (!item["above_arcmin"] || !item["factor"]) fail(r.at(item), "needs above_arcmin and factor");
        rules.large_galaxy_factors.push_back(
            {r.positive(item["above_arcmin"], "above_arcmin"), r.positive(item["factor"], "factor")});
      }
    }
  }
  if (const YAML::Node n = root["cosmology"]) {
    r.known_keys(n, {"H0", "Om0"});
    try {
      rules.cosmology = FlatLambdaCDM(n["H0"] ? r.get<double>(n["H0"], "H0") : planck18().h0(),
                                      n["Om0"] ? r.get<double>(n["Om0"], "Om0") : planck18().omega_matter());
    } catch (const Fault& f) {
      fail(r.at(n), f.message());
    }
  }
  const YAML::Node catalogues = root["catalogues"];
  if (!catalogues || !catalogues.IsMap() || catalogues.size() == 0)
    fail(catalogues ? r.at(catalogues) : path.string() + ":1:1", "catalogues: a map name -> catalogue file");
  for (const auto& kv : catalogues) {
    const std::string name = kv.first.as<std::string>();
    // name: file, or name: {file, distance: luminosity | angular_diameter}
    YAML::Node file = kv.second;
    DistanceKind kind = DistanceKind::luminosity;
    if (kv.second.IsMap()) {
      r.known_keys(kv.second, {"file", "distance"});
      if (!kv.second["file"]) fail(r.at(kv.second), "a catalogue needs a file");
      file.reset(kv.second["file"]);  // reset: assigning a Node would overwrite the map it refers to
      if (const YAML::Node d = kv.second["distance"]) {
        const std::string text = r.get<std::string>(d, "distance");
        if (text == "angular_diameter") kind = DistanceKind::angular_diameter;
        else if (text != "luminosity") fail(r.at(d), "distance must be luminosity or angular_diameter, not '" + text + "'");
      }
    }
    rules.catalogues[name] = resolve_path(path.parent_path(), r.get<std::string>(file, "catalogue file"));
    rules.distance_kinds[name] = kind;
    rules.catalogue_places[name] = r.at(file);
  }
  const YAML::Node searches = root["searches"];
  if (!searches || !searches.IsSequence() || searches.size() == 0)
    fail(searches ? r.at(searches) : path.string() + ":1:1", "searches: a list in precedence order");
  for (const YAML::Node& item : searches) {
    r.known_keys(item, {"name", "catalogue", "kind", "radius_arcsec", "class", "types", "magnitude_below", "synonym"});
    SherlockSearch s;
    s.place = r.at(item);
    for (const char* required : {"name", "catalogue", "radius_arcsec"})
      if (!item[required]) fail(s.place, std::string("a search needs ") + required);
    s.name = r.get<std::string>(item["name"], "name");
    s.catalogue = r.get<std::string>(item["catalogue"], "catalogue");
    if (!rules.catalogues.count(s.catalogue))
      fail(r.at(item["catalogue"]), "catalogue '" + s.catalogue + "' is not in catalogues:");
    s.radius_arcsec = r.positive(item["radius_arcsec"], "radius_arcsec");
    if (item["kind"]) {
      const std::string kind = r.get<std::string>(item["kind"], "kind");
      if (kind == "galaxy")
        s.kind = SearchKind::galaxy;
      else if (kind != "point")
        fail(r.at(item["kind"]), "kind must be point or galaxy, not '" + kind + "'");
    }
    if (item["class"]) s.klass = r.klass(item["class"], false);
    if (const YAML::Node types = item["types"]) {
      if (!types.IsSequence()) fail(r.at(types), "types: a list of {pattern: class} in order (first match wins)");
      for (const YAML::Node& t : types) {
        if (!t.IsMap() || t.size() != 1) fail(r.at(t), "a type rule is one {pattern: class}");
        for (const auto& kv : t) s.types.push_back({kv.first.as<std::string>(), r.klass(kv.second, true)});
      }
    }
    if (s.kind == SearchKind::point && s.klass.empty() && s.types.empty())
      fail(s.place, "a point search needs a class or type rules");
    if (item["magnitude_below"]) s.magnitude_below = r.get<double>(item["magnitude_below"], "magnitude_below");
    if (item["synonym"]) s.synonym = r.get<bool>(item["synonym"], "synonym");
    rules.searches.push_back(std::move(s));
  }
  return rules;
}

std::optional<std::string> class_for_type(const SherlockSearch& search, const std::string& raw_type) {
  // Fixed-width catalogues pad their type columns ("UG        ").
  const size_t end = raw_type.find_last_not_of(" \t");
  const std::string type = end == std::string::npos ? std::string() : raw_type.substr(0, end + 1);
  for (const TypeRule& rule : search.types)
    if (::fnmatch(rule.pattern.c_str(), type.c_str(), 0) == 0) {
      if (rule.klass == "skip") return std::nullopt;
      return rule.klass;
    }
  if (search.kind == SearchKind::galaxy) return std::string();  // NT or SN, decided by position
  if (search.klass.empty()) return std::nullopt;
  return search.klass;
}

std::string_view to_string(DistanceKind kind) {
  return kind == DistanceKind::luminosity ? "luminosity" : "angular_diameter";
}

double kpc_per_arcsec_at(const FlatLambdaCDM& cosmology, double distance_mpc, DistanceKind kind) {
  if (kind == DistanceKind::angular_diameter) return kpc_per_arcsec_at_distance(distance_mpc);
  const double z = cosmology.redshift_at_luminosity_distance(distance_mpc);
  return kpc_per_arcsec_at_distance(distance_mpc / ((1 + z) * (1 + z)));
}

double galaxy_size_limit_arcsec(const RuleSet& rules, double semi_major_arcsec) {
  const double diameter_arcmin = 2 * semi_major_arcsec / 60;
  double factor = 1, threshold = -1;
  for (const LargeGalaxyFactor& f : rules.large_galaxy_factors)
    if (diameter_arcmin > f.above_arcmin && f.above_arcmin > threshold) {
      threshold = f.above_arcmin;
      factor = f.factor;
    }
  return semi_major_arcsec * rules.stretch * factor;
}

std::string_view to_string(Reliability reliability) {
  switch (reliability) {
    case Reliability::synonym: return "synonym";
    case Reliability::association: return "association";
    case Reliability::unclear: return "unclear";
  }
  return "?";
}

bool ranks_before(const Candidate& a, const Candidate& b) {
  if (a.reliability != b.reliability) return a.reliability < b.reliability;
  if (a.search != b.search) return a.search < b.search;
  if (a.rank_separation != b.rank_separation) return a.rank_separation < b.rank_separation;
  if (a.sep_arcsec != b.sep_arcsec) return a.sep_arcsec < b.sep_arcsec;
  return a.index < b.index;
}

Classifier::Classifier(std::shared_ptr<const RuleSet> rules,
                       const std::function<std::shared_ptr<const Catalog>(const std::string&)>& open)
    : rules_(std::move(rules)) {
  std::map<std::string, std::shared_ptr<const Catalog>> opened;
  for (const SherlockSearch& s : rules_->searches) {
    auto& catalog = opened[s.catalogue];
    if (!catalog) catalog = open(s.catalogue);
    handles_.emplace_back(s.catalogue, catalog);
  }
}

std::optional<Candidate> Classifier::galaxy_candidate(size_t s, const SourceSummary& source, double sep) const {
  const RuleSet& rules = *rules_;
  Candidate c;
  c.search = s;
  c.sep_arcsec = sep;
  c.source = source;
  double distance = source.distance_mpc;
  if (std::isfinite(distance) && distance > 0 && distance < rules.min_distance_mpc) {
    c.guard = "distance " + std::to_string(distance) + " Mpc is below min_distance_mpc " +
              std::to_string(rules.min_distance_mpc) + ": not used";
    distance = NAN;
  }
  const std::string& catalogue = rules.searches[s].catalogue;
  auto kind = rules.distance_kinds.find(catalogue);
  if (std::isfinite(distance) && distance > 0)  // overrides the redshift
    c.kpc_per_arcsec = kpc_per_arcsec_at(rules.cosmology, distance,
                                         kind == rules.distance_kinds.end() ? DistanceKind::luminosity : kind->second);
  else if (std::isfinite(source.redshift) && source.redshift > 0)
    c.kpc_per_arcsec = rules.cosmology.kpc_per_arcsec(source.redshift);
  if (std::isfinite(c.kpc_per_arcsec)) c.kpc = sep * c.kpc_per_arcsec;
  const bool has_size = std::isfinite(source.semi_major_arcsec) && source.semi_major_arcsec > 0;
  if (has_size) c.size_limit_arcsec = galaxy_size_limit_arcsec(rules, source.semi_major_arcsec);
  if (has_size && sep <= c.size_limit_arcsec) {
    c.criterion = "size";
    c.rank_separation = sep / c.size_limit_arcsec;
  } else if (std::isfinite(c.kpc) && c.kpc <= rules.max_kpc) {
    c.criterion = "kpc";
    c.rank_separation = c.kpc / rules.max_kpc;
  } else if (!has_size && !std::isfinite(c.kpc)) {
    c.criterion = "no size or distance";
    c.reliability = Reliability::unclear;
    c.klass = "UNCLEAR";
    c.rank_separation = sep / rules.searches[s].radius_arcsec;
    return c;
  } else {
    return std::nullopt;  // too far from this galaxy by every measure it has
  }
  c.nucleus_radius_arcsec = rules.nucleus_radius_arcsec;
  if (has_size)
    c.nucleus_radius_arcsec = std::max(c.nucleus_radius_arcsec, rules.nucleus_fraction_of_semi_major * source.semi_major_arcsec);
  c.klass = sep <= c.nucleus_radius_arcsec ? "NT" : "SN";
  return c;
}

void Classifier::run_search(size_t s, double ra, double dec, double mjd, std::vector<Candidate>& out) {
  const SherlockSearch& search = rules_->searches[s];
  CatalogueHandle& handle = handles_[s];
  handle.search(ra, dec, mjd, search.radius_arcsec, false, matches_);
  for (const catalog::Match& m : matches_) {
    const SourceSummary& source = handle.source(m.index);
    if (search.magnitude_below && !(source.magnitude < *search.magnitude_below)) continue;
    const std::optional<std::string> mapped = class_for_type(search, source.type);
    if (!mapped) continue;
    std::optional<Candidate> c;
    if (search.kind == SearchKind::galaxy && mapped->empty()) {
      c = galaxy_candidate(s, source, m.sep_arcsec);
      if (!c) continue;
    } else {
      c.emplace();
      c->search = s;
      c->klass = *mapped;
      c->sep_arcsec = m.sep_arcsec;
      c->source = source;
      c->criterion = "search radius";
      c->rank_separation = m.sep_arcsec / search.radius_arcsec;
      if (c->klass == "UNCLEAR") c->reliability = Reliability::unclear;
    }
    c->index = m.index;
    if (search.synonym && m.sep_arcsec <= rules_->synonym_radius_arcsec && c->reliability != Reliability::unclear) {
      c->reliability = Reliability::synonym;
      c->criterion = "synonym radius";
      c->rank_separation = m.sep_arcsec / rules_->synonym_radius_arcsec;
    }
    out.push_back(std::move(*c));
  }
}

Classification Classifier::classify(double ra, double dec, double mjd) {
  Classification result;
  for (size_t s = 0; s < rules_->searches.size(); ++s) {
    const size_t before = result.candidates.size();
    run_search(s, ra, dec, mjd, result.candidates);
    ++result.searches_run;
    const bool synonym = std::any_of(result.candidates.begin() + before, result.candidates.end(),
                                     [](const Candidate& c) { return c.reliability == Reliability::synonym; });
    if (synonym && rules_->stop_on_synonym) break;
  }
  std::sort(result.candidates.begin(), result.candidates.end(), ranks_before);
  if (!result.candidates.empty()) result.klass = result.candidates.front().klass;
  return result;
}

namespace {

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json source_json(const SourceSummary& s) {
  nlohmann::json j = {{"id", s.id}, {"type", s.type}, {"ra", s.ra_deg}, {"dec", s.dec_deg}};
  if (std::isfinite(s.redshift)) j["redshift"] = s.redshift;
  if (std::isfinite(s.distance_mpc)) j["distance_mpc"] = s.distance_mpc;
  if (std::isfinite(s.semi_major_arcsec)) j["semi_major_arcsec"] = s.semi_major_arcsec;
  if (std::isfinite(s.magnitude)) j["magnitude"] = s.magnitude;
  return j;
}

}  // namespace

Annotation Classifier::annotation(const Classification& c, Provenance provenance) const {
  Annotation a;
  a.kind = Annotation::Kind::classification;
  a.provenance = std::move(provenance);
  a.name = c.klass;
  nlohmann::json details = {{"rules_version", rules_->version}, {"candidates", c.candidates.size()},
                            {"searches_run", c.searches_run}};
  if (c.candidates.empty()) {
    details["rule"] = "orphan: no search matched";
  } else {
    const Candidate& best = c.candidates.front();
    const SherlockSearch& search = rules_->searches[best.search];
    a.catalogue = search.catalogue;
    a.source_id = best.source.id;
    a.separation_arcsec = best.sep_arcsec;
    a.object_type = best.source.type;
    a.redshift = best.source.redshift;
    details["rule"] = search.name;
    details["catalogue"] = search.catalogue;
    details["reliability"] = to_string(best.reliability);
    details["criterion"] = best.criterion;
    details["source"] = source_json(best.source);
    details["sep_arcsec"] = best.sep_arcsec;
    details["kpc"] = number_or_null(best.kpc);
    if (search.kind == SearchKind::galaxy) {
      auto kind = rules_->distance_kinds.find(search.catalogue);
      details["distance_kind"] = to_string(kind == rules_->distance_kinds.end() ? DistanceKind::luminosity : kind->second);
      if (!best.guard.empty()) details["guard"] = best.guard;
      details["kpc_per_arcsec"] = number_or_null(best.kpc_per_arcsec);
      details["size_limit_arcsec"] = number_or_null(best.size_limit_arcsec);
      details["nucleus_radius_arcsec"] = number_or_null(best.nucleus_radius_arcsec);
    }
    nlohmann::json others = nlohmann::json::array();
    for (size_t i = 1; i < c.candidates.size() && i <= 3; ++i) {
      const Candidate& o = c.candidates[i];
      others.push_back({{"rule", rules_->searches[o.search].name}, {"class", o.klass}, {"source_id", o.source.id},
                        {"reliability", to_string(o.reliability)}, {"sep_arcsec", o.sep_arcsec}});
    }
    details["runners_up"] = std::move(others);
  }
  a.details = details.dump();
  return a;
}

}  // namespace ebs::crossmatch
