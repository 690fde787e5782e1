#include "actors/sinks/jsonl_sink.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "engine/model/record_json.h"
#include "engine/runtime/actor_logic.h"
#include "engine/runtime/teardown.h"

namespace ebs {

namespace {

class JsonlSink final : public ActorLogic {
 public:
  ~JsonlSink() override {
    if (file_) std::fclose(file_);
  }

  void open(const ActorContext& context) override {
    scope_ = context.acks;
    const ActorConfig& c = context.config;
    std::filesystem::path path = c.string("path");
    if (path.is_relative()) path = std::filesystem::path(context.run_dir) / path;
    // Parallel instances write one file each.
    if (context.parallelism > 1)
      path.replace_filename(path.stem().string() + "-" + std::to_string(context.instance) +
                            path.extension().string());
    path_ = path.string();
    options_.with_bytes = c.boolean("with_bytes");
    options_.with_raw = c.boolean("with_raw");
    fsync_ = c.boolean("fsync");
    max_rate_ = c.number("max_records_per_s");
    flush_interval_ = std::chrono::milliseconds(c.integer("flush_interval_ms"));
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    bool append = c.boolean("append");
    // What a previous run wrote was acknowledged (its offsets may be committed): never truncated
    // unless the run says --overwrite; appended to after trimming a line a crash left torn.
    if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) > 0) {
      if (append) trim_torn_tail(path_);
      else if (!context.overwrite)
        fail(c.place("path"), path_ + ": holds the output of a previous run (" +
                                  std::to_string(std::filesystem::file_size(path, ec)) +
                                  " bytes); refusing to truncate it: set append: true, choose another path "
                                  "or run with --overwrite");
    }
    file_ = std::fopen(path_.c_str(), append ? "ab" : "wb");
    if (!file_) fail(c.place("path"), path_ + ": cannot open for writing: " + std::strerror(errno));
    started_ = std::chrono::steady_clock::now();
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    for (size_t i = 0; i < batch.size(); ++i) {
      line_ = to_json(batch[i], options_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      line_ += '\n';
      if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size()) {
        int error = errno;
        give_up();  // this batch becomes dead letters (the runtime's doing); the earlier ones are lost
        fail(path_, std::string("write failed: ") + std::strerror(error));
      }
    }
    pending_.push_back(batch);
    pending_records_ += batch.size();
    written_ += batch.size();
    if (max_rate_ > 0) throttle();
    if (pending_records_ >= 4096) flush(out);
  }

  // The records' wait for durability (their latency) is bounded by the interval, not by traffic: a
  // partial batch goes out at the next tick.
  std::chrono::microseconds tick_interval() const override { return flush_interval_; }
  void on_tick(Emitter& out) override { flush(out); }
  void on_end_of_stream(Emitter& out) override { flush(out); }
  std::string output() const override { return path_; }

 private:
  // Durable means written and fsync'ed (unless `fsync: false`): only then are the records
  // delivered and their acknowledgements released. A write that fails abandons them instead.
  void flush(Emitter& out) {
    if (pending_.empty()) return;
    const char* step = nullptr;
    if (std::fflush(file_) != 0) step = "flush";
    else if (fsync_ && ::fsync(fileno(file_)) != 0) step = "fsync";
    if (step) {
      int error = errno;
      give_up();
      fail(path_, std::string(step) + " failed: " + std::strerror(error) + "; the records not written are not acknowledged");
    }
    out.delivered(pending_records_);
    pending_.clear();
    pending_records_ = 0;
  }

  // The pending records could not be written: their acknowledgements are abandoned, so no source
  // commits past them. A line written in part is left for the next open to trim.
  void give_up() {
    for (const BatchView& b : pending_)
      for (const AckRef& a : b.acks()) a->abandon();
    pending_.clear();
    pending_records_ = 0;
    std::clearerr(file_);
  }

  // A crash (SIGKILL, power loss) may leave a last line without its newline: it was never
  // acknowledged, so it goes, and the next line does not glue onto it.
  static void trim_torn_tail(const std::string& path) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) return;  // fopen for appending below reports why
    std::fseek(file, 0, SEEK_END);
    long size = std::ftell(file);
    long keep = size;
    char c = 0;
    while (keep > 0) {
      std::fseek(file, keep - 1, SEEK_SET);
      if (std::fread(&c, 1, 1, file) != 1 || c == '\n') break;
      --keep;
    }
    std::fclose(file);
    if (keep == size) return;
    if (::truncate(path.c_str(), keep) != 0)
      fail(path, std::string("cannot trim the torn last line: ") + std::strerror(errno));
    spdlog::warn("{}: trimmed a torn last line ({} bytes) left by an interrupted run", path, size - keep);
  }

  // A sink slower than its input: sleeping is fine, it runs on its own thread.
  void throttle() {
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    double ahead = written_ / max_rate_ - elapsed;
    if (ahead > 0)
      sleep_unless_torn_down(*scope_, std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(ahead)));
  }

  std::shared_ptr<const AckScope> scope_ = std::make_shared<AckScope>();  // the run's, from open()
  std::string path_;
  std::FILE* file_ = nullptr;
  JsonOptions options_;
  bool fsync_ = false;
  double max_rate_ = 0;
  std::chrono::microseconds flush_interval_{20000};
  uint64_t written_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::vector<BatchView> pending_;
  size_t pending_records_ = 0;
  std::string line_;
};

}  // namespace

void register_jsonl_sink(ActorRegistry& registry) {
  ActorType t;
  t.name = "jsonl";
  t.description = "Writes records as JSON lines to a file (also the default dead-letter sink)";
  t.version = "1.0";
  t.inputs = {{"in", PortType::any, "records of any type"}};
  t.blocking = true;
  t.config = {
      {"path", ValueKind::string, true, "", "output file; relative paths are in the run directory"},
      {"append", ValueKind::boolean, false, "false",
       "append to what is there (a torn last line is trimmed first); false: a file a previous run wrote is an error unless run --overwrite"},
      {"with_raw", ValueKind::boolean, false, "true", "include the raw survey record"},
      {"with_bytes", ValueKind::boolean, false, "false", "bytes as base64 instead of their length"},
      {"fsync", ValueKind::boolean, false, "true", "fsync before acknowledging (false: survives a crash of the process, not of the machine)"},
      {"max_records_per_s", ValueKind::number, false, "0", "write at most this fast; 0 = unlimited"},
      {"flush_interval_ms", ValueKind::integer, false, "20",
       "flush (and fsync) what is written at least this often, also every 4096 records"},
  };
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    if (c.integer("flush_interval_ms") < 1) problems.push_back({c.place("flush_interval_ms"), "must be at least 1"});
  };
  t.create = [](const ActorContext&) { return std::make_unique<JsonlSink>(); };
  // Alerts are written whole (their cutouts' length, or bytes).
  t.uses_cutouts = [](const ActorConfig&, const std::vector<std::string>&) { return true; };
  registry.add(std::move(t));
}

}  // namespace ebs
