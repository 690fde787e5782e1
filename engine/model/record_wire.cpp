#include "engine/model/record_wire.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <map>

#include "engine/util/fault.h"
#include "schemas/alert.capnp.h"
#include "schemas/classification.capnp.h"
#include "schemas/coincidence.capnp.h"
#include "schemas/dead_letter.capnp.h"
#include "schemas/sky_event.capnp.h"

namespace ebs {

namespace {

kj::StringPtr text(std::string_view s) { return kj::StringPtr(s.data(), s.size()); }
std::string_view view(capnp::Text::Reader t) { return std::string_view(t.cStr(), t.size()); }
capnp::Data::Reader as_data(std::string_view s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}
std::string_view view(capnp::Data::Reader d) {
  return std::string_view(reinterpret_cast<const char*>(d.begin()), d.size());
}

// A raw payload laid flat (schemas/alert.capnp, Alert.rawFlat): its nodes' kinds as numbered there.
constexpr uint8_t kFlatCutout = 8;
constexpr size_t kFlatNodeBytes = 16;
constexpr size_t kFlatHeaderBytes = 12;
// How deep a received payload's values may nest: walks of a record (raw_to_json) recurse, and an
// Avro record is nested a handful of levels; a payload deeper than this is refused.
constexpr uint16_t kMaxRawDepth = 512;
// The most bytes a Data field holds (Cap'n Proto blobs count their bytes in 29 bits).
constexpr size_t kMaxDataBytes = (size_t{1} << capnp::BLOB_SIZE_BITS) - 1;

void put_u32(kj::byte*& at, uint32_t v) {
  std::memcpy(at, &v, sizeof v);
  at += sizeof v;
}
void put_u64(kj::byte*& at, uint64_t v) {
  std::memcpy(at, &v, sizeof v);
  at += sizeof v;
}
void put_text(kj::byte*& at, std::string_view s) {
  put_u32(at, static_cast<uint32_t>(s.size()));
  std::memcpy(at, s.data(), s.size());
  at += s.size();
}

// Writes `raw` as Alert.rawFlat, its Bytes that are the alert's cutouts as references to them.
// Two passes over the nodes: the first sizes the message field, the second fills it in place.
void write_raw_flat(const RawRecord& raw, const std::vector<Cutout>& cutouts, wire::Alert::Builder to) {
  const std::span<const RawNode> nodes = raw.nodes();
  if (nodes.empty() || nodes[0].kind == RawNode::Kind::Null) return;
  auto cutout_of = [&](const RawNode& node) -> std::optional<uint32_t> {
    for (size_t i = 0; i < cutouts.size(); ++i)
      if (cutouts[i].bytes.data() == node.text.data() && cutouts[i].bytes.size() == node.text.size())
        return static_cast<uint32_t>(i);
    return std::nullopt;
  };
  std::vector<const RecordShape*> shapes;
  size_t shape_bytes = 0, text_bytes = 0;
  for (const RawNode& node : nodes) {
    if (node.kind == RawNode::Kind::String || (node.kind == RawNode::Kind::Bytes && !cutout_of(node))) {
      text_bytes += node.text.size();
    } else if (node.kind == RawNode::Kind::Record &&
               std::find(shapes.begin(), shapes.end(), node.shape) == shapes.end()) {
      shapes.push_back(node.shape);
      shape_bytes += 8 + node.shape->name.size();
      for (const std::string& field : node.shape->fields) shape_bytes += 4 + field.size();
    }
  }
  const size_t flat_bytes = kFlatHeaderBytes + shape_bytes + kFlatNodeBytes * nodes.size() + text_bytes;
  if (flat_bytes > kMaxDataBytes)
    fail("", "a raw payload of " + std::to_string(flat_bytes) + " bytes laid flat, more than a Cap'n Proto message field holds (" +
                 std::to_string(kMaxDataBytes) + ")");
  auto flat = to.initRawFlat(static_cast<unsigned>(flat_bytes));
  kj::byte* at = flat.begin();
  put_u32(at, static_cast<uint32_t>(nodes.size()));
  put_u32(at, static_cast<uint32_t>(shapes.size()));
  put_u32(at, static_cast<uint32_t>(text_bytes));
  for (const RecordShape* shape : shapes) {
    put_text(at, shape->name);
    put_u32(at, static_cast<uint32_t>(shape->fields.size()));
    for (const std::string& field : shape->fields) put_text(at, field);
  }
  kj::byte* text = at + kFlatNodeBytes * nodes.size();
  uint64_t text_at = 0;
  for (const RawNode& node : nodes) {
    uint8_t kind = static_cast<uint8_t>(node.kind);
    uint32_t a = 0;
    uint64_t b = 0;
    switch (node.kind) {
      case RawNode::Kind::Null: break;
      case RawNode::Kind::Bool: break;
      case RawNode::Kind::Int: b = static_cast<uint64_t>(node.integer); break;
      case RawNode::Kind::Double: std::memcpy(&b, &node.number, sizeof b); break;
      case RawNode::Kind::Bytes:
        if (std::optional<uint32_t> cutout = cutout_of(node)) {
          kind = kFlatCutout;
          a = *cutout;
          break;
        }
        [[fallthrough]];
      case RawNode::Kind::String:
        a = static_cast<uint32_t>(node.text.size());
        b = text_at;
        std::memcpy(text + text_at, node.text.data(), node.text.size());
        text_at += node.text.size();
        break;
      case RawNode::Kind::List:
        a = node.child_count;
        b = node.first_child;
        break;
      case RawNode::Kind::Record:
        a = node.child_count;
        b = node.first_child |
            uint64_t{static_cast<uint32_t>(std::find(shapes.begin(), shapes.end(), node.shape) - shapes.begin())} << 32;
        break;
    }
    *at++ = kind;
    *at++ = node.kind == RawNode::Kind::Bool && node.boolean ? 1 : 0;
    *at++ = 0;
    *at++ = 0;
    put_u32(at, a);
    put_u64(at, b);
  }
}

}  // namespace

// The record shapes of the raw payloads a RecordDecoder rebuilds, shared by every record it
// decodes: a stream's records have a handful of shapes, built once rather than per record. Shapes
// are never changed once made, so records read on other threads may hold them while more are
// added; the store lives as long as the last record that uses it.
struct RecordDecoder::Shapes {
  // Beyond this many shapes (a stream of ever new field lists) a fresh store begins, so a
  // decoder that lives for a whole run holds a bounded number. Only between payloads: a payload's
  // record keeps one store alive, so every shape it points to must be in that one.
  static constexpr size_t kMaxShapes = 4096;
  std::shared_ptr<std::vector<std::unique_ptr<RecordShape>>> store =
      std::make_shared<std::vector<std::unique_ptr<RecordShape>>>();
  std::map<std::string, std::vector<const RecordShape*>, std::less<>> by_name;

  // Before a payload is read: a fresh store when this one is full.
  void begin_payload() {
    if (store->size() < kMaxShapes) return;
    store = std::make_shared<std::vector<std::unique_ptr<RecordShape>>>();
    by_name.clear();
  }

  const RecordShape* shape_for(std::string_view name, const std::vector<std::string_view>& names) {
    auto same_fields = [&](const RecordShape* shape) {
      return std::equal(shape->fields.begin(), shape->fields.end(), names.begin(), names.end());
    };
    auto it = by_name.find(name);
    if (it != by_name.end())
      for (const RecordShape* shape : it->second)
        if (same_fields(shape)) return shape;
    store->push_back(std::make_unique<RecordShape>(std::string(name), std::vector<std::string>(names.begin(), names.end())));
    if (it == by_name.end()) it = by_name.emplace(std::string(name), std::vector<const RecordShape*>{}).first;
    it->second.push_back(store->back().get());
    return store->back().get();
  }
};

namespace {

// The texts of one raw payload, kept with it in one buffer, and the alert's cutouts' bytes,
// which its Bytes nodes may view.
struct RawStrings {
  std::string text;
  std::shared_ptr<const void> cutouts;
};

// Reads Alert.rawFlat (write_raw_flat): every count and offset is checked against the bytes, and
// children come after their parents, so damaged bytes fail rather than make a cycle.
class RawFlatReader {
 public:
  explicit RawFlatReader(capnp::Data::Reader flat) : at_(flat.begin()), end_(flat.end()) {}

  RawRecord read(RecordDecoder::Shapes& shapes, const std::vector<Cutout>& cutouts, std::shared_ptr<const void> cutout_bytes) {
    const uint32_t node_count = u32(), shape_count = u32(), text_bytes = u32();
    if (node_count == 0) bad("no root");
    // Every shape a payload gives is one of its records' (write_raw_flat), and a payload adds at
    // most kMaxShapes to a store that holds fewer before it (begin_payload): the decoder's
    // long-lived store stays within twice its bound whatever the bytes say.
    if (shape_count > node_count) bad("more shapes than nodes");
    if (shape_count > RecordDecoder::Shapes::kMaxShapes)
      bad("more than " + std::to_string(RecordDecoder::Shapes::kMaxShapes) + " shapes");
    // The shapes as views of the message: none is added to the decoder's store before the whole
    // payload has been checked.
    struct GivenShape {
      std::string_view name;
      std::vector<std::string_view> fields;
      bool used = false;
    };
    std::vector<GivenShape> given;
    for (uint32_t s = 0; s < shape_count; ++s) {
      GivenShape& shape = given.emplace_back();
      shape.name = text();
      const uint32_t field_count = u32();
      if (field_count > remaining() / 4) bad("a shape has more fields than bytes");
      for (uint32_t f = 0; f < field_count; ++f) shape.fields.push_back(text());
    }
    if (remaining() != kFlatNodeBytes * uint64_t{node_count} + text_bytes) bad("sizes do not add up");
    const kj::byte* node_bytes = at_;
    auto strings = std::make_shared<RawStrings>();
    strings->text.assign(reinterpret_cast<const char*>(at_ + kFlatNodeBytes * node_count), text_bytes);
    strings->cutouts = std::move(cutout_bytes);
    std::vector<RawNode> nodes(node_count);
    // A tree: every node but the root has one parent, which comes before it, so its depth is known
    // when it is reached. Without this a few hundred bytes could give one range of children to
    // many parents (a walk of the record visits 2^60 values) or nest a list in a list until a
    // walk overflows the stack.
    std::vector<bool> has_parent(node_count);
    std::vector<uint16_t> depth(node_count);
    std::vector<uint32_t> shape_of(node_count);
    for (uint32_t i = 0; i < node_count; ++i) {
      const kj::byte* n = node_bytes + kFlatNodeBytes * i;
      uint32_t a;
      uint64_t b;
      std::memcpy(&a, n + 4, sizeof a);
      std::memcpy(&b, n + 8, sizeof b);
      RawNode& node = nodes[i];
      switch (n[0]) {
        case 0: node.kind = RawNode::Kind::Null; break;
        case 1:
          node.kind = RawNode::Kind::Bool;
          node.boolean = n[1] != 0;
          break;
        case 2:
          node.kind = RawNode::Kind::Int;
          node.integer = static_cast<int64_t>(b);
          break;
        case 3:
          node.kind = RawNode::Kind::Double;
          std::memcpy(&node.number, &b, sizeof b);
          break;
        case 4:
        case 5:
          if (b > text_bytes || a > text_bytes - b) bad("a text runs past the texts");
          node.kind = n[0] == 4 ? RawNode::Kind::String : RawNode::Kind::Bytes;
          node.text = std::string_view(strings->text.data() + b, a);
          break;
        case 6:
        case 7: {
          const uint64_t first = b & 0xffffffffu;
          if (a > 0 && (first <= i || first + a > node_count)) bad("children out of place");
          if (a > 0 && depth[i] >= kMaxRawDepth)
            bad("values nested deeper than " + std::to_string(kMaxRawDepth) + " levels");
          for (uint64_t child = first; child < first + a; ++child) {
            if (has_parent[child]) bad("a node has two parents");
            has_parent[child] = true;
            depth[child] = static_cast<uint16_t>(depth[i] + 1);
          }
          node.first_child = a > 0 ? static_cast<uint32_t>(first) : 0;
          node.child_count = a;
          if (n[0] == 6) {
            node.kind = RawNode::Kind::List;
            break;
          }
          node.kind = RawNode::Kind::Record;
          if ((b >> 32) >= given.size()) bad("a record refers to a shape its payload did not give");
          shape_of[i] = static_cast<uint32_t>(b >> 32);
          given[shape_of[i]].used = true;
          if (given[shape_of[i]].fields.size() != a) bad("a record has mismatched field count");
          break;
        }
        case kFlatCutout:
          if (a >= cutouts.size()) fail("", "raw bytes refer to a cutout the alert does not have");
          node.kind = RawNode::Kind::Bytes;
          node.text = cutouts[a].bytes;
          break;
        default:  // a later revision's kind, or damage: never a silent null
          fail("", "raw value of a kind this build does not know (" + std::to_string(n[0]) + ")");
      }
    }
    for (const GivenShape& shape : given)
      if (!shape.used) bad("a shape no record has");
    shapes.begin_payload();
    std::vector<const RecordShape*> named;
    for (const GivenShape& shape : given) named.push_back(shapes.shape_for(shape.name, shape.fields));
    for (uint32_t i = 0; i < node_count; ++i)
      if (nodes[i].kind == RawNode::Kind::Record) nodes[i].shape = named[shape_of[i]];
    return RawRecord(nodes, std::move(strings), shapes.store);
  }

 private:
  size_t remaining() const { return static_cast<size_t>(end_ - at_); }
  [[noreturn]] static void bad(const std::string& what) { fail("", "damaged raw payload: " + what); }
  uint32_t u32() {
    if (remaining() < 4) bad("it ends early");
    uint32_t v;
    std::memcpy(&v, at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  std::string_view text() {
    const uint32_t size = u32();
    if (size > remaining()) bad("a name runs past its end");
    std::string_view v(reinterpret_cast<const char*>(at_), size);
    at_ += size;
    return v;
  }
  const kj::byte* at_;
  const kj::byte* end_;
};

void write_annotation(const Annotation& a, wire::Annotation::Builder to) {
  auto p = to.initProvenance();
  p.setActor(text(a.provenance.actor));
  p.setActorType(text(a.provenance.actor_type));
  p.setVersion(text(a.provenance.version));
  p.setConfigHash(text(a.provenance.config_hash));
  to.setKind(static_cast<wire::Annotation::Kind>(a.kind));
  to.setCatalogue(text(a.catalogue));
  to.setSourceId(text(a.source_id));
  to.setSeparationArcsec(a.separation_arcsec);
  to.setObjectType(text(a.object_type));
  to.setRedshift(a.redshift);
  to.setName(text(a.name));
  to.setValue(a.value);
  to.setDetails(text(a.details));
}

Annotation read_annotation(wire::Annotation::Reader from) {
  Annotation a;
  a.provenance.actor = view(from.getProvenance().getActor());
  a.provenance.actor_type = view(from.getProvenance().getActorType());
  a.provenance.version = view(from.getProvenance().getVersion());
  a.provenance.config_hash = view(from.getProvenance().getConfigHash());
  a.kind = static_cast<Annotation::Kind>(from.getKind());
  a.catalogue = view(from.getCatalogue());
  a.source_id = view(from.getSourceId());
  a.separation_arcsec = from.getSeparationArcsec();
  a.object_type = view(from.getObjectType());
  a.redshift = from.getRedshift();
  a.name = view(from.getName());
  a.value = from.getValue();
  a.details = view(from.getDetails());
  return a;
}

void write_alert(const Alert& alert, wire::Alert::Builder to) {
  const AlertCore& c = alert.core();
  to.setAlertId(c.alert_id);
  to.setAlertKey(text(c.alert_key));
  to.setObjectId(text(c.object_id));
  to.setSurvey(text(c.survey));
  to.setSchemaVersion(text(c.schema_version));
  to.setRa(c.ra);
  to.setDec(c.dec);
  to.setMjdTai(c.mjd_tai);
  to.setBand(text(c.band));
  to.setMag(c.mag);
  to.setMagErr(c.mag_err);
  to.setFlux(c.flux);
  to.setFluxErr(c.flux_err);
  to.setIsDiffPos(c.is_diff_pos);
  to.setRealBogus(c.real_bogus);
  to.setLimitMag(c.limit_mag);
  if (c.cutouts_not_read) {
    auto fields = to.initCutoutsNotRead(static_cast<unsigned>(c.cutouts_not_read->fields.size()));
    for (size_t i = 0; i < c.cutouts_not_read->fields.size(); ++i) fields.set(i, c.cutouts_not_read->fields[i]);
    to.setCutoutsFile(c.cutouts_not_read->file);
  }
  auto history = to.initHistory(c.history.size());
  for (size_t i = 0; i < c.history.size(); ++i) {
    const Photometry& p = c.history[i];
    auto h = history[i];
    h.setMjdTai(p.mjd_tai);
    h.setBand(text(p.band));
    h.setKind(static_cast<wire::Photometry::Kind>(p.kind));
    h.setMag(p.mag);
    h.setMagErr(p.mag_err);
    h.setFlux(p.flux);
    h.setFluxErr(p.flux_err);
    h.setLimitMag(p.limit_mag);
    h.setIsDiffPos(p.is_diff_pos);
  }
  auto cutouts = to.initCutouts(c.cutouts.size());
  for (size_t i = 0; i < c.cutouts.size(); ++i) {
    cutouts[i].setKind(static_cast<wire::Cutout::Kind>(c.cutouts[i].kind));
    cutouts[i].setFormat(text(c.cutouts[i].format));
    cutouts[i].setBytes(as_data(c.cutouts[i].bytes));
  }
  write_raw_flat(c.raw, c.cutouts, to);
  auto list = alert.annotations().list();
  auto annotations = to.initAnnotations(list.size());
  for (size_t i = 0; i < list.size(); ++i) write_annotation(*list[i], annotations[i]);
}

RecordPtr read_alert(wire::Alert::Reader from, RecordDecoder::Shapes& shapes) {
  auto core = std::make_shared<AlertCore>();
  core->alert_id = from.getAlertId();
  core->alert_key = view(from.getAlertKey());
  core->object_id = view(from.getObjectId());
  core->survey = view(from.getSurvey());
  core->schema_version = view(from.getSchemaVersion());
  core->ra = from.getRa();
  core->dec = from.getDec();
  core->mjd_tai = from.getMjdTai();
  core->band = view(from.getBand());
  core->mag = from.getMag();
  core->mag_err = from.getMagErr();
  core->flux = from.getFlux();
  core->flux_err = from.getFluxErr();
  core->is_diff_pos = from.getIsDiffPos();
  core->real_bogus = from.getRealBogus();
  core->limit_mag = from.getLimitMag();
  if (from.hasCutoutsNotRead()) {
    UnreadCutouts unread;
    for (auto field : from.getCutoutsNotRead()) unread.fields.emplace_back(view(field));
    unread.file = view(from.getCutoutsFile());
    core->cutouts_not_read = std::make_shared<const UnreadCutouts>(std::move(unread));
  }
  core->history.reserve(from.getHistory().size());
  for (auto h : from.getHistory()) {
    Photometry p;
    p.mjd_tai = h.getMjdTai();
    p.band = view(h.getBand());
    p.kind = static_cast<Photometry::Kind>(h.getKind());
    p.mag = h.getMag();
    p.mag_err = h.getMagErr();
    p.flux = h.getFlux();
    p.flux_err = h.getFluxErr();
    p.limit_mag = h.getLimitMag();
    p.is_diff_pos = h.getIsDiffPos();
    core->history.push_back(std::move(p));
  }
  count_history_detections(*core);
  auto cutout_bytes = std::make_shared<std::vector<std::string>>();
  cutout_bytes->reserve(from.getCutouts().size());
  for (auto c : from.getCutouts()) {
    cutout_bytes->emplace_back(view(c.getBytes()));
    core->cutouts.push_back({static_cast<Cutout::Kind>(c.getKind()), std::string(view(c.getFormat())),
                             cutout_bytes->back()});
  }
  core->buffers = cutout_bytes;
  if (from.hasRaw()) fail("", "a raw payload as a tree of values (cluster protocol revision 2)");
  if (from.hasRawFlat()) core->raw = RawFlatReader(from.getRawFlat()).read(shapes, core->cutouts, cutout_bytes);
  AnnotationChain chain;
  for (auto a : from.getAnnotations()) chain = chain.append(read_annotation(a));
  return std::make_shared<const Alert>(std::move(core), std::move(chain));
}

void write_event(const SkyEvent& e, wire::SkyEvent::Builder to) {
  to.setEventId(text(e.event_id));
  to.setSource(text(e.source));
  to.setKind(static_cast<wire::SkyEvent::Kind>(e.kind));
  to.setAlertType(text(e.alert_type));
  to.setSequence(e.sequence);
  to.setMjdTai(e.mjd_tai);
  auto loc = to.initLocalization();
  const Localization& l = e.localization;
  loc.setRa(l.ra);
  loc.setDec(l.dec);
  loc.setContainmentProbability(l.containment_probability);
  switch (l.shape) {
    case Localization::Shape::point: loc.setPoint(); break;
    case Localization::Shape::circle: loc.setCircle(l.radius_deg); break;
    case Localization::Shape::ellipse: {
      auto el = loc.initEllipse();
      el.setSemiMajorDeg(l.semi_major_deg);
      el.setSemiMinorDeg(l.semi_minor_deg);
      el.setPositionAngleDeg(l.position_angle_deg);
      break;
    }
    case Localization::Shape::skymap: {
      auto map = loc.initSkymap();
      map.setFits(as_data(l.skymap_fits));
      map.setUrl(text(l.skymap_url));
      map.setVersion(text(l.skymap_version));
      break;
    }
  }
  to.setFar(e.far_hz);
  to.setSignificance(e.significance);
  to.setSignificant(e.significant);
  to.setTest(e.test);
  to.setRetracted(e.retracted);
  to.setNoticeJson(text(e.notice_json));
}

RecordPtr read_event(wire::SkyEvent::Reader from) {
  auto e = std::make_shared<SkyEvent>();
  e->event_id = view(from.getEventId());
  e->source = view(from.getSource());
  e->kind = static_cast<SkyEvent::Kind>(from.getKind());
  e->alert_type = view(from.getAlertType());
  e->sequence = from.getSequence();
  e->mjd_tai = from.getMjdTai();
  auto loc = from.getLocalization();
  Localization& l = e->localization;
  l.ra = loc.getRa();
  l.dec = loc.getDec();
  l.containment_probability = loc.getContainmentProbability();
  switch (loc.which()) {
    case wire::Localization::POINT: l.shape = Localization::Shape::point; break;
    case wire::Localization::CIRCLE:
      l.shape = Localization::Shape::circle;
      l.radius_deg = loc.getCircle();
      break;
    case wire::Localization::ELLIPSE:
      l.shape = Localization::Shape::ellipse;
      l.semi_major_deg = loc.getEllipse().getSemiMajorDeg();
      l.semi_minor_deg = loc.getEllipse().getSemiMinorDeg();
      l.position_angle_deg = loc.getEllipse().getPositionAngleDeg();
      break;
    case wire::Localization::SKYMAP:
      l.shape = Localization::Shape::skymap;
      l.skymap_fits = view(loc.getSkymap().getFits());
      l.skymap_url = view(loc.getSkymap().getUrl());
      l.skymap_version = view(loc.getSkymap().getVersion());
      break;
  }
  e->far_hz = from.getFar();
  e->significance = from.getSignificance();
  e->significant = from.getSignificant();
  e->test = from.getTest();
  e->retracted = from.getRetracted();
  e->notice_json = view(from.getNoticeJson());
  return e;
}

void write_coincidence(const Coincidence& c, wire::Coincidence::Builder to) {
  to.setEventId(text(c.event_id));
  to.setEventSequence(c.event_sequence);
  to.setAlertId(c.alert_id);
  to.setObjectId(text(c.object_id));
  to.setOtherEventId(text(c.other_event_id));
  to.setOtherEventSequence(c.other_event_sequence);
  to.setStatus(static_cast<wire::Coincidence::Status>(c.status));
  to.setTimeDifferenceSeconds(c.time_difference_s);
  to.setSearchedProbability(c.searched_probability);
  to.setFalseAlarmRate(c.false_alarm_rate);
  auto terms = to.initTerms(c.terms.size());
  for (size_t i = 0; i < c.terms.size(); ++i) {
    terms[i].setName(text(c.terms[i].name));
    terms[i].setValue(c.terms[i].value);
    terms[i].setSource(text(c.terms[i].source));
  }
  to.setAlertRa(c.alert_ra);
  to.setAlertDec(c.alert_dec);
  to.setAlertMag(c.alert_mag);
  to.setAlertBand(text(c.alert_band));
  to.setAlertMjdTai(c.alert_mjd_tai);
}

RecordPtr read_coincidence(wire::Coincidence::Reader from) {
  auto c = std::make_shared<Coincidence>();
  c->event_id = view(from.getEventId());
  c->event_sequence = from.getEventSequence();
  c->alert_id = from.getAlertId();
  c->object_id = view(from.getObjectId());
  c->other_event_id = view(from.getOtherEventId());
  c->other_event_sequence = from.getOtherEventSequence();
  c->status = static_cast<Coincidence::Status>(from.getStatus());
  c->time_difference_s = from.getTimeDifferenceSeconds();
  c->searched_probability = from.getSearchedProbability();
  c->false_alarm_rate = from.getFalseAlarmRate();
  for (auto t : from.getTerms())
    c->terms.push_back({std::string(view(t.getName())), t.getValue(), std::string(view(t.getSource()))});
  c->alert_ra = from.getAlertRa();
  c->alert_dec = from.getAlertDec();
  c->alert_mag = from.getAlertMag();
  c->alert_band = view(from.getAlertBand());
  c->alert_mjd_tai = from.getAlertMjdTai();
  return c;
}

void write_classification(const Classification& c, wire::Classification::Builder to) {
  to.setAlertId(c.alert_id);
  to.setDiaSourceId(c.dia_source_id);
  to.setObjectId(text(c.object_id));
  to.setSurvey(text(c.survey));
  to.setAlertTimestampMs(c.alert_timestamp_ms);
  to.setHasIngestTimestamp(c.ingest_timestamp_ms.has_value());
  to.setIngestTimestampMs(c.ingest_timestamp_ms.value_or(0));
  to.setBrokerName(text(c.broker_name));
  to.setBrokerVersion(text(c.broker_version));
  to.setClassifierName(text(c.classifier_name));
  to.setClassifierParams(text(c.classifier_params));
  auto classes = to.initClasses(c.classes.size());
  for (size_t i = 0; i < c.classes.size(); ++i) {
    classes[i].setClassId(c.classes[i].class_id);
    classes[i].setProbability(c.classes[i].probability);
  }
}

RecordPtr read_classification(wire::Classification::Reader from) {
  auto c = std::make_shared<Classification>();
  c->alert_id = from.getAlertId();
  c->alert_key = std::to_string(c->alert_id);
  c->dia_source_id = from.getDiaSourceId();
  c->object_id = view(from.getObjectId());
  c->survey = view(from.getSurvey());
  c->alert_timestamp_ms = from.getAlertTimestampMs();
  if (from.getHasIngestTimestamp()) c->ingest_timestamp_ms = from.getIngestTimestampMs();
  c->broker_name = view(from.getBrokerName());
  c->broker_version = view(from.getBrokerVersion());
  c->classifier_name = view(from.getClassifierName());
  c->classifier_params = view(from.getClassifierParams());
  for (auto p : from.getClasses()) c->classes.push_back({p.getClassId(), p.getProbability()});
  return c;
}

void write_dead_letter(const DeadLetter& d, wire::DeadLetter::Builder to) {
  to.setActor(text(d.actor));
  to.setKind(text(d.kind));
  to.setReason(text(d.reason));
  to.setPlace(text(d.place));
  to.setOriginal(as_data(d.original));
  to.setOriginalFormat(text(d.original_format));
  to.setMjdTai(d.mjd_tai);
}

RecordPtr read_dead_letter(wire::DeadLetter::Reader from) {
  auto d = std::make_shared<DeadLetter>();
  d->actor = view(from.getActor());
  d->kind = view(from.getKind());
  d->reason = view(from.getReason());
  d->place = view(from.getPlace());
  d->original = view(from.getOriginal());
  d->original_format = view(from.getOriginalFormat());
  d->mjd_tai = from.getMjdTai();
  return d;
}

}  // namespace

namespace {

void write_record(const Record& record, capnp::MessageBuilder& message) {
  switch (record.type()) {
    case PortType::alert:
      write_alert(static_cast<const Alert&>(record), message.initRoot<wire::Alert>());
      return;
    case PortType::sky_event:
      write_event(static_cast<const SkyEvent&>(record), message.initRoot<wire::SkyEvent>());
      return;
    case PortType::coincidence:
      write_coincidence(static_cast<const Coincidence&>(record), message.initRoot<wire::Coincidence>());
      return;
    case PortType::dead_letter:
      write_dead_letter(static_cast<const DeadLetter&>(record), message.initRoot<wire::DeadLetter>());
      return;
    case PortType::classification:
      write_classification(static_cast<const Classification&>(record), message.initRoot<wire::Classification>());
      return;
    case PortType::any: break;
  }
  fail("", "a record has no concrete type");
}

RecordPtr read_record(PortType type, capnp::MessageReader& reader, RecordDecoder::Shapes& shapes) {
  switch (type) {
    case PortType::alert: return read_alert(reader.getRoot<wire::Alert>(), shapes);
    case PortType::sky_event: return read_event(reader.getRoot<wire::SkyEvent>());
    case PortType::coincidence: return read_coincidence(reader.getRoot<wire::Coincidence>());
    case PortType::dead_letter: return read_dead_letter(reader.getRoot<wire::DeadLetter>());
    case PortType::classification: return read_classification(reader.getRoot<wire::Classification>());
    case PortType::any: break;
  }
  return nullptr;
}

// Appends what Cap'n Proto writes to a string.
class StringOutput : public kj::OutputStream {
 public:
  explicit StringOutput(std::string& out) : out_(out) {}
  void write(const void* buffer, size_t size) override { out_.append(static_cast<const char*>(buffer), size); }

 private:
  std::string& out_;
};

// A message read from `words` (the message and those after it) may visit a few times its words,
// no more: a list of empty structs costs next to nothing on the wire, and without this bound a
// few bytes could make a history of 2^29 points (tens of GB) out of it.
capnp::ReaderOptions reader_options(size_t words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 4 * words + 1024;
  return options;
}

}  // namespace

std::string encode_record(const Record& record) {
  std::string out;
  RecordEncoder().append(record, out);
  return out;
}

RecordEncoder::RecordEncoder() : scratch_(new capnp::word[kScratchWords]()) {}
RecordEncoder::~RecordEncoder() = default;

size_t RecordEncoder::append(const Record& record, std::string& out) {
  // The builder's first segment is the scratch, which its destructor zeroes again for the next
  // record: no allocation for a record that fits it.
  capnp::MallocMessageBuilder message(kj::arrayPtr(scratch_.get(), kScratchWords));
  write_record(record, message);
  const size_t before = out.size();
  StringOutput stream(out);
  capnp::writeMessage(stream, message);
  return out.size() - before;
}

RecordDecoder::RecordDecoder() : shapes_(std::make_unique<Shapes>()) {}
RecordDecoder::~RecordDecoder() = default;

void RecordDecoder::decode(std::string_view types, std::string_view bytes, std::string_view place,
                           std::vector<RecordPtr>& out) {
  if (bytes.size() % sizeof(capnp::word) != 0)
    fail(std::string(place), "not Cap'n Proto messages (the size is not a multiple of 8 bytes)");
  // Read in place when the bytes are word-aligned (a heap buffer is); else from an aligned copy.
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word*>(bytes.data()),
                                        bytes.size() / sizeof(capnp::word));
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(capnp::word) != 0) {
    copy = kj::heapArray<capnp::word>(words.size());
    memcpy(copy.begin(), bytes.data(), bytes.size());
    words = kj::ArrayPtr<const capnp::word>(copy.begin(), copy.size());
  }
  PortType type = PortType::any;
  try {
    for (char t : types) {
      type = static_cast<PortType>(t);
      if (words.size() == 0) fail(std::string(place), "fewer Cap'n Proto messages than records");
      capnp::FlatArrayMessageReader reader(words, reader_options(words.size()));
      const size_t used = static_cast<size_t>(reader.getEnd() - words.begin());
      RecordPtr record = read_record(type, reader, *shapes_);
      if (!record) fail(std::string(place), "cannot decode a record of type Any");
      out.push_back(std::move(record));
      words = words.slice(used, words.size());
    }
  } catch (const kj::Exception& e) {
    fail(std::string(place),
         std::string("invalid ") + std::string(to_string(type)) + " message: " + e.getDescription().cStr());
  }
  if (words.size() != 0) fail(std::string(place), "bytes left after the last record's Cap'n Proto message");
}

RecordPtr decode_record(PortType type, std::string_view bytes, std::string_view place) {
  std::vector<RecordPtr> out;
  const char t = static_cast<char>(type);
  RecordDecoder().decode(std::string_view(&t, 1), bytes, place, out);
  return out.front();
}

}  // namespace ebs
