#include "actors/sinks/jsonl_sink.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "engine/model/record_json.h"
#include "engine/runtime/actor_logic.h"

namespace ebs {

namespace {

class JsonlSink final : public ActorLogic {
 public:
  ~JsonlSink() override {
    if (file_) std::fclose(file_);
  }

  void open(const ActorContext& context) override {
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
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    file_ = std::fopen(path_.c_str(), c.boolean("append") ? "ab" : "wb");
    if (!file_) fail(c.place("path"), path_ + ": cannot open for writing: " + std::strerror(errno));
    started_ = std::chrono::steady_clock::now();
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    for (size_t i = 0; i < batch.size(); ++i) {
      line_ = to_json(batch[i], options_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      line_ += '\n';
      if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size())
        fail(path_, std::string("write failed: ") + std::strerror(errno));
    }
    pending_.push_back(batch);
    pending_records_ += batch.size();
    written_ += batch.size();
    if (max_rate_ > 0) throttle();
    if (pending_records_ >= 4096) flush(out);
  }

  std::chrono::microseconds tick_interval() const override { return std::chrono::microseconds(50000); }
  void on_tick(Emitter& out) override { flush(out); }
  void on_end_of_stream(Emitter& out) override { flush(out); }
  std::string output() const override { return path_; }

 private:
  // Durable here means handed to the kernel (and fsync'ed when asked): only then are the
  // records delivered and their acknowledgements released.
  void flush(Emitter& out) {
    if (pending_.empty()) return;
    if (std::fflush(file_) != 0) fail(path_, std::string("flush failed: ") + std::strerror(errno));
    if (fsync_ && ::fsync(fileno(file_)) != 0) fail(path_, std::string("fsync failed: ") + std::strerror(errno));
    out.delivered(pending_records_);
    pending_.clear();
    pending_records_ = 0;
  }

  // A sink slower than its input: sleeping is fine, it runs on its own thread.
  void throttle() {
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    double ahead = written_ / max_rate_ - elapsed;
    if (ahead > 0) std::this_thread::sleep_for(std::chrono::duration<double>(ahead));
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  JsonOptions options_;
  bool fsync_ = false;
  double max_rate_ = 0;
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
      {"append", ValueKind::boolean, false, "false", "append instead of truncating"},
      {"with_raw", ValueKind::boolean, false, "true", "include the raw survey record"},
      {"with_bytes", ValueKind::boolean, false, "false", "bytes as base64 instead of their length"},
      {"fsync", ValueKind::boolean, false, "false", "fsync before acknowledging"},
      {"max_records_per_s", ValueKind::number, false, "0", "write at most this fast; 0 = unlimited"},
  };
  t.create = [](const ActorContext&) { return std::make_unique<JsonlSink>(); };
  registry.add(std::move(t));
}

}  // namespace ebs
