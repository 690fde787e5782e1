#include "engine/cluster/instance_books.h"

namespace ebs::cluster {

nlohmann::json instance_books(const GraphInstance& inst, size_t index) {
  const ActorStats& st = *inst.stats;
  nlohmann::json emitted = nlohmann::json::array();
  for (const auto& e : st.emitted) emitted.push_back(ActorStats::get(e));
  nlohmann::json books{{"index", index},
                       {"ended", inst.ended},
                       {"in", ActorStats::get(st.in)},
                       {"forwarded", ActorStats::get(st.forwarded)},
                       {"filtered", ActorStats::get(st.filtered)},
                       {"failed", ActorStats::get(st.failed)},
                       {"dead_letters", ActorStats::get(st.dead_letters)},
                       {"output_dead_letters", ActorStats::get(st.output_dead_letters)},
                       {"batches_in", ActorStats::get(st.batches_in)},
                       {"queued_batches", ActorStats::get(st.queued_batches)},
                       {"peak_queued_batches", ActorStats::get(st.peak_queued_batches)},
                       {"progress_done", ActorStats::get(st.progress_done)},
                       {"progress_total", ActorStats::get(st.progress_total)},
                       {"side_work", ActorStats::get(st.side_work)},
                       {"emitted", emitted}};
  if (st.measures_latency) {
    const LatencyHistogram::Counts counts = st.latency.counts();
    books["latency"] = {{"buckets", counts.buckets}, {"sum_us", counts.sum_us}, {"max_us", counts.max_us}};
  }
  if (inst.ended) {
    books["dead_letter_reasons"] = st.dead_letter_reasons;
    books["fault"] = st.fault;
    books["output"] = inst.output;
    books["warnings"] = inst.warnings;
  }
  return books;
}

void fill_books(LocalGraph& graph, const nlohmann::json& report) {
  for (const nlohmann::json& b : report["instances"]) {
    const size_t index = b["index"];
    if (index >= graph.instances().size()) continue;
    GraphInstance& inst = graph.instances()[index];
    ActorStats& st = *inst.stats;
    const std::pair<const char*, std::atomic<uint64_t>*> counters[] = {
        {"in", &st.in},
        {"forwarded", &st.forwarded},
        {"filtered", &st.filtered},
        {"failed", &st.failed},
        {"dead_letters", &st.dead_letters},
        {"output_dead_letters", &st.output_dead_letters},
        {"batches_in", &st.batches_in},
        {"queued_batches", &st.queued_batches},
        {"peak_queued_batches", &st.peak_queued_batches},
        {"progress_done", &st.progress_done},
        {"progress_total", &st.progress_total},
        {"side_work", &st.side_work}};
    for (const auto& [key, counter] : counters) counter->store(b.value(key, uint64_t{0}), std::memory_order_relaxed);
    for (size_t p = 0; p < st.emitted.size() && p < b["emitted"].size(); ++p)
      st.emitted[p].store(b["emitted"][p].get<uint64_t>(), std::memory_order_relaxed);
    if (b.contains("latency")) {
      const nlohmann::json& l = b["latency"];
      st.latency.assign({l["buckets"].get<std::vector<std::pair<uint32_t, uint64_t>>>(), l["sum_us"].get<uint64_t>(),
                         l["max_us"].get<uint64_t>()});
    }
    inst.ended = b["ended"];
    if (inst.ended && b.contains("output")) {
      // Read by the coordinator's thread only, once the run is over (LocalGraph::collect).
      st.dead_letter_reasons = b["dead_letter_reasons"].get<std::map<std::string, uint64_t>>();
      st.fault = b["fault"];
      inst.output = b["output"];
      inst.warnings = b["warnings"].get<std::vector<std::string>>();
    }
  }
}

}  // namespace ebs::cluster
