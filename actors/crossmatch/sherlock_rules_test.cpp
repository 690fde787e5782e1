#include "actors/crossmatch/sherlock_rules.h"

#include <doctest/doctest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test/support/crossmatch_oracle.h"
#include "actors/common/catalog/sky_geometry.h"
#include "test/support/test_catalogues.h"
#include "engine/util/fault.h"

using namespace ebs::crossmatch;
using namespace ebs::crossmatch::testing;
using namespace ebs::catalog;
using nlohmann::json;


namespace {

constexpr double kGaiaEpochMjd = 57388.5;  // J2016.0: Gaia positions need no propagation

std::shared_ptr<const RuleSet> sherlock_rules() {
  static auto rules = std::make_shared<const RuleSet>(load_rule_set(repo_dir() / "catalogs/rules/sherlock.yaml"));
  return rules;
}

// kpc per arcsec of a host at a catalogue distance (the ready-made catalogues' are luminosity
// distances).
double host_scale(double distance_mpc) {
  return kpc_per_arcsec_at(sherlock_rules()->cosmology, distance_mpc, DistanceKind::luminosity);
}

Classifier sherlock_classifier(std::shared_ptr<const RuleSet> rules = sherlock_rules()) {
  test_cache_dir();
  return Classifier(rules, [&](const std::string& name) { return test_store().open(rules->catalogues.at(name), test_cache_dir()); });
}

// The first row of a ready-made catalogue that `want` accepts and that has no other source of
// any Sherlock catalogue within `clear_arcsec` (so the expected match is the only one).
struct Row {
  uint32_t index;
  CatalogRow row;
};
Row find_row(const std::string& config, const std::function<bool(const CatalogRow&)>& want,
             double clear_arcsec = 10) {
  const auto catalog = ready_made(config);
  for (uint32_t i = 0; i < catalog->size(); ++i) {
    CatalogRow row = catalog->row(i);
    if (!want(row)) continue;
    if (catalog->all_within(row.ra_deg, row.dec_deg, clear_arcsec).size() != 1) continue;
    return {i, std::move(row)};
  }
  FAIL("no suitable row in " << config);
  return {};
}

std::string trimmed(const std::optional<std::string>& s) {
  std::string t = s.value_or("");
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

struct Result {
  std::string klass;
  json details;
};

Result classify_at(Classifier& classifier, std::pair<double, double> position, double mjd = kGaiaEpochMjd) {
  const Classification c = classifier.classify(position.first, position.second, mjd);
  const ebs::Annotation a = classifier.annotation(c, {"t", "classify", classifier.rules().version, ""});
  CHECK(a.name == c.klass);
  CHECK(a.kind == ebs::Annotation::Kind::classification);
  const json details = json::parse(a.details);
  CHECK(details["rules_version"] == sherlock_rules()->version);
  return {c.klass, details};
}

void check_source(const json& details, const CatalogRow& row) {
  CHECK(details["source"]["ra"].get<double>() == doctest::Approx(row.ra_deg).epsilon(1e-12));
  CHECK(details["source"]["dec"].get<double>() == doctest::Approx(row.dec_deg).epsilon(1e-12));
}

}  // namespace

TEST_CASE("the ready-made rule set reads with its version, Sherlock 3.1 radii and searches in order") {
  const RuleSet& rules = *sherlock_rules();
  CHECK(rules.version == "sherlock-ebs/1.0 (Sherlock 3.1 radii)");
  CHECK(rules.synonym_radius_arcsec == 1.3);
  CHECK(rules.stretch == 2.5);
  CHECK(rules.max_kpc == 50);
  REQUIRE(rules.searches.size() == 11);
  CHECK(rules.searches.front().name == "gcvs-cataclysmic");
  CHECK(rules.searches.back().kind == SearchKind::galaxy);
  CHECK(rules.content_hash.rfind("fnv1a64:", 0) == 0);
}

TEST_CASE("size limits: semi-major axis x stretch, reduced for galaxies above 10' and 100'") {
  const RuleSet& rules = *sherlock_rules();
  CHECK(galaxy_size_limit_arcsec(rules, 60) == doctest::Approx(150));            // 2' across
  CHECK(galaxy_size_limit_arcsec(rules, 300) == doctest::Approx(750));           // exactly 10': no reduction
  CHECK(galaxy_size_limit_arcsec(rules, 301) == doctest::Approx(301 * 2.5 * 0.7));
  CHECK(galaxy_size_limit_arcsec(rules, 3600) == doctest::Approx(3600 * 2.5 * 0.5));  // 2 deg across
}

TEST_CASE("type rules: globs in order, padded types trimmed, skip and default class") {
  const RuleSet& rules = *sherlock_rules();
  const SherlockSearch& cv = rules.searches[0];
  CHECK(class_for_type(cv, "UGSS      ") == std::optional<std::string>("CV"));
  CHECK(class_for_type(cv, "N") == std::optional<std::string>("CV"));
  CHECK(class_for_type(cv, "NA") == std::optional<std::string>("CV"));
  CHECK_FALSE(class_for_type(cv, "NSV").has_value() == true);  // no rule, no default class: skipped
  const SherlockSearch& variables = rules.searches[3];
  CHECK(class_for_type(variables, "EA") == std::optional<std::string>("VS"));
  CHECK_FALSE(class_for_type(variables, "SNIa").has_value());
}

TEST_CASE("CV: a transient 2\" from a GCVS dwarf nova is a CV, at 1\" a CV synonym") {
  auto classifier = sherlock_classifier();
  const Row cv = find_row("gcvs", [](const auto& r) { return trimmed(r.type).rfind("UG", 0) == 0; });
  Result r = classify_at(classifier, offset_position(cv.row.ra_deg, cv.row.dec_deg, 2.0, 40));
  CHECK(r.klass == "CV");
  CHECK(r.details["rule"] == "gcvs-cataclysmic");
  CHECK(r.details["reliability"] == "association");
  CHECK(r.details["sep_arcsec"].get<double>() == doctest::Approx(2.0).epsilon(1e-6));
  check_source(r.details, cv.row);
  r = classify_at(classifier, offset_position(cv.row.ra_deg, cv.row.dec_deg, 1.0, 200));
  CHECK(r.klass == "CV");
  CHECK(r.details["reliability"] == "synonym");
  CHECK(r.details["searches_run"] == 1);  // stop on synonym
  // Beyond the CV radius (2.5") but within the variable-star radius (3"): a GCVS variable.
  r = classify_at(classifier, offset_position(cv.row.ra_deg, cv.row.dec_deg, 2.8, 0));
  CHECK(r.klass == "VS");
  CHECK(r.details["rule"] == "gcvs-variables");
}

TEST_CASE("variable star: a GCVS eclipsing binary within 3\"; a synonym stops the later searches") {
  auto classifier = sherlock_classifier();
  const Row star = find_row("gcvs", [](const auto& r) { return trimmed(r.type) == "EA"; });
  Result r = classify_at(classifier, offset_position(star.row.ra_deg, star.row.dec_deg, 2.5, 100));
  CHECK(r.klass == "VS");
  CHECK(r.details["rule"] == "gcvs-variables");
  check_source(r.details, star.row);
  r = classify_at(classifier, offset_position(star.row.ra_deg, star.row.dec_deg, 0.5, 100));
  CHECK(r.details["reliability"] == "synonym");
  CHECK(r.details["searches_run"] == 4);
  r = classify_at(classifier, offset_position(star.row.ra_deg, star.row.dec_deg, 3.5, 100));
  CHECK(r.klass != "VS");
}

TEST_CASE("stars: Gaia faint star within 3\" is VS, a star brighter than G = 13 within 7\" is BS") {
  auto classifier = sherlock_classifier();
  const Row faint = find_row("gaia-dr3-1000", [](const auto& r) { return r.magnitude && *r.magnitude > 15; }, 20);
  Result r = classify_at(classifier, offset_position(faint.row.ra_deg, faint.row.dec_deg, 2.0, 10));
  CHECK(r.klass == "VS");
  CHECK(r.details["rule"] == "gaia-stars");
  CHECK(r.details["source"]["id"] == *faint.row.id);
  r = classify_at(classifier, offset_position(faint.row.ra_deg, faint.row.dec_deg, 5.0, 10));
  CHECK(r.klass != "VS");

  const Row bright = find_row("gaia-dr3-1000", [](const auto& r) { return r.magnitude && *r.magnitude < 12; }, 20);
  r = classify_at(classifier, offset_position(bright.row.ra_deg, bright.row.dec_deg, 5.0, 250));
  CHECK(r.klass == "BS");
  CHECK(r.details["rule"] == "gaia-bright-stars");
  CHECK(r.details["source"]["magnitude"].get<double>() < 13);
}

TEST_CASE("AGN: Milliquas, Veron, 4LAC and 3HSP sources within 3\"") {
  auto classifier = sherlock_classifier();
  for (const auto& config_rule : std::vector<std::pair<std::string, std::string>>{
           {"milliquas-sample", "milliquas-agn"}, {"veron-agn-sample", "veron-agn"},
           {"4lac-dr3-h", "4lac-blazars"}, {"3hsp", "3hsp-blazars"}}) {
    const std::string& config = config_rule.first;
    const std::string& rule = config_rule.second;  // clang 14 lambdas (INFO) cannot capture structured bindings
    INFO(config);
    const Row agn = find_row(config, [](const auto&) { return true; });
    Result r = classify_at(classifier, offset_position(agn.row.ra_deg, agn.row.dec_deg, 2.2, 300));
    CHECK(r.klass == "AGN");
    CHECK(r.details["rule"] == rule);
    CHECK(r.details["source"]["id"] == agn.row.id.value_or(""));
  }
}

TEST_CASE("galaxy by size (CLU major axis): NT within the nucleus, SN within the stretched size, not beyond") {
  auto classifier = sherlock_classifier();
  const RuleSet& rules = *sherlock_rules();
  // A CLU galaxy with a size whose stretched size limit reaches past 50 kpc would be associated
  // either way; take one whose limit is well inside 50 kpc so "beyond the size" is a real test.
  const Row galaxy = find_row("clu-mini", [&](const auto& r) {
    if (!r.semi_major_arcsec || !r.distance_mpc) return false;
    const double limit = galaxy_size_limit_arcsec(rules, *r.semi_major_arcsec);
    return limit * host_scale(*r.distance_mpc) < 30;
  }, 1);
  const double limit = galaxy_size_limit_arcsec(rules, *galaxy.row.semi_major_arcsec);
  const double scale = host_scale(*galaxy.row.distance_mpc);
  MESSAGE("CLU " << *galaxy.row.id << ": semi-major " << *galaxy.row.semi_major_arcsec << "\", limit " << limit
                 << "\", " << scale << " kpc/\"");

  Result r = classify_at(classifier, offset_position(galaxy.row.ra_deg, galaxy.row.dec_deg, 0.8 * limit, 30));
  CHECK(r.klass == "SN");
  CHECK(r.details["rule"] == "clu-hosts");
  CHECK(r.details["criterion"] == "size");
  CHECK(r.details["source"]["id"] == *galaxy.row.id);
  CHECK(r.details["size_limit_arcsec"].get<double>() == doctest::Approx(limit));
  CHECK(r.details["kpc"].get<double>() == doctest::Approx(0.8 * limit * scale).epsilon(1e-6));

  r = classify_at(classifier, offset_position(galaxy.row.ra_deg, galaxy.row.dec_deg, 1.4, 30));
  CHECK(r.klass == "NT");  // inside the 1.5" nucleus, outside the 1.3" synonym radius
  CHECK(r.details["reliability"] == "association");
  r = classify_at(classifier, offset_position(galaxy.row.ra_deg, galaxy.row.dec_deg, 0.3, 30));
  CHECK(r.klass == "NT");
  CHECK(r.details["reliability"] == "synonym");

  // Past the size limit but within 50 kpc: associated by kpc instead.
  const double by_kpc = std::min(45 / scale, 3000.0);
  if (by_kpc > limit * 1.05) {
    r = classify_at(classifier, offset_position(galaxy.row.ra_deg, galaxy.row.dec_deg, by_kpc, 30));
    if (r.details.contains("source") && r.details["source"]["id"] == *galaxy.row.id) {
      CHECK(r.details["criterion"] == "kpc");
      CHECK(r.klass == "SN");
    }
  }
}

TEST_CASE("galaxy by kpc (GLADE distances): within 50 kpc is SN, the distance overrides the redshift") {
  auto classifier = sherlock_classifier();
  const RuleSet& rules = *sherlock_rules();
  const Row galaxy = find_row("glade-gwemopt-S190814bv", [](const auto& r) {
    return r.distance_mpc && *r.distance_mpc > 150 && *r.distance_mpc < 300 && r.redshift && *r.redshift > 0 &&
           ready_made("clu-mini")->all_within(r.ra_deg, r.dec_deg, 10).empty();  // not also a CLU galaxy
  }, 240);
  const double scale = host_scale(*galaxy.row.distance_mpc);
  const double sep = 30 / scale;  // 30 kpc
  REQUIRE(sep < 120);
  // CLU precedes GLADE in the rules and covers the same sky: look at GLADE's own candidate.
  auto glade_candidate = [&](double at_arcsec) -> std::optional<Candidate> {
    const auto at = offset_position(galaxy.row.ra_deg, galaxy.row.dec_deg, at_arcsec, 75);
    const Classification c = classifier.classify(at.first, at.second, kGaiaEpochMjd);
    for (const Candidate& candidate : c.candidates)
      if (rules.searches[candidate.search].name == "glade-hosts" && candidate.index == galaxy.index) return candidate;
    return std::nullopt;
  };
  const auto c = glade_candidate(sep);
  REQUIRE(c.has_value());
  CHECK(c->klass == "SN");
  CHECK(c->criterion == "kpc");
  CHECK(c->kpc == doctest::Approx(30).epsilon(1e-6));
  CHECK(c->kpc_per_arcsec == doctest::Approx(scale).epsilon(1e-12));
  CHECK(std::abs(rules.cosmology.kpc_per_arcsec(*galaxy.row.redshift) / scale - 1) > 1e-3);
  const auto nuclear = glade_candidate(1.4);
  REQUIRE(nuclear.has_value());
  CHECK(nuclear->klass == "NT");
  // 60 kpc away: not this galaxy's transient.
  CHECK_FALSE(glade_candidate(60 / scale).has_value());
}

TEST_CASE("GLADE+ hosts by luminosity distance; its quasars are not hosts") {
  auto classifier = sherlock_classifier();
  const Row galaxy = find_row("gladeplus-first101", [](const auto& r) {
    return trimmed(r.type) == "G" && r.distance_mpc && *r.distance_mpc > 5;
  }, 60);
  const double scale = host_scale(*galaxy.row.distance_mpc);
  const double sep = std::min(20 / scale, 3000.0);
  Result r = classify_at(classifier, offset_position(galaxy.row.ra_deg, galaxy.row.dec_deg, sep, 160));
  CHECK(r.klass == "SN");
  CHECK(r.details["source"]["id"] == *galaxy.row.id);
}

TEST_CASE("ranking: synonyms first, then precedence, then separation in units of the limit") {
  Candidate star, galaxy_near, galaxy_far, synonym;
  star.search = 2;
  galaxy_near.search = galaxy_far.search = 8;
  galaxy_near.rank_separation = 0.2;
  galaxy_far.rank_separation = 0.6;
  galaxy_near.sep_arcsec = 40;  // farther in arcsec, nearer in units of its size
  galaxy_far.sep_arcsec = 10;
  synonym.search = 9;
  synonym.reliability = Reliability::synonym;
  CHECK(ranks_before(synonym, star));
  CHECK(ranks_before(star, galaxy_near));
  CHECK(ranks_before(galaxy_near, galaxy_far));
  Candidate unclear;
  unclear.reliability = Reliability::unclear;
  CHECK(ranks_before(galaxy_far, unclear));
}

TEST_CASE("ranking on real rows: of two GLADE hosts in reach, the nearer in kpc wins; the other is a runner-up") {
  auto classifier = sherlock_classifier();
  const auto glade = ready_made("glade-gwemopt-S190814bv");
  // Two galaxies with distances 40-90" apart; the alert sits on the line between them, nearer the first.
  bool tested = false;
  for (uint32_t i = 0; i < glade->size() && !tested; ++i) {
    const auto a = glade->row(i);
    if (!a.distance_mpc) continue;
    for (const auto& m : glade->all_within(a.ra_deg, a.dec_deg, 90)) {
      if (m.index == i || m.sep_arcsec < 40) continue;
      const auto b = glade->row(m.index);
      if (!b.distance_mpc || !a.id || !b.id) continue;
      const double sep_a = 0.3 * m.sep_arcsec;  // from a, towards b (great-circle interpolation)
      const auto ua = ebs::catalog::unit_vector(a.ra_deg, a.dec_deg), ub = ebs::catalog::unit_vector(b.ra_deg, b.dec_deg);
      const double t = 0.3;
      ebs::catalog::UnitVector p{ua.x * (1 - t) + ub.x * t, ua.y * (1 - t) + ub.y * t, ua.z * (1 - t) + ub.z * t};
      const double norm = std::sqrt(p.x * p.x + p.y * p.y + p.z * p.z);
      p = {p.x / norm, p.y / norm, p.z / norm};
      double ra = 0, dec = 0;
      ebs::catalog::to_ra_dec(p, ra, dec);
      const double kpc_a = ebs::catalog::angular_separation_arcsec(ra, dec, a.ra_deg, a.dec_deg) * host_scale(*a.distance_mpc);
      const double kpc_b = ebs::catalog::angular_separation_arcsec(ra, dec, b.ra_deg, b.dec_deg) * host_scale(*b.distance_mpc);
      if (kpc_a > 50 || kpc_b > 50) continue;
      const Classification c = classifier.classify(ra, dec, kGaiaEpochMjd);
      if (c.candidates.size() != 2) continue;
      MESSAGE("hosts " << *a.id << " (" << kpc_a << " kpc) and " << *b.id << " (" << kpc_b << " kpc), sep to a " << sep_a);
      const std::string expected = kpc_a < kpc_b ? *a.id : *b.id;
      CHECK(c.candidates[0].source.id == expected);
      CHECK(c.candidates[0].rank_separation <= c.candidates[1].rank_separation);
      const json details = json::parse(classifier.annotation(c, {}).details);
      CHECK(details["runners_up"].size() == 1);
      CHECK(details["runners_up"][0]["source_id"] != expected);
      tested = true;
      break;
    }
  }
  CHECK(tested);
}

TEST_CASE("ORPHAN when nothing is in reach") {
  auto classifier = sherlock_classifier();
  Result r = classify_at(classifier, {123.456, -87.9});
  CHECK(r.klass == "ORPHAN");
  CHECK(r.details["candidates"] == 0);
  CHECK(r.details["searches_run"] == 11);
}

TEST_CASE("UNCLEAR: a galaxy without size, distance or redshift cannot be associated") {
  // A rule set over a catalogue config without distances: GLADE positions only.
  const auto dir = test_cache_dir() / "unclear";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "glade-positions.yaml")
      << "name: glade-positions\nfile: " << (ebs::test::data_dir() / "catalogs/glade-gwemopt-S190814bv.csv").string()
      << "\nformat: csv\ntext: {byte_strings: true, null_values: ['', '---', '<NA>']}\n"
         "columns: {id: [GWGC, HyperLEDA, PGC, 2MASS], ra: ra, dec: dec, type: {value: galaxy}}\n";
  std::ofstream(dir / "rules.yaml") << "version: unclear-test/1\ncatalogues: {g: glade-positions.yaml}\n"
                                       "searches:\n  - {name: hosts, catalogue: g, kind: galaxy, radius_arcsec: 30}\n";
  auto rules = std::make_shared<const RuleSet>(load_rule_set(dir / "rules.yaml"));
  Classifier classifier(rules, [&](const std::string& name) { return test_store().open(rules->catalogues.at(name), dir); });
  const auto glade = ready_made("glade-gwemopt-S190814bv");
  const auto row = glade->row(0);
  const auto at = offset_position(row.ra_deg, row.dec_deg, 10, 0);
  const Classification c = classifier.classify(at.first, at.second, kGaiaEpochMjd);
  CHECK(c.klass == "UNCLEAR");
  REQUIRE(!c.candidates.empty());
  CHECK(c.candidates[0].criterion == "no size or distance");
}

TEST_CASE("rule set errors name FILE:LINE:COL") {
  const auto dir = test_cache_dir() / "bad-rules";
  std::filesystem::create_directories(dir);
  auto message_of = [&](const std::string& yaml) -> std::string {
    std::ofstream(dir / "rules.yaml") << yaml;
    try {
      load_rule_set(dir / "rules.yaml");
    } catch (const ebs::Fault& f) {
      return f.place() + ": " + f.message();
    }
    return "no fault";
  };
  const std::string file = (dir / "rules.yaml").string();
  CHECK(message_of("catalogues: {a: x.ebscat}\nsearches: [{name: s, catalogue: a, radius_arcsec: 1, class: VS}]\n") ==
        file + ":1:1: a rule set needs a version");
  CHECK(message_of("version: v\ncatalogues: {a: x.ebscat}\nsearches:\n  - {name: s, catalogue: b, radius_arcsec: 1, class: VS}\n") ==
        file + ":4:26: catalogue 'b' is not in catalogues:");
  CHECK(message_of("version: v\ncatalogues: {a: x.ebscat}\nsearches:\n  - {name: s, catalogue: a, radius_arcsec: 1, class: QSO}\n") ==
        file + ":4:54: 'QSO' is not a Sherlock class (VS, CV, BS, AGN, NT, SN, ORPHAN, UNCLEAR)");
  CHECK(message_of("version: v\nstrech: 2\n").find(file + ":2:1: unknown key 'strech'") == 0);
}

TEST_CASE("luminosity distances become angular-diameter distances for kpc: astropy Planck18 flat LCDM as oracle") {
  // GLADE's distmpc spans 3.9-2716 Mpc in the shared data; the error grew as (1+z)^2.
  const std::vector<double> distances{3.9, 40, 235, 1000, 2716};
  std::ostringstream script;
  script << "import warnings\nwarnings.simplefilter('ignore')\n"
            "import astropy.units as u\nfrom astropy.cosmology import FlatLambdaCDM, z_at_value\n"
            "c = FlatLambdaCDM(H0=67.66, Om0=0.30966)\n"
            "for d in [";
  for (double d : distances) script << d << ",";
  script << "]:\n"
            "    z = z_at_value(c.luminosity_distance, d * u.Mpc, zmax=5)\n"
            "    print(repr(float(c.kpc_proper_per_arcmin(z).value / 60)))\n";
  std::istringstream expected(ebs::crossmatch::testing::run_python_oracle(script.str()));
  const RuleSet& rules = *sherlock_rules();
  CHECK(rules.cosmology.h0() == 67.66);
  CHECK(rules.distance_kinds.at("glade") == DistanceKind::luminosity);
  for (double d : distances) {
    double astropy = 0;
    REQUIRE(static_cast<bool>(expected >> astropy));
    CAPTURE(d);
    CHECK(kpc_per_arcsec_at(rules.cosmology, d, DistanceKind::luminosity) == doctest::Approx(astropy).epsilon(1e-6));
    // Taken as angular-diameter distances they were (1+z)^2 too large: ~10 % at 235 Mpc.
    if (d == 235) CHECK(ebs::kpc_per_arcsec_at_distance(d) / astropy == doctest::Approx(1.107).epsilon(0.01));
  }
}

TEST_CASE("Sherlock's distance guard: a CLU entry at 0.056 Mpc no longer hosts an alert 3,037\" away") {
  auto classifier = sherlock_classifier();
  const Row tiny = find_row("clu-mini", [](const auto& r) { return r.distance_mpc && *r.distance_mpc < 0.06 && *r.distance_mpc > 0.05; }, 1);
  Result r = classify_at(classifier, offset_position(tiny.row.ra_deg, tiny.row.dec_deg, 3037, 90));
  // Once: SN by kpc (0.82 kpc). Now the distance is not believed: no size, no redshift, UNCLEAR.
  CHECK(r.klass != "SN");
  bool seen = false;
  const Classification c = classifier.classify(offset_position(tiny.row.ra_deg, tiny.row.dec_deg, 3037, 90).first,
                                               offset_position(tiny.row.ra_deg, tiny.row.dec_deg, 3037, 90).second,
                                               kGaiaEpochMjd);
  for (const Candidate& candidate : c.candidates) {
    if (candidate.index != tiny.index || sherlock_rules()->searches[candidate.search].name != "clu-hosts") continue;
    seen = true;
    CHECK(candidate.criterion == "no size or distance");
    CHECK(candidate.guard.find("below min_distance_mpc") != std::string::npos);
  }
  CHECK(seen);
}
