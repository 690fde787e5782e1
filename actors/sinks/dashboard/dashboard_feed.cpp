#include "actors/sinks/dashboard/dashboard_feed.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "engine/model/record_json.h"
#include "engine/model/record_wire.h"
#include "engine/util/fault.h"

namespace ebs::dashboard {

namespace {

// JSON has no NaN: missing numbers are null.
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// Alert ids exceed 2^53 (JavaScript's exact integers): the page gets them as strings.
std::string id_text(int64_t id) { return std::to_string(id); }

template <class T>
void keep_latest(std::deque<T>& items, size_t limit) {
  while (items.size() > limit) items.pop_front();
}

// Sky events past `limit` go oldest by their sort time first (among equals the earliest kept),
// not by when they came: an event that comes late (one a node shipped after newer ones, waiting
// over a shipment's budget; a notice sent again) must not push out a newer one. It may be the one
// that goes at once.
template <class T>
void keep_newest_events(std::deque<T>& events, size_t limit) {
  while (events.size() > limit)
    events.erase(std::min_element(events.begin(), events.end(),
                                  [](const T& a, const T& b) { return a.sort_time < b.sort_time; }));
}

// An event's sort time is its own time. One without (a retraction: LVK RETRACTION, a GCN
// retraction notice) keeps the time of the copy it replaces, so that it stays while that copy
// would have; one never seen before sorts as the newest kept when it came (as by its arrival),
// not before every timed one: it would go first, and its event off the page with it.
template <class T>
double sort_time(const SkyEvent& event, const typename std::deque<T>::const_iterator replaced,
                 const std::deque<T>& events) {
  if (!std::isnan(event.mjd_tai)) return event.mjd_tai;
  if (replaced != events.end()) return replaced->sort_time;
  double newest = -INFINITY;
  for (const auto& e : events) newest = std::max(newest, e.sort_time);
  return newest;
}

// What the feed keeps of an alert: what the page shows, in memory of its own. Not its raw payload
// (as large as the rest of a ZTF alert, never shown); its cutouts copied out of the source's
// buffer, which is released: kept past its acknowledgement (the latest alerts stay after the run,
// `run --http --linger`), a view into a Kafka message would keep librdkafka's fetch buffer, the
// consumer and its group membership alive, and take the source's view budget
// (docs/kafka.md, "Messages viewed, not copied").
std::shared_ptr<const Alert> detached_shown_part(const Alert& alert) {
  auto core = std::make_shared<AlertCore>(alert.core());
  core->raw = RawRecord();
  core->kept_bytes = 0;
  auto bytes = std::make_shared<std::vector<std::string>>();
  bytes->reserve(core->cutouts.size());  // no reallocation: the cutouts view these strings
  for (Cutout& c : core->cutouts) c.bytes = bytes->emplace_back(c.bytes);
  core->buffers = std::move(bytes);
  return std::make_shared<const Alert>(std::move(core), alert.annotations());
}

// What a node ships of a kept record: what the page shows, not a notice's text (a GW notice's is
// its sky map again, in base64). Its alerts are kept without their raw payload already.
RecordPtr shown_part(const RecordPtr& record) {
  if (record->type() == PortType::sky_event) {
    const auto& event = static_cast<const SkyEvent&>(*record);
    if (event.notice_json.empty()) return record;
    auto copy = std::make_shared<SkyEvent>(event);
    copy->notice_json.clear();
    return copy;
  }
  return record;
}

}  // namespace

void DashboardFeed::widen(const FeedLimits& limits) {
  std::lock_guard lock(mutex_);
  widen_locked(limits);
}

void DashboardFeed::widen_locked(const FeedLimits& limits) {
  if (!widened_) {
    limits_ = limits;
    widened_ = true;
    return;
  }
  limits_.alerts = std::max(limits_.alerts, limits.alerts);
  limits_.events = std::max(limits_.events, limits.events);
  limits_.coincidences = std::max(limits_.coincidences, limits.coincidences);
  limits_.positions = std::max(limits_.positions, limits.positions);
}

void DashboardFeed::add(const RecordPtr& record) {
  std::lock_guard lock(mutex_);
  ++seen_;
  add_locked(record, false);
}

void DashboardFeed::add_locked(const RecordPtr& record, bool from_node) {
  const uint64_t arrival = ++arrivals_;
  switch (record->type()) {
    case PortType::alert: {
      std::shared_ptr<const Alert> alert = detached_shown_part(static_cast<const Alert&>(*record));
      const AlertCore& core = alert->core();
      if (positions_.emplace(core.alert_id, Position{core.ra, core.dec, core.object_id}).second) {
        position_order_.push_back(core.alert_id);
        while (position_order_.size() > limits_.positions) {
          positions_.erase(position_order_.front());
          position_order_.pop_front();
        }
      }
      // The same alert annotated further downstream replaces the earlier copy.
      std::erase_if(alerts_, [&](const auto& a) { return a->core().alert_id == core.alert_id; });
      alerts_.push_back({arrival, std::move(alert)});
      keep_latest(alerts_, limits_.alerts);
      break;
    }
    case PortType::sky_event: {
      auto event = std::static_pointer_cast<const SkyEvent>(record);
      auto same = std::find_if(events_.cbegin(), events_.cend(), [&](const auto& e) { return e->event_id == event->event_id; });
      if (same != events_.cend() && !from_node && (*same)->sequence > event->sequence && !event->retracted)
        break;  // a late, older notice
      const double time = sort_time(*event, same, events_);
      if (same != events_.cend()) events_.erase(same);
      events_.push_back({arrival, std::move(event), time});
      keep_newest_events(events_, limits_.events);
      break;
    }
    case PortType::coincidence:
      coincidences_.push_back({arrival, std::static_pointer_cast<const Coincidence>(record)});
      keep_latest(coincidences_, limits_.coincidences);
      break;
    default:
      break;
  }
}

uint64_t DashboardFeed::records_seen() const {
  std::lock_guard lock(mutex_);
  uint64_t seen = seen_;
  for (const auto& [node, count] : seen_on_nodes_) seen += count;
  return seen;
}

nlohmann::json DashboardFeed::alerts_json() const {
  std::lock_guard lock(mutex_);
  nlohmann::json out = nlohmann::json::array();
  for (auto it = alerts_.rbegin(); it != alerts_.rend(); ++it) {
    nlohmann::json a = to_json(**it, {.with_bytes = false, .with_raw = false});
    a["history"] = (*it)->core().history.size();  // the points come from /api/alerts/{id}/lightcurve
    a["alert_id"] = id_text((*it)->core().alert_id);
    out.push_back(std::move(a));
  }
  return out;
}

nlohmann::json DashboardFeed::lightcurve_json(int64_t alert_id) const {
  std::shared_ptr<const Alert> alert = this->alert(alert_id);
  if (!alert) return nullptr;
  const AlertCore& c = alert->core();
  nlohmann::json points = nlohmann::json::array();
  auto add = [&](const Photometry& p) {
    if (p.kind == Photometry::Kind::upper_limit) {
      if (std::isfinite(p.limit_mag))
        points.push_back({{"mjd", p.mjd_tai}, {"band", p.band}, {"kind", "upper_limit"}, {"limit", p.limit_mag}});
    } else if (std::isfinite(p.mag)) {
      points.push_back({{"mjd", p.mjd_tai},
                        {"band", p.band},
                        {"kind", std::string(to_string(p.kind))},
                        {"mag", p.mag},
                        {"mag_err", number(p.mag_err)}});
    }
  };
  for (const Photometry& p : c.history) add(p);
  Photometry self;
  self.mjd_tai = c.mjd_tai;
  self.band = c.band;
  self.mag = c.mag;
  self.mag_err = c.mag_err;
  add(self);
  return {{"alert_id", id_text(c.alert_id)}, {"object_id", c.object_id}, {"points", points}};
}

nlohmann::json DashboardFeed::events_json() const {
  std::lock_guard lock(mutex_);
  nlohmann::json out = nlohmann::json::array();
  for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
    const SkyEvent& e = **it;
    // One candidate per object and one pair per other event, in its latest state (updates and
    // withdrawals replace it). A pair is listed under both of its events.
    std::vector<const Coincidence*> latest;
    for (const auto& c : coincidences_) {
      if (c->event_id != e.event_id && c->other_event_id != e.event_id) continue;
      auto same = std::find_if(latest.begin(), latest.end(), [&](const Coincidence* l) {
        return l->object_id == c->object_id && l->event_id == c->event_id && l->other_event_id == c->other_event_id;
      });
      if (same != latest.end()) *same = c.record.get();
      else latest.push_back(c.record.get());
    }
    nlohmann::json matched = nlohmann::json::array();
    nlohmann::json pairs = nlohmann::json::array();
    for (const Coincidence* c : latest) {
      if (!c->other_event_id.empty()) {
        // A pair of sky events has no alert and no position of its own: it is not a candidate dot.
        bool this_side = c->event_id == e.event_id;
        nlohmann::json terms = nlohmann::json::array();
        for (const SignificanceTerm& t : c->terms) terms.push_back({{"name", t.name}, {"value", number(t.value)}});
        pairs.push_back({{"other_event_id", this_side ? c->other_event_id : c->event_id},
                         {"other_event_sequence", this_side ? c->other_event_sequence : c->event_sequence},
                         {"status", std::string(to_string(c->status))},
                         {"time_difference_s", number(c->time_difference_s)},
                         {"false_alarm_rate", number(c->false_alarm_rate)},
                         {"terms", std::move(terms)}});
        continue;
      }
      nlohmann::json m{{"alert_id", id_text(c->alert_id)},
                       {"object_id", c->object_id},
                       {"status", std::string(to_string(c->status))},
                       {"searched_probability", number(c->searched_probability)}};
      if (auto p = positions_.find(c->alert_id); p != positions_.end()) {
        m["ra"] = p->second.ra;
        m["dec"] = p->second.dec;
      } else if (std::isfinite(c->alert_ra) && std::isfinite(c->alert_dec)) {
        // The alert was never here (a coordinator gets only the alerts its nodes keep): the
        // coincidence says where it was found.
        m["ra"] = c->alert_ra;
        m["dec"] = c->alert_dec;
      }
      matched.push_back(m);
    }
    nlohmann::json event = to_json(e, {.with_bytes = false, .with_raw = false});
    event["has_skymap"] = !e.localization.skymap_fits.empty();
    event["coincidences"] = std::move(matched);
    event["pairs"] = std::move(pairs);
    out.push_back(std::move(event));
  }
  return out;
}

nlohmann::json DashboardFeed::coincidences_json() const {
  std::lock_guard lock(mutex_);
  nlohmann::json out = nlohmann::json::array();
  for (auto it = coincidences_.rbegin(); it != coincidences_.rend(); ++it) {
    nlohmann::json c = to_json(**it);
    c["alert_id"] = id_text((*it)->alert_id);
    out.push_back(std::move(c));
  }
  return out;
}

std::shared_ptr<const Alert> DashboardFeed::alert(int64_t alert_id) const {
  std::lock_guard lock(mutex_);
  for (const auto& a : alerts_)
    if (a->core().alert_id == alert_id) return a.record;
  return nullptr;
}

std::shared_ptr<const SkyEvent> DashboardFeed::event(const std::string& event_id) const {
  std::lock_guard lock(mutex_);
  for (const auto& e : events_)
    if (e->event_id == event_id) return e.record;
  return nullptr;
}

cluster::FeedShipment DashboardFeed::ship_unshipped(size_t budget_bytes, size_t part_bytes,
                                                    const std::function<void(cluster::FeedPart&&)>& send) {
  // Per kind, oldest first (pointers to what is kept: no copies), in the order the budget takes
  // them: sky events (few, and what the sky map shows), coincidences, then alerts (the bulk).
  using Unshipped = std::vector<std::pair<uint64_t, RecordPtr>>;
  std::array<Unshipped, 3> kinds;
  uint64_t through = 0;  // the newest arrival among them: after this call, shipped or skipped
  uint64_t seen = 0, skipped_before = 0, epoch = 0;
  FeedLimits limits;
  {
    std::lock_guard lock(mutex_);
    auto collect = [&](const auto& kept, Unshipped& into, const std::set<uint64_t>& carried) {
      for (const auto& k : kept)
        if (k.arrival > shipped_ || carried.count(k.arrival)) {
          into.emplace_back(k.arrival, k.record);
          through = std::max(through, k.arrival);
        }
    };
    collect(events_, kinds[0], events_carried_);
    collect(coincidences_, kinds[1], {});
    collect(alerts_, kinds[2], {});
    if (through == 0 && seen_ == seen_shipped_) return {};
    seen = seen_;
    skipped_before = skipped_;
    epoch = epoch_;
    limits = limits_;
  }
  // What goes: each kind from its newest back while the budget lasts (at least one record); a
  // kind stops at its first record over what is left, so that what goes of it is its newest. Its
  // encoding is kept for the parts (the budget bounds them, plus one record over it).
  struct Going {
    uint64_t arrival;
    char type;
    std::string encoding;
  };
  RecordEncoder encoder;
  std::vector<Going> going;
  std::set<uint64_t> carried;  // sky events that wait for the next shipment
  size_t sized = 0, unshipped = 0;
  for (size_t k = 0; k < kinds.size(); ++k) {
    const Unshipped& kind = kinds[k];
    size_t i = kind.size();
    for (; i > 0; --i) {
      std::string one;
      encoder.append(*shown_part(kind[i - 1].second), one);
      if (sized > 0 && sized + one.size() > budget_bytes) break;
      sized += one.size();
      going.push_back({kind[i - 1].first, static_cast<char>(kind[i - 1].second->type()), std::move(one)});
    }
    // Sky events over the budget are not skipped: each is the latest copy of its event, which
    // the coordinator replaces by id, so it can come later without being kept out of turn. They
    // go, newest first, in the next shipments (an event larger than a budget goes alone, first
    // in its shipment: at most one shipment's alerts give way to each such event, then it is shipped).
    if (k == 0)
      for (; i > 0; --i) carried.insert(kind[i - 1].first);
    else
      unshipped += i;
  }
  // In the order they came, so that the coordinator replaces and drops as this feed did.
  std::sort(going.begin(), going.end(), [](const Going& a, const Going& b) { return a.arrival < b.arrival; });
  cluster::FeedShipment shipment;
  shipment.skipped = unshipped;
  const std::string state = nlohmann::json{{"epoch", epoch},
                                           {"keep_alerts", limits.alerts},
                                           {"keep_events", limits.events},
                                           {"keep_coincidences", limits.coincidences},
                                           {"records", seen},
                                           {"not_shipped", skipped_before + shipment.skipped}}
                                .dump();
  cluster::FeedPart part{state, {}, {}};
  auto send_part = [&] {
    ++shipment.parts;
    send(std::move(part));
    part = cluster::FeedPart{state, {}, {}};
  };
  for (Going& g : going) {
    if (!part.encodings.empty() && part.encodings.size() + g.encoding.size() > part_bytes) send_part();
    part.types.push_back(g.type);
    part.encodings += g.encoding;
    shipment.bytes += g.encoding.size();
    ++shipment.records;
    std::string().swap(g.encoding);  // in the part now: not held twice
  }
  send_part();  // the last part, or only the counts when no record went
  // No restart began meanwhile: a node calls begin_attempt and ship_unshipped from its one thread.
  std::lock_guard lock(mutex_);
  shipped_ = std::max(shipped_, through);
  seen_shipped_ = seen;
  skipped_ += shipment.skipped;
  events_carried_ = std::move(carried);
  return shipment;
}

void DashboardFeed::begin_attempt(uint64_t epoch) {
  std::lock_guard lock(mutex_);
  if (epoch <= epoch_) return;
  begin_attempt_locked(epoch);
}

void DashboardFeed::begin_attempt_locked(uint64_t epoch) {
  epoch_ = epoch;
  alerts_.clear();
  events_.clear();
  coincidences_.clear();
  positions_.clear();
  position_order_.clear();
  shipped_ = arrivals_;
  events_carried_.clear();
  seen_ = seen_shipped_ = skipped_ = 0;
  seen_on_nodes_.clear();
  skipped_on_nodes_.clear();
}

uint64_t DashboardFeed::records_not_shipped() const {
  std::lock_guard lock(mutex_);
  uint64_t skipped = skipped_;
  for (const auto& [node, count] : skipped_on_nodes_) skipped += count;
  return skipped;
}

void DashboardFeed::add_part(const std::string& node, const cluster::FeedPart& part) {
  const std::string place = "the dashboard feed of node '" + node + "'";
  nlohmann::json state = nlohmann::json::parse(part.state, nullptr, false);
  // The sinks' limits, as their config allows them (dashboard_sink.cpp): the coordinator keeps as much.
  auto limit = [&](const char* key) {
    return state.is_object() && state[key].is_number_unsigned() && state[key].get<uint64_t>() >= 1 &&
           state[key].get<uint64_t>() <= 100000;
  };
  auto count = [&](const char* key) { return state.is_object() && state[key].is_number_unsigned(); };
  if (!limit("keep_alerts") || !limit("keep_events") || !limit("keep_coincidences") || !count("records") ||
      !count("not_shipped") || !count("epoch") || state["epoch"].get<uint64_t>() < 1)
    fail(place, "its state is not {epoch, keep_alerts, keep_events, keep_coincidences, records, not_shipped}: " +
                    part.state.substr(0, 200));
  std::vector<RecordPtr> records;
  RecordDecoder decoder;
  decoder.decode(part.types, part.encodings, place, records);
  std::lock_guard lock(mutex_);
  // An earlier attempt's part, still on its way after a restart: what it held is not shown.
  const uint64_t epoch = state["epoch"].get<uint64_t>();
  if (epoch < epoch_) return;
  if (epoch > epoch_) begin_attempt_locked(epoch);
  FeedLimits limits = limits_;
  limits.alerts = state["keep_alerts"].get<size_t>();
  limits.events = state["keep_events"].get<size_t>();
  limits.coincidences = state["keep_coincidences"].get<size_t>();
  widen_locked(limits);
  seen_on_nodes_[node] = state["records"].get<uint64_t>();
  skipped_on_nodes_[node] = state["not_shipped"].get<uint64_t>();
  for (const RecordPtr& record : records) add_locked(record, true);
}

}  // namespace ebs::dashboard
