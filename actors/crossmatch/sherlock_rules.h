// Sherlock-style contextual classification (docs/sherlock.md): a YAML rule set of catalogue
// searches in precedence order, each mapping matched sources onto Sherlock's classes VS, CV, BS,
// AGN, NT, SN, ORPHAN, UNCLEAR, and the Classifier that applies it to a position.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/common/catalog/catalog_store.h"
#include "actors/common/cosmology.h"
#include "engine/model/annotation.h"

namespace ebs::crossmatch {

// The classes, as Sherlock names them.
inline const std::vector<std::string> kSherlockClasses{"VS", "CV", "BS", "AGN", "NT", "SN", "ORPHAN", "UNCLEAR"};

enum class SearchKind {
  point,   // any source within the radius is the match (stars, CVs, AGN)
  galaxy,  // a host galaxy: associated by size or projected kpc, then NT (nucleus) or SN
};

struct TypeRule {
  std::string pattern;  // shell glob on the catalogue's type (fnmatch), e.g. "UG*"
  std::string klass;    // a Sherlock class, or "skip" to ignore the source
};

struct SherlockSearch {
  std::string name;
  std::string catalogue;  // a key of RuleSet::catalogues
  SearchKind kind = SearchKind::point;
  double radius_arcsec = 0;
  std::string klass;             // class of sources no type rule names; empty = skip them
  std::vector<TypeRule> types;   // first matching pattern wins
  std::optional<double> magnitude_below;  // only sources brighter than this (missing = skipped)
  bool synonym = true;           // a match within the synonym radius is a synonym
  std::string place;             // FILE:LINE:COL in the rules file
};

// What a catalogue's distance column measures (declared per catalogue in the rules): GLADE's
// `distmpc` and GLADE+'s d_L are luminosity distances, and a projected separation needs the
// angular-diameter distance d_A = d_L / (1 + z)^2.
enum class DistanceKind { luminosity, angular_diameter };

// Flat ΛCDM with Planck 2018's H0 and Om0 (astropy's Planck18 without radiation and neutrinos):
// the default cosmology of a rule set.
inline FlatLambdaCDM planck18() { return FlatLambdaCDM(67.66, 0.30966); }

struct LargeGalaxyFactor {
  double above_arcmin = 0;  // major-axis diameter
  double factor = 1;
};

struct RuleSet {
  std::string version;
  std::filesystem::path file;
  std::string content_hash;  // hash of the rules file, for provenance
  double synonym_radius_arcsec = 1.3;
  bool stop_on_synonym = true;
  double nucleus_radius_arcsec = 1.5;
  double nucleus_fraction_of_semi_major = 0;  // nucleus radius = max(radius, fraction × semi-major)
  double stretch = 2.5;
  std::vector<LargeGalaxyFactor> large_galaxy_factors;  // the largest applicable threshold wins
  double max_kpc = 50;
  // Sherlock's guard: a catalogue distance below this is not believed (a CLU entry at 0.056 Mpc
  // "hosts" an alert 3,037" away at 0.82 kpc); the galaxy is then judged by size or redshift.
  double min_distance_mpc = 0;
  FlatLambdaCDM cosmology = planck18();
  std::map<std::string, std::filesystem::path> catalogues;  // name -> file, resolved against the rules file
  std::map<std::string, DistanceKind> distance_kinds;        // name -> kind (default luminosity)
  std::map<std::string, std::string> catalogue_places;
  std::vector<SherlockSearch> searches;  // precedence order
};

// Proper kpc per arcsec of a source at `distance_mpc` of `kind`, in `cosmology`.
double kpc_per_arcsec_at(const FlatLambdaCDM& cosmology, double distance_mpc, DistanceKind kind);
std::string_view to_string(DistanceKind kind);

// Reads and checks a rule set; every error names FILE:LINE:COL.
RuleSet load_rule_set(const std::filesystem::path& path);

// The class a type maps to under a search's rules; nullopt = skip the source.
std::optional<std::string> class_for_type(const SherlockSearch& search, const std::string& type);

// The stretched size limit (arcsec) of a galaxy with this semi-major axis.
double galaxy_size_limit_arcsec(const RuleSet& rules, double semi_major_arcsec);

enum class Reliability { synonym, association, unclear };
std::string_view to_string(Reliability reliability);

struct Candidate {
  size_t search = 0;  // index into RuleSet::searches (precedence)
  std::string klass;
  Reliability reliability = Reliability::association;
  std::string criterion;  // "synonym radius", "search radius", "size", "kpc", "no size or distance"
  uint32_t index = 0;
  ::ebs::catalog::SourceSummary source;
  double sep_arcsec = 0;
  double kpc = NAN;               // projected separation
  double kpc_per_arcsec = NAN;
  double size_limit_arcsec = NAN;
  double nucleus_radius_arcsec = NAN;
  double rank_separation = 0;     // separation in units of the criterion's limit
  std::string guard;              // why a value of the source was not used (Sherlock's guards)
};

struct Classification {
  std::string klass = "ORPHAN";
  std::vector<Candidate> candidates;  // ranked, best first
  size_t searches_run = 0;
};

// Ranking: synonyms, then associations, then unclear; within each, by search precedence, then
// by rank_separation, then separation.
bool ranks_before(const Candidate& a, const Candidate& b);

class Classifier {
 public:
  // `open` gives the catalogue of each name in rules.catalogues.
  Classifier(std::shared_ptr<const RuleSet> rules,
             const std::function<std::shared_ptr<const ::ebs::catalog::Catalog>(const std::string& name)>& open);

  Classification classify(double ra_deg, double dec_deg, double mjd);
  // The classification annotation: name = class, details = the rule that fired, the source, etc.
  Annotation annotation(const Classification& c, Provenance provenance) const;

  const RuleSet& rules() const { return *rules_; }

 private:
  // Adds the candidates of search `s` around (ra, dec) at `mjd`.
  void run_search(size_t s, double ra_deg, double dec_deg, double mjd, std::vector<Candidate>& out);
  std::optional<Candidate> galaxy_candidate(size_t s, const ::ebs::catalog::SourceSummary& source, double sep_arcsec) const;

  std::shared_ptr<const RuleSet> rules_;
  std::vector<::ebs::catalog::CatalogueHandle> handles_;  // per search
  std::vector<::ebs::catalog::Match> matches_;
};

}  // namespace ebs::crossmatch
