// What a held batch kept as its tokens only costs a link out: measured with a counting operator
// new (glibc's block sizes: malloc_usable_size and the block's 8-byte header), against
// HeldTokens::entry_bytes, which the link counts against its bound.
#include "engine/cluster/held_tokens.h"

#include <doctest/doctest.h>
#include <malloc.h>

#include <cstdlib>
#include <new>
#include <string>

#include "engine/cluster/link.h"
#include "test/support/sanitized_heap.h"

// Counts, on the thread that asks for it, the heap bytes allocated less those freed.
namespace {
thread_local bool counting = false;
thread_local int64_t counted = 0;

void count(void* memory, int sign) {
  if (counting && memory) counted += sign * static_cast<int64_t>(malloc_usable_size(memory) + 8);
}
}  // namespace

// The replaced forms: the single-object ones, plain, nothrow and sized. Left out on purpose:
// the array forms, whose default definitions call these two (operator new[] calls operator new,
// operator delete[] operator delete: [new.delete.array]), so they are counted and paired through
// them (a sanitizer's runtime has array forms of its own, which pair among themselves); and the
// aligned forms (std::align_val_t), which nothing measured here uses (no over-aligned
// type) and whose libstdc++ definitions allocate and free on their own (aligned_alloc, free), so a
// block never passes from one family to the other. Every replaced form takes from malloc and
// gives to free, so any pairing the compiler makes among them frees what was allocated.
// As the standard's operator new does, a failed allocation calls the installed new handler and
// tries again; without one it throws.
void* operator new(size_t size) {
  for (;;) {
    if (void* memory = std::malloc(size ? size : 1)) {
      count(memory, 1);
      return memory;
    }
    std::new_handler handler = std::get_new_handler();
    if (!handler) throw std::bad_alloc();
    handler();
  }
}
// The nothrow form too: a sanitizer's runtime replaces each form it is not given, and memory from
// its `new` must not reach this `free`. It fails as the throwing form would, with a null.
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void operator delete(void* memory) noexcept {
  count(memory, -1);
  std::free(memory);
}
void operator delete(void* memory, size_t) noexcept {
  count(memory, -1);
  std::free(memory);
}
void operator delete(void* memory, const std::nothrow_t&) noexcept {
  count(memory, -1);
  std::free(memory);
}

using namespace ebs;
using namespace ebs::cluster;

namespace {

using test::kSanitizedHeap;

// Adds `entries` entries made by `make_tokens` to `held`, counting the heap they keep: each
// batch's tokens are made here and kept by the entry alone, as once the link let its batch go.
template <typename MakeTokens>
int64_t measured_bytes(HeldTokens& held, size_t entries, MakeTokens make_tokens) {
  counted = 0;
  counting = true;
  for (size_t i = 0; i < entries; ++i) {
    std::vector<AckRef> tokens = make_tokens(i);
    held.add(i + 1, 1, tokens);
  }
  counting = false;
  return counted;
}

// The estimate covers what was measured (but for a few hundred bytes spent once, the first time a
// kind of allocation is made on this thread), and (with glibc's own heap) is that, not a guess far
// above.
void check_estimate(const HeldTokens& held, int64_t measured, const std::string& kind) {
  constexpr int64_t kOnce = 1024;
  const int64_t entries = static_cast<int64_t>(held.size());
  MESSAGE(kind << ": " << held.bytes() / entries << " B an entry counted, " << measured / entries << " B measured");
  CHECK(held.bytes() + kOnce >= measured);
  if (!kSanitizedHeap) CHECK(held.bytes() <= measured + measured / 20);
}

}  // namespace

TEST_CASE("a held batch kept as its tokens only costs what HeldTokens counts: a source's token, a link in's stand-in") {
  auto tracker = std::make_shared<AckTracker>();
  constexpr size_t kEntries = 10000;

  HeldTokens sources(int64_t{1} << 30);
  const int64_t source_bytes = measured_bytes(sources, kEntries, [&](size_t) {
    return std::vector<AckRef>{std::make_shared<const AckToken>(tracker, 1)};
  });
  check_estimate(sources, source_bytes, "a source's token");

  caf::actor_system_config config;
  caf::actor_system system(config);
  caf::scoped_actor sender(system);
  auto scope = std::make_shared<AckScope>();
  const caf::actor to = caf::actor_cast<caf::actor>(sender);
  HeldTokens stand_ins(int64_t{1} << 30);
  const int64_t stand_in_bytes = measured_bytes(stand_ins, kEntries, [&](size_t i) {
    return std::vector<AckRef>{stand_in_token(tracker, 1, to, scope, 1, i + 1, i + 1)};
  });
  check_estimate(stand_ins, stand_in_bytes, "a link in's stand-in");

  HeldTokens none(int64_t{1} << 30);
  check_estimate(none, measured_bytes(none, kEntries, [](size_t) { return std::vector<AckRef>{}; }), "no token");

  HeldTokens two(int64_t{1} << 30);
  const int64_t two_bytes = measured_bytes(two, kEntries, [&](size_t i) {
    return std::vector<AckRef>{std::make_shared<const AckToken>(tracker, 1),
                               stand_in_token(tracker, 1, to, scope, 1, i + 1, i + 1)};
  });
  check_estimate(two, two_bytes, "two tokens");

  // Taken back, the tokens are their holder's again, and the bytes count down to none.
  std::optional<HeldTokens::Entry> first = sources.take(1);
  REQUIRE(first);
  CHECK(first->tokens.size() == 1);
  CHECK(first->records == 1);
  CHECK(!sources.contains(1));
  CHECK(!sources.take(1));
  CHECK(sources.bytes() == HeldTokens::entry_bytes(first->tokens) * static_cast<int64_t>(kEntries - 1));
  for (HeldTokens* held : {&sources, &stand_ins, &none, &two}) {
    std::vector<HeldTokens::Entry> all = held->take_all();
    CHECK(held->bytes() == 0);
    CHECK(held->size() == 0);
  }
}

TEST_CASE("HeldTokens takes an entry only within its bound") {
  auto tracker = std::make_shared<AckTracker>();
  const std::vector<AckRef> tokens{std::make_shared<const AckToken>(tracker, 1)};
  const int64_t entry = HeldTokens::entry_bytes(tokens);
  HeldTokens held(3 * entry + entry / 2);
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    REQUIRE(held.fits(tokens));
    held.add(seq, 1, tokens);
  }
  CHECK(!held.fits(tokens));
  CHECK(held.bytes() == 3 * entry);
  CHECK(held.take(2));
  CHECK(held.fits(tokens));
  CHECK(!HeldTokens(0).fits({}));
}
