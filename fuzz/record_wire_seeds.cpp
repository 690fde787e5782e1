// Writes the seeds of record_wire_fuzz into the folder named by its argument (the build runs it:
// fuzz/CMakeLists.txt): records made here as a source and the engine make them — an alert with a
// nested raw payload, a light curve of points of one shape and a cutout its raw bytes refer to;
// a sky event; a coincidence — encoded by RecordEncoder in the fuzz input's layout.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/raw_record.h"
#include "engine/model/record.h"
#include "engine/model/record_wire.h"

using namespace ebs;

namespace {

RecordPtr alert(uint64_t id, size_t points) {
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
    if (i % 3 == 2) b.set_null(p + 1); else b.set_double(p + 1, 18.5 + 0.1 * i);
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
  core->mag = 18.25;
  for (size_t i = 0; i < points; ++i)
    core->history.push_back({59990.5 + i, "r", Photometry::Kind::detection, 18.5, 0.1, 1e5, 1e4, 20.5, true});
  core->cutouts.push_back({Cutout::Kind::difference, "fits.gz", text.substr(12)});
  core->buffers = buffer;
  core->raw = b.finish(buffer, shapes);
  Annotation a;
  a.kind = Annotation::Kind::classification;
  a.name = "SN";
  a.provenance = {"sherlock", "classify", "1.0", "abc"};
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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: record_wire_seeds DIR\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  write_seed(dir / "alert", {alert(1, 4)});
  write_seed(dir / "alerts-and-event", {alert(1, 3), alert(2, 5), sky_event()});
  write_seed(dir / "event-and-coincidence", {sky_event(), coincidence()});
  return 0;
}
