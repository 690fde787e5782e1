#include "engine/runtime/scheduler_config.h"

#include <doctest/doctest.h>

#include <caf/all.hpp>

namespace ebs {

TEST_CASE("the scheduler gets its threads and no 50 µs polling stage; actors still run") {
  caf::actor_system_config config;
  configure_scheduler(config, 3);
  CHECK(caf::get_or(config, "scheduler.max-threads", size_t{0}) == 3);
  CHECK(caf::get_or(config, "work-stealing.moderate-poll-attempts", size_t{500}) == 0);
  CHECK(caf::defaults::work_stealing::moderate_poll_attempts > 0);  // CAF's default polls
  caf::actor_system system(config);
  // Given an argument: CAF 0.17 binds a reference to a null tuple when a function actor has none
  // (UBSan reports it in init_fun_factory.hpp).
  auto doubler = system.spawn([](int factor) -> caf::behavior { return {[factor](int x) { return factor * x; }}; }, 2);
  caf::scoped_actor self(system);
  int answer = 0;
  self->request(doubler, std::chrono::seconds(10), 21).receive([&](int y) { answer = y; }, [](caf::error&) {});
  CHECK(answer == 42);
}

}  // namespace ebs
