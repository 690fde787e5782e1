#include "engine/runtime/local_graph.h"

#include <algorithm>

#include "engine/runtime/actor_counters.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/node_actor.h"
#include "engine/runtime/partition.h"
#include "engine/util/fault.h"

namespace ebs {

std::string EdgeKey::text() const {
  return std::to_string(from) + "." + std::to_string(output) + ">" + std::to_string(to) + "." + std::to_string(in_port);
}

LocalGraph::LocalGraph(const Workflow& workflow, const ActorRegistry& registry, bool overwrite)
    : workflow_(workflow), dead_letters_(std::make_unique<ActorSpec>()) {
  // Every actor whose dead letters are not wired explicitly sends them to one jsonl sink. Dead
  // letters of earlier runs are kept (appended to) unless the run says --overwrite.
  ActorSpec& dl = *dead_letters_;
  dl.id = kDeadLetterActorId;
  dl.type_name = kDeadLetterSinkType;
  dl.type = registry.find(kDeadLetterSinkType);
  if (!dl.type)
    throw Fault(FaultKind::failed, workflow.file,
                "the dead-letter sink type '" + std::string(kDeadLetterSinkType) + "' is not registered");
  dl.config_node = YAML::Node(YAML::NodeType::Map);
  dl.config_node["path"] = workflow.dead_letters_path;
  dl.config_node["append"] = !overwrite;
  dl.file = workflow.file;
  dl.place = workflow.file;
  dl.inputs["in"] = {};
  for (const ActorSpec& s : workflow.actors) specs_.push_back(&s);
  specs_.push_back(&dl);
  for (const ActorSpec& s : workflow.actors)
    for (const auto& [port, wires] : s.inputs)
      for (const WireRef& w : wires)
        if (w.port == "dead_letters") explicit_dead_letters_.insert(w.actor);
  // Downstream first (reverse topological order) so every instance is born knowing its
  // downstream handles. The dead-letter sink has no downstream.
  auto enumerate = [&](const ActorSpec& spec) {
    for (size_t i = 0; i < spec.parallelism; ++i) {
      instances_of_[spec.id].push_back(instances_.size());
      GraphInstance inst;
      inst.spec = &spec;
      inst.instance = i;
      inst.stats = std::make_shared<ActorStats>(spec.type->outputs.size());
      instances_.push_back(std::move(inst));
    }
  };
  enumerate(dl);
  for (auto it = workflow.actors.rbegin(); it != workflow.actors.rend(); ++it) enumerate(*it);
  // A sink is where a record's path ends: no declared output of it is read (dead letters aside).
  // There its latency is measured (docs/performance.md). Known before any instance spawns, so that
  // a cluster's coordinator, which spawns none, knows it too.
  for (GraphInstance& inst : instances_) {
    const ActorSpec& spec = *inst.spec;
    bool read = false;
    for (const ActorSpec* down : specs_)
      for (const auto& [in_port, wires] : down->inputs)
        for (const WireRef& w : wires)
          if (w.actor == spec.id && spec.type->output(w.port)) read = true;
    inst.stats->measures_latency = !spec.type->is_source() && !read;
  }
}

const std::vector<size_t>& LocalGraph::instances_of(const std::string& id) const {
  static const std::vector<size_t> none;
  auto it = instances_of_.find(id);
  return it == instances_of_.end() ? none : it->second;
}

bool LocalGraph::spawn(caf::actor_system& system, const caf::actor& run, const SpawnOptions& options,
                       std::vector<std::string>& errors) {
  for (size_t index = 0; index < instances_.size(); ++index)
    instances_[index].local = !options.local || options.local(index);
  auto fresh = [&](size_t index) { return !options.fresh || options.fresh(index); };
  for (size_t index = 0; index < instances_.size(); ++index) {
    GraphInstance& inst = instances_[index];
    const ActorSpec& spec = *inst.spec;
    const ActorType& type = *spec.type;
    NodeSetup setup;
    setup.outputs.resize(type.outputs.size() + 1);
    setup.credit = options.credit;
    // The downstream instances of one output port: local handles, or the links that stand for
    // remote ones. A remote upstream of a local instance only gets its link in.
    const bool spawning = inst.local && fresh(index);
    auto wire = [&](size_t output, const ActorSpec& down, uint32_t in_port, PartitionMode mode) {
      Subscriber sub;
      sub.mode = mode;
      for (size_t to : instances_of(down.id)) {
        EdgeKey key{index, output, to, in_port};
        const GraphInstance& target = instances_[to];
        if (spawning) {
          caf::actor handle = !target.local     ? options.link_out(key)
                              : fresh(to)       ? target.handle
                                                : options.to_running(key);
          sub.instances.push_back({handle, in_port, CreditWindow(setup.credit), !target.local});
        } else if (target.local && fresh(to)) {
          if (inst.local) options.rebind_out(key, target.handle);
          else options.link_in(key, target.handle);
        }
      }
      if (spawning) setup.outputs[output].subscribers.push_back(std::move(sub));
    };
    auto subscribe = [&](size_t output, const std::string& port_name) {
      for (const ActorSpec* down : specs_)
        for (const auto& [in_port_name, wires] : down->inputs)
          for (const WireRef& w : wires) {
            if (w.actor != spec.id || w.port != port_name) continue;
            uint32_t in_port = 0;
            for (uint32_t p = 0; p < down->type->inputs.size(); ++p)
              if (down->type->inputs[p].name == in_port_name) in_port = p;
            wire(output, *down, in_port, partition_mode(w.partition));
          }
    };
    for (size_t p = 0; p < type.outputs.size(); ++p) subscribe(p, type.outputs[p].name);
    const size_t dl_port = type.outputs.size();
    if (&spec != dead_letters_.get()) {
      if (explicit_dead_letters_.count(spec.id)) subscribe(dl_port, "dead_letters");
      else wire(dl_port, *dead_letters_, 0, PartitionMode::any);
    }
    if (!spawning) continue;

    setup.context.actor_id = spec.id;
    setup.context.type_name = spec.type_name;
    setup.context.type_version = type.version;
    setup.context.instance = inst.instance;
    setup.context.parallelism = spec.parallelism;
    setup.context.config = spec.config();
    setup.context.run_dir = options.run_dir;
    setup.context.batch_size = workflow_.batch_size;
    setup.context.batch_delay = workflow_.batch_delay;
    setup.context.type = &type;
    setup.context.acks = options.acks;
    setup.context.side_work = std::shared_ptr<std::atomic<uint64_t>>(inst.stats, &inst.stats->side_work);
    setup.context.overwrite = options.overwrite;
    setup.context.workflow = &workflow_;
    setup.offer = OfferRate{spec.rate, spec.burst_every_s, spec.burst_records}.share(inst.instance, spec.parallelism);
    try {
      setup.logic = std::shared_ptr<ActorLogic>(type.create(setup.context));
      setup.logic->open(setup.context);
    } catch (const std::exception& e) {
      errors.push_back(spec.place + ": actor '" + spec.id + "' cannot start: " + e.what());
      return false;
    }
    // How many upstream instances will each send this instance an end of stream.
    size_t expected = 0;
    if (&spec == dead_letters_.get()) {
      for (const ActorSpec* s : specs_)
        if (s != dead_letters_.get() && !explicit_dead_letters_.count(s->id)) expected += s->parallelism;
    } else {
      for (const auto& [port, wires] : spec.inputs)
        for (const WireRef& w : wires) expected += workflow_.find(w.actor)->parallelism;
    }
    setup.expected_upstreams = expected;
    setup.measure_latency = inst.stats->measures_latency;
    setup.run = run;
    setup.index = index;
    setup.stats = inst.stats;
    inst.logic = setup.logic;
    inst.handle = type.blocking ? system.spawn<NodeActor, caf::detached>(std::move(setup))
                                : system.spawn<NodeActor>(std::move(setup));
  }
  return true;
}

std::vector<LiveActor> LocalGraph::live_actors() const {
  std::vector<LiveActor> out;
  for (const ActorSpec* s : specs_) {
    LiveActor a;
    a.id = s->id;
    a.type = s->type_name;
    a.source = s->type->is_source();
    for (const auto& [port, wires] : s->inputs)
      for (const WireRef& w : wires) a.inputs.push_back({w.actor, w.port, port});
    if (s == dead_letters_.get())
      for (const ActorSpec* from : specs_)
        if (from != s && !explicit_dead_letters_.count(from->id)) a.inputs.push_back({from->id, "dead_letters", "in"});
    for (const PortSpec& p : s->type->outputs) a.output_ports.push_back(p.name);
    for (size_t idx : instances_of(s->id)) {
      a.instances.push_back(instances_[idx].stats);
      if (!instances_[idx].node.empty()) a.nodes.push_back(instances_[idx].node);
    }
    out.push_back(std::move(a));
  }
  return out;
}

void LocalGraph::read_reports() {
  for (GraphInstance& inst : instances_) {
    if (!inst.local || !inst.ended || !inst.logic) continue;
    inst.output = inst.logic->output();
    inst.warnings = inst.logic->closing_warnings();
    if (const auto* own = dynamic_cast<const ActorCounters*>(inst.logic.get())) inst.counters = own->counters();
  }
}

void LocalGraph::collect(RunResult& result) const {
  for (const ActorSpec* s : specs_) {
    ActorTotals totals;
    totals.id = s->id;
    totals.type = s->type_name;
    totals.parallelism = s->parallelism;
    totals.source = s->type->is_source();
    LatencyHistogram merged;
    for (size_t idx : instances_of(s->id)) {
      const GraphInstance& inst = instances_[idx];
      const ActorStats& st = *inst.stats;
      InstanceTotals one;
      one.node = inst.node;
      one.in = ActorStats::get(st.in);
      one.forwarded = ActorStats::get(st.forwarded);
      one.filtered = ActorStats::get(st.filtered);
      one.failed = ActorStats::get(st.failed);
      totals.in += one.in;
      totals.forwarded += one.forwarded;
      totals.filtered += one.filtered;
      totals.failed += one.failed;
      totals.instances.push_back(std::move(one));
      totals.dead_letters += ActorStats::get(st.dead_letters);
      totals.output_dead_letters += ActorStats::get(st.output_dead_letters);
      totals.peak_queued_batches = std::max(totals.peak_queued_batches, ActorStats::get(st.peak_queued_batches));
      for (size_t p = 0; p < s->type->outputs.size(); ++p)
        totals.emitted[s->type->outputs[p].name] += ActorStats::get(st.emitted[p]);
      for (const auto& [name, value] : inst.counters) totals.counters[name] += value;
      totals.measures_latency = totals.measures_latency || st.measures_latency;
      if (st.measures_latency) merged.merge(st.latency);
    }
    totals.latency = merged.summary();
    if (!totals.balanced()) {
      result.accounting_ok = false;
      result.errors.push_back("accounting mismatch in actor '" + s->id + "': in " +
                              std::to_string(totals.in) + " != forwarded " + std::to_string(totals.forwarded) +
                              " + filtered " + std::to_string(totals.filtered) + " + failed " +
                              std::to_string(totals.failed));
    }
    for (const InstanceTotals& one : totals.instances)
      if (!one.node.empty() && one.in != one.forwarded + one.filtered + one.failed && totals.balanced()) {
        // Per instance too: a cluster's instances on different nodes each keep their own books.
        result.accounting_ok = false;
        result.errors.push_back("accounting mismatch in an instance of actor '" + s->id + "'" +
                                (one.node.empty() ? "" : " on node " + one.node));
      }
    result.actors.push_back(std::move(totals));
  }
  // What the closing block reports, from the instances that ended normally.
  std::map<std::string, uint64_t> reasons;
  for (const GraphInstance& inst : instances_) {
    if (!inst.ended) continue;
    if (!inst.stats->fault.empty())
      result.failures.push_back("actor '" + inst.spec->id + "' stopped: " + inst.stats->fault);
    for (const auto& [reason, n] : inst.stats->dead_letter_reasons) reasons[reason] += n;
    if (!inst.output.empty()) {
      uint64_t records = ActorStats::get(inst.stats->forwarded);  // a sink's forwarded = delivered
      if (inst.spec == dead_letters_.get()) {
        result.dead_letters_path = inst.output;
        result.dead_letters += records;
      } else {
        bool merged = false;  // instances of one sink writing one place count once
        for (RunOutput& o : result.outputs)
          if (o.path == inst.output) o.records += records, merged = true;
        if (!merged) result.outputs.push_back({inst.spec->id, inst.output, records});
      }
    }
    for (const std::string& w : inst.warnings) {
      std::string text = inst.spec->id + ": " + w;
      if (std::find(result.warnings.begin(), result.warnings.end(), text) == result.warnings.end())
        result.warnings.push_back(std::move(text));
    }
  }
  result.dead_letter_reasons.assign(reasons.begin(), reasons.end());
  std::stable_sort(result.dead_letter_reasons.begin(), result.dead_letter_reasons.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
}

}  // namespace ebs
