// `repository`: the sink half of repository_actors.h.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "actors/sinks/repository/repository_actors.h"
#include "actors/sinks/repository/sink_config.h"
#include "actors/sinks/repository/uncommitted_batches.h"
#include "actors/common/repository/writer.h"
#include "actors/common/sqlite/wal_checkpointer.h"
#include "engine/runtime/actor_logic.h"
#include "engine/runtime/teardown.h"
#include "engine/util/backoff.h"

namespace ebs {

namespace {

using repository::Writer;
using repository::WriterOptions;
using repository::UncommittedBatches;

std::string in_run_dir(const ActorContext& context, const std::string& path) {
  std::filesystem::path p = path;
  if (p.is_relative()) p = std::filesystem::path(context.run_dir) / p;
  return p.string();
}

// The writer's own wal_autocheckpoint (writer.cpp): a long WAL copies the pages many commits
// touch into the database once per checkpoint.
constexpr int kWalCheckpointPages = 16384;

class RepositorySink final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    actor_id_ = context.actor_id;
    scope_ = context.acks;
    path_ = in_run_dir(context, c.string("path"));
    WriterOptions options = repository::shared_writer_options(c, context.actor_id);
    options.busy_timeout_ms = static_cast<int>(c.integer("busy_timeout_ms"));
    options.fsync = c.boolean("fsync");
    if (c.has("cutouts_dir") && !c.string("cutouts_dir").empty()) options.cutouts_dir = in_run_dir(context, c.string("cutouts_dir"));
    options.max_size_bytes = c.bytes("max_size_mb");
    options.page_cache_bytes = c.bytes("page_cache_mb");
    options.raw_format = c.string("raw_format") == "json" ? WriterOptions::RawFormat::json : WriterOptions::RawFormat::compact;
    policy_ = repository::commit_policy(c);
    stall_timeout_ = std::chrono::duration<double>(c.number("stall_timeout_s"));
    std::error_code ec;
    if (std::filesystem::path(path_).has_parent_path())
      std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    try {
      writer_ = std::make_unique<Writer>(path_, std::move(options));
    } catch (const Fault& f) {
      fail(c.place("path"), f.place() + ": " + f.message());
    }
    // Commits never wait for a checkpoint (copying the WAL into the database, fsync'ing both):
    // it was the tail of this sink's latency (docs/performance.md, "The latency path").
    checkpointer_ = std::make_unique<sqlite::WalCheckpointer>(writer_->database(), kWalCheckpointPages);
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    std::vector<bool> failed(batch.size(), false);
    try {
      writer_->begin();
      for (size_t i = 0; i < batch.size(); ++i) {
        try {
          Writer::validate(batch[i], path_);
        } catch (const Fault& f) {
          failed[i] = true;
          out.failed(batch.record(i), f, batch.acks());
          continue;
        }
        // `failed` marks what this batch does not write: dead letters and repeats alike.
        repository::AddResult result = writer_->add(batch[i]);
        if (result.outcome == repository::AddResult::Outcome::repeat) {
          failed[i] = true;
          out.filtered(1);  // the same alert again: an idempotent skip
        } else if (result.outcome == repository::AddResult::Outcome::conflict ||
                   result.outcome == repository::AddResult::Outcome::rejected) {
          failed[i] = true;
          out.failed(batch.record(i), Fault(FaultKind::failed, path_, result.reason), batch.acks());
        }
      }
    } catch (const std::exception& e) {
      batches_.add(batch, std::move(failed));
      stall(to_fault(e, path_));
      return;
    }
    batches_.add(batch, std::move(failed));
    if (batches_.pending_records() >= policy_.records) commit(out);
  }

  std::chrono::microseconds tick_interval() const override { return policy_.interval; }
  void on_tick(Emitter& out) override {
    if (stalled_) retry(out);
    else commit(out);
  }
  void on_end_of_stream(Emitter& out) override {
    commit(out);
    // The input has ended but what is pending is not stored yet: keep retrying (this sink has its
    // own thread) until it is, or the stall time-out gives up.
    // A run torn down meanwhile (a drain past drain_timeout_s) abandons what waits.
    while (stalled_) {
      if (sleep_unless_torn_down(*scope_, std::min<std::chrono::steady_clock::duration>(
              next_retry_ - std::chrono::steady_clock::now(), std::chrono::seconds(1))))
        return;
      retry(out);
    }
  }
  // While stalled, batches wait in the inbox and no credit flows back: the source stops reading.
  bool accepting() const override { return !stalled_ && !gave_up_; }

  std::string output() const override { return path_; }

 private:
  void commit(Emitter& out) {
    if (stalled_ || gave_up_ || batches_.empty()) return;
    const uint64_t alerts = batches_.pending_alerts();
    try {
      writer_->commit(alerts + batches_.pending_others(), alerts);
    } catch (const std::exception& e) {
      stall(to_fault(e, path_));
      return;
    }
    batches_.release(out);  // durable now
  }

  // A storage failure (locked database, full disk, quota, I/O error): roll back the open
  // transaction, keep its batches, take no more input and retry with back-off
  // (docs/reliability.md). Committed records stay; nothing uncommitted is acknowledged.
  void stall(const Fault& fault) {
    writer_->rollback();
    auto now = std::chrono::steady_clock::now();
    if (!stalled_) {
      stalled_ = true;
      stalled_since_ = now;
      backoff_.reset();
      spdlog::warn("{}: cannot write: {}: {}; {} records wait, no more input taken; retrying for up to {:.0f} s",
                   actor_id_, fault.place(), fault.message(), batches_.pending_records(), stall_timeout_.count());
    }
    reason_ = fault.place() + ": " + fault.message();
    next_retry_ = now + backoff_.next();
  }

  // Writes the pending batches again in a new transaction once the back-off has passed; gives up
  // after stall_timeout_s: their acknowledgements are abandoned and the run ends (exit 1).
  void retry(Emitter& out) {
    auto now = std::chrono::steady_clock::now();
    if (now - stalled_since_ >= stall_timeout_) {
      size_t waiting = batches_.pending_records();
      batches_.abandon();
      stalled_ = false;
      gave_up_ = true;  // the run is being torn down: take nothing more
      out.abort_run(Fault(FaultKind::failed, path_,
                          "could not write for " + std::to_string(static_cast<int>(stall_timeout_.count())) +
                              " s (stall_timeout_s): " + reason_ + "; " + std::to_string(waiting) +
                              " records not stored, nothing after the last commit acknowledged"));
      return;
    }
    if (now < next_retry_) return;
    try {
      writer_->begin();
      batches_.for_each_pending([&](const Record& record) { writer_->add(record); });
      const uint64_t alerts = batches_.pending_alerts();
      writer_->commit(alerts + batches_.pending_others(), alerts);
    } catch (const std::exception& e) {
      stall(to_fault(e, path_));
      return;
    }
    spdlog::info("{}: writing again after {:.1f} s", actor_id_,
                 std::chrono::duration<double>(now - stalled_since_).count());
    stalled_ = false;
    batches_.release(out);
  }

  std::string actor_id_;
  std::string path_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<sqlite::WalCheckpointer> checkpointer_;  // destroyed before the writer
  repository::CommitPolicy policy_;
  UncommittedBatches batches_;
  bool stalled_ = false;
  bool gave_up_ = false;
  std::shared_ptr<const AckScope> scope_ = std::make_shared<AckScope>();
  std::chrono::duration<double> stall_timeout_{60};
  std::chrono::steady_clock::time_point stalled_since_, next_retry_;
  Backoff backoff_{std::chrono::milliseconds(100), std::chrono::seconds(5)};
  std::string reason_;
};

}  // namespace

void register_repository_sink(ActorRegistry& registry) {
  ActorType t;
  t.name = "repository";
  t.description =
      "Stores Alerts (light curves, annotations, objects), SkyEvents and Coincidences in an SQLite repository; "
      "acknowledges after COMMIT";
  t.version = "1.0";
  t.inputs = {{"in", PortType::any, "Alerts, SkyEvents and Coincidences"}};
  t.outputs = {{"committed", PortType::alert, "the alerts, once committed (for sql-filter)"}};
  t.blocking = true;
  t.config = {{"path", ValueKind::string, true, "", "the SQLite database; relative paths are in the run directory"}};
  for (ConfigKey& key : repository::shared_sink_config()) t.config.push_back(std::move(key));
  t.config.insert(
      t.config.end(),
      {{"busy_timeout_ms", ValueKind::integer, false, "10000", "wait this long for another connection's lock, then stop"},
       {"fsync", ValueKind::boolean, false, "false", "fsync every commit (synchronous=FULL)"},
       {"raw_format", ValueKind::string, false, "compact",
        "alerts.raw as `compact` (a BLOB; SQL reads raw_json(raw)) or `json` (text, for other tools)"},
       {"cutouts_dir", ValueKind::string, false, "", "store cutouts as files here (unset: not stored)"},
       {"max_size_mb", ValueKind::mebibytes, false, "0", "a quota (0: none): reaching it stalls the sink like a full disk"},
       {"page_cache_mb", ValueKind::mebibytes, false, "32", "SQLite's page cache of the writer (memory held whatever the database's size)"},
       {"stall_timeout_s", ValueKind::number, false, "60",
        "a sink that cannot write retries (back-off, no input taken) this long, then ends the run with exit 1"}});
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    repository::check_shared_sink_config(c, problems);
    if (c.bytes("page_cache_mb") < 1024) problems.push_back({c.place("page_cache_mb"), "must be at least 1 KiB"});
    if (c.string("raw_format") != "compact" && c.string("raw_format") != "json")
      problems.push_back({c.place("raw_format"), "must be compact or json"});
    if (!(c.number("stall_timeout_s") >= 0)) problems.push_back({c.place("stall_timeout_s"), "must not be negative"});
  };
  t.create = [](const ActorContext&) { return std::make_unique<RepositorySink>(); };
  t.uses_cutouts = repository::sink_uses_cutouts;
  registry.add(std::move(t));
}

}  // namespace ebs
