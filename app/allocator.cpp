#include "app/allocator.h"

#include <fmt/format.h>

#ifdef EBS_JEMALLOC
#include <jemalloc/jemalloc.h>

// jemalloc reads its options from this symbol when the process starts (before main); the
// environment's MALLOC_CONF still overrides them. Why these values (docs/performance.md,
// "Memory"): one arena, since a record is allocated on one thread and freed on another, and
// thread caches already keep the hot path off the arena's lock; freed pages go back to the
// system after a second, by a background thread rather than on some unlucky allocation.
extern "C" {
const char* malloc_conf = "narenas:1,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}

namespace {

template <typename T>
T read_option(const char* name) {
  T value{};
  size_t size = sizeof(value);
  if (mallctl(name, &value, &size, nullptr, 0) != 0) return T{};
  return value;
}

}  // namespace
#endif

namespace ebs {

std::string allocator_description() {
#ifdef EBS_JEMALLOC
  return fmt::format("jemalloc {} (narenas {}, dirty_decay_ms {}, muzzy_decay_ms {}, background_thread {})",
                     read_option<const char*>("version"), read_option<unsigned>("opt.narenas"),
                     read_option<ssize_t>("opt.dirty_decay_ms"), read_option<ssize_t>("opt.muzzy_decay_ms"),
                     read_option<bool>("opt.background_thread"));
#else
  return "glibc malloc";
#endif
}

}  // namespace ebs
