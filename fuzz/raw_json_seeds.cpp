// Writes the seeds of raw_json_fuzz into the folder named by its second argument (the build runs
// it: fuzz/CMakeLists.txt): alerts.raw as the repository writes it (append_raw_compact, the
// writer's default fields left out, and one with none left out) for the first alerts of the first
// and last files of each survey's folder in the shared data (its folder, the first argument), decoded as the avro-files source
// does. `raw_json_seeds --regressions DIR` writes the regression inputs kept in
// fuzz/regressions/raw_json/: damaged rows each check of the reader must refuse.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "actors/common/ingest/message_ingester.h"
#include "actors/common/repository/raw_json.h"
#include "actors/common/repository/writer.h"
#include "test/support/compact_raw_blobs.h"

using namespace ebs;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

void write_seeds(const fs::path& data, const fs::path& dir) {
  fs::create_directories(dir);
  const std::vector<std::string> defaults = repository::WriterOptions{}.raw_exclude;
  const std::unordered_set<std::string_view> excluded(defaults.begin(), defaults.end()), none;
  ingest::MessageIngester ingester({std::make_shared<avro::SchemaCache>(), nullptr, nullptr},
                                   profiles::ProfileSet::builtin());
  for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01", "other-surveys/pgir",
                             "other-surveys/turbo", "lsst/rubin-lsstcam-v9-spark"}) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(data / folder))
      if (e.path().extension() == ".avro") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw std::runtime_error("no .avro files in " + (data / folder).string());
    std::string name(folder);
    std::replace(name.begin(), name.end(), '/', '-');
    std::vector<RecordPtr> alerts;  // the first alert of its first and last files (ZTF 3.3 and 4.01)
    for (const fs::path& file : {files.front(), files.back()}) {
      std::ifstream in(file, std::ios::binary);
      std::stringstream s;
      s << in.rdbuf();
      std::vector<RecordPtr> decoded;
      std::vector<ingest::IngestFailure> failures;
      ingester.ingest(std::make_shared<const std::string>(s.str()), file.string(), decoded, failures);
      if (decoded.empty()) throw std::runtime_error("no alert decoded from " + file.string());
      alerts.push_back(decoded.front());
      std::string compact;
      repository::append_raw_compact(compact, static_cast<const Alert&>(*decoded.front()).core().raw.root(), excluded);
      write(dir / (name + "-" + std::to_string(alerts.size() - 1)), compact);
    }
    std::string whole;  // the light curve kept: lists of records of one shape, referenced
    repository::append_raw_compact(whole, static_cast<const Alert&>(*alerts.back()).core().raw.root(), none);
    write(dir / (name + "-whole"), whole);
  }
}

void write_regressions(const fs::path& dir) {
  fs::create_directories(dir);
  // 513 lists in lists, one more than a reader walks.
  std::string nested(1, '\x01');
  for (int i = 0; i < 513; ++i) nested += "\x07\x01";
  nested += '\0';
  write(dir / "nested-513", nested);
  // An int whose varint runs 11 bytes.
  write(dir / "varint-11-bytes", std::string("\x01\x03") + std::string(10, '\xff') + '\x01');
  write(dir / "unknown-tag", std::string("\x01\x0a", 2));
  write(dir / "byte-after-record", std::string("\x01\x00\x00", 3));
  // A record of shape 0 before any shape is given.
  write(dir / "shape-not-given", std::string("\x01\x08\x00\x00", 4));
  // A string of 100 bytes with 3 left.
  write(dir / "text-past-end", std::string("\x01\x06\x64" "abc", 6));
  // 200 references to a shape of a 3,000-byte field name: within max_raw_json_bytes, read whole.
  write(dir / "repeated-long-name", test::repeated_name_raw_blob(3000, 200));
  // 1,400 references to a shape of a 4,000-byte name: 8 KB that would read as 5.6 MB, past the bound.
  write(dir / "repeated-name-past-bound", test::repeated_name_raw_blob(4000, 1400));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string_view(argv[1]) == "--regressions") {
      write_regressions(argv[2]);
      return 0;
    }
    if (argc != 3) {
      std::cerr << "usage: raw_json_seeds DATA_DIR DIR | raw_json_seeds --regressions DIR\n";
      return 2;
    }
    write_seeds(argv[1], argv[2]);
  } catch (const std::exception& e) {
    std::cerr << "raw_json_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
