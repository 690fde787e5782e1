#include "actors/transforms/filters.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "actors/common/avro/alert_avro.h"
#include "actors/common/filter_registry/filter_outputs.h"
#include "actors/common/filter_registry/filter_registry.h"
#include "actors/common/filter_registry/switch_store.h"
#include "actors/common/repository/alert_query.h"
#include "actors/common/repository/reader.h"
#include "engine/expr/alert_field.h"
#include "engine/expr/program.h"
#include "engine/expr/program_set.h"
#include "engine/graph/field_check.h"
#include "engine/graph/workflow.h"
#include "engine/model/record_json.h"
#include "engine/cluster/coordinator_requests.h"
#include "engine/runtime/actor_logic.h"
#include "engine/runtime/source_sequence.h"

namespace ebs {

namespace {

namespace registry = filter_registry;

// How much stream an instance on a node claims ahead of its batch by default (`claim_ahead_ms`):
// about four round trips to the coordinator a second, a change taking effect up to a quarter of a
// second of stream later than in one process (docs/filters.md, "In a cluster run"). At most a minute.
constexpr int64_t kDefaultClaimAheadMs = 250;
constexpr int64_t kMaxClaimAheadMs = 60000;
// The bytes of undelivered messages on their way to the dead letters, per instance, by default
// (`output_dead_letter_bytes`): a failed output's full default queue of ~6 KB messages (10,000
// JSON alerts without cutouts: 60 MB) fits.
constexpr int64_t kDefaultDeadLetterBytes = int64_t{64} << 20;
// How often an instance adds its outputs' counts to the store (the API's status), besides when a
// filter pauses and at the end of the stream: one small write (a request to the coordinator, on a
// node) per interval at most.
constexpr std::chrono::seconds kCountsInterval{5};
// A store that refuses the counts is warned of at most this often (it is tried at each interval).
constexpr std::chrono::seconds kCountsWarningInterval{60};

struct NamedFilter {
  int64_t id = 0;  // in the registry; 0 for a filter of the workflow's config
  std::string owner;
  std::string name;
  std::string where;  // the expression, or the query of an SQL filter
  int64_t version = 1;
  std::vector<registry::Output> outputs;
  registry::Filter::Kind kind = registry::Filter::Kind::expression;
};

// A registry's SQL filter with its query prepared on the repository.
struct PreparedSqlFilter {
  NamedFilter filter;
  repository::AlertQuery query;
};

// A workflow's `filters:` map: name -> expression, or name -> {sql: QUERY} for an SQL filter over
// the actor's `repository`. An entry of another shape is left out here and reported by the check.
std::vector<NamedFilter> configured_filters(const ActorConfig& config) {
  std::vector<NamedFilter> out;
  if (!config.has("filters") || !config.node("filters").IsMap()) return out;
  std::map<std::string, NamedFilter> by_name;  // in name order, as string_map gave them
  for (const auto& entry : config.node("filters")) {
    const std::string name = entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    if (value.IsScalar())
      by_name[name] = {0, "", name, value.as<std::string>(), 1, {}, registry::Filter::Kind::expression};
    else if (value.IsMap() && value.size() == 1 && value["sql"] && value["sql"].IsScalar())
      by_name[name] = {0, "", name, value["sql"].as<std::string>(), 1, {}, registry::Filter::Kind::sql};
  }
  for (auto& [name, filter] : by_name) out.push_back(std::move(filter));
  return out;
}

// The topics the workflow's own actors use: those its `kafka-sink` actors write and its `kafka`
// sources read (a source's pattern, starting with '^', as it is: the store refuses what it matches).
std::vector<std::string> workflow_topics(const Workflow& workflow) {
  std::vector<std::string> topics;
  for (const ActorSpec& spec : workflow.actors) {
    if (!spec.type) continue;
    if (spec.type_name == "kafka-sink" && spec.config_node["topic"]) topics.push_back(spec.config().string("topic"));
    if (spec.type_name == "kafka" && spec.config_node["topics"])
      for (std::string& topic : spec.config().strings("topics")) topics.push_back(std::move(topic));
  }
  return topics;
}

std::vector<NamedFilter> of_kind(const std::vector<NamedFilter>& filters, registry::Filter::Kind kind) {
  std::vector<NamedFilter> out;
  for (const NamedFilter& f : filters)
    if (f.kind == kind) out.push_back(f);
  return out;
}

std::vector<NamedFilter> registered_filters(std::vector<registry::Filter> filters) {
  std::vector<NamedFilter> out;
  for (registry::Filter& f : filters)
    out.push_back({f.id, f.owner, f.name, f.expression, f.version, std::move(f.outputs), f.kind});
  return out;
}

std::string label(const NamedFilter& f) { return f.owner.empty() ? f.name : f.owner + "/" + f.name; }

// Every wrong expression with its filter's name and the columns of its errors.
std::string describe_errors(const std::vector<NamedFilter>& filters, const std::vector<expr::ProgramErrors>& errors) {
  std::string out;
  for (const expr::ProgramErrors& e : errors) {
    const NamedFilter& f = filters[e.index];
    out += "filter '" + label(f) + "':\n" + expr::describe(f.where, e.errors);
  }
  return out;
}

// The filters in force and what evaluating them needs: the compiled set of the expressions, one
// reader per field, the SQL filters' prepared queries and the annotation fragment each filter adds
// to an alert it passes. Filter i's answers are row i of the Matches: the expressions' first, then
// the SQL filters'.
class ActiveFilters {
 public:
  ActiveFilters(std::vector<NamedFilter> expressions, expr::ProgramSet set, std::vector<PreparedSqlFilter> sql)
      : filters_(std::move(expressions)), set_(std::move(set)), reader_(set_.fields()) {
    for (PreparedSqlFilter& f : sql) {
      filters_.push_back(std::move(f.filter));
      queries_.push_back(std::move(f.query));
    }
    query_failures_.resize(queries_.size());
    failures_taken_.resize(queries_.size());
    for (const NamedFilter& f : filters_) {
      nlohmann::json fragment{{"filter", f.name}, {"version", f.version}};
      if (f.id != 0) {
        fragment["id"] = f.id;
        fragment["owner"] = f.owner;
      }
      fragments_.push_back(fragment.dump());
      tag_entries_.push_back("," + nlohmann::json(label(f)).dump() + ":" + std::to_string(f.version));
    }
  }

  const std::vector<NamedFilter>& filters() const { return filters_; }
  bool has_queries() const { return !queries_.empty(); }
  const std::string& fragment(size_t i) const { return fragments_[i]; }
  // {"LABEL":VERSION} of filter i alone.
  std::string tag(size_t i) const { return "{" + tag_entries_[i].substr(1) + "}"; }

  // The answers stay valid until the next evaluate().
  const expr::Matches& evaluate(const BatchView& batch) {
    alerts_.resize(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) alerts_[i] = &static_cast<const Alert&>(batch[i]);
    reader_.read(alerts_, columns_);
    expr::Matches& matches = set_.evaluate(columns_, batch.size(), workspace_, queries_.size());
    // SQL filters share no work: each query is asked once per alert.
    for (size_t q = 0; q < queries_.size(); ++q) {
      if (query_failures_[q]) continue;
      std::span<uint64_t> words = matches.words(set_.size() + q);
      try {
        for (size_t i = 0; i < alerts_.size(); ++i)
          if (queries_[q].matches(alerts_[i]->core())) words[i / 64] |= uint64_t{1} << (i % 64);
      } catch (const sqlite::SqliteError& e) {
        if (e.storage()) throw;  // the repository's trouble (locked, I/O), not the query's
        // The query failed at run time (e.g. an integer overflow): its filter is paused with the
        // reason, answering nothing meanwhile; the others go on.
        std::fill(words.begin(), words.end(), 0);
        query_failures_[q] = "the query failed: " + e.message();
      }
    }
    return matches;
  }

  // The SQL filters whose query failed at run time, with why.
  std::vector<std::pair<const NamedFilter*, std::string>> query_failures() const {
    std::vector<std::pair<const NamedFilter*, std::string>> out;
    for (size_t q = 0; q < queries_.size(); ++q)
      if (query_failures_[q]) out.emplace_back(&filters_[set_.size() + q], *query_failures_[q]);
    return out;
  }
  // The failures not taken before: each is paused once, even when this set is kept for late
  // batches after a later set resumed its filter.
  std::vector<std::pair<const NamedFilter*, std::string>> take_new_query_failures() {
    std::vector<std::pair<const NamedFilter*, std::string>> out;
    for (size_t q = 0; q < queries_.size(); ++q)
      if (query_failures_[q] && !failures_taken_[q]) {
        failures_taken_[q] = true;
        out.emplace_back(&filters_[set_.size() + q], *query_failures_[q]);
      }
    return out;
  }

  // Per record of the batch, {"LABEL":VERSION,...} for the filters it passed ("" for none). An
  // alert passes tens of filters when there are a thousand: this is made 64 records at a time, so
  // that the strings being written stay in cache, each allocated once at its final size and
  // filled by copies of the filters' ready-made entries.
  std::vector<std::string> matched_details(const expr::Matches& matches) {
    const size_t records = matches.records(), words = (records + 63) / 64;
    std::vector<std::string> out(records);
    size_t sizes[64];
    for (size_t w = 0; w < words; ++w) {
      auto each_match = [&](auto&& f) {
        for (size_t p = 0; p < filters_.size(); ++p)
          for (uint64_t bits = matches.words(p)[w]; bits; bits &= bits - 1) f(p, static_cast<size_t>(std::countr_zero(bits)));
      };
      const size_t block = std::min<size_t>(64, records - w * 64);
      std::fill(sizes, sizes + block, 0);
      each_match([&](size_t p, size_t bit) { sizes[bit] += tag_entries_[p].size(); });
      for (size_t bit = 0; bit < block; ++bit)
        if (sizes[bit] > 0) out[w * 64 + bit].resize(sizes[bit] + 1);
      std::fill(sizes, sizes + block, 0);  // now: where the next entry goes
      each_match([&](size_t p, size_t bit) {
        const std::string& entry = tag_entries_[p];
        std::memcpy(out[w * 64 + bit].data() + sizes[bit], entry.data(), entry.size());
        sizes[bit] += entry.size();
      });
      for (size_t bit = 0; bit < block; ++bit) {
        std::string& d = out[w * 64 + bit];
        if (d.empty()) continue;
        d.front() = '{';  // the first entry's comma
        d.back() = '}';
      }
    }
    return out;
  }

 private:
  std::vector<NamedFilter> filters_;  // the expressions', then the SQL filters'
  expr::ProgramSet set_;
  AlertColumns reader_;
  std::vector<repository::AlertQuery> queries_;  // the SQL filters', in their order
  std::vector<std::optional<std::string>> query_failures_;
  std::vector<bool> failures_taken_;
  std::vector<const Alert*> alerts_;
  std::vector<std::string> fragments_;    // per filter: {"filter":NAME,"version":N[,"id","owner"]}
  std::vector<std::string> tag_entries_;  // per filter: ,"LABEL":VERSION
  std::vector<std::vector<expr::Value>> columns_;
  expr::ProgramSet::Workspace workspace_;
};

// One read transaction on the repository for a batch's SQL filters: every query of the batch reads
// one snapshot, what the repository had committed when the first one read (its input comes from
// the repository sink's `committed` port: the batch's own alerts are in it), and SQLite takes and
// drops its read lock once per batch instead of once per alert and query, most of a look-up's
// cost (docs/filters.md, "SQL filters"). What the repository commits during the batch is seen
// from the next batch on.
class BatchRead {
 public:
  explicit BatchRead(const sqlite::Database& db) : db_(db) { db_.execute("BEGIN"); }
  // A read transaction ends without writing: COMMIT only releases the snapshot. Should it fail,
  // ROLLBACK, else every later batch's BEGIN fails and the snapshot pins the WAL for good.
  ~BatchRead() {
    if (sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  BatchRead(const BatchRead&) = delete;
  BatchRead& operator=(const BatchRead&) = delete;

 private:
  const sqlite::Database& db_;
};

// `filters` are expressions; `sql` the SQL filters, prepared.
std::variant<ActiveFilters, std::string> compile_filters(std::vector<NamedFilter> filters, std::vector<PreparedSqlFilter> sql = {}) {
  std::vector<std::string> texts;
  for (const NamedFilter& f : filters) texts.push_back(f.where);
  auto compiled = expr::ProgramSet::compile(texts);
  if (auto* errors = std::get_if<std::vector<expr::ProgramErrors>>(&compiled)) return describe_errors(filters, *errors);
  return ActiveFilters(std::move(filters), std::move(std::get<expr::ProgramSet>(compiled)), std::move(sql));
}

// What the forwarded alerts carry (config `tag`): the map of every filter they passed, its
// count, or nothing. The map is the answer of a workflow's few named filters; a service of many
// users' filters delivers each filter's answers at its outputs (rendered there, one filter per
// message), where the map would cost more than evaluating the filters: with 1,000 filters an alert
// passes ~90, a ~1 KB map per alert (docs/filters.md, "Scale").
enum class TagMode { filters, count, none };

std::optional<TagMode> tag_mode_named(const std::string& name) {
  if (name == "filters") return TagMode::filters;
  if (name == "count") return TagMode::count;
  if (name == "none") return TagMode::none;
  return std::nullopt;
}

TagMode tag_mode(const ActorConfig& config) {
  if (!config.has("tag")) return config.has("registry") ? TagMode::count : TagMode::filters;
  return tag_mode_named(config.string("tag")).value();  // the type's check refused any other
}

std::string slack_line(const NamedFilter& f, const Alert& alert) {
  char position[96];
  std::snprintf(position, sizeof position, "ra %.5f dec %.5f mag %.2f %s", alert.core().ra, alert.core().dec,
                alert.core().mag, alert.core().band.c_str());
  return label(f) + " v" + std::to_string(f.version) + ": " + alert.core().object_id + " " + position;
}

class Filters final : public ActorLogic {
 public:
  explicit Filters(const cluster::CoordinatorRequests* requests) : requests_(requests) {}

  void open(const ActorContext& context) override {
    instance_ = context.actor_id + "#" + std::to_string(context.instance);
    provenance_ = {context.actor_id, context.type_name, context.type_version, context.config.hash()};
    tag_ = tag_mode(context.config);
    sql_step_limit_ = context.config.integer("sql_step_limit");
    if (context.config.has("repository")) {
      // Where the repository sink writes it: relative paths are in the run directory.
      std::filesystem::path p = context.config.string("repository");
      if (p.is_relative()) p = std::filesystem::path(context.run_dir) / p;
      repository_path_ = p.string();
    }
    if (context.config.has("registry")) {

      output_settings_.timeout = std::chrono::milliseconds(context.config.integer("output_timeout_ms"));
      output_settings_.max_hold = std::chrono::milliseconds(
          static_cast<int64_t>(context.config.number("output_max_hold_s") * 1000));
      output_settings_.side_work = context.side_work;  // deliveries at the end of the stream are the drain's progress
      output_settings_.scope = context.acks;  // a teardown cuts the outputs' requests and drains
      output_settings_.queue_capacity = static_cast<size_t>(context.config.integer("output_queue"));
      // What the outputs give up on is emitted on this actor's dead-letter port (the one after its
      // declared outputs), bounded in bytes (docs/filters.md, "Undelivered messages").
      undelivered_ = std::make_shared<registry::UndeliveredLetters>(
          static_cast<size_t>(context.config.bytes("output_dead_letter_bytes")));
      output_settings_.dead_letters = undelivered_;
      dead_letter_port_ = context.type ? context.type->outputs.size() : 1;
      actor_id_ = context.actor_id;
      if (context.config.has("brokers")) output_settings_.kafka_properties["bootstrap.servers"] = context.config.string("brokers");
      if (context.config.has("schema_registry")) output_settings_.schema_registry = context.config.string("schema_registry");
      instance_index_ = static_cast<int64_t>(context.instance);
      claim_ahead_ = std::chrono::milliseconds(context.config.integer("claim_ahead_ms"));
      if (requests_ && requests_->attached()) {
        // On a node of a cluster run: the coordinator's store is the one every instance, on every
        // node, claims its batches in (docs/filters.md, "In a cluster run").
        instance_ += "@" + requests_->node_name();
        store_ = registry::coordinator_switch_store(*requests_, context.actor_id);
        return;
      }
      // The topics of the workflow's own Kafka sinks are refused to the users' filters from now on
      // (docs/filters.md, "Topics"): recorded in the store, which `serve` may share.
      if (context.instance == 0 && context.workflow)
        registry::FilterRegistry(context.config.input_path("registry"))
            .reserve_topics("workflow '" + context.workflow->name + "'", workflow_topics(*context.workflow));
      // The instances of this actor in this run share the key of their switch points: the run's
      // acknowledgement scope is one object per run, shared by every instance of the process.
      char scope[32];
      std::snprintf(scope, sizeof scope, "%p", static_cast<const void*>(context.acks.get()));
      store_ = registry::local_switch_store(context.config.input_path("registry"),
                                            context.actor_id + "@" + std::to_string(::getpid()) + "/" + scope);
      return;
    }
    place_ = context.config.place("filters");
    const std::vector<NamedFilter> configured = configured_filters(context.config);
    auto compiled = compile_filters(of_kind(configured, registry::Filter::Kind::expression));
    if (auto* errors = std::get_if<std::string>(&compiled)) fail(place_, "in expressions:\n" + *errors);
    configured_expressions_ = of_kind(configured, registry::Filter::Kind::expression);
    configured_sql_ = of_kind(configured, registry::Filter::Kind::sql);
    // SQL filters are prepared at the first batch: the repository sink creates the file.
    if (configured_sql_.empty()) active_.emplace(std::move(std::get<ActiveFilters>(compiled)));
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    // A change of the registry takes effect between two batches, at the source sequence its
    // switch point names: every alert of a batch meets the same versions, the same in every
    // instance.
    // A batch that comes late (after later ones: from a parallel upstream on another node, or
    // replayed after a node loss) meets the versions in effect at its own source sequence.
    Version* version = store_ ? &version_for(batch) : nullptr;
    if (!store_ && !active_) prepare_configured_sql();
    ActiveFilters& active = version ? version->filters : *active_;
    std::optional<BatchRead> read;
    if (repository_ && active.has_queries()) read.emplace(repository_->database());
    const expr::Matches& matches = active.evaluate(batch);
    read.reset();
    // A workflow's own SQL filter that fails is the workflow's fault, as `sql-filter`'s is (a
    // registry's is paused instead, below).
    if (!store_)
      for (const auto& [filter, why] : active.query_failures()) fail(place_, "filter '" + filter->name + "': " + why);
    size_t kept = 0;
    switch (tag_) {
      case TagMode::filters: {
        std::vector<std::string> details = active.matched_details(matches);
        std::vector<RecordPtr> tagged;
        for (size_t i = 0; i < batch.size(); ++i) {
          if (details[i].empty()) continue;
          Annotation a = tag_annotation();
          a.details = std::move(details[i]);
          tagged.push_back(static_cast<const Alert&>(batch[i]).annotated(std::move(a)));
        }
        kept = tagged.size();
        if (!tagged.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(tagged), batch.acks()));
        break;
      }
      case TagMode::count: {
        std::vector<uint32_t> passed = matches.passed_counts();
        std::vector<RecordPtr> tagged;
        for (size_t i = 0; i < batch.size(); ++i) {
          if (passed[i] == 0) continue;
          Annotation a = tag_annotation();
          a.value = passed[i];
          tagged.push_back(static_cast<const Alert&>(batch[i]).annotated(std::move(a)));
        }
        kept = tagged.size();
        if (!tagged.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(tagged), batch.acks()));
        break;
      }
      case TagMode::none: {
        std::vector<uint32_t> passed = matches.passed_any();
        kept = passed.size();
        if (!passed.empty()) out.forward(0, batch.select(passed));
        break;
      }
    }
    if (version) deliver(batch, matches, *version);
    sequence_ += batch.size();
    out.filtered(batch.size() - kept);
    send_undelivered(out);
    add_output_counts(false);
  }

  // The outputs' threads give up on messages between batches too: their letters go out at each tick,
  // and a filter whose output failed after the last batch is paused then, not at the next batch
  // (which a quiet stream may not bring for long).
  std::chrono::microseconds tick_interval() const override {
    return undelivered_ ? std::chrono::microseconds(200000) : std::chrono::microseconds(0);
  }
  void on_tick(Emitter& out) override {
    // Idle, a store locked beyond its busy timeout is a warning: the pause is tried at the next
    // tick (the failures are looked at again, nothing is marked paused before the write).
    try {
      pause_failed_filters();
    } catch (const std::exception& e) {
      spdlog::warn("{}: failed outputs' filters not paused yet (tried again at the next tick): {}", instance_, e.what());
    }
    send_undelivered(out);
    add_output_counts(false);
  }

  void on_end_of_stream(Emitter& out) override {
    if (!store_) return;
    // Every output delivers what it holds while it makes progress (each delivery is bounded by
    // output_timeout_ms); one that stops delivering for twice that has what is left abandoned:
    // those alerts' batches are never acknowledged, so a restart reads them again.
    for (auto& [key, queue] : queues_)
      if (!queue->drain(output_settings_.timeout * 2) && !queue->failure())
        if (uint64_t left = queue->abandon_queued())
          spdlog::warn("{}: {}: {} messages not delivered by the end of the stream (no delivery for {} ms): their "
                       "alerts' acknowledgements abandoned",
                       instance_, queue->describe(), left, (output_settings_.timeout * 2).count());
    // A failed output replaced when its filter resumed has put its letters long since; waited for
    // all the same (no delivery of its own is in progress), so that none comes after the last take.
    for (const auto& queue : retired_queues_)
      if (!queue->drain(output_settings_.timeout * 2) && !queue->failure())
        if (uint64_t left = queue->abandon_queued())
          spdlog::warn("{}: {} (retired): {} messages not delivered by the end of the stream: their alerts' "
                       "acknowledgements abandoned", instance_, queue->describe(), left);
    pause_failed_filters();
    // Every output has ended its work (a failed one after dead-lettering what it gave up on).
    send_undelivered(out);
    add_output_counts(true);
  }

  std::string output() const override {
    if (!store_) return {};
    uint64_t delivered = 0, undelivered = 0, abandoned = 0;
    auto add = [&](const registry::OutputQueue& queue) {
      delivered += queue.delivered();
      undelivered += queue.undelivered();
      abandoned += queue.abandoned();
    };
    for (const auto& queue : retired_queues_) add(*queue);
    for (const auto& [key, queue] : queues_) add(*queue);
    std::string out = "filter outputs (" + std::to_string(queues_.size()) + "), " + std::to_string(delivered) + " messages";
    if (undelivered > 0) out += ", " + std::to_string(undelivered) + " let go by failed outputs";
    // Counted where they leave the actor (the outputs' dead_lettered() counts them kept for it).
    if (letters_sent_ > 0) out += ", " + std::to_string(letters_sent_) + " sent as dead letters";
    if (abandoned > 0) out += ", " + std::to_string(abandoned) + " abandoned";
    return out + ", " + std::to_string(claims_) + " claims of switch points";
  }

  std::vector<std::string> closing_warnings() const override {
    std::vector<std::string> out;
    if (too_late_ > 0)
      out.push_back(std::to_string(too_late_) + " batches came more than " + std::to_string(kLateBatches) +
                    " source batches late, after the versions in effect at them were forgotten: evaluated under the "
                    "oldest kept");
    if (beyond_kept_versions_ > 0)
      out.push_back(std::to_string(beyond_kept_versions_) + " batches came after the versions in effect at them were "
                    "forgotten, beyond the " + std::to_string(kMaxVersions) +
                    " newest versions kept: evaluated under the oldest kept");
    if (dropped_at_failed_ > 0)
      out.push_back(std::to_string(dropped_at_failed_) +
                    " alerts not delivered: refused by an output that had failed (its filter paused); kept as "
                    "dead letters (kind `undelivered`) unless counted as dropped below");
    uint64_t letters_dropped = 0;
    for (const auto& queue : retired_queues_) letters_dropped += queue->dead_letters_dropped();
    for (const auto& [key, queue] : queues_) letters_dropped += queue->dead_letters_dropped();
    if (letters_dropped > 0)
      out.push_back(std::to_string(letters_dropped) +
                    " undelivered messages lost, not kept as dead letters: the dead-letter path was full "
                    "(output_dead_letter_bytes = " + std::to_string(undelivered_->byte_limit()) +
                    "); their alerts' acknowledgements released");
    if (dropped_at_teardown_ > 0)
      out.push_back(std::to_string(dropped_at_teardown_) +
                    " alerts not sent to their outputs: the run was being torn down (their batches abandoned, a "
                    "restart reads them again)");
    for (const auto& [key, queue] : queues_) {
      if (queue->rate_limited() > 0)
        out.push_back(queue->describe() + ": " + std::to_string(queue->rate_limited()) +
                      " alerts dropped above its owner's alerts/s limit");
      if (queue->undelivered() > 0)
        out.push_back(queue->describe() + " (filter " + std::to_string(key.filter) + "): " +
                      std::to_string(queue->delivered()) + " messages delivered, " +
                      std::to_string(queue->undelivered()) + " not confirmed delivered: the output failed (" +
                      queue->failure().value_or("") + "); " + std::to_string(queue->dead_lettered()) +
                      " messages kept as dead letters for the dead-letter sink (with those it refused after)");
      if (queue->abandoned() > 0)
        out.push_back(queue->describe() + " (filter " + std::to_string(key.filter) + "): " +
                      std::to_string(queue->delivered()) + " messages delivered, " +
                      std::to_string(queue->abandoned()) +
                      " not delivered by the end of the stream: their alerts' acknowledgements abandoned (a restart "
                      "reads them again)");
    }
    uint64_t retired_undelivered = 0;
    for (const auto& queue : retired_queues_) retired_undelivered += queue->undelivered();
    if (retired_undelivered > 0)
      out.push_back(std::to_string(retired_undelivered) + " messages not confirmed delivered by " +
                    std::to_string(retired_queues_.size()) +
                    " outputs retired (failed and started afresh when their filters resumed, or no longer in their "
                    "filters' new versions); kept as dead letters "
                    "unless counted as dropped");
    return out;
  }

 private:
  struct QueueKey {
    int64_t filter;
    registry::Output::Kind kind;
    std::string target, format;
    auto operator<=>(const QueueKey&) const = default;
  };

  // The filters compiled for one switch point, with each filter's output queues.
  struct Version {
    ActiveFilters filters;
    std::vector<std::vector<std::shared_ptr<registry::OutputQueue>>> outputs;  // per filter
  };

  // The version in effect at the batch's source sequence: claimed (when beyond what this instance
  // claimed) and put in force when first reached.
  Version& version_for(const BatchView& batch) {
    pause_failed_filters();  // before claiming: a failed output's filter leaves at the next switch point
    // The source numbers its batches 1, 2, 3, ... (a batch made of several counts as the latest;
    // one that crossed from another node keeps its source's number: engine/runtime/source_sequence.h).
    const std::optional<uint64_t> from_source = source_sequence(batch);
    const int64_t sequence = from_source ? static_cast<int64_t>(*from_source) : static_cast<int64_t>(++batches_);
    // No switch point is ever made at or before a sequence an instance claimed: up to there, the
    // points known are all there will be.
    bool gap = sequence > claimed_through_ && claim(sequence);
    // Of the points reached at once (a failover's replacement learns every point of the run in its
    // first claim) only the kMaxVersions newest are compiled: older ones would be forgotten at once
    // (forget_old_versions), so they only move the running versions on, and are logged.
    size_t reached = 0;
    while (reached < pending_.size() && pending_[reached].sequence <= sequence) ++reached;
    std::optional<int64_t> first_compiled;
    while (reached > 0) {
      const bool compile = reached <= kMaxVersions;
      if (!compile) forgotten_[pending_[1].sequence] = true;  // ends where the next begins; for the count
      gap = gap || !compile;
      if (compile && !first_compiled) first_compiled = pending_.front().sequence;
      apply(std::move(pending_.front()), compile);
      pending_.pop_front();
      --reached;
    }
    // Points left out or not compiled lie between the versions kept from before and the first
    // compiled now: a late batch there would meet an earlier version silently (two points at one
    // sequence leave room for it under kMaxVersions). They are forgotten for the count instead.
    if (gap && first_compiled)
      while (!versions_.empty() && versions_.begin()->first < *first_compiled) {
        forgotten_[std::next(versions_.begin())->first] = true;  // where it ended
        versions_.erase(versions_.begin());
      }
    while (forgotten_.size() > kMaxVersions) forgotten_.erase(forgotten_.begin());
    highest_sequence_ = std::max(highest_sequence_, sequence);
    forget_old_versions();
    auto after = versions_.upper_bound(sequence);
    // The first switch point of a run starts at 0: every batch has a set in force.
    if (versions_.empty()) fail(store_->describe(), "no switch point before source batch " + std::to_string(sequence));
    if (after == versions_.begin()) {
      // Forgotten for lateness or for the count of versions kept (forgotten_, by the end of each).
      // Either way a numbering far behind the others (a slow Kafka partition, another source
      // instance: docs/filters.md, "Changes without a restart") sends every batch this way: warned
      // of once, then counted (closing_warnings).
      auto forgotten = forgotten_.upper_bound(sequence);
      const bool for_lateness = forgotten == forgotten_.end() || !forgotten->second;
      ++(for_lateness ? too_late_ : beyond_kept_versions_);
      if (too_late_ + beyond_kept_versions_ == 1)
        spdlog::warn("{}: source batch {} came after the versions in effect at it were forgotten ({}); evaluated "
                     "under the oldest kept, from source batch {}; such batches from now on are only counted (a "
                     "numbering far behind the others, e.g. a slow partition, sends each of its batches this way)",
                     instance_, sequence,
                     for_lateness ? "more than " + std::to_string(kLateBatches) + " source batches late"
                                  : "beyond the " + std::to_string(kMaxVersions) + " newest versions kept",
                     after->first);
      return after->second;
    }
    return std::prev(after)->second;
  }

  // Claims the stream up to `sequence`, and on a node (where each claim is a round trip to the
  // coordinator) ahead of it by what the stream advances in `claim_ahead_ms` at the rate seen since
  // the previous claim: by default about four claims a second, whatever the batch rate. Never further ahead
  // than the stream advanced since the previous claim: a backlog drained fast (the rate this
  // instance reads at, not the source's) would otherwise claim seconds of the source's future, and
  // a change made meanwhile would wait for all of it.
  // Whether the answer left out points this batch reached (older than those sent).
  bool claim(int64_t sequence) {
    const auto now = std::chrono::steady_clock::now();
    int64_t ahead = 0;
    // In one process a claim is a local transaction, made for each batch.
    const double horizon_s = store_->remote() ? std::chrono::duration<double>(claim_ahead_).count() : 0;
    if (claims_ > 0 && horizon_s > 0) {
      const double elapsed_s = std::chrono::duration<double>(now - last_claim_at_).count();
      const int64_t advanced = sequence - last_claim_sequence_;
      if (elapsed_s > 0 && advanced > 0)
        ahead = static_cast<int64_t>(
            std::min<double>({static_cast<double>(kMaxClaimAhead), static_cast<double>(advanced), advanced * horizon_s / elapsed_s}));
    }
    last_claim_at_ = now;
    last_claim_sequence_ = sequence;
    registry::Claim answer = store_->claim(instance_index_, sequence, sequence + ahead, known_revision_);
    const bool first_claim = claims_++ == 0;
    if (first_claim) {
      // A failover's replacement of an instance lost with its node has its index: what the lost
      // one logged is not logged again (applied silently, below), and up to its claim every
      // point is known already (none is ever made at or before a claimed sequence).
      predecessor_logged_revision_ = answer.applied_revision;
      if (answer.applied_revision >= 0 || answer.claimed_through > sequence + ahead)
        spdlog::info("{}: resumes instance {}'s switch points, claimed through source batch {}, logged through "
                     "revision {} (an instance lost with its node)",
                     instance_, instance_index_, answer.claimed_through, answer.applied_revision);
    }
    claimed_through_ = std::max(sequence + ahead, answer.claimed_through);
    // The answer is bounded (registry::Claim): the points it left out after this batch are asked for
    // again before a batch reaches them.
    if (answer.next_point >= 0) claimed_through_ = std::min(claimed_through_, answer.next_point - 1);
    if (answer.skipped > 0 && !answer.points.empty())  // they end where the first sent begins; for the count
      forgotten_[answer.points.front().sequence] = true;
    if (answer.skipped > 0)
      spdlog::info("{}: {} switch points before source batch {} not taken (older than the {} newest it reached at "
                   "once, which are all the versions an instance keeps): never in force here, not logged",
                   instance_, answer.skipped, sequence, registry::kMaxClaimPoints);
    for (registry::SwitchPoint& point : answer.points) {
      known_revision_ = point.revision;
      pending_.push_back(std::move(point));
    }
    return answer.skipped > 0;
  }

  // A version superseded for more than kLateBatches source batches (or beyond the kMaxVersions
  // newest) is forgotten: no batch that late is expected.
  void forget_old_versions() {
    while (versions_.size() > 1) {
      auto second = std::next(versions_.begin());
      const bool late = highest_sequence_ - second->first >= kLateBatches;
      if (versions_.size() <= kMaxVersions && !late) break;
      forgotten_[second->first] = !late;  // where the forgotten version ended, and whether for the count
      if (forgotten_.size() > kMaxVersions) forgotten_.erase(forgotten_.begin());
      versions_.erase(versions_.begin());
    }
  }

  // Puts a switch point's filters in force; each new version, and each filter leaving, is logged
  // with the source sequence it applies from (the same in every instance) and this instance's
  // alert sequence number. Not compiled (`compile` false: a point superseded by kMaxVersions newer
  // ones reached at once), it only moves the running versions on and logs them; its SQL queries
  // are not prepared, so one that would fail counts as in force until the next compiled point.
  void apply(registry::SwitchPoint point, bool compile) {
    // The owners' limits recorded with the point (not the store's of now, which may have changed
    // since): every instance applies the same ones from the same source batch.
    owner_limits_ = std::move(point.limits);
    // A point the instance this one replaces (lost with its node) logged was put in force, and its
    // failures paused, by that one: neither is done again (its owner may have resumed one since).
    const bool logged_by_predecessor = point.revision <= predecessor_logged_revision_;
    std::map<int64_t, std::string> failed;  // SQL filters whose query does not prepare
    std::vector<NamedFilter> filters, expressions;
    std::vector<PreparedSqlFilter> sql;
    for (NamedFilter& f : registered_filters(std::move(point.filters))) {
      if (f.kind == registry::Filter::Kind::expression || !compile) {
        if (!compile) filters.push_back(f);
        expressions.push_back(std::move(f));
        continue;
      }
      std::optional<repository::AlertQuery> query = prepare_query(f, failed);
      if (!query) continue;  // paused with the reason: it leaves at the next switch point, never in force
      sql.push_back({f, std::move(*query)});
    }
    if (compile) {
      filters = expressions;
      for (const PreparedSqlFilter& f : sql) filters.push_back(f.filter);
    }
    if (!failed.empty() && !logged_by_predecessor) store_->pause_for_failures(failed);
    std::map<int64_t, int64_t> versions;
    for (const NamedFilter& f : filters) versions[f.id] = f.version;
    std::vector<registry::FilterRegistry::Effect> effects;  // logged in one call
    // Each attempt of a cluster run (after `on_node_loss: restart`) numbers its source batches from 1
    // and agrees its own points: its entries say which attempt they are of.
    const int64_t attempt = store_->attempt();
    if (!logged_by_predecessor) {
      for (const NamedFilter& f : filters) {
        auto it = running_.find(f.id);
        if (it != running_.end() && it->second == f.version) continue;
        spdlog::info("{}: filter {} ({}) version {} takes effect from source batch {} of attempt {} (at alert {} of "
                     "this instance)",
                     instance_, f.id, label(f), f.version, point.sequence, attempt, sequence_);
        effects.push_back({f.id, f.version, instance_, static_cast<int64_t>(sequence_), point.sequence, attempt});
      }
      for (const auto& [id, version] : running_)
        if (!versions.count(id)) {
          spdlog::info("{}: filter {} (version {}) stops from source batch {} of attempt {} (paused or removed)",
                       instance_, id, version, point.sequence, attempt);
          effects.push_back({id, 0, instance_, static_cast<int64_t>(sequence_), point.sequence, attempt});
        }
    }
    if (!effects.empty()) store_->record_effects(instance_index_, point.revision, effects);
    // A new version or a resume that takes effect starts unpaused: a failure of its outputs
    // pauses it again.
    for (const auto& [id, version] : versions) {
      auto it = running_.find(id);
      if (it == running_.end() || it->second != version) paused_.erase(id);
    }
    running_ = std::move(versions);
    if (!compile) return;
    auto compiled = compile_filters(std::move(expressions), std::move(sql));
    // The API compiles every expression before storing it: a failure here is a bug, not a user's.
    if (auto* errors = std::get_if<std::string>(&compiled)) fail(store_->describe(), "a stored filter does not compile:\n" + *errors);
    Version version{std::move(std::get<ActiveFilters>(compiled)), {}};
    for (const NamedFilter& f : version.filters.filters())  // resumed by its owner after its query failed
      if (f.kind == registry::Filter::Kind::sql) paused_.erase(f.id);
    for (const NamedFilter& f : version.filters.filters()) {
      std::vector<std::shared_ptr<registry::OutputQueue>> queues;
      for (const registry::Output& o : f.outputs) {
        auto& queue = queues_[{f.id, o.kind, o.target, o.format}];
        if (queue && queue->failure()) {  // paused for it, then resumed by its owner: start afresh
          retired_queues_.push_back(std::move(queue));  // its counts stay in the closing block's
          queue.reset();
          paused_.erase(f.id);
        }
        auto limits = owner_limits_.find(f.owner);
        if (!queue) {
          registry::OutputSettings settings = output_settings_;
          if (limits != owner_limits_.end()) settings.max_per_second = limits->second.max_alerts_per_second;
          queue = std::make_shared<registry::OutputQueue>(o, settings);
          counted_.push_back({f.id, o, queue, {}});
        } else if (limits != owner_limits_.end()) {
          queue->set_max_per_second(limits->second.max_alerts_per_second);  // the owner's limit may have changed since
        }
        queues.push_back(queue);
      }
      version.outputs.push_back(std::move(queues));
    }
    // The outputs a filter's new version no longer has (changed to another target) are retired: a
    // late batch of an earlier version still writes through them, their counts stay, and their
    // failure no longer pauses the filter. A paused or removed filter's stay (not running: they
    // pause nothing), each named in the closing warnings.
    std::set<QueueKey> used;
    std::set<int64_t> present;
    for (const NamedFilter& f : version.filters.filters()) {
      present.insert(f.id);
      for (const registry::Output& o : f.outputs) used.insert({f.id, o.kind, o.target, o.format});
    }
    for (auto it = queues_.begin(); it != queues_.end();)
      if (!present.contains(it->first.filter) || used.contains(it->first)) {
        ++it;
      } else {
        retired_queues_.push_back(std::move(it->second));
        it = queues_.erase(it);
      }
    // Kept for the batches that come late: an earlier version's queues stay with it (one failed
    // and replaced here is the earlier version's still).
    versions_.erase(point.sequence);  // a later revision's point made at the same sequence replaces it
    versions_.emplace(point.sequence, std::move(version));
  }

  // A workflow's SQL filters (`filters: {NAME: {sql: QUERY}}`) prepared on the repository, beside
  // its expressions; a query the repository refuses is the workflow's fault.
  void prepare_configured_sql() {
    if (!repository_) repository_.emplace(repository_path_);
    std::vector<PreparedSqlFilter> sql;
    for (const NamedFilter& f : configured_sql_) {
      try {
        sql.push_back({f, repository::AlertQuery(repository_->database(), f.where, sql_step_limit_)});
      } catch (const Fault& fault) {
        fail(place_, "filter '" + f.name + "': its query does not run on " + repository_path_ + ": " + fault.message());
      }
    }
    auto compiled = compile_filters(configured_expressions_, std::move(sql));
    active_.emplace(std::move(std::get<ActiveFilters>(compiled)));
  }

  // An SQL filter's query prepared on the repository; without one (no `repository` in the config, a
  // repository that does not open, a query its schema refuses) the filter is paused with the reason.
  std::optional<repository::AlertQuery> prepare_query(const NamedFilter& f, std::map<int64_t, std::string>& failed) {
    std::string why;
    if (repository_path_.empty()) {
      why = "an SQL filter, and this service's `filters` actor has no `repository`";
    } else {
      try {
        // Opened on first use: the repository sink creates the file, and what reaches this actor
        // from its `committed` port is committed already.
        if (!repository_) repository_.emplace(repository_path_);
        auto [limit, limit_name] = sql_step_limit_of(f.owner);
        return repository::AlertQuery(repository_->database(), f.where, limit, limit_name);
      } catch (const Fault& fault) {
        why = "its query does not run on " + repository_path_ + ": " + fault.message();
      }
    }
    spdlog::warn("{}: filter {} ({}) paused: {}", instance_, f.id, label(f), why);
    failed[f.id] = why;
    return std::nullopt;
  }

  // The SQLite steps one alert's query of `owner`'s SQL filters may take, and the setting that sets
  // it (named in the pause reason): the owner's own limit (`sql_steps`) when it is below the
  // service's `sql_step_limit`, which bounds every user's (0: none on that side).
  std::pair<int64_t, std::string> sql_step_limit_of(const std::string& owner) const {
    auto it = owner_limits_.find(owner);
    const int64_t own = it == owner_limits_.end() ? 0 : it->second.max_sql_steps;
    if (own > 0 && (sql_step_limit_ == 0 || own < sql_step_limit_)) return {own, owner + "'s sql_steps"};
    return {sql_step_limit_, "sql_step_limit"};
  }

  void deliver(const BatchView& batch, const expr::Matches& matches, Version& version) {
    const std::vector<NamedFilter>& filters = version.filters.filters();
    std::vector<std::string> alert_json(batch.size());  // made once per alert, for every filter it passed
    // Every message holds the batch's acknowledgement tokens until its output delivered it (or
    // failed): the batch is acknowledged, and a Kafka source commits past it, only once its
    // messages are out as well as its records written downstream (docs/filters.md, "Outputs").
    registry::HeldAcks held;  // made at the batch's first message
    for (size_t p = 0; p < filters.size(); ++p) {
      if (version.outputs[p].empty()) continue;
      matches.each_passed(p, [&](uint32_t i) {
        const auto& alert = static_cast<const Alert&>(batch[i]);
        if (alert_json[i].empty()) alert_json[i] = to_json(alert).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        std::string message = "{\"filter\":" + version.filters.fragment(p) + ",\"alert\":" + alert_json[i] + "}";
        const std::string about = "filter " + std::to_string(filters[p].id) + " v" + std::to_string(filters[p].version) +
                                  " (" + label(filters[p]) + "), alert " + std::to_string(alert.core().alert_id) + " (" +
                                  alert.core().object_id + ")";
        std::string container, datum;  // Avro, made for this filter and alert when an output wants it
        for (const std::shared_ptr<registry::OutputQueue>& queue : version.outputs[p]) {
          const std::string& format = queue->output().format;
          if (format == "avro" && container.empty()) container = avro_message(version.filters, p, alert, true);
          if (format == "avro-confluent" && datum.empty()) datum = avro_message(version.filters, p, alert, false);
          if (!held && !batch.acks().empty()) held = std::make_shared<const std::vector<AckRef>>(batch.acks());
          // A failed queue refuses: until its filter leaves at the next switch point, or for good
          // when a late batch's older version holds one the newest version replaced. Counted.
          const registry::OutputQueue::Offer offered =
              queue->offer(format == "avro" ? container : format == "avro-confluent" ? datum : message,
                           slack_line(filters[p], alert), alert.core().object_id, held, about);
          if (offered == registry::OutputQueue::Offer::refused) ++dropped_at_failed_;
          if (offered == registry::OutputQueue::Offer::torn_down) ++dropped_at_teardown_;
        }
      });
    }
    pause_failed_filters();
  }

  // The letters of the messages the outputs gave up on, emitted on the dead-letter port: records
  // this actor made, outside its identity (counted as output_dead_letters); each holds its batch's
  // tokens until the dead-letter sink wrote it.
  void send_undelivered(Emitter& out) {
    if (!undelivered_) return;
    std::vector<registry::UndeliveredLetters::Letter> letters = undelivered_->take();
    if (letters.empty()) return;
    std::vector<RecordPtr> records;
    std::vector<AckRef> acks;
    std::set<const AckToken*> seen;
    for (registry::UndeliveredLetters::Letter& letter : letters) {
      letter.record->actor = actor_id_;
      records.push_back(std::move(letter.record));
      if (letter.acks)
        for (const AckRef& token : *letter.acks)
          if (token && seen.insert(token.get()).second) acks.push_back(token);
    }
    letters_sent_ += records.size();
    out.emit(dead_letter_port_, BatchView::make(PortType::dead_letter, std::move(records), std::move(acks)));
  }

  // An Avro output's message: the alert in schemas/ebs_alert.avsc (raw record included, as the JSON
  // message has it), with the filter as its last annotation, a `filters` tag {"LABEL":VERSION}; an
  // object container, or the bare datum that the output's thread frames (avro-confluent).
  std::string avro_message(const ActiveFilters& active, size_t p, const Alert& alert, bool container) {
    if (!avro_) avro_.emplace(kafka::AlertAvroEncoder::Options{true, "null"});
    Annotation a;
    a.kind = Annotation::Kind::tag;
    a.name = "filters";
    a.provenance = provenance_;
    a.details = active.tag(p);
    auto annotated = alert.annotated(std::move(a));
    return container ? avro_->container(*annotated) : avro_->datum(*annotated);
  }

  // A filter whose output failed is paused with the reason; the registry's new revision takes it
  // out of the set at the next batch.
  void pause_failed_filters() {
    std::map<int64_t, std::string> failed;
    // Only a failure of the version of a filter now running pauses it: a late batch's older
    // version that fails does not pause the filter its owner has changed since.
    for (auto& [from, version] : versions_)
      for (const auto& [filter, why] : version.filters.take_new_query_failures()) {
        auto running = running_.find(filter->id);
        if (running != running_.end() && running->second == filter->version && !paused_.count(filter->id))
          failed.emplace(filter->id, why);
      }
    // The owner reads the reason (`paused_reason`): it says where the messages went.
    // queues_ holds the outputs of the newest version applied only (the others are retired).
    for (const auto& [key, queue] : queues_)
      if (!paused_.count(key.filter) && running_.count(key.filter))
        if (auto why = queue->failure())
          failed.emplace(key.filter, *why + " (its undelivered messages go to the run's dead letters, kind `undelivered`)");
    if (failed.empty()) return;
    store_->pause_for_failures(failed);  // one request for them all; marked paused once it is written
    for (const auto& [id, why] : failed) {
      spdlog::warn("{}: filter {} paused: {}", instance_, id, why);
      paused_.insert(id);
    }
    add_output_counts(true);  // the owner who reads the reason sees the counts of then beside it
  }

  // Adds what the outputs counted since the last time to the store (the API's status: each
  // output's delivered, dead-lettered, lost and rate-limited messages), at most every kCountsInterval unless
  // `now`. Counts, not messages: one row per output in the store. A status, never the alerts'
  // fate: a write that fails (a locked or read-only store, a coordinator that does not answer) is
  // a warning (at most one per kCountsWarningInterval), never a failed batch or run; the deltas
  // not told are told at the next write. Not idempotent: a request that reached the coordinator's
  // store but whose answer did not come back is added again then (docs/filters.md).
  void add_output_counts(bool now) {
    if (!store_ || counted_.empty()) return;
    const auto at = std::chrono::steady_clock::now();
    if (!now && at - counts_added_at_ < kCountsInterval) return;
    counts_added_at_ = at;
    std::vector<registry::FilterRegistry::CountsAdded> added;
    std::vector<std::pair<Counted*, registry::OutputCounts>> told;  // set once the store has them
    for (Counted& c : counted_) {
      const registry::OutputCounts total{static_cast<int64_t>(c.queue->delivered()),
                                         static_cast<int64_t>(c.queue->dead_lettered()),
                                         static_cast<int64_t>(c.queue->dead_letters_dropped()),
                                         static_cast<int64_t>(c.queue->rate_limited())};
      if (total == c.told) continue;
      added.push_back({c.filter_id, c.output,
                       {total.delivered - c.told.delivered, total.dead_lettered - c.told.dead_lettered,
                        total.lost - c.told.lost, total.rate_limited - c.told.rate_limited}});
      told.emplace_back(&c, total);
    }
    if (added.empty()) return;
    try {
      store_->add_output_counts(added);
    } catch (const std::exception& e) {
      ++counts_not_written_;
      if (at - counts_warned_at_ >= kCountsWarningInterval || counts_warned_at_ == std::chrono::steady_clock::time_point{}) {
        spdlog::warn("{}: the outputs' counts (the filters' status) not written ({} time(s) since the last warning), "
                     "tried again in {} s: {}",
                     instance_, counts_not_written_, kCountsInterval.count(), e.what());
        counts_warned_at_ = at;
        counts_not_written_ = 0;
      }
      return;
    }
    for (auto& [c, total] : told) c->told = total;
  }

  Annotation tag_annotation() const {
    Annotation a;
    a.kind = Annotation::Kind::tag;
    a.name = "filters";
    a.provenance = provenance_;
    return a;
  }

  std::string instance_;
  Provenance provenance_;
  TagMode tag_ = TagMode::filters;
  std::string repository_path_;                   // for the registry's SQL filters ("": none)
  std::optional<repository::Reader> repository_;  // opened by the first SQL filter
  int64_t sql_step_limit_ = repository::kDefaultQueryStepLimit;  // per SQL filter and alert
  std::optional<ActiveFilters> active_;  // a workflow's own filters (registry mode: versions_)
  // A workflow's own filters (`filters:`): the place to name in faults, and its filters by kind
  // (the SQL ones prepared at the first batch).
  std::string place_;
  std::vector<NamedFilter> configured_expressions_, configured_sql_;
  // Registry mode.
  const cluster::CoordinatorRequests* requests_;  // main()'s: on a node, the line to the coordinator
  std::unique_ptr<registry::SwitchStore> store_;  // where this run's switch points are agreed
  int64_t instance_index_ = 0;
  std::chrono::milliseconds claim_ahead_{kDefaultClaimAheadMs};  // on a node (`claim_ahead_ms`)
  int64_t known_revision_ = -1;                 // the newest revision with a switch point seen
  std::deque<registry::SwitchPoint> pending_;   // switch points not reached yet
  // The compiled versions by the source sequence each is in effect from: the newest, and those a
  // late batch may still need (forget_old_versions).
  std::map<int64_t, Version> versions_;
  // The most recently forgotten versions, by the sequence each ended at: true when forgotten for
  // the count kept (kMaxVersions), false for lateness (a batch before the oldest noted: lateness).
  std::map<int64_t, bool> forgotten_;
  static constexpr int64_t kLateBatches = 4096;  // source batches a batch may come late
  static constexpr size_t kMaxVersions = registry::kMaxClaimPoints;
  static constexpr int64_t kMaxClaimAhead = 4096;  // source batches
  int64_t highest_sequence_ = 0;                   // the highest source sequence evaluated
  int64_t claimed_through_ = -1;                   // this instance's claim: no new point at or before it
  int64_t predecessor_logged_revision_ = -1;  // the newest point the lost instance this one replaces logged
  int64_t last_claim_sequence_ = 0;
  std::chrono::steady_clock::time_point last_claim_at_;
  uint64_t claims_ = 0;     // requests to the store's switch points
  uint64_t too_late_ = 0;   // batches that came after their versions were forgotten for lateness
  uint64_t beyond_kept_versions_ = 0;  // ... forgotten for the count kept (kMaxVersions)
  uint64_t dropped_at_failed_ = 0;     // alerts offered to a failed output queue
  uint64_t dropped_at_teardown_ = 0;   // ... to an output after the run was torn down
  uint64_t letters_sent_ = 0;          // undelivered messages' letters sent on the dead-letter port
  uint64_t batches_ = 0;    // batches without a source sequence (no acks)
  uint64_t sequence_ = 0;             // alerts this instance has evaluated
  std::map<int64_t, int64_t> running_;  // filter id -> version in force
  registry::OutputSettings output_settings_;
  // Owner -> their alerts/s per output and their SQL filters' steps per alert (0: none of their
  // own), as recorded with the switch point in force.
  std::map<std::string, registry::RunLimits> owner_limits_;
  std::optional<kafka::AlertAvroEncoder> avro_;  // avro outputs' messages
  std::map<QueueKey, std::shared_ptr<registry::OutputQueue>> queues_;  // the newest version's
  // Queues no longer in the newest version (failed ones replaced when their filters resumed,
  // outputs a version dropped): kept, for their counts and their end-of-stream drain (a request in
  // flight, or a late batch of an earlier version, still ends in one of them).
  std::vector<std::shared_ptr<registry::OutputQueue>> retired_queues_;
  std::set<int64_t> paused_;
  // Every output queue made (retired ones too), with the counts the store was told of.
  struct Counted {
    int64_t filter_id;
    registry::Output output;
    std::shared_ptr<registry::OutputQueue> queue;
    registry::OutputCounts told;
  };
  std::vector<Counted> counted_;
  std::chrono::steady_clock::time_point counts_added_at_{};
  std::chrono::steady_clock::time_point counts_warned_at_{};
  uint64_t counts_not_written_ = 0;  // failed counts writes since the last warning
  // What the outputs gave up on, on its way to the dead letters (registry mode), and where it goes.
  std::shared_ptr<registry::UndeliveredLetters> undelivered_;
  size_t dead_letter_port_ = 1;
  std::string actor_id_;
};

}  // namespace

void register_filters(ActorRegistry& registry, const cluster::CoordinatorRequests* requests) {
  ActorType t;
  t.name = "filters";
  t.description = "Evaluates many filter expressions together (named in the config, or users' filters of a registry "
                  "with their outputs); forwards alerts passing any, tagged with which";
  t.version = "1.0";
  t.inputs = {{"in", PortType::alert, "alerts"}};
  t.outputs = {{"out", PortType::alert, "alerts that pass at least one filter, tagged \"filters\""}};
  t.config = {
      {"filters", ValueKind::map, false, "",
       "filter name -> condition, e.g. {bright: \"mag < 18\", young: \"n_detections <= 2\"} (docs/expressions.md), or "
       "-> {sql: QUERY}, an SQL filter over `repository` as `sql-filter` takes (docs/filters.md)"},
      {"registry", ValueKind::string, false, "",
       "the filter service's SQLite store (docs/filters.md): its users' active filters, reloaded between batches when "
       "they change, each delivering to its own outputs"},
      {"repository", ValueKind::string, false, "",
       "the repository (a `repository` sink's `path`; relative paths are in the run directory) that the SQL filters "
       "(the registry's, or `filters` entries {sql: QUERY}) query; this actor's input then comes from that sink's "
       "`committed` port"},
      {"brokers", ValueKind::string, false, "", "Kafka bootstrap servers of the filters' topic outputs"},
      {"schema_registry", ValueKind::string, false, "",
       "a Confluent-compatible schema registry (URL) for avro-confluent topic outputs: the alert schema is "
       "registered as <topic>-value and each message framed with its id"},
      {"tag", ValueKind::string, false, "",
       "what the forwarded alerts carry: `filters` (a `filters` tag whose details map each filter passed to its "
       "version; the default with `filters`), `count` (a `filters` tag whose value is how many filters passed; the "
       "default with `registry`, whose filters deliver their answers at their outputs) or `none` (the alerts as they "
       "came)"},
      {"output_timeout_ms", ValueKind::integer, false, "5000",
       "a webhook request or Kafka delivery slower than this fails its output and pauses the filter; at the end of the "
       "stream an output is waited for while it delivers at least once every 2 x output_timeout_ms (keep that below "
       "the workflow's drain_timeout_s)"},
      {"output_max_hold_s", ValueKind::number, false, "60",
       "the longest a message may wait in its output's queue: its alert's batch is not acknowledged (nor a Kafka "
       "source's offset committed past it) until it is delivered, so an output slower than this fails and pauses "
       "its filter, its messages let go (counted)"},
      {"sql_step_limit", ValueKind::integer, false, std::to_string(repository::kDefaultQueryStepLimit),
       "the SQLite steps an SQL filter may take for one alert: a query that needs more is stopped and its filter "
       "paused with the reason (a workflow's fails the run); it bounds every user's own limit (`sql_steps`), the "
       "lower applies (0: no limit)"},
      {"output_queue", ValueKind::integer, false, "10000",
       "messages an output may have waiting; a full queue fails the output and pauses the filter"},
      {"output_dead_letter_bytes", ValueKind::bytes, false, std::to_string(kDefaultDeadLetterBytes),
       "bytes of undelivered messages (those a failed output gave up on) on their way to the dead letters, per "
       "instance: a message that finds no room is counted and not written"},
      {"claim_ahead_ms", ValueKind::integer, false, std::to_string(kDefaultClaimAheadMs),
       "in a cluster run, how much stream (in milliseconds, at the rate seen) an instance on a node claims ahead of "
       "its batch in the coordinator's registry: fewer round trips to the coordinator the longer, but a change takes "
       "effect up to that much stream later (0: a claim for each batch; in one process every batch is claimed, a "
       "local transaction)"},
  };
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    if (c.has("filters") == c.has("registry")) {
      problems.push_back({c.place("filters"), "give either `filters` (a map of name -> condition) or `registry` (a path)"});
      return;
    }
    const std::vector<NamedFilter> configured = configured_filters(c);
    const bool configured_sql = !of_kind(configured, registry::Filter::Kind::sql).empty();
    if (c.has("repository") && !c.has("registry") && !configured_sql)
      problems.push_back({c.place("repository"), "`repository` is for SQL filters (a `registry`'s, or `filters` entries "
                                                 "NAME: {sql: QUERY})"});
    if (configured_sql && !c.has("repository"))
      problems.push_back({c.place("filters"), "SQL filters ({sql: QUERY}) need `repository` (a `repository` sink's path)"});
    if (c.integer("output_timeout_ms") <= 0) problems.push_back({c.place("output_timeout_ms"), "must be positive"});
    if (c.bytes("output_dead_letter_bytes") <= 0)
      problems.push_back({c.place("output_dead_letter_bytes"), "must be positive (bytes)"});
    if (!(c.number("output_max_hold_s") > 0)) problems.push_back({c.place("output_max_hold_s"), "must be positive (seconds)"});
    if (c.integer("sql_step_limit") < 0)
      problems.push_back({c.place("sql_step_limit"), "must not be negative (0: no limit)"});
    if (const int64_t ahead = c.integer("claim_ahead_ms"); ahead < 0 || ahead > kMaxClaimAheadMs)
      problems.push_back({c.place("claim_ahead_ms"), "`claim_ahead_ms` is 0 to " + std::to_string(kMaxClaimAheadMs) +
                                                         " (milliseconds of stream claimed ahead), not " +
                                                         std::to_string(ahead)});
    if (c.has("tag") && c.node("tag").IsScalar() && !tag_mode_named(c.string("tag")))
      problems.push_back({c.place("tag"), "`tag` is `filters`, `count` or `none`, not '" + c.string("tag") + "'"});
    if (!c.has("filters") || !c.node("filters").IsMap()) return;  // the type check reported a wrong kind
    for (const auto& entry : c.node("filters")) {
      const YAML::Node& value = entry.second;
      if (!value.IsScalar() && !(value.IsMap() && value.size() == 1 && value["sql"] && value["sql"].IsScalar()))
        problems.push_back({c.place("filters"), "filter '" + entry.first.as<std::string>() +
                                                    "': a condition (text) or {sql: QUERY}"});
    }
    for (const NamedFilter& f : of_kind(configured, registry::Filter::Kind::sql))
      if (auto problem = repository::check_alert_query(f.where))
        problems.push_back({c.place("filters"), "filter '" + f.name + "', the query at column " +
                                                    std::to_string(problem->offset + 1) + ": " + problem->message});
    std::vector<NamedFilter> filters = of_kind(configured, registry::Filter::Kind::expression);
    std::vector<std::string> texts;
    for (const NamedFilter& f : filters) texts.push_back(f.where);
    auto compiled = expr::ProgramSet::compile(texts);
    if (auto* errors = std::get_if<std::vector<expr::ProgramErrors>>(&compiled))
      for (const expr::ProgramErrors& e : *errors)
        for (const expr::CompileError& error : e.errors)
          problems.push_back({c.place("filters"), "filter '" + filters[e.index].name + "', column " +
                                                      std::to_string(error.column) + ": " + error.message});
  };
  t.adds_fields = [](const ActorConfig&) { return std::vector<std::string>{}; };
  t.create = [requests](const ActorContext&) { return std::make_unique<Filters>(requests); };
  // A registry's users deliver alerts whole (Kafka topics, webhooks); conditions may read a raw
  // cutout field.
  t.uses_cutouts = [](const ActorConfig& c, const std::vector<std::string>& cutout_fields) {
    if (c.has("registry")) return true;
    for (const NamedFilter& f : of_kind(configured_filters(c), registry::Filter::Kind::expression)) {
      auto compiled = expr::Program::compile(f.where);
      const auto* program = std::get_if<expr::Program>(&compiled);
      if (!program) return true;
      for (const std::string& field : program->fields()) {
        const std::string path = comparable_path(field);
        if (std::find(cutout_fields.begin(), cutout_fields.end(), path.substr(0, path.find('.'))) != cutout_fields.end())
          return true;
      }
    }
    return false;
  };
  registry.add(std::move(t));
}

}  // namespace ebs
