// A link out's releases of batches held back (engine/cluster/link.cpp): the receiving instance
// took N batches and holds them all past both held bounds, so the credit of N - 1 waits in the
// link's held-back list; it then releases them newest first, the order in which a search of that
// list from its oldest end walks it all. Prints the time per release for growing N: flat when a
// release finds its batch in O(log N), growing with N when it searches linearly. The list is as
// long as the edge's window in batches lets it be (credit_window_batches, up to 2^20).
//
//   link_bench [--quick]
// Times on a shared machine: compare the ratios between N, and old and new binaries run in turn.
#include <caf/all.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/cluster/link.h"
#include "engine/cluster/messages.h"
#include "engine/runtime/batch.h"
#include "engine/runtime/messages.h"

using namespace ebs;
using namespace ebs::cluster;
using Clock = std::chrono::steady_clock;

namespace {

struct Figures {
  int64_t held_back = 0;  // credits that waited once every batch was taken
  double release_ns = 0;  // per release, until its credit came back
};

// Credits the upstream got back, waiting until `expected` came (or nothing for 10 s).
int64_t credits(caf::scoped_actor& upstream, int64_t expected) {
  int64_t got = 0;
  bool more = true;
  while (more && got < expected)
    upstream->receive([&](msg::credit_atom, int64_t batches, int64_t) { got += batches; },
                      caf::after(std::chrono::seconds(10)) >> [&] { more = false; });
  return got;
}

Figures measure(caf::actor_system& system, int64_t batches) {
  caf::scoped_actor node(system), upstream(system), peer(system);
  auto counters = std::make_shared<LinkCounters>();
  // Room in flight for all of them; one batch kept whole, none as tokens only: every other taken
  // batch's credit waits for a release.
  caf::actor link = spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters,
                                   CreditLimits{batches + 1, 0}, HeldLimits{1, 0});
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(peer), kFirstEpoch, false);
  for (int64_t i = 0; i < batches; ++i)
    upstream->send(link, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::alert, {}, {}), int64_t{0});
  std::vector<uint64_t> seqs;
  while (static_cast<int64_t>(seqs.size()) < batches) {
    bool more = true;
    peer->receive(
        [&](records_atom, uint64_t, uint64_t seq, uint32_t, uint8_t, const std::string&, const std::string&, int64_t,
            uint64_t, bool last) {
          if (last) seqs.push_back(seq);
        },
        caf::after(std::chrono::seconds(10)) >> [&] { more = false; });
    if (!more) break;
  }
  peer->send(link, link_credit_atom::value, kFirstEpoch, batches);
  Figures f;
  f.held_back = batches - credits(upstream, 1);  // the one kept whole
  const auto start = Clock::now();
  for (auto seq = seqs.rbegin(); seq != seqs.rend(); ++seq) peer->send(link, released_atom::value, kFirstEpoch, *seq, false);
  const int64_t back = credits(upstream, f.held_back);
  f.release_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / static_cast<double>(batches);
  if (back != f.held_back) std::fprintf(stderr, "only %lld of %lld credits came back\n", (long long)back, (long long)f.held_back);
  caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  caf::actor_system_config config;
  caf::actor_system system(config);
  std::printf("%10s %10s %14s\n", "batches", "held back", "ns / release");
  std::vector<int64_t> sizes{16, 1024, 16384, 65536};
  if (!quick) sizes.push_back(131072);
  for (int64_t n : sizes) {
    Figures f = measure(system, n);
    std::printf("%10lld %10lld %14.0f\n", (long long)n, (long long)f.held_back, f.release_ns);
  }
  return 0;
}
