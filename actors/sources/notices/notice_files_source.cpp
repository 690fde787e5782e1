#include "actors/sources/notices/notice_files_source.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/common/notices/notice.h"
#include "engine/runtime/actor_logic.h"

namespace ebs::sources {

using namespace ebs::notices;  // GCN notices -> SkyEvents (actors/common/notices)

std::vector<std::string> notice_files(const std::string& path, const std::string& place) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code error;
  if (fs::is_directory(path, error)) {
    for (const auto& entry : fs::directory_iterator(path, error))
      if (entry.is_regular_file()) files.push_back(entry.path().string());
  } else if (fs::is_regular_file(path, error)) {
    files.push_back(path);
  } else {
    glob_t matches{};
    if (glob(path.c_str(), 0, nullptr, &matches) == 0)
      for (size_t i = 0; i < matches.gl_pathc; ++i)
        if (fs::is_regular_file(matches.gl_pathv[i], error)) files.emplace_back(matches.gl_pathv[i]);
    globfree(&matches);
  }
  if (files.empty()) fail(place, path + ": no notice files");
  std::sort(files.begin(), files.end());
  return files;
}

namespace {

class NoticeFilesSource final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    std::string path = context.config.string("path");
    // Inputs, unlike outputs, sit beside the workflow file (as crossmatch catalogues do).
    if (!path.empty() && path[0] != '/') path = (std::filesystem::path(context.config.file()).parent_path() / path).string();
    files_ = notice_files(path, context.config.place("path"));
    keep_test_ = context.config.boolean("keep_test");
    significant_only_ = context.config.boolean("significant_only");
    acks_ = std::make_shared<AckTracker>(AckTracker::Listener{}, context.acks);
  }

  ProduceResult produce(size_t max_records, Emitter& out) override {
    auto token = std::make_shared<const AckToken>(acks_, 0);
    std::vector<RecordPtr> events;
    while (next_ < files_.size() && events.size() < max_records) {
      const std::string& file = files_[next_++];
      std::ifstream in(file, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) {
        out.read(1);
        out.failed_raw("", "bytes", Fault(FaultKind::failed, file, "cannot read"), {token});
        continue;
      }
      std::string content = text.str();
      try {
        auto parsed = parse_notice(content, file);
        out.read(parsed.size());
        for (auto& event : parsed) {
          if (!drop_reason(*event, keep_test_, significant_only_).empty()) {
            out.filtered(1);
            continue;
          }
          events.push_back(std::move(event));
        }
      } catch (const std::exception& error) {
        // Anything a poisoned notice makes the parser throw is this notice's dead letter.
        Fault fault = to_fault(error, file);
        out.read(1);
        bool json = content.find_first_not_of(" \t\r\n") != std::string::npos &&
                    content[content.find_first_not_of(" \t\r\n")] == '{';
        out.failed_raw(std::move(content), json ? "json" : "bytes", fault, {token});
      }
    }
    if (!events.empty()) out.forward(0, BatchView::make(PortType::sky_event, std::move(events), {token}));
    return next_ < files_.size() ? ProduceResult::more() : ProduceResult::done();
  }

 private:
  std::vector<std::string> files_;
  size_t next_ = 0;
  bool keep_test_ = false;
  bool significant_only_ = false;
  std::shared_ptr<AckTracker> acks_;
};

}  // namespace

ActorType notice_files_source_type() {
  ActorType t;
  t.name = "notice-files";
  t.description = "GCN notices (LVK/GCN Kafka JSON, VOEvent XML) from files as sky events";
  t.version = "1.0";
  t.outputs = {{"events", PortType::sky_event, "one SkyEvent per notice (several for a neutrino track search)"}};
  t.input_time_scale = "utc";  // ISO 8601 UTC (GraceDB: GPS seconds), converted once to MJD TAI
  t.blocking = true;
  t.config = {{"path", ValueKind::string, true, "", "a notice file, a directory of them, or a glob (relative: to the workflow file)"},
              {"keep_test", ValueKind::boolean, false, "false", "keep mock/test/MDC events (flagged test: true)"},
              {"significant_only", ValueKind::boolean, false, "false", "drop notices with significant: false"}};
  t.create = [](const ActorContext&) { return std::make_unique<NoticeFilesSource>(); };
  return t;
}

}  // namespace ebs::sources
