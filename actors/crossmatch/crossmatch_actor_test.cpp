#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "actors/crossmatch/crossmatch_actors.h"
#include "test/support/crossmatch_oracle.h"
#include "actors/crossmatch/sherlock_rules.h"
#include "actors/common/catalog/sky_geometry.h"
#include "test/support/test_catalogues.h"
#include "test/support/collecting_emitter.h"

using namespace ebs;
using namespace ebs::crossmatch::testing;
using namespace ebs::catalog;
using nlohmann::json;

namespace {

RecordPtr make_alert(uint64_t id, double ra, double dec, double mjd = 60000) {
  auto core = std::make_shared<AlertCore>();
  core->alert_id = id;
  core->object_id = "obj" + std::to_string(id);
  core->survey = "test";
  core->ra = ra;
  core->dec = dec;
  core->mjd_tai = mjd;
  core->mag = 18;
  return std::make_shared<const Alert>(core);
}

BatchView batch_of(std::vector<RecordPtr> records) { return BatchView::make(PortType::alert, std::move(records), {}); }

std::vector<const Annotation*> annotations_of(const RecordPtr& record) {
  return static_cast<const Alert&>(*record).annotations().list();
}

// A workflow file in the test cache whose folder is where relative catalogue paths resolve.
std::string workflow_file() { return (test_cache_dir() / "workflow.yaml").string(); }

test::CollectingEmitter run(ActorLogic& logic, const ActorContext& context, std::vector<RecordPtr> alerts) {
  test::CollectingEmitter out;
  logic.open(context);
  logic.on_batch(0, batch_of(std::move(alerts)), out);
  return out;
}

ActorContext context_for(const ActorType& type, const std::string& yaml) {
  ActorContext c = test::make_context(type, yaml, test_cache_dir().string());
  c.config = ActorConfig(YAML::Load(yaml), workflow_file(), &type.config);
  return c;
}

std::string config_path(const std::string& name) { return (repo_dir() / "catalogs" / (name + ".yaml")).string(); }

}  // namespace

TEST_CASE("ZTF alerts against GCVS through the crossmatch actor equal brute force (mode all and nearest)") {
  const auto data = ebs::test::data_dir();
  const std::string dump = ebs::crossmatch::testing::run_python_oracle(
      "import avro.datafile, avro.io, glob\n"
      "for f in sorted(glob.glob('" + (data / "ztf").string() + "/*/*.avro')):\n"
      "    with avro.datafile.DataFileReader(open(f, 'rb'), avro.io.DatumReader()) as r:\n"
      "        for rec in r:\n"
      "            print(repr(rec['candidate']['ra']), repr(rec['candidate']['dec']), repr(rec['candidate']['jd'] - 2400000.5))\n");
  std::vector<RecordPtr> alerts;
  std::vector<std::pair<double, double>> positions;
  {
    std::istringstream in(dump);
    double ra, dec, mjd;
    while (in >> ra >> dec >> mjd) {
      alerts.push_back(make_alert(alerts.size(), ra, dec, mjd));
      positions.emplace_back(ra, dec);
    }
  }
  REQUIRE(alerts.size() == 86);
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
  const auto store = std::make_shared<catalog::CatalogStore>();
  const ActorType type = crossmatch_actor_type(store);
  const std::string yaml = "catalogues:\n  - {file: " + config_path("gcvs") +
                           ", radius_arcsec: 1800, mode: all}\n  - {file: " + config_path("gcvs") +
                           ", radius_arcsec: 1800, mode: nearest, name: gcvs-nearest}\n";
  auto logic = type.create(context_for(type, yaml));
  auto out = run(*logic, context_for(type, yaml), alerts);
  CHECK(out.forwarded_records == 86);
  CHECK(out.failed_records == 0);
  const auto forwarded = out.records();
  REQUIRE(forwarded.size() == 86);
  size_t total = 0;
  for (size_t i = 0; i < forwarded.size(); ++i) {
    const auto [ra, dec] = positions[i];
    std::vector<std::pair<double, double>> expected;  // (sep, ra)
    for (const auto& [gra, gdec] : gcvs) {
      const double sep = catalog::angular_separation_arcsec(ra, dec, gra, gdec);
      if (sep <= 1800) expected.emplace_back(sep, gra);
    }
    std::sort(expected.begin(), expected.end());
    std::vector<std::pair<double, double>> found;
    const Annotation* nearest = nullptr;
    for (const Annotation* a : annotations_of(forwarded[i])) {
      CHECK(a->kind == Annotation::Kind::crossmatch);
      CHECK(a->provenance.actor_type == "crossmatch");
      CHECK(a->provenance.config_hash.rfind("sha256:", 0) == 0);
      if (a->catalogue == "gcvs-nearest") {
        nearest = a;
        continue;
      }
      CHECK(a->catalogue == "gcvs");
      found.emplace_back(a->separation_arcsec, json::parse(a->details)["ra"].get<double>());
    }
    REQUIRE(found.size() == expected.size());
    for (size_t k = 0; k < found.size(); ++k) {
      CHECK(found[k].first == doctest::Approx(expected[k].first).epsilon(1e-9));
      CHECK(found[k].second == expected[k].second);
    }
    CHECK((nearest != nullptr) == !expected.empty());
    if (nearest) CHECK(nearest->separation_arcsec == doctest::Approx(expected.front().first).epsilon(1e-9));
    total += found.size();
  }
  MESSAGE("GCVS sources within 1800\" of the 86 ZTF alerts: " << total);
  CHECK(total > 0);
}

TEST_CASE("proper motions are propagated to the alert's epoch") {
  const auto gaia = ready_made("gaia-dr3-1000");
  // The fastest-moving star of the sample.
  uint32_t fastest = 0;
  double fastest_pm = 0;
  for (uint32_t i = 0; i < gaia->size(); ++i) {
    const auto row = gaia->row(i);
    const double pm = std::hypot(row.pmra_mas_per_yr.value_or(0), row.pmdec_mas_per_yr.value_or(0));
    if (pm > fastest_pm) fastest_pm = pm, fastest = i;
  }
  REQUIRE(fastest_pm > 50);  // 7 years: > 0.35", far beyond the 0.05" radius
  const auto row = gaia->row(fastest);
  const double mjd = 60000;  // ~7.2 years after J2016.0
  double ra = 0, dec = 0;
  catalog::to_ra_dec(catalog::propagate_proper_motion(catalog::unit_vector(row.ra_deg, row.dec_deg),
                                                                *row.pmra_mas_per_yr, *row.pmdec_mas_per_yr,
                                                                (mjd - 57388.5) / 365.25),
                          ra, dec);
  const auto store = std::make_shared<catalog::CatalogStore>();
  const ActorType type = crossmatch_actor_type(store);
  const std::string yaml = "catalogues: [{file: " + config_path("gaia-dr3-1000") + ", radius_arcsec: 0.05}]";
  auto logic = type.create(context_for(type, yaml));
  auto out = run(*logic, context_for(type, yaml), {make_alert(1, ra, dec, mjd), make_alert(2, ra, dec, 57388.5)});
  const auto records = out.records();
  REQUIRE(records.size() == 2);
  const auto moved = annotations_of(records[0]);
  REQUIRE(moved.size() == 1);
  CHECK(moved[0]->source_id == *row.id);
  CHECK(moved[0]->separation_arcsec < 1e-3);
  CHECK(annotations_of(records[1]).empty());  // at the catalogue epoch the star is elsewhere
}

TEST_CASE("alerts with NaN or impossible coordinates are dead letters naming the alert; the rest are forwarded") {
  const auto store = std::make_shared<catalog::CatalogStore>();
  for (const ActorType& type : {crossmatch_actor_type(store), classify_actor_type(store)}) {
    INFO(type.name);
    const std::string yaml = type.name == "crossmatch"
                                 ? "catalogues: [{file: " + config_path("clu-mini") + ", radius_arcsec: 5}]"
                                 : "rules: " + (repo_dir() / "catalogs/rules/sherlock.yaml").string();
    auto logic = type.create(context_for(type, yaml));
    auto out = run(*logic, context_for(type, yaml),
                   {make_alert(1, NAN, 10), make_alert(2, 10, 10), make_alert(3, 10, NAN), make_alert(4, 360.5, 0)});
    CHECK(out.failed_records == 3);
    CHECK(out.forwarded_records == 1);
    REQUIRE(out.faults.size() == 3);
    CHECK(out.faults[0].place() == "test alert 1 (obj1)");
    CHECK(out.faults[0].message() == "ra nan is not in [0, 360)");
    CHECK(out.faults[1].message() == "dec nan is not in [-90, 90]");
  }
}

TEST_CASE("validate: a missing or corrupt catalogue file is a problem at its place in the workflow") {
  const auto store = std::make_shared<catalog::CatalogStore>();
  const ActorType type = crossmatch_actor_type(store);
  std::ofstream(test_cache_dir() / "corrupt.ebscat") << "not a catalogue";
  const std::string yaml =
      "catalogues:\n"
      "  - {file: absent.ebscat, radius_arcsec: 2}\n"
      "  - {file: corrupt.ebscat, radius_arcsec: 2}\n"
      "  - {file: " + config_path("clu-mini") + ", radius_arcsec: 2}\n";
  std::vector<Problem> problems;
  type.check(ActorConfig(YAML::Load(yaml), workflow_file(), &type.config), problems);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].place == workflow_file() + ":2:5");
  CHECK(problems[0].message.find("catalogue file not found") != std::string::npos);
  CHECK(problems[1].place == workflow_file() + ":3:5");
  CHECK(problems[1].message.find("not an ebs-flow catalogue") != std::string::npos);

  problems.clear();
  type.check(ActorConfig(YAML::Load("catalogues: [{file: x.ebscat, radius_arcsec: 2, mode: closest}]"), workflow_file(), &type.config),
             problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "mode must be nearest or all, not 'closest'");

  const ActorType classify = classify_actor_type(store);
  problems.clear();
  classify.check(ActorConfig(YAML::Load("rules: " + (repo_dir() / "catalogs/rules/sherlock.yaml").string() +
                                        "\ncatalogues: {gcvs: absent.ebscat}"),
                             workflow_file(), &classify.config),
                 problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].place == workflow_file() + ":2:20");
  problems.clear();
  classify.check(ActorConfig(YAML::Load("rules: " + (repo_dir() / "catalogs/rules/sherlock.yaml").string()), workflow_file(),
                             &classify.config),
                 problems);
  CHECK(problems.empty());
}

TEST_CASE("the classify actor annotates every alert with the rule set's version") {
  const auto store = std::make_shared<catalog::CatalogStore>();
  const ActorType type = classify_actor_type(store);
  const std::string yaml = "rules: " + (repo_dir() / "catalogs/rules/sherlock.yaml").string();
  auto logic = type.create(context_for(type, yaml));
  const auto gcvs = ready_made("gcvs");
  const auto star = gcvs->row(100);
  const auto near = offset_position(star.ra_deg, star.dec_deg, 0.5, 0);
  auto out = run(*logic, context_for(type, yaml), {make_alert(1, near.first, near.second), make_alert(2, 200, -89.5)});
  const auto records = out.records();
  REQUIRE(records.size() == 2);
  const auto a = annotations_of(records[0]);
  REQUIRE(a.size() == 1);
  CHECK(a[0]->kind == Annotation::Kind::classification);
  CHECK((a[0]->name == "VS" || a[0]->name == "CV"));
  CHECK(a[0]->provenance.version == "sherlock-ebs/1.0 (Sherlock 3.1 radii)");
  CHECK(a[0]->catalogue == "gcvs");
  CHECK(json::parse(a[0]->details)["rules_version"] == a[0]->provenance.version);
  CHECK(annotations_of(records[1])[0]->name == "ORPHAN");
}

TEST_CASE("tns names known transients: the real rows of the TNS public-objects layout") {
  // The three rows of ../shared/data/tns (AT 2026cqa, SN 2022and, SN 2018lzf), read by python's csv.
  const std::string rows = ebs::crossmatch::testing::run_python_oracle(
      "import csv\n"
      "for r in csv.DictReader(open('" + (ebs::test::data_dir() / "tns/tns-public-objects-layout.csv").string() + "')):\n"
      "    print(r['ra'], r['declination'], r['fullname'].replace(' ', '_'), r['type'].replace(' ', '_') or '-', r['redshift'] or 'nan')\n");
  std::istringstream in(rows);
  std::vector<RecordPtr> alerts;
  struct Expected {
    std::string name, type;
    double redshift;
  };
  std::vector<Expected> expected;
  double ra, dec;
  std::string name, type, z;
  while (in >> ra >> dec >> name >> type >> z) {
    std::replace(name.begin(), name.end(), '_', ' ');
    std::replace(type.begin(), type.end(), '_', ' ');
    auto [ra1, dec1] = offset_position(ra, dec, 1.2, 40);  // 1.2" away: within the 2" default
    alerts.push_back(make_alert(alerts.size() + 1, ra1, dec1));
    expected.push_back({name, type == "-" ? "" : type, std::stod(z)});
  }
  REQUIRE(alerts.size() == 3);
  auto [far_ra, far_dec] = offset_position(ra, dec, 5, 0);  // 5" from the last: no match
  alerts.push_back(make_alert(99, far_ra, far_dec));

  ActorType tns = tns_actor_type(std::make_shared<catalog::CatalogStore>());
  const ActorContext context = context_for(tns, "{file: " + config_path("tns") + "}");
  auto logic = tns.create(context);
  auto out = run(*logic, context, alerts);
  const auto records = out.records();
  REQUIRE(records.size() == 4);
  for (size_t i = 0; i < 3; ++i) {
    auto list = annotations_of(records[i]);
    REQUIRE(list.size() == 1);
    CHECK(list[0]->catalogue == "tns");
    CHECK(list[0]->source_id == expected[i].name);
    CHECK(list[0]->object_type == expected[i].type);
    CHECK(list[0]->separation_arcsec == doctest::Approx(1.2).epsilon(1e-6));
    if (std::isnan(expected[i].redshift))
      CHECK(std::isnan(list[0]->redshift));
    else
      CHECK(list[0]->redshift == doctest::Approx(expected[i].redshift));
    CHECK(list[0]->provenance.actor_type == "tns");
  }
  CHECK(annotations_of(records[3]).empty());
  CHECK(expected[1].name == "SN 2022and");
  CHECK(expected[1].type == "SN II");
}
