#include "engine/model/record.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <doctest/doctest.h>

#include <cstring>
#include <tuple>

#include "engine/model/record_bytes.h"
#include "engine/model/record_json.h"
#include "engine/model/record_wire.h"
#include "engine/util/fault.h"
#include "schemas/alert.capnp.h"

using namespace ebs;

namespace {
std::shared_ptr<const Alert> sample_alert() {
  auto shapes = std::make_shared<std::vector<std::unique_ptr<RecordShape>>>();
  shapes->push_back(std::make_unique<RecordShape>("alert", std::vector<std::string>{"candidate", "tag"}));
  shapes->push_back(std::make_unique<RecordShape>("candidate", std::vector<std::string>{"rb", "ok"}));
  auto buffer = std::make_shared<std::string>("hello");
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), (*shapes)[0].get());
  uint32_t c = b.begin_record(f, (*shapes)[1].get());
  b.set_double(c, 0.75);
  b.set_bool(c + 1, true);
  b.set_bytes(f + 1, *buffer);

  auto core = std::make_shared<AlertCore>();
  core->alert_id = 1234567890123ull;
  core->object_id = "ZTF20aaaaaaa";
  core->survey = "ztf";
  core->ra = 359.999;
  core->dec = -89.5;
  core->mjd_tai = 60000.5;
  core->band = "g";
  core->mag = 18.25;
  core->history.push_back({59999.5, "r", Photometry::Kind::upper_limit, NAN, NAN, NAN, NAN, 20.5, true});
  core->cutouts.push_back({Cutout::Kind::difference, "fits.gz", *buffer});
  core->buffers = buffer;
  core->raw = b.finish(buffer, shapes);
  return std::make_shared<const Alert>(core);
}
}  // namespace

TEST_CASE("annotations append without changing earlier alerts") {
  auto alert = sample_alert();
  Annotation first;
  first.kind = Annotation::Kind::crossmatch;
  first.catalogue = "gcvs";
  first.provenance.actor = "xm";
  auto once = alert->annotated(first);
  Annotation second;
  second.kind = Annotation::Kind::score;
  second.name = "snia";
  second.value = 0.8;
  auto twice = once->annotated(second);
  CHECK(alert->annotations().size() == 0);
  CHECK(once->annotations().size() == 1);
  REQUIRE(twice->annotations().size() == 2);
  CHECK(twice->annotations().list()[0]->catalogue == "gcvs");
  CHECK(twice->annotations().list()[1]->name == "snia");
  CHECK(&twice->core() == &alert->core());  // the core is shared, not copied
}

TEST_CASE("an alert survives the Cap'n Proto wire format") {
  Annotation a;
  a.kind = Annotation::Kind::classification;
  a.name = "SN";
  a.provenance = {"sherlock", "classify", "1.0", "abc"};
  auto alert = sample_alert()->annotated(a);
  std::string bytes = encode_record(*alert);
  RecordPtr back = decode_record(PortType::alert, bytes, "test");
  REQUIRE(back->type() == PortType::alert);
  const auto& b = static_cast<const Alert&>(*back);
  CHECK(b.core().alert_id == 1234567890123ull);
  CHECK(b.core().object_id == "ZTF20aaaaaaa");
  CHECK(b.core().ra == 359.999);
  CHECK(std::isnan(b.core().flux));
  REQUIRE(b.core().history.size() == 1);
  CHECK(b.core().history[0].kind == Photometry::Kind::upper_limit);
  CHECK(b.core().history[0].limit_mag == 20.5);
  REQUIRE(b.core().cutouts.size() == 1);
  CHECK(b.core().cutouts[0].bytes == "hello");
  CHECK(b.core().raw.path("candidate.rb").as_double() == 0.75);
  CHECK(b.core().raw.path("tag").as_string() == "hello");
  // The raw bytes that are the cutout's crossed once: both view the same decoded buffer.
  CHECK(b.core().raw.path("tag").node().text.data() == b.core().cutouts[0].bytes.data());
  CHECK(bytes.find("hello") == bytes.rfind("hello"));
  REQUIRE(b.annotations().size() == 1);
  CHECK(b.annotations().list()[0]->provenance.actor == "sherlock");
  CHECK(to_json(b) == to_json(*alert));
}

TEST_CASE("sky events, coincidences and dead letters round-trip") {
  SkyEvent e;
  e.event_id = "S230518h";
  e.kind = SkyEvent::Kind::gravitational_wave;
  e.localization.shape = Localization::Shape::ellipse;
  e.localization.semi_major_deg = 2;
  e.localization.semi_minor_deg = 1;
  e.localization.position_angle_deg = 30;
  auto back = decode_record(PortType::sky_event, encode_record(e), "t");
  CHECK(to_json(*back) == to_json(e));

  Coincidence c;
  c.event_id = "S1";
  c.status = Coincidence::Status::withdrawn;
  c.terms.push_back({"far", 1e-8, "RAVEN"});
  CHECK(to_json(*decode_record(PortType::coincidence, encode_record(c), "t")) == to_json(c));
  c.alert_id = 2402123456015015014;  // the alert as it was found travels with the coincidence
  c.object_id = "ZTF24aaaaaaa";
  c.alert_ra = 123.25;
  c.alert_dec = -12.5;
  c.alert_mag = 19.75;
  c.alert_band = "r";
  c.alert_mjd_tai = 60500.125;
  auto found = to_json(*decode_record(PortType::coincidence, encode_record(c), "t"));
  CHECK(found == to_json(c));
  CHECK(found["alert_ra"] == 123.25);
  CHECK(found["alert_dec"] == -12.5);
  CHECK(found["alert_mag"] == 19.75);
  CHECK(found["alert_band"] == "r");
  CHECK(found["alert_mjd_tai"] == 60500.125);
  c.alert_id = 0;
  c.object_id.clear();
  c.other_event_id = "bn240812094";  // a pair of sky events
  c.other_event_sequence = 3;
  auto pair = decode_record(PortType::coincidence, encode_record(c), "t");
  CHECK(to_json(*pair)["other_event_id"] == "bn240812094");
  CHECK(to_json(*pair)["other_event_sequence"] == 3);
  CHECK(pair->key() == "bn240812094");

  DeadLetter d;
  d.actor = "decode";
  d.reason = "truncated";
  d.original = std::string("\0\x01\x02", 3);
  d.original_format = "bytes";
  CHECK(to_json(*decode_record(PortType::dead_letter, encode_record(d), "t")) == to_json(d));
}

TEST_CASE("records laid end to end in one buffer decode as encode_record's, sharing their raw shapes") {
  auto first = sample_alert();
  SkyEvent event;
  event.event_id = "S230518h";
  event.localization.shape = Localization::Shape::circle;
  event.localization.radius_deg = 3;
  Annotation a;
  a.kind = Annotation::Kind::crossmatch;
  a.catalogue = "gcvs";
  auto second = sample_alert()->annotated(a);

  RecordEncoder encoder;
  std::string bytes;
  std::string types;
  for (const Record* r : std::initializer_list<const Record*>{first.get(), &event, second.get()}) {
    const size_t before = bytes.size();
    const size_t size = encoder.append(*r, bytes);
    CHECK(size == bytes.size() - before);
    CHECK(bytes.substr(before) == encode_record(*r));  // the builder's reused memory leaves no trace
    types.push_back(static_cast<char>(r->type()));
  }

  RecordDecoder decoder;
  std::vector<RecordPtr> back;
  decoder.decode(types, bytes, "part", back);
  REQUIRE(back.size() == 3);
  CHECK(to_json(*back[0]) == to_json(*first));
  CHECK(to_json(*back[1]) == to_json(event));
  CHECK(to_json(*back[2]) == to_json(*second));
  // One shape per (name, fields) for every record this decoder reads, this call or the next.
  auto raw_shape = [](const RecordPtr& r) { return static_cast<const Alert&>(*r).core().raw.root().node().shape; };
  CHECK(raw_shape(back[0]) == raw_shape(back[2]));
  decoder.decode(types.substr(0, 1), bytes.substr(0, encode_record(*first).size()), "part", back);
  REQUIRE(back.size() == 4);
  CHECK(raw_shape(back[3]) == raw_shape(back[0]));

  // Bytes that are not word-aligned are read from an aligned copy.
  std::string shifted = " " + bytes;
  std::vector<RecordPtr> again;
  RecordDecoder().decode(types, std::string_view(shifted).substr(1), "part", again);
  REQUIRE(again.size() == 3);
  CHECK(to_json(*again[2]) == to_json(*second));

  // Fewer messages than types, or bytes left over, are faults naming the place.
  std::vector<RecordPtr> out;
  CHECK_THROWS_AS(decoder.decode(types + types, bytes, "part 7", out), Fault);
  CHECK_THROWS_AS(decoder.decode(types.substr(0, 2), bytes, "part 7", out), Fault);
  try {
    decoder.decode(types.substr(0, 2), bytes, "part 7", out);
  } catch (const Fault& f) {
    CHECK(f.place() == "part 7");
  }
}

TEST_CASE("a raw light curve's points give their field names once per message") {
  auto shapes = std::make_shared<std::vector<std::unique_ptr<RecordShape>>>();
  shapes->push_back(std::make_unique<RecordShape>("alert", std::vector<std::string>{"prv", "last"}));
  shapes->push_back(std::make_unique<RecordShape>("point", std::vector<std::string>{"jd", "magpsf"}));
  auto make = [&](size_t points) {
    RawRecordBuilder b;
    uint32_t f = b.begin_record(b.add_root(), (*shapes)[0].get());
    uint32_t list = b.begin_list(f, static_cast<uint32_t>(points));
    for (uint32_t i = 0; i < points; ++i) {
      uint32_t p = b.begin_record(list + i, (*shapes)[1].get());
      b.set_double(p, 2460000.5 + i);
      b.set_double(p + 1, 18.0 + 0.1 * i);
    }
    uint32_t last = b.begin_record(f + 1, (*shapes)[1].get());  // the same shape outside the list
    b.set_double(last, 2460100.5);
    b.set_double(last + 1, 17.5);
    auto core = std::make_shared<AlertCore>();
    core->object_id = "ZTF20aaaaaaa";
    core->raw = b.finish(nullptr, shapes);
    return std::make_shared<const Alert>(core);
  };
  auto alert = make(30);
  const std::string bytes = encode_record(*alert);
  RecordPtr back = decode_record(PortType::alert, bytes, "test");
  const RawRecord& raw = static_cast<const Alert&>(*back).core().raw;
  CHECK(to_json(*back) == to_json(*alert));
  REQUIRE(raw.path("prv").size() == 30);
  CHECK(raw.path("prv").child(29).field_name(1) == "magpsf");
  CHECK(raw.path("prv").child(29).child(1).as_double() == doctest::Approx(20.9));
  CHECK(raw.path("last.magpsf").as_double() == 17.5);
  CHECK(raw.path("prv").child(0).node().shape == raw.path("last").node().shape);
  // Each further point costs its record's node and its two values' (16 bytes each, laid flat):
  // its name and two field names are not repeated.
  const size_t per_point = (bytes.size() - encode_record(*make(0)).size()) / 30;
  CHECK(per_point == 48);
}

TEST_CASE("corrupt wire bytes are a fault naming the place") {
  CHECK_THROWS_AS(decode_record(PortType::alert, "abc", "topic/0/12"), Fault);
  try {
    decode_record(PortType::alert, std::string(16, '\xff'), "topic/0/12");
    FAIL("expected a fault");
  } catch (const Fault& f) {
    CHECK(f.place() == "topic/0/12");
  }
}

TEST_CASE("JSON writes NaN as null and bytes as their length") {
  auto alert = sample_alert();
  auto j = to_json(*alert);
  CHECK(j["flux"].is_null());
  CHECK(j["cutouts"][0]["bytes"] == 5);
  CHECK(j["raw"]["tag"] == 5);
  CHECK(to_json(*alert, {.with_bytes = true})["raw"]["tag"] == "aGVsbG8=");
  CHECK(base64_encode("ab") == "YWI=");
  CHECK(base64_encode("a") == "YQ==");
}

TEST_CASE("an alert written as JSON with bytes reads back the same") {
  Annotation a;
  a.kind = Annotation::Kind::crossmatch;
  a.catalogue = "gcvs";
  a.separation_arcsec = 1.25;
  a.details = R"({"rule":"synonym"})";
  auto alert = sample_alert()->annotated(a);
  nlohmann::json j = to_json(*alert, {.with_bytes = true});
  auto back = alert_from_json(j, "dead-letters.jsonl:3");
  // Bytes in the raw tree come back as text (JSON cannot tell them apart); the rest is identical.
  CHECK(to_json(*back, {.with_bytes = true}) == j);
  CHECK(back->core().cutouts[0].bytes == "hello");
  CHECK(back->core().raw.path("candidate.rb").as_double() == 0.75);
  CHECK_THROWS_AS(alert_from_json(nlohmann::json{{"type", "SkyEvent"}}, "x"), Fault);
  CHECK_THROWS_AS(alert_from_json(nlohmann::json{{"type", "Alert"}}, "x"), Fault);
}

TEST_CASE("annotations as JSON: one shape, the repository row's names (docs/crossmatch.md, docs/sherlock.md)") {
  for (auto kind : {Annotation::Kind::crossmatch, Annotation::Kind::classification}) {
    Annotation a;
    a.kind = kind;
    a.name = "SN";
    a.catalogue = "glade";
    a.source_id = "PGC 1";
    a.separation_arcsec = 2.5;
    a.object_type = "galaxy";
    a.redshift = 0.05;
    nlohmann::json j = to_json(a);
    CHECK(j["catalogue"] == "glade");
    CHECK(j["source_id"] == "PGC 1");
    CHECK(j["separation_arcsec"] == 2.5);
    CHECK(j["object_type"] == "galaxy");
    CHECK(j["redshift"] == 0.05);
    CHECK_FALSE(j.contains("sep_arcsec"));
  }
}

TEST_CASE("alert ids in JSON are strings, negative and above 2^53 alike, and read back") {
  for (int64_t id : {int64_t{-1105522232515015004}, int64_t{9007199254740993}}) {
    auto core = std::make_shared<AlertCore>();
    core->alert_id = id;
    core->object_id = "o";
    nlohmann::json j = to_json(Alert(core));
    CHECK(j["alert_id"] == std::to_string(id));
    CHECK(j["alert_key"] == std::to_string(id));
    CHECK(alert_from_json(j, "x")->core().alert_id == id);
  }
  CHECK_THROWS_AS(alert_id_from_json(nlohmann::json("02a59543o0040o_006230"), "x"), Fault);
}

TEST_CASE("a classification survives the Cap'n Proto wire format and reads as ELAsTiCC JSON") {
  Classification c;
  c.alert_id = 1105460320515015000;
  c.alert_key = std::to_string(c.alert_id);
  c.dia_source_id = c.alert_id;
  c.object_id = "ZTF20aaaaaaa";
  c.survey = "ZTF";
  c.alert_timestamp_ms = 1577880000123;
  c.ingest_timestamp_ms = 1577880100456;
  c.broker_name = "ebs";
  c.broker_version = "0.1";
  c.classifier_name = "classify sherlock-ebs/1.0";
  c.classifier_params = "{}";
  c.classes = {{2222, 0.75f}, {200, 0.25f}};
  auto back = std::static_pointer_cast<const Classification>(
      decode_record(PortType::classification, encode_record(c), "test"));
  CHECK(back->alert_id == c.alert_id);
  CHECK(back->alert_key == c.alert_key);
  CHECK(back->object_id == c.object_id);
  CHECK(back->ingest_timestamp_ms == c.ingest_timestamp_ms);
  REQUIRE(back->classes.size() == 2);
  CHECK(back->classes[1].class_id == 200);
  CHECK(back->classes[1].probability == 0.25f);
  auto json = to_json(*back);
  CHECK(json["alertId"] == "1105460320515015000");
  CHECK(json["classifications"][0]["classId"] == 2222);
  CHECK(json["brokerIngestTimestamp"] == 1577880100456);
  c.ingest_timestamp_ms.reset();
  auto no_ingest = std::static_pointer_cast<const Classification>(
      decode_record(PortType::classification, encode_record(c), "test"));
  CHECK(!no_ingest->ingest_timestamp_ms);
  CHECK(parse_port_type("Classification") == PortType::classification);
}

namespace {
// An alert whose raw payload is a record of shape `root` holding one record of shape `child`.
RecordPtr alert_of_shapes(const std::string& root, const std::string& child) {
  auto shapes = std::make_shared<std::vector<std::unique_ptr<RecordShape>>>();
  shapes->push_back(std::make_unique<RecordShape>(root, std::vector<std::string>{"inner"}));
  shapes->push_back(std::make_unique<RecordShape>(child, std::vector<std::string>{"x"}));
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), (*shapes)[0].get());
  uint32_t c = b.begin_record(f, (*shapes)[1].get());
  b.set_double(c, 1.5);
  auto core = std::make_shared<AlertCore>();
  core->alert_id = 1;
  core->object_id = "ZTF20aaaaaaa";
  core->survey = "ztf";
  core->raw = b.finish(nullptr, shapes);
  return std::make_shared<const Alert>(core);
}
}  // namespace

TEST_CASE("a decoder that starts a fresh shape store keeps every shape of a record alive with it") {
  // 2,048 payloads of two new shapes each fill the decoder's store (4,096 shapes); the next
  // payload's root shape was seen before and its child's is new. Every shape the last record
  // points to must live as long as it does, after the earlier records and the decoder are gone
  // (the sanitized build reads freed memory otherwise).
  RecordPtr last;
  {
    RecordDecoder decoder;
    RecordEncoder encoder;
    std::string bytes;
    std::string types;
    for (int i = 0; i < 2048; ++i) {
      encoder.append(*alert_of_shapes("s" + std::to_string(i), "c" + std::to_string(i)), bytes);
      types.push_back(static_cast<char>(PortType::alert));
    }
    std::vector<RecordPtr> earlier;
    decoder.decode(types, bytes, "test", earlier);
    REQUIRE(earlier.size() == 2048);
    std::string one;
    encoder.append(*alert_of_shapes("s0", "fresh"), one);
    std::vector<RecordPtr> out;
    decoder.decode(std::string(1, static_cast<char>(PortType::alert)), one, "test", out);
    REQUIRE(out.size() == 1);
    last = out.front();
  }
  const RawView root = static_cast<const Alert&>(*last).core().raw.root();
  CHECK(root.field_name(0) == "inner");
  CHECK(root.child(0).field_name(0) == "x");
  CHECK(root.child(0).child(0).as_double() == 1.5);
}

namespace {
// An alert whose raw payload is {name: "ZTF20", points: [1, 2], stamp: its cutout}: laid flat,
// nodes 0 the record, 1 the text, 2 the list, 3 the cutout, 4 and 5 the points; its text is "ZTF20".
std::shared_ptr<const Alert> small_alert() {
  auto shapes = std::make_shared<std::vector<std::unique_ptr<RecordShape>>>();
  shapes->push_back(std::make_unique<RecordShape>("alert", std::vector<std::string>{"name", "points", "stamp"}));
  auto buffer = std::make_shared<std::string>("ZTF20stamp");
  const std::string_view text(*buffer);
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), (*shapes)[0].get());
  b.set_string(f, text.substr(0, 5));
  uint32_t list = b.begin_list(f + 1, 2);
  b.set_bytes(f + 2, text.substr(5));
  b.set_int(list, 1);
  b.set_int(list + 1, 2);
  auto core = std::make_shared<AlertCore>();
  core->alert_id = 7;
  core->object_id = "ZTF20aaaaaaa";
  core->cutouts.push_back({Cutout::Kind::difference, "fits.gz", text.substr(5)});
  core->buffers = buffer;
  core->raw = b.finish(buffer, shapes);
  return std::make_shared<const Alert>(core);
}

// The alert message `encoded` with its rawFlat replaced by `flat`.
std::string with_raw_flat(const std::string& encoded, std::string_view flat) {
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(encoded.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), encoded.data(), encoded.size());
  capnp::FlatArrayMessageReader reader(words);
  capnp::MallocMessageBuilder message;
  message.setRoot(reader.getRoot<wire::Alert>());
  message.getRoot<wire::Alert>().setRawFlat(
      capnp::Data::Reader(reinterpret_cast<const kj::byte*>(flat.data()), flat.size()));
  kj::Array<capnp::word> out = capnp::messageToFlatArray(message);
  return std::string(out.asChars().begin(), out.asChars().size());
}

std::string raw_flat_of(const std::string& encoded) {
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(encoded.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), encoded.data(), encoded.size());
  capnp::FlatArrayMessageReader reader(words);
  auto flat = reader.getRoot<wire::Alert>().getRawFlat();
  return std::string(reinterpret_cast<const char*>(flat.begin()), flat.size());
}

void put_u32_at(std::string& bytes, size_t at, uint32_t v) { std::memcpy(bytes.data() + at, &v, sizeof v); }
void put_u64_at(std::string& bytes, size_t at, uint64_t v) { std::memcpy(bytes.data() + at, &v, sizeof v); }

// A payload of no shapes and no text, its nodes given as (kind, a, b).
std::string flat_of(const std::vector<std::tuple<uint8_t, uint32_t, uint64_t>>& nodes) {
  std::string flat(12 + 16 * nodes.size(), '\0');
  put_u32_at(flat, 0, static_cast<uint32_t>(nodes.size()));
  for (size_t i = 0; i < nodes.size(); ++i) {
    flat[12 + 16 * i] = static_cast<char>(std::get<0>(nodes[i]));
    put_u32_at(flat, 12 + 16 * i + 4, std::get<1>(nodes[i]));
    put_u64_at(flat, 12 + 16 * i + 8, std::get<2>(nodes[i]));
  }
  return flat;
}

// Nested lists of one element each, `depth` of them around a null.
std::string chain_of_lists(uint32_t depth) {
  std::vector<std::tuple<uint8_t, uint32_t, uint64_t>> nodes;
  for (uint32_t i = 0; i < depth; ++i) nodes.emplace_back(6, 1, i + 1);
  nodes.emplace_back(0, 0, 0);
  return flat_of(nodes);
}

std::string decode_fault(const std::string& bytes) {
  try {
    decode_record(PortType::alert, bytes, "peer");
  } catch (const Fault& f) {
    return f.what();
  }
  return "";
}
}  // namespace

TEST_CASE("every damaged part of a flat raw payload is a fault") {
  const std::string encoded = encode_record(*small_alert());
  const std::string flat = raw_flat_of(encoded);
  // The bytes as laid: 6 nodes, 1 shape, 5 bytes of text, the nodes before the text.
  REQUIRE(flat.size() == 153);
  const size_t nodes_at = flat.size() - 5 - 16 * 6;
  auto node = [&](size_t i) { return nodes_at + 16 * i; };
  auto damaged = [&](auto edit) {
    std::string bytes = flat;
    edit(bytes);
    return decode_fault(with_raw_flat(encoded, bytes));
  };
  // Undamaged it reads back as written.
  CHECK(to_json(*decode_record(PortType::alert, with_raw_flat(encoded, flat), "peer")) == to_json(*small_alert()));
  CHECK(damaged([&](std::string& b) { put_u64_at(b, node(1) + 8, 3); }).find("a text runs past") != std::string::npos);
  CHECK(damaged([&](std::string& b) { put_u64_at(b, node(2) + 8, 5); }).find("children out of place") != std::string::npos);
  CHECK(damaged([&](std::string& b) { put_u64_at(b, node(2) + 8, 2); }).find("children out of place") != std::string::npos);
  CHECK(damaged([&](std::string& b) { put_u64_at(b, node(0) + 8, 1 | uint64_t{1} << 32); }).find("a shape its payload did not give") != std::string::npos);
  CHECK(damaged([&](std::string& b) { put_u32_at(b, node(3) + 4, 1); }).find("a cutout the alert does not have") != std::string::npos);
  CHECK(damaged([&](std::string& b) { put_u32_at(b, node(0) + 4, 2); }).find("mismatched field count") != std::string::npos);
  CHECK(damaged([&](std::string& b) { b[node(4)] = 9; }).find("a kind this build does not know") != std::string::npos);
  CHECK(damaged([&](std::string& b) { b.push_back('x'); }).find("sizes do not add up") != std::string::npos);
  CHECK(damaged([&](std::string& b) { put_u32_at(b, 8, 6); }).find("sizes do not add up") != std::string::npos);
  CHECK(damaged([&](std::string& b) { b.resize(10); }).find("ends early") != std::string::npos);
  CHECK(damaged([&](std::string& b) { b.resize(20); }).find("a name runs past") != std::string::npos);
  CHECK(damaged([&](std::string& b) { put_u32_at(b, 0, 0); }).find("no root") != std::string::npos);
  // A shape more than the payload's nodes, or one no record has, is refused.
  CHECK(damaged([&](std::string& b) { put_u32_at(b, 4, 7); }).find("more shapes than nodes") != std::string::npos);
  CHECK(damaged([&](std::string& b) {
          put_u32_at(b, 4, 2);
          std::string shape(9, '\0');  // "x", of no fields
          put_u32_at(shape, 0, 1);
          shape[4] = 'x';
          b.insert(nodes_at, shape);
        }).find("a shape no record has") != std::string::npos);
}

TEST_CASE("a flat raw payload that gives one node two parents is a fault, not a walk of 2^60 values") {
  const std::string encoded = encode_record(*small_alert());
  // Two lists share their children: [[null, null], [null, null]] in 5 nodes.
  CHECK(decode_fault(with_raw_flat(encoded, flat_of({{6, 2, 1}, {6, 2, 3}, {6, 2, 3}, {0, 0, 0}, {0, 0, 0}}))).find("two parents") !=
        std::string::npos);
  // Sixty levels of pairs that share one pair below them: 121 nodes, 2^60 leaves as a tree.
  std::vector<std::tuple<uint8_t, uint32_t, uint64_t>> nodes{{6, 2, 1}};
  for (uint32_t level = 0; level < 59; ++level)
    for (int twin = 0; twin < 2; ++twin) nodes.emplace_back(6, 2, 2 * level + 3);
  nodes.emplace_back(0, 0, 0);
  nodes.emplace_back(0, 0, 0);
  CHECK(decode_fault(with_raw_flat(encoded, flat_of(nodes))).find("two parents") != std::string::npos);
}

TEST_CASE("a flat raw payload nests at most 512 levels") {
  const std::string encoded = encode_record(*small_alert());
  // 512 lists around a null: the null is 512 levels below the root; it reads and is written.
  RecordPtr deepest = decode_record(PortType::alert, with_raw_flat(encoded, chain_of_lists(512)), "peer");
  nlohmann::json raw = raw_to_json(static_cast<const Alert&>(*deepest).core().raw.root());
  for (int level = 0; level < 512; ++level) raw = raw.at(0);
  CHECK(raw.is_null());
  // One more is refused, naming the limit; a chain of 100,000 would overflow a walk's stack.
  CHECK(decode_fault(with_raw_flat(encoded, chain_of_lists(513))).find("deeper than 512 levels") != std::string::npos);
  CHECK(decode_fault(with_raw_flat(encoded, chain_of_lists(100000))).find("deeper than 512 levels") != std::string::npos);
}

TEST_CASE("a refused raw payload adds no shape to the decoder's store") {
  // A payload of 4,096 new shapes whose nodes are missing is refused before its shapes are kept:
  // the store the first record's shape is in stays, and the same record decoded again shares it.
  const std::string encoded = encode_record(*small_alert());
  std::string flat(12, '\0');
  put_u32_at(flat, 0, 4096);
  put_u32_at(flat, 4, 4096);
  for (int s = 0; s < 4096; ++s) {
    const std::string name = "s" + std::to_string(s);
    std::string shape(8 + name.size(), '\0');
    put_u32_at(shape, 0, static_cast<uint32_t>(name.size()));
    std::memcpy(shape.data() + 4, name.data(), name.size());
    flat += shape;
  }
  RecordDecoder decoder;
  const std::string types(1, static_cast<char>(PortType::alert));
  std::vector<RecordPtr> out;
  decoder.decode(types, encoded, "peer", out);
  CHECK_THROWS_AS(decoder.decode(types, with_raw_flat(encoded, flat), "peer", out), Fault);
  decoder.decode(types, encoded, "peer", out);
  REQUIRE(out.size() == 2);
  auto raw_shape = [](const RecordPtr& r) { return static_cast<const Alert&>(*r).core().raw.root().node().shape; };
  CHECK(raw_shape(out[0]) == raw_shape(out[1]));
}

TEST_CASE("a raw payload too large for a Cap'n Proto field is a fault when encoded, not a wrapped size") {
  // Nine texts viewing one 64 MiB buffer: 576 MiB laid flat, more than a Data field's 2^29 - 1
  // bytes. Refused before anything is copied.
  auto buffer = std::make_shared<std::string>(size_t{64} << 20, 'x');
  auto shapes = std::make_shared<std::vector<std::unique_ptr<RecordShape>>>();
  RawRecordBuilder b;
  uint32_t list = b.begin_list(b.add_root(), 9);
  for (uint32_t i = 0; i < 9; ++i) b.set_string(list + i, *buffer);
  auto core = std::make_shared<AlertCore>();
  core->object_id = "ZTF20aaaaaaa";
  core->buffers = buffer;
  core->raw = b.finish(buffer, shapes);
  const Alert alert(core);
  try {
    encode_record(alert);
    FAIL("expected a fault");
  } catch (const Fault& f) {
    CHECK(std::string(f.what()).find("more than a Cap'n Proto message field holds") != std::string::npos);
  }
}

namespace {
// sample_alert as a source that left two cutout fields unread in `file` makes it, keeping a
// buffer of `kept` bytes.
std::shared_ptr<const Alert> alert_without_cutouts(size_t kept) {
  auto core = std::make_shared<AlertCore>(sample_alert()->core());
  core->cutouts.clear();
  core->cutouts_not_read = std::make_shared<const UnreadCutouts>(
      UnreadCutouts{{"cutoutTemplate", "cutoutDifference"}, "/data/ztf/2475433850015010009.avro"});
  core->kept_bytes = kept;
  return std::make_shared<const Alert>(core);
}
}  // namespace

TEST_CASE("an alert counts at least the buffer its source says it keeps alive") {
  const auto small = alert_without_cutouts(0);
  const auto kept = alert_without_cutouts(48 * 1024);
  // The 48 KiB prefix of a file (header, varints, the fields before the cutouts) lives as long
  // as the alert, though its nodes view only part of it.
  CHECK(record_bytes(*kept) >= 48 * 1024 + small->core().raw.nodes().size() * sizeof(RawNode));
  CHECK(record_bytes(*kept) > record_bytes(*small));
  // A buffer smaller than the texts counted: the texts are the measure.
  CHECK(record_bytes(*alert_without_cutouts(1)) == record_bytes(*small));
}

TEST_CASE("which cutouts were not read, and the file that holds them, survive JSON and the wire") {
  const auto alert = alert_without_cutouts(1000);
  const nlohmann::json j = to_json(*alert, {});
  CHECK(j["cutouts_not_read"] ==
        nlohmann::json{{"fields", {"cutoutTemplate", "cutoutDifference"}}, {"file", "/data/ztf/2475433850015010009.avro"}});
  CHECK_FALSE(to_json(*sample_alert(), {}).contains("cutouts_not_read"));
  for (const RecordPtr& back : std::vector<RecordPtr>{alert_from_json(to_json(*alert, {.with_bytes = true}), "letter"),
                                decode_record(PortType::alert, encode_record(*alert), "wire")}) {
    const AlertCore& c = static_cast<const Alert&>(*back).core();
    REQUIRE(c.cutouts_not_read);
    CHECK(c.cutouts_not_read->fields == std::vector<std::string>{"cutoutTemplate", "cutoutDifference"});
    CHECK(c.cutouts_not_read->file == "/data/ztf/2475433850015010009.avro");
  }
  const RecordPtr all_read = decode_record(PortType::alert, encode_record(*sample_alert()), "wire");
  CHECK_FALSE(static_cast<const Alert&>(*all_read).core().cutouts_not_read);
}
