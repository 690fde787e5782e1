#include "engine/model/record_wire.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <deque>
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

// What a raw payload's encoding refers to rather than repeats: the shapes whose names this message
// gave so far, in order (RawRecord.sameShapeAs), and the alert's cutouts (RawValue.cutout).
struct RawRefs {
  std::vector<const RecordShape*> named;
  const std::vector<Cutout>* cutouts = nullptr;
};

void write_raw(const RawView& from, wire::RawValue::Builder to, RawRefs& refs) {
  if (!from.valid()) {
    to.setNull();
    return;
  }
  const RawNode& node = from.node();
  switch (node.kind) {
    case RawNode::Kind::Null: to.setNull(); break;
    case RawNode::Kind::Bool: to.setBool(node.boolean); break;
    case RawNode::Kind::Int: to.setInt(node.integer); break;
    case RawNode::Kind::Double: to.setDouble(node.number); break;
    case RawNode::Kind::String: to.setText(text(node.text)); break;
    case RawNode::Kind::Bytes: {
      for (size_t i = 0; refs.cutouts && i < refs.cutouts->size(); ++i) {
        const std::string_view cutout = (*refs.cutouts)[i].bytes;
        if (cutout.data() == node.text.data() && cutout.size() == node.text.size()) {
          to.setCutout(static_cast<uint8_t>(i));
          return;
        }
      }
      to.setData(as_data(node.text));
      break;
    }
    case RawNode::Kind::List: {
      auto list = to.initList(from.size());
      for (size_t i = 0; i < from.size(); ++i) write_raw(from.child(i), list[i], refs);
      break;
    }
    case RawNode::Kind::Record: {
      auto rec = to.initRecord();
      auto seen = std::find(refs.named.begin(), refs.named.end(), node.shape);
      if (seen != refs.named.end()) {
        rec.setSameShapeAs(static_cast<uint32_t>(seen - refs.named.begin()) + 1);
      } else {
        refs.named.push_back(node.shape);
        rec.setName(text(node.shape->name));
        auto names = rec.initFieldNames(from.size());
        for (size_t i = 0; i < from.size(); ++i) names.set(i, text(from.field_name(i)));
      }
      auto values = rec.initValues(from.size());
      for (size_t i = 0; i < from.size(); ++i) write_raw(from.child(i), values[i], refs);
      break;
    }
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
  // The bytes of strings the last raw payload held: what the next one reserves.
  size_t strings_hint = 0;

  // Before a payload is read: a fresh store when this one is full.
  void begin_payload() {
    if (store->size() < kMaxShapes) return;
    store = std::make_shared<std::vector<std::unique_ptr<RecordShape>>>();
    by_name.clear();
  }

  const RecordShape* shape_for(wire::RawRecord::Reader rec) {
    const std::string_view name = view(rec.getName());
    auto names = rec.getFieldNames();
    auto same_fields = [&](const RecordShape* shape) {
      if (shape->fields.size() != names.size()) return false;
      for (uint32_t i = 0; i < names.size(); ++i)
        if (shape->fields[i] != view(names[i])) return false;
      return true;
    };
    auto it = by_name.find(name);
    if (it != by_name.end())
      for (const RecordShape* shape : it->second)
        if (same_fields(shape)) return shape;
    std::vector<std::string> fields;
    fields.reserve(names.size());
    for (auto n : names) fields.emplace_back(view(n));
    store->push_back(std::make_unique<RecordShape>(std::string(name), std::move(fields)));
    if (it == by_name.end()) it = by_name.emplace(std::string(name), std::vector<const RecordShape*>{}).first;
    it->second.push_back(store->back().get());
    return store->back().get();
  }
};

namespace {

// The strings of one raw payload, kept with it: mostly in one buffer reserved at the size the
// previous payload's took (views into it stay valid as long as it never grows), the rest each
// on its own.
struct RawStrings {
  std::string first;
  std::deque<std::string> more;
  std::shared_ptr<const void> cutouts;  // the alert's cutouts' bytes, which Bytes nodes may view
};

// Rebuilds a RawRecord. Its strings are copied: the Cap'n Proto buffer does not outlive decoding.
struct RawReader {
  // `cutouts`: the decoded alert's, owned by `cutout_bytes`.
  RawReader(RecordDecoder::Shapes& shapes, const std::vector<Cutout>& cutouts, std::shared_ptr<const void> cutout_bytes)
      : shapes(shapes), cutouts(cutouts) {
    shapes.begin_payload();
    strings->first.reserve(shapes.strings_hint);
    strings->cutouts = std::move(cutout_bytes);
  }
  RecordDecoder::Shapes& shapes;
  const std::vector<Cutout>& cutouts;
  RawRecordBuilder builder;
  std::vector<const RecordShape*> named;  // the shapes whose names this message gave, in order
  std::shared_ptr<RawStrings> strings = std::make_shared<RawStrings>();
  size_t kept = 0;

  std::string_view keep(std::string_view s) {
    kept += s.size();
    std::string& first = strings->first;
    if (first.size() + s.size() > first.capacity()) return strings->more.emplace_back(s);
    const size_t at = first.size();
    first.append(s);
    return std::string_view(first.data() + at, s.size());
  }

  void read(wire::RawValue::Reader from, uint32_t node) {
    switch (from.which()) {
      case wire::RawValue::NULL_: builder.set_null(node); break;
      case wire::RawValue::BOOL: builder.set_bool(node, from.getBool()); break;
      case wire::RawValue::INT: builder.set_int(node, from.getInt()); break;
      case wire::RawValue::DOUBLE: builder.set_double(node, from.getDouble()); break;
      case wire::RawValue::TEXT: builder.set_string(node, keep(view(from.getText()))); break;
      case wire::RawValue::DATA: builder.set_bytes(node, keep(view(from.getData()))); break;
      case wire::RawValue::CUTOUT:
        if (from.getCutout() >= cutouts.size()) fail("", "raw bytes refer to a cutout the alert does not have");
        builder.set_bytes(node, cutouts[from.getCutout()].bytes);
        break;
      case wire::RawValue::LIST: {
        auto list = from.getList();
        uint32_t first = builder.begin_list(node, list.size());
        for (uint32_t i = 0; i < list.size(); ++i) read(list[i], first + i);
        break;
      }
      case wire::RawValue::RECORD: {
        auto rec = from.getRecord();
        const RecordShape* shape = nullptr;
        if (uint32_t same = rec.getSameShapeAs(); same > 0) {
          if (same > named.size()) fail("", "raw record refers to a shape its message did not give");
          shape = named[same - 1];
        } else {
          shape = shapes.shape_for(rec);
          named.push_back(shape);
        }
        auto values = rec.getValues();
        if (values.size() != shape->fields.size()) fail("", "raw record has mismatched field count");
        uint32_t first = builder.begin_record(node, shape);
        for (uint32_t i = 0; i < values.size(); ++i) read(values[i], first + i);
        break;
      }
      default:  // a later revision's kind, or damage: never a silent null
        fail("", "raw value of a kind this build does not know (" + std::to_string(static_cast<int>(from.which())) + ")");
    }
  }

  RawRecord finish(wire::RawValue::Reader root) {
    builder.add_root();
    read(root, 0);
    shapes.strings_hint = kept;
    return builder.finish(strings, shapes.store);
  }
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
  RawRefs refs;
  if (c.cutouts.size() <= 256) refs.cutouts = &c.cutouts;
  write_raw(c.raw.root(), to.initRaw(), refs);
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
  auto cutout_bytes = std::make_shared<std::vector<std::string>>();
  cutout_bytes->reserve(from.getCutouts().size());
  for (auto c : from.getCutouts()) {
    cutout_bytes->emplace_back(view(c.getBytes()));
    core->cutouts.push_back({static_cast<Cutout::Kind>(c.getKind()), std::string(view(c.getFormat())),
                             cutout_bytes->back()});
  }
  core->buffers = cutout_bytes;
  if (from.hasRaw() && from.getRaw().which() != wire::RawValue::NULL_) {
    RawReader reader(shapes, core->cutouts, cutout_bytes);
    core->raw = reader.finish(from.getRaw());
  }
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
