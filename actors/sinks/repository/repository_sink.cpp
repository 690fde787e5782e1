// `repository`: the sink half of repository_actors.h.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "actors/sinks/repository/repository_actors.h"
#include "actors/sinks/repository/sink_config.h"
#include "actors/sinks/repository/uncommitted_batches.h"
#include "actors/common/repository/writer.h"
#include "engine/runtime/actor_logic.h"

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

class RepositorySink final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    actor_id_ = context.actor_id;
    path_ = in_run_dir(context, c.string("path"));
    WriterOptions options = repository::shared_writer_options(c, context.actor_id);
    options.busy_timeout_ms = static_cast<int>(c.integer("busy_timeout_ms"));
    options.fsync = c.boolean("fsync");
    if (c.has("cutouts_dir") && !c.string("cutouts_dir").empty()) options.cutouts_dir = in_run_dir(context, c.string("cutouts_dir"));
    options.max_size_mb = c.integer("max_size_mb");
    policy_ = repository::commit_policy(c);
    std::error_code ec;
    if (std::filesystem::path(path_).has_parent_path())
      std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    try {
      writer_ = std::make_unique<Writer>(path_, std::move(options));
    } catch (const Fault& f) {
      fail(c.place("path"), f.place() + ": " + f.message());
    }
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    if (stopped_) {
      // Stopped: keep the batch unacknowledged (and unaccounted) rather than lose it.
      batches_.hold(batch);
      return;
    }
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
    } catch (const Fault& f) {
      batches_.add(batch, std::move(failed));
      stop(f);
      return;
    } catch (const std::exception& e) {
      batches_.add(batch, std::move(failed));
      stop(Fault(FaultKind::failed, path_, e.what()));
      return;
    }
    batches_.add(batch, std::move(failed));
    if (batches_.pending_records() >= policy_.records) commit(out);
  }

  std::chrono::microseconds tick_interval() const override { return policy_.interval; }
  void on_tick(Emitter& out) override { commit(out); }
  void on_end_of_stream(Emitter& out) override {
    commit(out);
    if (stopped_)
      spdlog::error("{}: the repository sink had stopped: {} records were not acknowledged", actor_id_,
                    batches_.held_records() + batches_.pending_records());
  }

  std::string output() const override { return path_; }

 private:
  void commit(Emitter& out) {
    if (stopped_ || batches_.empty()) return;
    const uint64_t alerts = batches_.pending_alerts();
    try {
      writer_->commit(alerts + batches_.pending_others(), alerts);
    } catch (const Fault& f) {
      stop(f);
      return;
    }
    batches_.release(out);  // durable now
  }

  // A storage failure (locked database, full disk, I/O error): roll back the open transaction and
  // stop. Nothing uncommitted is acknowledged, not even at teardown (uncommitted_batches.h); the
  // run's accounting shows the held records as neither delivered nor failed.
  void stop(const Fault& fault) {
    writer_->rollback();
    stopped_ = true;
    batches_.hold_pending();
    spdlog::error("{}: repository sink stopped: {}: {} (committed records stay; {} records not acknowledged)",
                  actor_id_, fault.place(), fault.message(), batches_.held_records());
  }

  std::string actor_id_;
  std::string path_;
  std::unique_ptr<Writer> writer_;
  repository::CommitPolicy policy_;
  UncommittedBatches batches_;
  bool stopped_ = false;
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
       {"cutouts_dir", ValueKind::string, false, "", "store cutouts as files here (unset: not stored)"},
       {"max_size_mb", ValueKind::integer, false, "0", "a quota: reaching it stops the sink like a full disk"}});
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    repository::check_shared_sink_config(c, problems);
    if (c.integer("max_size_mb") < 0) problems.push_back({c.place("max_size_mb"), "must not be negative"});
  };
  t.create = [](const ActorContext&) { return std::make_unique<RepositorySink>(); };
  registry.add(std::move(t));
}

}  // namespace ebs
