#include "actors/followup/galaxy_targets_actor.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test/support/skymap_oracle.h"
#include "actors/common/cosmology.h"
#include "actors/followup/galaxy_targets.h"
#include "test/support/collecting_emitter.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

using namespace ebs;

TEST_CASE("galaxy-targets: MS220722v ranks the GLADE sample, writes the list and annotates alerts near top galaxies") {
  const std::filesystem::path map_path = ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits";
  const std::filesystem::path catalogue = ebs::test::source_dir() / "catalogs" / "glade-gwemopt-S190814bv.yaml";
  ::setenv("EBS_DATA", ebs::test::data_dir().c_str(), 1);
  const std::filesystem::path run_dir = ebs::test::scratch_dir("followup-actor");
  std::filesystem::remove_all(run_dir / "targets");

  const ActorType type = followup::galaxy_targets_actor_type();
  auto logic = type.create({});
  logic->open(ebs::test::make_context(type, "catalog: " + catalogue.string() + "\nout_dir: targets\ntop: 10\n",
                                      run_dir.string()));

  auto event = std::make_shared<SkyEvent>();
  event->event_id = "MS220722v";
  event->sequence = 2;
  event->source = "test";
  event->kind = SkyEvent::Kind::gravitational_wave;
  event->localization.shape = Localization::Shape::skymap;
  event->localization.skymap_fits = ebs::test::read_file(map_path.string());
  ebs::test::CollectingEmitter out;
  logic->on_batch(1, BatchView::make(PortType::sky_event, {event}, {}), out);
  REQUIRE(out.records(1).size() == 1);  // the event goes on

  // The list is what the library ranks.
  const auto map = skymap::Skymap::from_file(map_path.string());
  const auto galaxies = followup::load_galaxy_table(catalogue, run_dir / "catalog-cache");
  const auto ranking = followup::rank_galaxies(map, galaxies);
  std::ifstream list(run_dir / "targets" / "MS220722v-2.galaxies.jsonl");
  REQUIRE(list);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(list, line);) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 11);  // 10 galaxies and the summary
  for (std::size_t i = 0; i < 10; ++i) {
    CHECK(lines[i]["id"] == galaxies.id[ranking.galaxies[i].index]);
    CHECK(lines[i]["probability"].get<double>() == ranking.galaxies[i].probability);
  }

  // An alert 2" from the top galaxy (well inside 30 kpc at its distance), one 1 degree away.
  const auto& top = ranking.galaxies[0];
  const double ra = galaxies.ra_deg[top.index], dec = galaxies.dec_deg[top.index];
  auto alert = [](uint64_t id, double ra_deg, double dec_deg) {
    auto core = std::make_shared<AlertCore>();
    core->alert_id = id;
    core->ra = ra_deg;
    core->dec = dec_deg;
    core->mjd_tai = 59783;
    return std::static_pointer_cast<const Record>(std::make_shared<const Alert>(core));
  };
  ebs::test::CollectingEmitter alerts_out;
  logic->on_batch(0, BatchView::make(PortType::alert, {alert(1, ra, dec + 2.0 / 3600), alert(2, ra, dec + 1)}, {}),
                  alerts_out);
  const auto forwarded = alerts_out.records(0);
  REQUIRE(forwarded.size() == 2);
  const auto near = static_cast<const Alert&>(*forwarded[0]).annotations().list();
  REQUIRE(near.size() == 1);
  CHECK(near[0]->name == "host_probability");
  CHECK(near[0]->value == top.probability);
  CHECK(near[0]->source_id == galaxies.id[top.index]);
  CHECK(near[0]->separation_arcsec == doctest::Approx(2.0).epsilon(1e-6));
  const auto details = nlohmann::json::parse(near[0]->details);
  CHECK(details["event_id"] == "MS220722v");
  CHECK(details["rank"] == 1);
  CHECK(details["galaxy_id"] == galaxies.id[top.index]);
  CHECK(details["catalogue"] == "glade-gwemopt-S190814bv");
  // Projected distance at D_A = D_L / (1 + z)²: 2" at ~100 Mpc is about 1 kpc.
  const double z = galaxies.redshift[top.index];
  const double expected_kpc = 2.0 / 3600 * M_PI / 180 * 1000 * galaxies.distance_mpc[top.index] / ((1 + z) * (1 + z));
  CHECK(details["projected_kpc"].get<double>() == doctest::Approx(expected_kpc).epsilon(1e-6));
  CHECK(static_cast<const Alert&>(*forwarded[1]).annotations().empty());

  // A retraction drops the event's targets.
  auto retraction = std::make_shared<SkyEvent>(*event);
  retraction->retracted = true;
  retraction->localization = {};
  logic->on_batch(1, BatchView::make(PortType::sky_event, {retraction}, {}), out);
  ebs::test::CollectingEmitter after;
  logic->on_batch(0, BatchView::make(PortType::alert, {alert(3, ra, dec)}, {}), after);
  CHECK(static_cast<const Alert&>(*after.records(0)[0]).annotations().empty());

  // A broken map is a fault of that event, not of the actor.
  auto broken = std::make_shared<SkyEvent>(*event);
  broken->localization.skymap_fits = "SIMPLE  = not a fits file";
  ebs::test::CollectingEmitter faults;
  logic->on_batch(1, BatchView::make(PortType::sky_event, {broken}, {}), faults);
  CHECK(faults.failed_records == 1);
}
