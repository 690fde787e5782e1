#include "actors/sources/files/avro_files_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>
#include <utility>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "actors/common/avro/byte_reader.h"
#include "actors/common/avro/container_file.h"
#include "actors/common/ingest/container_file_stream.h"
#include "actors/common/ingest/message_ingester.h"
#include "actors/sources/files/file_walk.h"
#include "engine/graph/cutout_use.h"
#include "engine/model/record_bytes.h"
#include "engine/runtime/source_batch.h"
#include "engine/runtime/actor_logic.h"

namespace ebs {

namespace {

using Clock = std::chrono::steady_clock;

// One sized read (no stream-to-string copies: they were most of a run's instructions).
std::shared_ptr<const std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (!in || ec) fail(path, "cannot read");
  auto bytes = std::make_shared<std::string>(static_cast<size_t>(size), '\0');
  in.read(bytes->data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(in.gcount()) != size) fail(path + ":byte " + std::to_string(in.gcount()), "cannot read");
  return bytes;
}

// A file of at most `limit` bytes read whole with one open, fstat and sized read (no stream, no
// zero fill; a second open to look at its magic doubled the system calls per file); nullopt
// for a larger file. Faults name the path.
struct SmallFile {
  std::shared_ptr<const void> owner;
  std::string_view bytes;
};
// An open file and its size; closed when it goes. Faults name the path. `fd` is what opening
// `path` returned (FileWalk::open).
struct OpenFile {
  OpenFile(const std::string& path, int fd) : path(path), fd(fd) {
    if (fd < 0) fail(path, std::string("cannot read: ") + std::strerror(errno));
    struct stat status {};
    if (::fstat(fd, &status) != 0) {
      ::close(fd);
      fail(path, std::string("cannot read: ") + std::strerror(errno));
    }
    size = static_cast<uint64_t>(status.st_size);
  }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile() { ::close(fd); }

  // Reads on from where the last read ended into `buffer[from, to)`.
  void read_into(char* buffer, size_t from, size_t to) const {
    while (from < to) {
      const ssize_t n = ::read(fd, buffer + from, to - from);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail(path + ":byte " + std::to_string(from), "cannot read");
      from += static_cast<size_t>(n);
    }
  }

  const std::string& path;
  int fd;
  uint64_t size = 0;
};

std::optional<SmallFile> read_small_file(const std::string& path, int fd, size_t limit) {
  const OpenFile file(path, fd);
  if (file.size > limit) return std::nullopt;
  std::shared_ptr<char[]> buffer(new char[std::max<uint64_t>(file.size, 1)]);
  file.read_into(buffer.get(), 0, static_cast<size_t>(file.size));
  std::string_view bytes(buffer.get(), static_cast<size_t>(file.size));
  return SmallFile{std::move(buffer), bytes};
}

bool starts_with_container_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && avro::has_container_magic(std::string_view(magic, 4));
}

class AvroFilesSource final : public ActorLogic {
 public:
  // Tests cut batches at fewer bytes than kSourceBatchBytes.
  AvroFilesSource(std::shared_ptr<const profiles::BuiltinProfiles> builtin, size_t batch_bytes)
      : builtin_(std::move(builtin)), batch_bytes_(batch_bytes) {}

  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    // Parallel instances take every n-th file of the walk.
    files_.emplace(c.input_path("path"), c.place("path"));
    instance_ = context.instance;
    parallelism_ = context.parallelism;
    const size_t all = files_->count();
    my_files_ = all > instance_ ? (all - instance_ + parallelism_ - 1) / parallelism_ : 0;
    speed_ = c.number("speed");
    loop_ = c.boolean("loop");
    if (speed_ < 0) fail(c.place("speed"), "speed must be >= 0 (0 = as fast as possible)");
    ingester_ = std::make_unique<ingest::MessageIngester>(ingest::make_ingester(c, *builtin_));
    batch_size_ = context.batch_size;
    acks_ = std::make_shared<AckTracker>(AckTracker::Listener{}, context.acks);
    actor_id_ = context.actor_id;
    decide_cutouts(context);
  }

  // A batch ends at `max_records` records or kSourceBatchBytes bytes (record_bytes), whichever comes
  // first, wherever that falls in a file: a container of 20,000 records goes out in pieces.
  ProduceResult produce(size_t max_records, Emitter& out) override {
    std::vector<RecordPtr> alerts;
    std::vector<ingest::IngestFailure> failures;
    size_t bytes = 0;
    auto full = [&] { return alerts.size() + failures.size() >= max_records || bytes >= batch_bytes_; };
    auto take = [&](ingest::IngestItem&& item) {
      if (item.alert) {
        bytes += record_bytes(*item.alert);
        alerts.push_back(std::move(item.alert));
      } else {
        bytes += item.failure->original.size();
        failures.push_back(std::move(*item.failure));
      }
    };
    if (speed_ == 0) {
      ingest::IngestItem item;
      while (!full() && next_item(item)) take(std::move(item));
    } else {
      // Real-time replay: alert time t goes out at (t - t0) / speed after the first.
      if (pending_.empty()) read_ahead();
      double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
      while (!pending_.empty() && !full()) {
        Pending& p = pending_.front();
        if (p.item.alert && std::isfinite(p.mjd) && (p.mjd - first_mjd_) * 86400 / speed_ > elapsed) break;
        take(std::move(p.item));
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
    if (!loop_) out.progress(files_opened_, my_files_);
    if (exhausted_ && pending_.empty()) {
      if (alerts_without_cutouts_ > 0)
        spdlog::info("{}: {} alerts read without their cutouts ({})", actor_id_, alerts_without_cutouts_,
                     join(fields_left_));
      alerts_without_cutouts_ = 0;
      return ProduceResult::done();
    }
    if (n == 0 && speed_ > 0 && !pending_.empty()) {
      double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
      double wait = (pending_.front().mjd - first_mjd_) * 86400 / speed_ - elapsed;
      return ProduceResult::idle(std::chrono::microseconds(
          static_cast<int64_t>(std::clamp(wait, 0.0, 0.1) * 1e6) + 100));
    }
    return ProduceResult::more();
  }

  std::vector<std::string> closing_warnings() const override {
    if (files_without_alerts_ == 0) return {};
    return {std::to_string(files_without_alerts_) + " of " + std::to_string(files_read_) +
            " input files were not Avro alerts (no alert decoded; the dead letters say why)"};
  }

 private:
  struct Pending {
    ingest::IngestItem item;
    double mjd = NAN;
  };

  // The next record of the current file, opening the next file when it is used up; false when
  // every file was read (and the source does not loop).
  bool next_item(ingest::IngestItem& item) {
    while (true) {
      std::optional<ingest::IngestItem> next;
      if (stream_) next = stream_->next();
      else if (!whole_file_.empty()) {
        next = std::move(whole_file_.front());
        whole_file_.pop_front();
      }
      if (next) {
        alerts_in_file_ += next->alert != nullptr;
        item = std::move(*next);
        return true;
      }
      if (file_open_) close_file();
      std::optional<std::string> file = next_file();
      if (!file && loop_ && my_files_ > 0) {
        files_->restart();
        walked_ = 0;
        first_pass_ = false;
        restarted_ = true;
        file = next_file();
      }
      if (!file) {
        exhausted_ = true;
        return false;
      }
      ++files_opened_;
      open_file(*file);
    }
  }

  // A container file is read block by block; anything else (a Confluent frame, a file that is no
  // Avro at all) is one message, read whole.
  void open_file(const std::string& path) {
    file_open_ = true;
    alerts_in_file_ = 0;
    try {
      std::shared_ptr<const std::string> message;
      std::optional<SmallFile> small;
      if (unread_cutout_fields_.empty())
        small = read_small_file(path, open_read(path), ingest::ContainerFileStream::kWholeFileBytes);
      else if (read_without_cutouts(path, small)) return;
      if (small) {
        if (avro::has_container_magic(small->bytes.substr(0, 4))) {
          stream_.emplace(path, std::move(small->owner), small->bytes, *ingester_);
          return;
        }
        message = std::make_shared<const std::string>(small->bytes);
      } else if (starts_with_container_magic(path)) {
        stream_.emplace(path, *ingester_);
        return;
      } else {
        message = read_file(path);
      }
      std::vector<RecordPtr> alerts;
      std::vector<ingest::IngestFailure> failures;
      ingester_->ingest(message, path, alerts, failures);
      for (auto& a : alerts) whole_file_.push_back({std::move(a), std::nullopt});
      for (auto& f : failures) whole_file_.push_back({nullptr, std::move(f)});
    } catch (const Fault& f) {
      whole_file_.push_back({nullptr, ingest::IngestFailure{f, std::string(), "bytes"}});
    }
  }

  // The file the walk gave last, opened to read (relative to its folder).
  int open_read(const std::string& path) const { return files_->open(path, O_RDONLY | O_CLOEXEC); }

  // `cutouts: auto` leaves unread the cutout fields nothing downstream uses, each asked on its own
  // (engine/graph/cutout_use.h: a repository keeps ZTF's `cutoutScience` out of its raw records
  // by default, not a field of another profile's); `read` and `skip` force it. Without a workflow
  // (a test of the source alone) auto reads them.
  void decide_cutouts(const ActorContext& context) {
    const std::string mode = context.config.string("cutouts");
    if (mode == "read") return;
    for (const std::string& field : ingester_->profiles().cutout_fields()) {
      if (mode == "auto") {
        if (!context.workflow) return;
        const CutoutUse use = cutout_use_downstream(*context.workflow, context.actor_id, {field});
        if (use.used) {
          if (context.instance == 0) spdlog::debug("{}: {} is read: {}", context.actor_id, field, use.why);
          continue;
        }
      }
      unread_cutout_fields_.push_back(field);
    }
    if (!unread_cutout_fields_.empty() && context.instance == 0)
      spdlog::info("{}: the cutout fields {} are not read ({}; `cutouts: read` reads them)", context.actor_id,
                   join(unread_cutout_fields_), mode == "skip" ? "cutouts: skip" : "nothing downstream uses them");
  }

  static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
  }

  // The file read only as far as its one record's fields before the cutouts (which survey schemas
  // put last): a prefix of `head_bytes_`, read further while the header or those fields run past
  // it. Only an Avro container of one null-codec block of one record whose last root fields are
  // cutouts is read so (ZTF's alert files); anything else, and anything that does not decode or
  // map, ends with the whole file in `whole` for the usual path, which decodes it again and makes
  // the same alerts and dead letters as without the skip (files larger than kWholeFileBytes: no
  // `whole`, the usual path reads them). The cutouts' bytes and the block's sync marker after
  // them are neither read nor checked: damage there goes unnoticed (reading the marker, one more
  // system call, cost 3 µs a file here). A file cut short is seen (its size is known).
  // True when the alert is in whole_file_.
  bool read_without_cutouts(const std::string& path, std::optional<SmallFile>& whole) {
    const OpenFile file(path, open_read(path));
    if (file.size > ingest::ContainerFileStream::kWholeFileBytes) return false;
    const auto size = static_cast<size_t>(file.size);
    size_t have = std::min(size, first_read_bytes(size));
    std::shared_ptr<char[]> buffer(new char[std::max<size_t>(have, 1)]);
    file.read_into(buffer.get(), 0, have);
    while (true) {
      const std::string_view bytes(buffer.get(), have);
      const Head head = decode_head(file, bytes, buffer);
      if (head == Head::decoded) return true;
      if (head == Head::whole_file || have == size) {
        if (have < size) {  // the usual path needs it all
          std::shared_ptr<char[]> all(new char[size]);
          std::memcpy(all.get(), buffer.get(), have);
          file.read_into(all.get(), have, size);
          buffer = std::move(all);
          have = size;
        }
        whole = SmallFile{buffer, std::string_view(buffer.get(), size)};
        return false;
      }
      // As far as the longest of the last files, else 16 KiB more, not twice as much: a prefix
      // read stays alive with its alert (a ZTF file's header and fields before the cutouts pass
      // 32 KiB by at most ~15 KB).
      const size_t more = std::min(size, have < head_bytes_ ? head_bytes_ : have + 16 * 1024);
      std::shared_ptr<char[]> longer(new char[more]);
      std::memcpy(longer.get(), buffer.get(), have);
      file.read_into(longer.get(), have, more);
      buffer = std::move(longer);
      have = more;
    }
  }

  enum class Head { decoded, read_more, whole_file };
  Head decode_head(const OpenFile& file, std::string_view bytes, const std::shared_ptr<char[]>& owner) {
    const std::string& path = file.path;
    const uint64_t file_size = file.size;
    avro::ContainerHeader header;
    avro::Decoder& decoder = ingester_->decoder();
    int64_t count = 0, data_size = 0;
    uint64_t data_start = 0;
    try {
      if (bytes.size() >= 4 && !avro::has_container_magic(bytes.substr(0, 4))) return Head::whole_file;
      header = avro::read_container_header(bytes, path);
      avro::ByteReader in(bytes.substr(header.blocks_offset), path, header.blocks_offset);
      count = in.read_long();
      data_size = in.read_long();
      data_start = in.offset();
    } catch (const std::exception&) {
      return Head::read_more;
    }
    if (header.codec != avro::Codec::null || count != 1 || data_size < 0 ||
        data_start + static_cast<uint64_t>(data_size) + 16 != file_size)
      return Head::whole_file;
    std::shared_ptr<const avro::DecodePlan> plan;
    try {
      plan = decoder.plan_for_container(header.schema, static_cast<uint64_t>(header.schema.data() - bytes.data()), path);
    } catch (const std::exception&) {
      return Head::whole_file;
    }
    const uint32_t fields = head_fields(plan);
    if (fields == 0) return Head::whole_file;
    RawRecord record;
    uint64_t end = 0;
    try {
      const size_t available = std::min<size_t>(static_cast<size_t>(data_size), bytes.size() - data_start);
      record = decoder.decode_head(plan, bytes.substr(data_start, available), data_start, owner, path, fields, end);
    } catch (const std::exception&) {
      return Head::read_more;
    }
    try {
      auto unread = std::make_shared<const UnreadCutouts>(UnreadCutouts{last_left_fields_, path});
      // `plan` decoded `record` just above (ProfileSet::map's contract). A file that falls back
      // to Head::whole_file is decoded again (open_file): by a ContainerFileStream, which passes
      // the plan that decoded each block, or by the message ingester, which passes none.
      whole_file_.push_back({std::make_shared<const Alert>(ingester_->profiles().map(
                                 std::move(record), owner, path + " record 0", std::move(unread), bytes.size(), plan)),
                             std::nullopt});
      ++alerts_without_cutouts_;
      for (const std::string& field : last_left_fields_)
        if (std::find(fields_left_.begin(), fields_left_.end(), field) == fields_left_.end()) fields_left_.push_back(field);
    } catch (const std::exception&) {
      return Head::whole_file;  // the usual path dead-letters the record with its own encoding
    }
    learn_read_sizes(static_cast<size_t>(end), static_cast<size_t>(file_size));
    return Head::decoded;
  }

  // How many of the plan's root fields come before the cutouts left unread: 0 when its root is
  // not a record ending in such fields (nothing to leave out).
  uint32_t head_fields(const std::shared_ptr<const avro::DecodePlan>& plan) {
    if (plan == last_plan_) return last_head_fields_;
    const std::vector<std::string>& cutouts = unread_cutout_fields_;
    const avro::PlanType& root = plan->type(plan->root());
    uint32_t fields = 0;
    std::vector<std::string> left;
    if (root.op == avro::PlanType::Op::Record && root.shape) {
      fields = root.count;
      while (fields > 0 && std::find(cutouts.begin(), cutouts.end(), root.shape->fields[fields - 1]) != cutouts.end())
        --fields;
      if (fields == root.count) fields = 0;
      for (uint32_t i = fields; fields > 0 && i < root.count; ++i) left.push_back(root.shape->fields[i]);
    }
    last_plan_ = plan;
    last_head_fields_ = fields;
    last_left_fields_ = std::move(left);
    return fields;
  }

  // The first read's length. The bytes files needed (their header and fields before the
  // cutouts) spread widely (ZTF's: 24-49 KB, half of them under 25 KB), the bytes after them (the
  // cutouts) much less (ZTF's: 40-43 KB but for a few): the read ends where the file's size less
  // the tail that all but kTailShare of the last window's files had at least says, in whole
  // pages, and at most at the longest need seen (head_bytes_). A read too short costs one more
  // read and a second decode: the files with shorter tails pay it (a share of the needs instead,
  // with more files read twice, cost more than it saved: docs/performance.md).
  size_t first_read_bytes(size_t size) const {
    constexpr size_t kPage = 4096;
    if (!short_tail_ || size <= *short_tail_) return head_bytes_;
    return std::min(head_bytes_, (size - *short_tail_ + kPage - 1) / kPage * kPage);
  }

  // The longest need: up at once to the longest seen, down slowly (the longest of the last two
  // windows of kHeadWindow files), in whole pages with a margin. The short tail: from the last
  // window, with the same margin.
  void learn_read_sizes(size_t needed, size_t size) {
    constexpr size_t kPage = 4096, kMargin = 512, kHeadWindow = 256;
    constexpr double kTailShare = 0.1;
    auto pages = [&](size_t n) { return (n + kMargin + kPage - 1) / kPage * kPage; };
    window_longest_ = std::max(window_longest_, needed);
    if (pages(needed) > head_bytes_) head_bytes_ = pages(needed);
    window_tails_.push_back(size - needed);
    if (++window_files_ == kHeadWindow) {
      head_bytes_ = pages(std::max(window_longest_, previous_window_longest_));
      previous_window_longest_ = window_longest_;
      window_longest_ = 0;
      window_files_ = 0;
      const auto share = window_tails_.begin() + static_cast<ptrdiff_t>(kTailShare * (kHeadWindow - 1));
      std::nth_element(window_tails_.begin(), share, window_tails_.end());
      short_tail_ = *share > kMargin ? *share - kMargin : 0;  // 0: no tail to leave unread
      window_tails_.clear();
    }
  }

  void close_file() {
    stream_.reset();
    file_open_ = false;
    if (first_pass_) {  // when looping
      ++files_read_;
      files_without_alerts_ += alerts_in_file_ == 0;
    }
  }

  // Real-time replay reads a batch ahead, to know when its first alert is due.
  void read_ahead() {
    ingest::IngestItem item;
    for (size_t i = 0; i < batch_size_ && next_item(item); ++i) {
      if (std::exchange(restarted_, false)) first_mjd_ = NAN;  // each pass of a loop starts its clock anew
      double mjd = NAN;
      if (item.alert) {
        mjd = static_cast<const Alert&>(*item.alert).core().mjd_tai;
        if (!std::isfinite(first_mjd_)) {
          first_mjd_ = mjd;
          started_ = Clock::now();
        }
      }
      pending_.push_back({std::move(item), mjd});
    }
  }

  // This instance's next file of the walk.
  std::optional<std::string> next_file() {
    while (std::optional<std::string> file = files_->next())
      if (walked_++ % parallelism_ == instance_) return file;
    return std::nullopt;
  }

  std::shared_ptr<const profiles::BuiltinProfiles> builtin_;
  std::optional<FileWalk> files_;
  size_t instance_ = 0, parallelism_ = 1;
  size_t walked_ = 0;         // files of the walk seen in this pass, every instance's
  size_t my_files_ = 0;       // this instance's share of the walk
  size_t files_opened_ = 0;   // by this instance, every pass
  bool first_pass_ = true;
  bool exhausted_ = false, restarted_ = false, file_open_ = false;
  std::optional<ingest::ContainerFileStream> stream_;
  std::deque<ingest::IngestItem> whole_file_;
  size_t alerts_in_file_ = 0;
  size_t files_read_ = 0, files_without_alerts_ = 0;
  double speed_ = 0;
  bool loop_ = false;
  size_t batch_size_ = 1024;
  size_t batch_bytes_ = kSourceBatchBytes;
  std::unique_ptr<ingest::MessageIngester> ingester_;
  std::deque<Pending> pending_;
  double first_mjd_ = NAN;
  Clock::time_point started_ = Clock::now();
  std::shared_ptr<AckTracker> acks_;
  // The read without cutouts (read_without_cutouts): the cutout fields it leaves out.
  std::vector<std::string> unread_cutout_fields_;
  uint64_t alerts_without_cutouts_ = 0;  // this instance's, for its closing log line
  std::string actor_id_;
  size_t head_bytes_ = 32 * 1024;  // the longest need; ZTF: header ~10 KB, with the fields before the cutouts 24-49 KB
  size_t window_longest_ = 0, previous_window_longest_ = 0, window_files_ = 0;
  std::vector<size_t> window_tails_;  // each file's bytes after its need, this window
  std::optional<size_t> short_tail_;  // none before the first window's end
  std::shared_ptr<const avro::DecodePlan> last_plan_;  // and its head_fields, and the fields after
  uint32_t last_head_fields_ = 0;
  std::vector<std::string> last_left_fields_;
  std::vector<std::string> fields_left_;  // every field left out so far, for the closing log line
};

}  // namespace

std::unique_ptr<ActorLogic> make_avro_files_source(size_t batch_bytes) {
  return std::make_unique<AvroFilesSource>(std::make_shared<const profiles::BuiltinProfiles>(), batch_bytes);
}

void register_avro_files_source(ActorRegistry& registry) {
  register_avro_files_source(registry, std::make_shared<const profiles::BuiltinProfiles>());
}

void register_avro_files_source(ActorRegistry& registry, std::shared_ptr<const profiles::BuiltinProfiles> builtin) {
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
      {"profile", ValueKind::list, false, "",
       "a profile name (forced) or a list of names (chosen among by writer schema and version); empty = all"},
      {"profiles", ValueKind::list, false, "[]", "more profile files or folders (override built-in ones by name)"},
      {"cutouts", ValueKind::string, false, "auto",
       "auto: read the cutouts only when an actor downstream uses them (docs/performance.md); read; skip"},
  };
  t.check = [builtin](const ActorConfig& c, std::vector<Problem>& problems) {
    if (c.number("speed") < 0) problems.push_back({c.place("speed"), "speed must be >= 0"});
    const std::string cutouts = c.string("cutouts");
    if (cutouts != "auto" && cutouts != "read" && cutouts != "skip")
      problems.push_back({c.place("cutouts"), "cutouts is auto, read or skip, not '" + cutouts + "'"});
    check_input_exists(c, "path", problems);
    ingest::check_ingest_config(c, *builtin, problems);
  };
  // `cutouts: skip` where an actor downstream uses them would lose its images without a word.
  t.check_in_workflow = [builtin](const Workflow& workflow, const ActorSpec& actor, std::vector<Problem>& problems) {
    const ActorConfig c = actor.config();
    if (c.string("cutouts") != "skip") return;
    ingest::MessageIngester ingester = ingest::make_ingester(c, *builtin);
    const CutoutUse use = cutout_use_downstream(workflow, actor.id, ingester.profiles().cutout_fields());
    if (use.used)
      problems.push_back({c.place("cutouts"), "cutouts: skip, but " + use.why +
                                                  ": it would get alerts without their cutouts (write "
                                                  "`cutouts: auto` to read them only where they are used)"});
  };
  t.emits_fields = [builtin](const ActorConfig& c) { return ingest::ingest_field_sets(c, *builtin); };
  t.create = [builtin](const ActorContext&) { return std::make_unique<AvroFilesSource>(builtin, kSourceBatchBytes); };
  registry.add(std::move(t));
}

}  // namespace ebs
