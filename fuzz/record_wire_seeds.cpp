// Writes the seeds of record_wire_fuzz into the folder named by its argument (the build runs it:
// fuzz/CMakeLists.txt): records made here as a source and the engine make them — an alert with a
// nested raw payload, a light curve of points of one shape and a cutout its raw bytes refer to;
// a sky event; a coincidence — encoded by RecordEncoder in the fuzz input's layout.
// `record_wire_seeds --regressions DIR` writes the regression inputs kept in
// fuzz/regressions/record_wire/ (cases the fuzzer found, and damaged payloads), made the same way.
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/raw_record.h"
#include "engine/model/record.h"
#include "engine/model/record_wire.h"
#include "schemas/alert.capnp.h"

using namespace ebs;

namespace {

// `odd` makes the values the fuzzer found written differently after a round trip: NaN (never
// equal to itself) in the survey record and the alert, and annotation details that are not JSON.
RecordPtr alert(uint64_t id, size_t points, bool odd = false) {
  auto shapes = std::make_shared<std::vector<std::unique_ptr<RecordShape>>>();
  shapes->push_back(std::make_unique<RecordShape>("alert", std::vector<std::string>{"objectId", "candidate", "prv", "stamp"}));
  shapes->push_back(std::make_unique<RecordShape>("candidate", std::vector<std::string>{"rb", "isdiffpos", "fid"}));
  shapes->push_back(std::make_unique<RecordShape>("prv", std::vector<std::string>{"jd", "magpsf"}));
  auto buffer = std::make_shared<std::string>("ZTF20aaaaaaa\x1f\x8b stamp bytes");
  const std::string_view text(*buffer);
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), (*shapes)[0].get());
  b.set_string(f, text.substr(0, 12));
  uint32_t c = b.begin_record(f + 1, (*shapes)[1].get());
  b.set_double(c, 0.75);
  b.set_bool(c + 1, true);
  b.set_int(c + 2, 2);
  uint32_t list = b.begin_list(f + 2, static_cast<uint32_t>(points));
  for (uint32_t i = 0; i < points; ++i) {
    uint32_t p = b.begin_record(list + i, (*shapes)[2].get());
    b.set_double(p, 2459000.5 + i);
    if (i % 3 == 2) b.set_null(p + 1); else b.set_double(p + 1, odd && i == 0 ? NAN : 18.5 + 0.1 * i);
  }
  b.set_bytes(f + 3, text.substr(12));

  auto core = std::make_shared<AlertCore>();
  core->alert_id = id;
  core->object_id = "ZTF20aaaaaaa";
  core->survey = "ztf";
  core->ra = 359.999;
  core->dec = -89.5;
  core->mjd_tai = 60000.5;
  core->band = "g";
  core->mag = odd ? NAN : 18.25;
  for (size_t i = 0; i < points; ++i)
    core->history.push_back({59990.5 + i, "r", Photometry::Kind::detection, 18.5, 0.1, 1e5, 1e4, 20.5, true});
  count_history_detections(*core);
  core->cutouts.push_back({Cutout::Kind::difference, "fits.gz", text.substr(12)});
  core->buffers = buffer;
  core->raw = b.finish(buffer, shapes);
  Annotation a;
  a.kind = Annotation::Kind::classification;
  a.name = "SN";
  a.provenance = {"sherlock", "classify", "1.0", "abc"};
  if (odd) a.details = "fffff {not json";
  return std::make_shared<const Alert>(core)->annotated(a);
}

RecordPtr sky_event() {
  auto e = std::make_shared<SkyEvent>();
  e->event_id = "S230518h";
  e->kind = SkyEvent::Kind::gravitational_wave;
  e->localization.shape = Localization::Shape::ellipse;
  e->localization.semi_major_deg = 2;
  e->localization.semi_minor_deg = 1;
  return e;
}

RecordPtr coincidence() {
  auto c = std::make_shared<Coincidence>();
  c->event_id = "S1";
  c->terms.push_back({"far", 1e-8, "RAVEN"});
  c->alert_id = 2402123456015015014;
  c->object_id = "ZTF24aaaaaaa";
  return c;
}

void write_seed(const std::filesystem::path& path, const std::vector<RecordPtr>& records) {
  std::string bytes(1, static_cast<char>(records.size() - 1));
  for (const RecordPtr& r : records) bytes.push_back(static_cast<char>(r->type()));
  RecordEncoder encoder;
  for (const RecordPtr& r : records) encoder.append(*r, bytes);
  std::ofstream(path, std::ios::binary) << bytes;
}

// One encoded record in the fuzz input's layout, its alert's rawFlat replaced by `flat`.
void write_with_raw_flat(const std::filesystem::path& path, const RecordPtr& record, const std::string& flat) {
  std::string encoded;
  RecordEncoder().append(*record, encoded);
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(encoded.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), encoded.data(), encoded.size());
  capnp::FlatArrayMessageReader reader(words);
  capnp::MallocMessageBuilder message;
  message.setRoot(reader.getRoot<wire::Alert>());
  message.getRoot<wire::Alert>().setRawFlat(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(flat.data()), flat.size()));
  kj::Array<capnp::word> out = capnp::messageToFlatArray(message);
  std::string bytes{'\0', static_cast<char>(record->type())};
  bytes.append(out.asChars().begin(), out.asChars().size());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string raw_flat_of(const RecordPtr& record) {
  std::string encoded;
  RecordEncoder().append(*record, encoded);
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(encoded.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), encoded.data(), encoded.size());
  capnp::FlatArrayMessageReader reader(words);
  auto flat = reader.getRoot<wire::Alert>().getRawFlat();
  return std::string(reinterpret_cast<const char*>(flat.begin()), flat.size());
}

// A payload of no shapes and no text whose nodes are lists: node i's children (count, first).
std::string flat_of_lists(const std::vector<std::pair<uint32_t, uint64_t>>& lists) {
  std::string flat(12 + 16 * lists.size(), '\0');
  const auto count = static_cast<uint32_t>(lists.size());
  std::memcpy(flat.data(), &count, 4);
  for (size_t i = 0; i < lists.size(); ++i) {
    flat[12 + 16 * i] = lists[i].first > 0 ? 6 : 0;  // a list, or a null leaf
    std::memcpy(flat.data() + 12 + 16 * i + 4, &lists[i].first, 4);
    std::memcpy(flat.data() + 12 + 16 * i + 8, &lists[i].second, 8);
  }
  return flat;
}

void write_regressions(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  // Found by the fuzzer in the tree format (f072179), made again in the flat one.
  write_seed(dir / "annotation-details-not-json", {alert(1, 3, true), sky_event()});
  write_seed(dir / "round-trip-1", {alert(1, 4, true)});
  {
    std::string flat = raw_flat_of(alert(1, 4));
    flat[flat.size() - 12 - 16] = 9;  // the last node (before 12 bytes of text) of a kind no build knows
    write_with_raw_flat(dir / "round-trip-2", alert(1, 4), flat);
  }
  write_seed(dir / "round-trip-3", {alert(1, 3), alert(2, 5, true), sky_event(), coincidence()});
  // Pairs of lists that share the pair below them, 60 levels: 2^60 values walked as a tree.
  std::vector<std::pair<uint32_t, uint64_t>> dag{{2, 1}};
  for (uint32_t level = 0; level < 59; ++level) dag.insert(dag.end(), 2, {2, 2 * level + 3});
  dag.insert(dag.end(), 2, {0, 0});
  write_with_raw_flat(dir / "raw-shared-children", alert(1, 1), flat_of_lists(dag));
  // 20,000 lists in lists: a walk of 20,000 frames.
  std::vector<std::pair<uint32_t, uint64_t>> chain;
  for (uint32_t i = 0; i < 20000; ++i) chain.emplace_back(1, i + 1);
  chain.emplace_back(0, 0);
  write_with_raw_flat(dir / "raw-nested-deep", alert(1, 1), flat_of_lists(chain));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--regressions") {
    write_regressions(argv[2]);
    return 0;
  }
  if (argc != 2) {
    std::cerr << "usage: record_wire_seeds [--regressions] DIR\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  write_seed(dir / "alert", {alert(1, 4)});
  write_seed(dir / "alerts-and-event", {alert(1, 3), alert(2, 5), sky_event()});
  write_seed(dir / "event-and-coincidence", {sky_event(), coincidence()});
  return 0;
}
