#include "actors/sinks/repository/sink_config.h"

#include <doctest/doctest.h>

#include "actors/sinks/repository/repository_actors.h"
#include "test/support/collecting_emitter.h"

using namespace ebs;

TEST_CASE("the shared sink settings: defaults, overrides and problems") {
  ActorRegistry registry;
  register_repository_sink(registry);
  const ActorType& type = *registry.find("repository");
  for (const char* key : {"commit_records", "flush_interval_ms", "store_raw", "raw_exclude", "lightcurve_cache_objects"})
    CHECK(std::count_if(type.config.begin(), type.config.end(), [&](const ConfigKey& k) { return k.name == key; }) == 1);

  ActorContext defaults = ebs::test::make_context(type, "{path: r.db}");
  auto policy = repository::commit_policy(defaults.config);
  CHECK(policy.records == 5000);
  CHECK(policy.interval == std::chrono::milliseconds(20));
  auto options = repository::shared_writer_options(defaults.config, "repo");
  CHECK(options.store_raw);
  CHECK(options.actor == "repo");
  CHECK(options.raw_exclude == repository::WriterOptions{}.raw_exclude);  // the writer's own defaults
  CHECK(options.lightcurve_cache_objects == 200000);

  ActorContext set = ebs::test::make_context(
      type, "{path: r.db, commit_records: 7, flush_interval_ms: 3, store_raw: false, raw_exclude: [a]}");
  CHECK(repository::commit_policy(set.config).records == 7);
  CHECK(repository::commit_policy(set.config).interval == std::chrono::milliseconds(3));
  CHECK_FALSE(repository::shared_writer_options(set.config, "x").store_raw);
  CHECK(repository::shared_writer_options(set.config, "x").raw_exclude == std::vector<std::string>{"a"});

  std::vector<Problem> problems;
  repository::check_shared_sink_config(ebs::test::make_context(type, "{path: r.db, commit_records: 0}").config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "must be at least 1");
}
