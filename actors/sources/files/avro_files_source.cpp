#include "actors/sources/files/avro_files_source.h"

#include <glob.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/common/ingest/message_ingester.h"
#include "engine/runtime/actor_logic.h"

namespace ebs {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> list_inputs(const std::string& pattern, const std::string& place) {
  std::vector<std::string> files;
  std::error_code ec;
  if (pattern.find_first_of("*?[") != std::string::npos) {
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
    ::globfree(&g);
  } else if (std::filesystem::is_directory(pattern, ec)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(pattern, ec))
      if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path().string());
  } else if (std::filesystem::exists(pattern, ec)) {
    files.push_back(pattern);
  } else {
    fail(place, pattern + ": no such file or directory");
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) fail(place, pattern + ": no files");
  return files;
}

std::shared_ptr<const std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot read");
  std::stringstream s;
  s << in.rdbuf();
  return std::make_shared<const std::string>(s.str());
}

class AvroFilesSource final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    std::string path = c.input_path("path");
    // Parallel instances take every n-th file.
    std::vector<std::string> all = list_inputs(path, c.place("path"));
    for (size_t i = context.instance; i < all.size(); i += context.parallelism) files_.push_back(all[i]);
    speed_ = c.number("speed");
    loop_ = c.boolean("loop");
    if (speed_ < 0) fail(c.place("speed"), "speed must be >= 0 (0 = as fast as possible)");
    ingester_ = std::make_unique<ingest::MessageIngester>(ingest::make_ingester(c));
    batch_delay_ = context.batch_delay;
    acks_ = std::make_shared<AckTracker>(AckTracker::Listener{}, context.acks);
  }

  ProduceResult produce(size_t max_records, Emitter& out) override {
    std::vector<RecordPtr> alerts;
    std::vector<ingest::IngestFailure> failures;
    if (speed_ == 0) {
      while (alerts.size() + failures.size() < max_records && next_file(alerts, failures)) {}
    } else {
      // Real-time replay: alert time t goes out at (t - t0) / speed after the first.
      if (pending_.empty()) read_ahead();
      double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
      while (!pending_.empty() && alerts.size() + failures.size() < max_records) {
        Pending& p = pending_.front();
        if (p.alert && std::isfinite(p.mjd) && (p.mjd - first_mjd_) * 86400 / speed_ > elapsed) break;
        if (p.alert) alerts.push_back(std::move(p.alert));
        else failures.push_back(std::move(*p.failure));
        pending_.pop_front();
        if (pending_.empty()) read_ahead();
      }
    }
    size_t n = alerts.size() + failures.size();
    if (n > 0) {
      auto token = std::make_shared<const AckToken>(acks_, n);
      out.read(n);
      for (auto& f : failures) out.failed_raw(std::move(f.original), f.original_format, f.fault, {token});
      if (!alerts.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(alerts), {token}));
    }
    if (!loop_) out.progress(next_, files_.size());
    if (speed_ == 0 ? exhausted() : (pending_.empty() && exhausted())) return ProduceResult::done();
    if (n == 0) {
      if (pending_.empty()) return ProduceResult::done();
      double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
      double wait = (pending_.front().mjd - first_mjd_) * 86400 / speed_ - elapsed;
      return ProduceResult::idle(std::chrono::microseconds(
          static_cast<int64_t>(std::clamp(wait, 0.0, 0.1) * 1e6) + 100));
    }
    return ProduceResult::more();
  }

 private:
  struct Pending {
    RecordPtr alert;
    std::optional<ingest::IngestFailure> failure;
    double mjd = NAN;
  };

  bool exhausted() const { return next_ >= files_.size() && !loop_; }

  // Reads the next file; false when there is none (and not looping).
  bool next_file(std::vector<RecordPtr>& alerts, std::vector<ingest::IngestFailure>& failures) {
    if (next_ >= files_.size()) {
      if (!loop_ || files_.empty()) return false;
      next_ = 0;
    }
    const std::string& path = files_[next_++];
    std::shared_ptr<const std::string> bytes;
    try {
      bytes = read_file(path);
    } catch (const Fault& f) {
      failures.push_back({f, std::string(), "bytes"});
      return true;
    }
    size_t alerts_before = alerts.size();
    ingester_->ingest(bytes, path, alerts, failures);
    if (files_read_ < files_.size()) {  // the first pass only, when looping
      ++files_read_;
      files_without_alerts_ += alerts.size() == alerts_before;
    }
    return true;
  }

 public:
  std::vector<std::string> closing_warnings() const override {
    if (files_without_alerts_ == 0) return {};
    return {std::to_string(files_without_alerts_) + " of " + std::to_string(files_read_) +
            " input files were not Avro alerts (no alert decoded; the dead letters say why)"};
  }

 private:

  void read_ahead() {
    std::vector<RecordPtr> alerts;
    std::vector<ingest::IngestFailure> failures;
    while (alerts.empty() && failures.empty()) {
      bool restarted = next_ >= files_.size() && loop_;
      if (!next_file(alerts, failures)) return;
      if (restarted) first_mjd_ = NAN;  // each pass of a loop starts its clock anew
    }
    for (auto& f : failures) pending_.push_back({nullptr, std::move(f), NAN});
    for (auto& a : alerts) {
      double mjd = static_cast<const Alert&>(*a).core().mjd_tai;
      if (!std::isfinite(first_mjd_)) {
        first_mjd_ = mjd;
        started_ = Clock::now();
      }
      pending_.push_back({std::move(a), std::nullopt, mjd});
    }
  }

  std::vector<std::string> files_;
  size_t next_ = 0;
  size_t files_read_ = 0, files_without_alerts_ = 0;
  double speed_ = 0;
  bool loop_ = false;
  std::unique_ptr<ingest::MessageIngester> ingester_;
  std::deque<Pending> pending_;
  double first_mjd_ = NAN;
  Clock::time_point started_ = Clock::now();
  std::chrono::microseconds batch_delay_{5000};
  std::shared_ptr<AckTracker> acks_;
};

}  // namespace

void register_avro_files_source(ActorRegistry& registry) {
  ActorType t;
  t.name = "avro-files";
  t.description = "Survey alerts from Avro files (ZTF/PGIR/TURBO/Spark containers, Confluent frames), mapped by survey profiles";
  t.version = "1.0";
  t.outputs = {{"alerts", PortType::alert, "alerts, one per Avro record"}};
  // Each survey profile declares its own (ZTF/PGIR/ATLAS: utc, Rubin: tai): `ebs-flow profiles`.
  t.input_time_scale = "per profile (ztf, pgir, atlas: utc; rubin: tai)";
  t.blocking = true;
  t.config = {
      {"path", ValueKind::string, true, "", "a file, a directory (recursive, name order) or a glob; relative to the workflow file"},
      {"speed", ValueKind::number, false, "0", "replay factor by alert time: 1 = real time, 0 = as fast as possible"},
      {"loop", ValueKind::boolean, false, "false", "start over at the end: a persistent test stream"},
      {"schema_dir", ValueKind::string, false, "", "writer schemas of Confluent frames (.avsc in MAJOR/MINOR folders)"},
      {"registry", ValueKind::string, false, "", "schema registry URL for Confluent frames"},
      {"profile", ValueKind::string, false, "", "force this profile; empty = choose by writer schema and version"},
      {"profiles", ValueKind::list, false, "[]", "more profile files or folders (override built-in ones by name)"},
  };
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    if (c.number("speed") < 0) problems.push_back({c.place("speed"), "speed must be >= 0"});
    check_input_exists(c, "path", problems);
    ingest::check_ingest_config(c, problems);
  };
  t.emits_fields = ingest::ingest_field_sets;
  t.create = [](const ActorContext&) { return std::make_unique<AvroFilesSource>(); };
  registry.add(std::move(t));
}

}  // namespace ebs
