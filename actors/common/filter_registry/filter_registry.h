// The filter service's store (docs/filters.md): users, their tokens (SHA-256 hashes only: a token
// is shown once, when issued), their filters with every version, each version's outputs, and the
// log of when each version took effect in the stream. One SQLite file, shared by the HTTP API
// (which writes) and the `filters` actor instances (which read the active filters and write the
// log); a revision number that every change increments lets the actor notice a change with one
// cheap query per batch.
//
// Refusals (a name taken, a limit reached, someone else's filter) are answers, not faults: they
// come back as a Refusal with the HTTP status the API answers with.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "actors/common/repository/alert_query.h"
#include "actors/common/sqlite/sqlite_db.h"

namespace ebs::filter_registry {

struct Limits {
  int64_t max_filters = 20;              // filters a user may have (active or paused)
  double max_alerts_per_second = 50;     // per output; above it the output drops and counts
  int64_t max_expression_cost = 40;      // nodes of an expression's syntax tree
  // SQL filters a user may have (active or paused; counted among `max_filters` too): each runs its
  // own query per alert, sharing no work with the others.
  int64_t max_sql_filters = 5;
  // SQLite virtual-machine steps one alert's query of this user's SQL filters may take (0: no
  // limit of the user's own); beyond it the query is stopped and its filter paused. The `filters`
  // actor's `sql_step_limit` bounds every user's: the lower of the two applies.
  int64_t max_sql_steps = repository::kDefaultQueryStepLimit;
};

// A change of some of a user's limits: the ones given change, the others are kept.
struct LimitsChange {
  // Initialised here so that a designated initializer naming some of them is complete.
  std::optional<int64_t> max_filters = std::nullopt;
  std::optional<double> max_alerts_per_second = std::nullopt;
  std::optional<int64_t> max_expression_cost = std::nullopt;
  std::optional<int64_t> max_sql_filters = std::nullopt;
  std::optional<int64_t> max_sql_steps = std::nullopt;

  bool empty() const;
  Limits applied_to(Limits limits) const;
};

struct User {
  int64_t id = 0;
  std::string name;
  bool admin = false;
  Limits limits;
};

// What the runs counted of an output, added up over every `filters` instance of every run that
// had it (docs/filters.md, "Undelivered messages"): the API shows them beside the pause reason.
struct OutputCounts {
  int64_t delivered = 0;
  int64_t dead_lettered = 0;  // given up on and kept for the run's dead letters (kind `undelivered`)
  int64_t lost = 0;           // given up on when the dead-letter path was full: kept nowhere
  int64_t rate_limited = 0;   // dropped above the owner's alerts/s limit, never sent
  bool operator==(const OutputCounts&) const = default;
};

struct Output {
  enum class Kind { kafka, webhook, slack };
  Kind kind = Kind::kafka;
  std::string target;  // the topic (kafka) or the URL (webhook, slack)
  // kafka: "json" (one JSON message per alert), "avro" (one Avro container per alert in
  // schemas/ebs_alert.avsc, the filter as its last annotation: docs/filters.md, "Outputs") or
  // "avro-confluent" (the same alert as a Confluent frame: magic byte 0, the id of the schema
  // registered as <topic>-value, the Avro datum).
  std::string format = "json";
};
std::string_view to_string(Output::Kind kind);

struct Filter {
  // An expression over the alert and its annotations (as `filter` takes, docs/expressions.md), or
  // SQL over the repository with the alert's fields as parameters (as `sql-filter` takes).
  enum class Kind { expression, sql };
  int64_t id = 0;
  std::string owner;  // user name
  int64_t owner_id = 0;
  std::string name;
  int64_t version = 1;
  Kind kind = Kind::expression;
  std::string expression;  // the expression, or the query of an SQL filter
  std::vector<Output> outputs;
  bool active = true;
  std::string paused_reason;  // why it is paused ("by its owner", or what failed)
  // Per output (in `outputs`' order), what runs counted of it (its kind, target and format, whatever
  // the version): filled in the API's answers (filter(), filters(), a change's answer), else empty.
  std::vector<OutputCounts> output_counts;
};
std::string_view to_string(Filter::Kind kind);

// The limits of a filter's owner that the `filters` actor applies (the others bind the API).
struct RunLimits {
  double max_alerts_per_second = Limits{}.max_alerts_per_second;
  int64_t max_sql_steps = Limits{}.max_sql_steps;
};

// From source batch `sequence` on, `filters` (at their versions of that revision) are in force,
// under their owners' limits as they were when the switch point was made (so every instance
// applies the same ones, however late it reaches the point).
struct SwitchPoint {
  int64_t revision = 0;
  int64_t sequence = 0;
  std::vector<Filter> filters;
  std::map<std::string, RunLimits> limits;  // owner's name -> their limits
};

// What a claim answers an instance: the switch points it did not know, and what its index (the
// instance's number in its actor) had claimed and logged in this run. A failover's replacement of
// an instance lost with its node has the lost one's index: it resumes from there, knowing every
// point up to the lost one's claim and logging no point the lost one logged.
//
// Bounded: at most kMaxClaimPoints points, however long the run (a replacement's first claim, or an
// instance that claims after many changes, does not get every point of the run). Of the points at
// or before the claimant's batch (reached at once) only the newest are sent: an instance keeps no
// more versions than that, so an older one would never be in force there (`skipped` counts them).
// The points after its batch are sent oldest first; those left out (`next_point`: the first's
// sequence) the claimant asks for again before its batches reach them.
struct Claim {
  std::vector<SwitchPoint> points;  // of the revisions after the one known, oldest first
  int64_t claimed_through = -1;     // the highest source sequence the index ever claimed
  int64_t applied_revision = -1;    // the newest switch point whose effects the index logged (-1: none)
  int64_t skipped = 0;              // points at or before the claimant's batch left out (older than those sent)
  int64_t next_point = -1;          // the source sequence of the first point after those sent (-1: none left out)
};

// The versions a `filters` instance keeps (each compiled, its SQL prepared), and the most switch
// points a claim answers.
inline constexpr size_t kMaxClaimPoints = 16;

struct Refusal {
  int status = 400;  // the HTTP status the API answers with
  std::string message;
};

template <typename T>
using Answer = std::variant<T, Refusal>;

// The cost of an expression (nodes of its syntax tree), or the compile errors as one message.
std::variant<int64_t, std::string> expression_cost(const std::string& expression);

// The layout version of a store (PRAGMA user_version). 0: the first layout; 1: filter_versions.kind
// ('expression' or 'sql') and users.max_sql_filters; 2: users.max_sql_steps; 3: filter_effects.attempt;
// 4: topic_owners and reserved_topics (docs/filters.md, "Topics": an older ebs-flow, which would not
// check them, refuses the store). Opening an older store migrates it.
inline constexpr int64_t kStoreVersion = 4;

// The attempt of a run that is not a cluster run, or a cluster run's first (its epoch:
// engine/cluster/messages.h kFirstEpoch). After `on_node_loss: restart` the next attempt agrees its
// own switch points from source sequence 0, and its instances log the versions in force again, under
// the new attempt's epoch.
inline constexpr int64_t kFirstAttempt = 1;
// The attempt of the effects logged before the attempt was recorded (a store of layout 2 or older).
inline constexpr int64_t kAttemptNotRecorded = 0;

class FilterRegistry {
 public:
  // Opens (creating when absent) the store at `path`.
  explicit FilterRegistry(const std::string& path);

  const std::string& path() const { return db_.path(); }

  // ---- users and tokens (admin) ----
  Answer<User> create_user(const std::string& name, bool admin, const Limits& limits);
  // Changes the limits `change` gives of a user's, keeping the others, their tokens and filters
  // (404: no such user; 400: a negative one). Read, changed and written in one write transaction,
  // so that two changes of different limits at once both take. The API answers by the new limits
  // from the next request on; a running `filters` actor applies them from its next switch point
  // (the change is a new revision, so one is made at its next batch, with the limits of then). Limits below what the user has refuse new filters and keep the existing ones:
  // `max_filters` (or `max_sql_filters`) under their count refuses another filter (429) until
  // they remove some; an existing expression over a lowered `max_expression_cost` runs until it
  // is updated (its new version must fit).
  Answer<User> set_limits(const std::string& name, const LimitsChange& change);
  // Removes the user, their tokens and their filters.
  Answer<bool> remove_user(const std::string& name);
  std::vector<User> users() const;
  // A new token for the user, returned in clear this once; `rotate` revokes the earlier ones.
  Answer<std::string> issue_token(const std::string& user, bool rotate);
  Answer<int64_t> revoke_tokens(const std::string& user);  // how many were revoked
  // The user a bearer token belongs to, if it is a valid, unrevoked token.
  std::optional<User> authenticate(const std::string& token) const;

  // ---- filters (a user acts on their own; an admin on any) ----
  // `expression` is of `kind`: an SQL filter's query is checked against the repository's schema
  // (a wrong one is refused with its place) and counts against the owner's `max_sql_filters`.
  Answer<Filter> create_filter(const User& who, const std::string& name, const std::string& expression,
                               const std::vector<Output>& outputs, Filter::Kind kind = Filter::Kind::expression);
  // A new version with the new expression and/or outputs (nullopt: unchanged). A filter keeps its
  // kind: `kind` names the kind of the new `expression`, and another than the filter's is refused.
  Answer<Filter> update_filter(const User& who, int64_t id, const std::optional<std::string>& expression,
                               const std::optional<std::vector<Output>>& outputs,
                               Filter::Kind kind = Filter::Kind::expression);
  Answer<Filter> set_active(const User& who, int64_t id, bool active, const std::string& reason);
  Answer<bool> remove_filter(const User& who, int64_t id);
  Answer<Filter> filter(const User& who, int64_t id) const;
  std::vector<Filter> filters(const User& who) const;  // own, or everyone's for an admin

  // ---- Kafka topics (docs/filters.md, "Topics") ----
  // A topic a filter's Kafka output names belongs to the user whose filter named it first, until
  // their last filter naming it is removed or changed to another; another user's filter naming it
  // (created, changed or resumed) is refused (403), as is a topic the workflow's own actors write.
  // An admin's filters may name any. Reserves `topics` for the workflow's own writers: `by` says
  // who (e.g. "workflow W, actor A"); what `by` reserved before and no longer names is released.
  void reserve_topics(const std::string& by, const std::vector<std::string>& topics);
  // The topics owned (topic -> owner's name): the user's own, or everyone's for an admin.
  std::map<std::string, std::string> topic_owners(const User& who) const;
  // The topics reserved for the workflow (topic -> who reserved it).
  std::map<std::string, std::string> reserved_topics() const;

  // ---- for the `filters` actor ----
  int64_t revision() const;
  std::vector<Filter> active_filters() const;
  // Filters that failed at run time (filter id -> why): each paused with its reason (no owner
  // check: the service does it), one revision for them all, in one write transaction.
  void pause_for_failures(const std::map<int64_t, std::string>& reasons);
  // Counts an instance adds to its filters' outputs (since it last added), in one write
  // transaction; a filter removed meanwhile is skipped. Not a change: no new revision.
  struct CountsAdded {
    int64_t filter_id = 0;
    Output output;  // kind, target, format
    OutputCounts added;
  };
  void add_output_counts(const std::vector<CountsAdded>& counts);
  // The log: version `version` of filter `filter_id` (0: it stopped) took effect at the instance's
  // alert `sequence` (alerts it had evaluated before), from the source batch `source_sequence` on
  // (-1: unknown), in the run's attempt `attempt` (kFirstAttempt, or after `on_node_loss: restart`
  // the attempt's epoch: each attempt numbers its source batches from 1 and logs its own points).
  struct Effect {
    int64_t filter_id, version;
    std::string instance;
    int64_t sequence;
    int64_t source_sequence;
    int64_t attempt = kFirstAttempt;
  };
  // The effects of the switch point of `revision` at instance `instance` of the run `run`, written in
  // one transaction that also notes the point as applied by that index (Claim::applied_revision).
  void record_effects(const std::string& run, int64_t instance, int64_t revision, const std::vector<Effect>& effects);
  std::vector<Effect> effects(int64_t id) const;

  // Switch points, agreed by the instances of one `filters` actor in one run (`run`: a key they
  // share). Instance `instance` is about to evaluate a batch from source batch `source_sequence`;
  // in one write transaction (so instances take turns) this records the claim and, when the
  // store's revision has no switch point yet, makes one: the revision's active filters take
  // effect from the source sequence just after the highest any instance has claimed, so none has
  // evaluated a batch at or after it with the earlier filters. Answers the switch points of
  // revisions after `known_revision`, oldest first, each with its filters and their owners'
  // limits as they were when it was made (at most kMaxClaimPoints: Claim), and what the instance's
  // index claimed and logged before. `batch` is the source sequence of the batch the instance is
  // at (claiming ahead of it, through `source_sequence`; -1: the same).
  Claim claim(const std::string& run, int64_t instance, int64_t source_sequence, int64_t known_revision,
              int64_t batch = -1);

 private:
  Answer<Filter> owned(const User& who, int64_t id) const;
  Filter read_filter(sqlite::Statement& s) const;
  // Fills each output's counts (for the API's answers).
  void read_counts(Filter& f) const;
  void bump_revision();
  // In a write transaction: the Kafka topics of `outputs`, for a filter of `owner_id` that `who`
  // makes, changes or resumes, are taken for the owner (those nobody owns) or refused (reserved for
  // the workflow, or another user's, unless `who` is an admin).
  std::optional<Refusal> take_topics(const User& who, int64_t owner_id, const std::vector<Output>& outputs);
  // In a write transaction: each of `topics` stays with its owner while one of their filters (not
  // removed) names it, else goes to the user of the oldest remaining filter naming it (a non-admin's
  // first), else is freed.
  void settle_topics(const std::vector<std::string>& topics);
  // The topics a user owns.
  std::vector<std::string> owned_topics(int64_t user_id) const;
  // Brings a store of an older layout to kStoreVersion, in one write transaction.
  void migrate();

  sqlite::Database db_;
};

}  // namespace ebs::filter_registry
