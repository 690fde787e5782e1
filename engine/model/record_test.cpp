#include "engine/model/record.h"

#include <doctest/doctest.h>

#include "engine/model/record_json.h"
#include "engine/model/record_wire.h"
#include "engine/util/fault.h"

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
