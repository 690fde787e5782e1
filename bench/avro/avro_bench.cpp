// Alerts/s of ebs::avro::Decoder next to libavro (avro-c generic values) on the same bytes:
//  - "libavro full": what a broker must do per ZTF message: open the container (parse the
//    embedded writer schema, build the generic class) and read the value;
//  - "libavro value": the value read alone, schema and class prepared once;
//  - "ebs+profile": decode and map through the survey profile into an AlertCore (light curves,
//    times in TAI, cutouts), what a source does per alert.
// Rounds alternate between the decoders and the best round of each counts (the machine is noisy);
// time is this thread's CPU time, so rates are per core even when other processes compete.
// Usage: avro_bench [seconds per measurement, default 1.0] [--ebs-only (for profiling)]
//                   [--input PREFIX (only the inputs whose name starts with it, e.g. ZTF)]
#include <avro.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "actors/common/avro/container_file.h"
#include "actors/common/avro/decoder.h"
#include "actors/common/avro/libavro_reference.h"
#include "actors/common/avro/schema_directory.h"
#include "actors/common/profiles/profile_set.h"

namespace fs = std::filesystem;
using namespace ebs::avro;
using Clock = std::chrono::steady_clock;

namespace {

fs::path data_dir() {
  if (const char* env = std::getenv("EBS_TEST_DATA"); env && *env) return env;
  return EBS_DEFAULT_TEST_DATA;
}

std::shared_ptr<const std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return std::make_shared<const std::string>(std::move(buffer).str());
}

struct Message {
  std::shared_ptr<const std::string> bytes;
  std::string_view schema;  // writer schema (OCF header, or inlined from the schema directory)
  std::string_view body;    // the single record's Avro bytes
};

std::vector<Message> load_containers(const std::vector<std::string>& dirs) {
  std::vector<fs::path> paths;
  for (const auto& dir : dirs)
    for (const auto& e : fs::recursive_directory_iterator(data_dir() / dir))
      if (e.path().extension() == ".avro") paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  std::vector<Message> messages;
  for (const auto& path : paths) {
    Message m;
    m.bytes = read_file(path);
    ContainerHeader header = read_container_header(*m.bytes, path.string());
    ContainerBlocks blocks(*m.bytes, header, path.string());
    ContainerBlock block;
    blocks.next(block);
    m.schema = header.schema;
    m.body = block.data;
    messages.push_back(m);
  }
  return messages;
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs `one(i)` over the messages, round-robin, for about `seconds` of CPU; returns alerts/s.
double rate(size_t count, double seconds, const std::function<void(size_t)>& one) {
  size_t done = 0;
  double start = thread_cpu_seconds();
  double elapsed = 0;
  while (elapsed < seconds) {
    for (size_t i = 0; i < count; ++i) one(i);
    done += count;
    elapsed = thread_cpu_seconds() - start;
  }
  return static_cast<double>(done) / elapsed;
}

struct Row {
  std::string name;
  size_t messages;
  double ours = 0, with_profile = 0, libavro_full = 0, libavro_value = 0;
};

void print(const std::vector<Row>& rows) {
  std::printf("\n%-34s %6s %14s %14s %14s %14s %9s %9s\n", "input", "msgs", "ebs alerts/s",
              "ebs+profile/s", "libavro full/s", "libavro val/s", "vs full", "vs value");
  for (const Row& r : rows) {
    auto cell = [](double v) {
      char buf[32];
      if (v > 0) std::snprintf(buf, sizeof buf, "%14.0f", v);
      else std::snprintf(buf, sizeof buf, "%14s", "-");
      return std::string(buf);
    };
    auto ratio = [](double a, double b) {
      char buf[32];
      if (b > 0) std::snprintf(buf, sizeof buf, "%8.1fx", a / b);
      else std::snprintf(buf, sizeof buf, "%9s", "-");
      return std::string(buf);
    };
    std::printf("%-34s %6zu %s %s %s %s %s %s\n", r.name.c_str(), r.messages, cell(r.ours).c_str(),
                cell(r.with_profile).c_str(), cell(r.libavro_full).c_str(), cell(r.libavro_value).c_str(),
                ratio(r.ours, r.libavro_full).c_str(), ratio(r.ours, r.libavro_value).c_str());
  }
  std::printf("\nper alert (CPU time):\n");
  for (const Row& r : rows) {
    std::printf("  %-34s ebs %6.2f us", r.name.c_str(), 1e6 / r.ours);
    if (r.with_profile > 0) std::printf("   ebs+profile %6.2f us", 1e6 / r.with_profile);
    if (r.libavro_full > 0) std::printf("   libavro full %7.1f us", 1e6 / r.libavro_full);
    if (r.libavro_value > 0) std::printf("   libavro value %6.1f us", 1e6 / r.libavro_value);
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  int rounds = 3;
  bool ebs_only = false;
  std::string only;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--ebs-only") ebs_only = true;
    else if (arg == "--input" && i + 1 < argc) only = argv[++i];
  }

  struct Input {
    std::string name;
    std::vector<Message> messages;
    bool confluent = false;
  };
  std::vector<Input> inputs;
  inputs.push_back({"ZTF (all shared, OCF)", load_containers({"ztf"})});
  inputs.push_back({"PGIR+TURBO (OCF)", load_containers({"other-surveys"})});
  inputs.push_back({"Rubin v9 Spark (OCF)", load_containers({"lsst/rubin-lsstcam-v9-spark"})});

  // Rubin v11 fakeAlert in Confluent wire format, schema from the local directory.
  auto directory = std::make_shared<const SchemaDirectory>(SchemaDirectory::load(data_dir() / "lsst" / "schema"));
  {
    auto sample = load_containers({"lsst/schema/11"});
    Message m;
    std::string frame(1, '\0');
    frame += std::string("\x00\x00\x04\x4c", 4);  // schema id 1100
    frame += std::string(sample[0].body);
    m.bytes = std::make_shared<const std::string>(std::move(frame));
    m.schema = *directory->schema_text(1100);
    m.body = std::string_view(*m.bytes).substr(5);
    inputs.push_back({"Rubin v11 (Confluent, schema dir)", {m}, true});
  }

  // Cold schema compilation, for reference.
  {
    auto start = Clock::now();
    SchemaCache cold;
    for (const auto& m : inputs[0].messages) cold.plan_for(m.schema, "bench");
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    std::printf("compiling %zu distinct ZTF writer schemas (of %zu messages): %.2f ms each\n",
                cold.compilations(), inputs[0].messages.size(), ms / cold.compilations());
  }

  std::vector<Row> rows;
  size_t sink = 0;
  for (const Input& input : inputs) {
    if (input.name.rfind(only, 0) != 0) continue;
    Row row{input.name, input.messages.size()};
    auto cache = std::make_shared<SchemaCache>();
    Decoder decoder(DecoderSources{cache, directory, nullptr});
    std::vector<ebs::RawRecord> out;
    ebs::profiles::ProfileSet profiles = ebs::profiles::ProfileSet::builtin();
    std::map<std::string_view, std::unique_ptr<reference::GenericReader>> readers;
    for (const auto& m : input.messages)
      if (!readers.count(m.schema)) readers.emplace(m.schema, std::make_unique<reference::GenericReader>(m.schema));
    for (int round = 0; round < rounds; ++round) {
      row.ours = std::max(row.ours, rate(input.messages.size(), seconds, [&](size_t i) {
        out.clear();
        decoder.decode(input.messages[i].bytes, "bench", out);
        sink += out[0].nodes().size();
      }));
      row.with_profile = std::max(row.with_profile, rate(input.messages.size(), seconds, [&](size_t i) {
        out.clear();
        decoder.decode(input.messages[i].bytes, "bench", out);
        for (ebs::RawRecord& record : out) {
          auto core = profiles.map(std::move(record), input.messages[i].bytes, "bench");
          sink += core->history.size();
        }
      }));
      if (ebs_only) continue;
      if (!input.confluent)
        row.libavro_full = std::max(row.libavro_full, rate(input.messages.size(), seconds / 2, [&](size_t i) {
          reference::for_each_record(*input.messages[i].bytes, [&](avro_value_t&) { ++sink; });
        }));
      row.libavro_value = std::max(row.libavro_value, rate(input.messages.size(), seconds / 2, [&](size_t i) {
        readers.at(input.messages[i].schema)->read(input.messages[i].body);
        ++sink;
      }));
    }
    rows.push_back(row);
    std::fprintf(stderr, "%s done\n", input.name.c_str());
  }
  print(rows);
  std::printf("(checksum %zu)\n", sink);
  return 0;
}
