#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "actors/sinks/postgres/pg_writer.h"
#include "actors/sinks/postgres/postgres_actors.h"
#include "actors/sinks/repository/sink_config.h"
#include "actors/sinks/repository/uncommitted_batches.h"
#include "engine/runtime/actor_logic.h"
#include "engine/runtime/teardown.h"
#include "engine/util/backoff.h"

namespace ebs {

namespace {

using postgres::PgWriter;

class PostgresRepositorySink final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    actor_id_ = context.actor_id;
    scope_ = context.acks;
    const std::string url = c.string("url");
    place_ = postgres::server_place(url);
    const repository::WriterOptions options = repository::shared_writer_options(c, context.actor_id);
    policy_ = repository::commit_policy(c);
    attempts_ = static_cast<int>(c.integer("reconnect_attempts"));
    first_delay_ = std::chrono::milliseconds(c.integer("reconnect_delay_ms"));
    max_delay_ = std::chrono::milliseconds(c.integer("reconnect_max_delay_ms"));
    Backoff backoff(first_delay_, max_delay_);
    for (int attempt = 0;; ++attempt) {
      try {
        writer_ = std::make_unique<PgWriter>(url, options);
        return;
      } catch (const Fault& f) {
        if (f.kind() != FaultKind::disconnected || attempt >= attempts_) fail(c.place("url"), f.place() + ": " + f.message());
        back_off(attempt, f, backoff);
      }
    }
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    if (stopped_) {
      batches_.hold(batch);  // kept unacknowledged (and unaccounted) rather than lost
      return;
    }
    std::vector<bool> failed(batch.size(), false);
    for (size_t i = 0; i < batch.size(); ++i) {
      try {
        writer_->add(batch.record(i));
      } catch (const Fault& f) {
        failed[i] = true;
        out.failed(batch.record(i), f, batch.acks());
      }
    }
    batches_.add(batch, std::move(failed));
    if (batches_.pending_records() >= policy_.records) commit(out);
  }

  std::chrono::microseconds tick_interval() const override { return policy_.interval; }
  void on_tick(Emitter& out) override { commit(out); }
  void on_end_of_stream(Emitter& out) override {
    commit(out);
    if (stopped_)
      spdlog::error("{}: the postgres-repository sink had stopped: {} records were not acknowledged", actor_id_,
                    batches_.held_records() + batches_.pending_records());
  }

  std::string output() const override { return place_; }

 private:
  void back_off(int attempt, const Fault& fault, Backoff& backoff) {
    const std::chrono::milliseconds delay = backoff.next();
    spdlog::warn("{}: {}: {}; retrying in {} ms ({}/{})", actor_id_, fault.place(), fault.message(), delay.count(),
                 attempt + 1, attempts_);
    sleep_unless_torn_down(*scope_, delay);  // a run torn down meanwhile does not wait for the server
  }

  // Commits what is pending; a lost connection or a transient server condition (deadlock, too
  // many connections) is retried on a new connection with back-off; anything else stops the sink.
  void commit(Emitter& out) {
    if (stopped_ || batches_.empty()) return;
    Backoff backoff(first_delay_, max_delay_);
    std::vector<repository::AddResult> outcomes;
    for (int attempt = 0;; ++attempt) {
      try {
        if (reconnect_) {
          writer_->reconnect();
          reconnect_ = false;
        }
        outcomes = writer_->commit();
        break;
      } catch (const Fault& f) {
        bool transient = f.kind() == FaultKind::disconnected || f.kind() == FaultKind::overloaded;
        if (!transient || attempt >= attempts_ || scope_->torn_down()) {
          stop(f);
          return;
        }
        reconnect_ = reconnect_ || f.kind() == FaultKind::disconnected || !writer_->connection().alive();
        back_off(attempt, f, backoff);
      } catch (const std::exception& e) {
        stop(Fault(FaultKind::failed, place_, e.what()));
        return;
      }
    }
    // The SQLite sink's rule, learnt at COMMIT here: a repeat is an idempotent skip counted as
    // filtered, a different alert under a stored id a dead letter.
    size_t next = 0;
    batches_.settle([&](const BatchView& batch, size_t i) {
      const repository::AddResult& r = outcomes.at(next++);
      if (r.outcome == repository::AddResult::Outcome::repeat) {
        out.filtered(1);
        return true;
      }
      if (r.outcome == repository::AddResult::Outcome::conflict) {
        out.failed(batch.record(i), Fault(FaultKind::failed, place_, r.reason), batch.acks());
        return true;
      }
      return false;
    });
    batches_.release(out);  // durable now
  }

  // Gives up: nothing uncommitted is acknowledged, not even at teardown.
  void stop(const Fault& fault) {
    writer_->discard();
    stopped_ = true;
    batches_.hold_pending();
    spdlog::error("{}: postgres-repository sink stopped: {}: {} (committed records stay; {} records not acknowledged)",
                  actor_id_, fault.place(), fault.message(), batches_.held_records());
  }

  std::string actor_id_, place_;
  std::shared_ptr<const AckScope> scope_ = std::make_shared<AckScope>();  // the run's, from open()
  std::unique_ptr<PgWriter> writer_;
  repository::CommitPolicy policy_;
  int attempts_ = 8;
  std::chrono::milliseconds first_delay_{200}, max_delay_{10000};
  bool reconnect_ = false;
  repository::UncommittedBatches batches_;
  bool stopped_ = false;
};

}  // namespace

void register_postgres_actors(ActorRegistry& registry) {
  ActorType t;
  t.name = "postgres-repository";
  t.description =
      "Stores Alerts (light curves, annotations, objects), SkyEvents and Coincidences in a PostgreSQL repository "
      "(the SQLite repository's tables); acknowledges after COMMIT, reconnects after a lost connection";
  t.version = "1.0";
  t.inputs = {{"in", PortType::any, "Alerts, SkyEvents and Coincidences"}};
  t.outputs = {{"committed", PortType::alert, "the alerts, once committed"}};
  t.blocking = true;
  t.config = {{"url", ValueKind::string, true, "",
               "libpq connection URL, e.g. postgresql://user@host:5432/ebs (a password is better in ~/.pgpass or "
               "PGPASSWORD)"}};
  for (ConfigKey& key : repository::shared_sink_config()) t.config.push_back(std::move(key));
  t.config.insert(t.config.end(),
                  {{"reconnect_attempts", ValueKind::integer, false, "8",
                    "retries of a commit after a lost connection before the sink stops"},
                   {"reconnect_delay_ms", ValueKind::integer, false, "200", "the first retry's delay; doubled each time"},
                   {"reconnect_max_delay_ms", ValueKind::integer, false, "10000", "the longest delay between retries"}});
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    if (!postgres::is_postgres_url(c.string("url")))
      problems.push_back({c.place("url"), "expected a postgresql:// URL"});
    repository::check_shared_sink_config(c, problems);
    for (const char* key : {"reconnect_attempts", "reconnect_delay_ms", "reconnect_max_delay_ms"})
      if (c.integer(key) < 0) problems.push_back({c.place(key), "must not be negative"});
  };
  t.check_connect = [](const ActorConfig& c, std::vector<Problem>& problems) {
    try {
      postgres::Connection connection(c.string("url"), "ebs-flow validate");
    } catch (const Fault& f) {
      problems.push_back({c.place("url"), "cannot reach the database: " + f.message()});
    }
  };
  t.create = [](const ActorContext&) { return std::make_unique<PostgresRepositorySink>(); };
  t.uses_cutouts = repository::sink_uses_cutouts;
  registry.add(std::move(t));
}

}  // namespace ebs
