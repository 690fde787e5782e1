#include "actors/coincidence/coincidence_actor.h"

#include <healpix_cxx/healpix_base.h>

#include <array>
#include <cmath>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <algorithm>
#include <unordered_map>

#include "actors/coincidence/error_region.h"
#include "actors/coincidence/significance.h"
#include "actors/coincidence/skymap.h"
#include "engine/time/time_scale.h"

namespace ebs::coincidence {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180;

struct Window {
  double lo = 0;  // days after the event time (negative: before)
  double hi = 0;
};

struct Settings {
  double credible_level = 0.9;
  double region_scale = 1.0;
  std::array<Window, 5> windows;  // by SkyEvent::Kind
  double transient_density = 0.01;
  double expiry_grace_days = 1;
  size_t recent_alerts = 100000;
  bool sky_index = true;
  int index_order = 5;
};

// What the actor remembers of an alert: enough to match it again, not the alert itself.
struct AlertKey {
  uint64_t alert_id = 0;
  std::string object_id;
  double ra = NAN, dec = NAN;
  double first_detection_mjd = NAN;  // earliest detection in the alert's history (MJD TAI)
  double mjd = NAN;
  int64_t cell = -1;
};

struct ActiveEvent {
  std::shared_ptr<const SkyEvent> record;
  std::shared_ptr<const Skymap> map;
  std::optional<ErrorRegion> region;  // at its containment, scaled by region_scale
  Window window;
  std::vector<int64_t> cells;  // sky-index cells covering the region (empty: whole sky)
  std::vector<AckRef> acks;
  std::map<std::string, std::pair<AlertKey, std::shared_ptr<const Coincidence>>> emitted;  // by object id
};

const char* kWindowSource =
    "Fink-mm (a transient must follow the trigger); 14 d spans kilonova light curves (docs/coincidence.md)";

class CoincidenceLogic final : public ActorLogic {
 public:
  explicit CoincidenceLogic(Settings settings)
      : s_(std::move(settings)), base_(s_.index_order, NEST), cells_(s_.sky_index ? base_.Npix() : 0) {}

  void on_batch(size_t port, const BatchView& batch, Emitter& out) override {
    std::vector<RecordPtr> produced;
    if (port == 0) {
      for (size_t i = 0; i < batch.size(); ++i) on_alert(static_cast<const Alert&>(batch[i]), produced);
      out.forward(1, batch);
      expire();
    } else {
      size_t kept_or_done = 0;
      for (size_t i = 0; i < batch.size(); ++i) {
        auto event = std::static_pointer_cast<const SkyEvent>(batch.record(i));
        try {
          on_event(event, batch.acks(), produced);
          ++kept_or_done;
        } catch (const Fault& fault) {
          out.failed(batch.record(i), fault, batch.acks());
        }
      }
      out.filtered(kept_or_done);  // consumed: kept as active events (their acks held) or applied
    }
    if (!produced.empty()) out.emit(0, BatchView::make(PortType::coincidence, std::move(produced), {}));
  }

 private:
  // ---- alerts ----
  AlertKey key_of(const Alert& alert) const {
    const AlertCore& c = alert.core();
    AlertKey key{c.alert_id, c.object_id, c.ra, c.dec, c.mjd_tai, c.mjd_tai, -1};
    for (const Photometry& p : c.history)
      if (p.kind == Photometry::Kind::detection && p.mjd_tai < key.first_detection_mjd) key.first_detection_mjd = p.mjd_tai;
    if (s_.sky_index && std::isfinite(c.ra) && c.dec >= -90 && c.dec <= 90)
      key.cell = base_.ang2pix(pointing((90 - c.dec) * kDeg, c.ra * kDeg));
    return key;
  }

  void on_alert(const Alert& alert, std::vector<RecordPtr>& produced) {
    AlertKey key = key_of(alert);
    if (std::isfinite(key.mjd)) stream_mjd_ = std::max(stream_mjd_, key.mjd);
    if (s_.sky_index) {
      if (key.cell >= 0)
        for (uint32_t slot : cells_[key.cell]) try_match(*events_[slot], key, produced);
      for (uint32_t slot : whole_sky_) try_match(*events_[slot], key, produced);
    } else {
      for (auto& event : events_)
        if (event) try_match(*event, key, produced);
    }
    recent_.push_back(std::move(key));
    if (recent_.size() > s_.recent_alerts) recent_.pop_front();
  }

  // The coincidence of `alert` with `event`, or null when they do not match.
  std::shared_ptr<Coincidence> match(const ActiveEvent& event, const AlertKey& alert) const {
    const SkyEvent& e = *event.record;
    double dt_days = alert.first_detection_mjd - e.mjd_tai;
    if (!(dt_days >= event.window.lo && dt_days <= event.window.hi)) return nullptr;
    auto c = std::make_shared<Coincidence>();
    double area = NAN;
    if (event.map) {
      SkymapLookup at = event.map->at(alert.ra, alert.dec);
      if (!at.in_credible_region(s_.credible_level)) return nullptr;
      c->searched_probability = at.searched_prob;
      area = at.searched_area;
      c->terms.push_back({"probdensity_sr", at.probdensity, "sky map at the alert (ligo.skymap crossmatch)"});
      c->terms.push_back({"searched_area_deg2", at.searched_area, "sky map (ligo.skymap crossmatch)"});
      c->terms.push_back({"credible_level", s_.credible_level, "config credible_level"});
    } else {
      double rho = event.region->normalized_radius(alert.ra, alert.dec);
      if (!(rho <= 1)) return nullptr;
      // Credible level of the ellipse through the alert under the 2-D Gaussian model:
      // q = 1 − (1 − p)^(ρ²) (the scaling of ErrorRegion::at_containment).
      double p = event.region->containment;
      c->searched_probability = 1 - std::pow(1 - p, rho * rho);
      area = kPi * event.region->semi_major * event.region->semi_minor * rho * rho;
      c->terms.push_back({"normalized_radius", rho, "error region (x/a)^2+(y/b)^2 under the root"});
      c->terms.push_back({"searched_area_deg2", area, "pi a b rho^2 (small-angle)"});
      c->terms.push_back({"containment_probability", p, "the notice's containment_probability"});
      c->terms.push_back({"region_scale", s_.region_scale, "config region_scale (Fink-mm uses 1.5)"});
    }
    c->event_id = e.event_id;
    c->event_sequence = e.sequence;
    c->alert_id = alert.alert_id;
    c->object_id = alert.object_id;
    c->time_difference_s = dt_days * time::kSecondsPerDay;
    double chance = chance_coincidence_probability(s_.transient_density, area, dt_days);
    c->terms.push_back({"first_detection_mjd_tai", alert.first_detection_mjd, "alert history"});
    c->terms.push_back({"window_lo_days", event.window.lo, kWindowSource});
    c->terms.push_back({"window_hi_days", event.window.hi, kWindowSource});
    c->terms.push_back({"transient_density_per_deg2_day", s_.transient_density,
                        "config transient_density (assumed order of magnitude, docs/coincidence.md)"});
    c->terms.push_back({"chance_probability", chance, "Poisson 1-exp(-density*area*dt), dt >= 1 h"});
    c->terms.push_back({"event_far_hz", e.far_hz, "the notice's far"});
    c->false_alarm_rate = NAN;  // survey alerts have no false-alarm rate of their own
    return c;
  }

  void try_match(ActiveEvent& event, const AlertKey& alert, std::vector<RecordPtr>& produced) {
    if (event.emitted.count(alert.object_id)) return;  // one coincidence per (event, object)
    auto c = match(event, alert);
    if (!c) return;
    event.emitted.emplace(alert.object_id, std::make_pair(alert, c));
    produced.push_back(std::move(c));
  }

  // ---- events ----
  void on_event(const std::shared_ptr<const SkyEvent>& event, const std::vector<AckRef>& acks,
                std::vector<RecordPtr>& produced) {
    auto found = by_id_.find(event->event_id);
    if (event->retracted) {
      retracted_.insert(event->event_id);
      if (found != by_id_.end()) {
        for (auto& [object, entry] : events_[found->second]->emitted) produced.push_back(with_status(*entry.second, Coincidence::Status::withdrawn));
        remove(found->second);
      }
      // An expired event's coincidences are withdrawn too.
      if (auto old = expired_.find(event->event_id); old != expired_.end()) {
        for (auto& c : old->second) produced.push_back(with_status(*c, Coincidence::Status::withdrawn));
        expired_.erase(old);
      }
      return;
    }
    if (retracted_.count(event->event_id)) return;  // a notice sent before the retraction, arriving late
    if (found != by_id_.end() && event->sequence < events_[found->second]->record->sequence) return;  // stale
    auto fresh = build(event, acks);
    std::map<std::string, std::pair<AlertKey, std::shared_ptr<const Coincidence>>> previous;
    if (found != by_id_.end()) {
      previous = std::move(events_[found->second]->emitted);
      remove(found->second);
    }
    uint32_t slot = insert(std::move(fresh));
    ActiveEvent& active = *events_[slot];
    // Re-check what the superseded localization produced: update or withdraw.
    for (auto& [object, entry] : previous) {
      auto again = match(active, entry.first);
      if (again) {
        again->status = Coincidence::Status::updated;
        active.emitted.emplace(object, std::make_pair(entry.first, again));
        produced.push_back(std::move(again));
      } else {
        produced.push_back(with_status(*entry.second, Coincidence::Status::withdrawn));
      }
    }
    for (const AlertKey& alert : recent_) try_match(active, alert, produced);
  }

  static std::shared_ptr<const Coincidence> with_status(const Coincidence& c, Coincidence::Status status) {
    auto copy = std::make_shared<Coincidence>(c);
    copy->status = status;
    return copy;
  }

  std::unique_ptr<ActiveEvent> build(const std::shared_ptr<const SkyEvent>& event, const std::vector<AckRef>& acks) const {
    std::string place = event->source + " event " + event->event_id;
    if (!std::isfinite(event->mjd_tai)) fail(place, "no event time");
    auto active = std::make_unique<ActiveEvent>();
    active->record = event;
    active->acks = acks;
    active->window = s_.windows[static_cast<size_t>(event->kind)];
    const Localization& l = event->localization;
    switch (l.shape) {
      case Localization::Shape::skymap: {
        if (l.skymap_fits.empty()) fail(place, "sky map not embedded (only a URL): nothing to match against");
        auto bytes = reinterpret_cast<const std::uint8_t*>(l.skymap_fits.data());
        active->map = std::make_shared<const Skymap>(Skymap::from_bytes({bytes, l.skymap_fits.size()}, place));
        break;
      }
      case Localization::Shape::circle:
        active->region = ErrorRegion::circle(l.ra, l.dec, l.radius_deg, l.containment_probability).scaled(s_.region_scale);
        break;
      case Localization::Shape::ellipse:
        active->region = ErrorRegion::ellipse(l.ra, l.dec, l.semi_major_deg, l.semi_minor_deg, l.position_angle_deg,
                                              l.containment_probability)
                             .scaled(s_.region_scale);
        break;
      case Localization::Shape::point: fail(place, "a point localization has no region to match in");
    }
    if (s_.sky_index) active->cells = cells_of(*active);
    return active;
  }

  // Index cells (NESTED, index_order) covering the event's credible region or error region.
  std::vector<int64_t> cells_of(const ActiveEvent& event) const {
    std::vector<int64_t> cells;
    const int order = s_.index_order;
    if (event.map) {
      auto uniq = event.map->ranked_uniq();
      auto density = event.map->ranked_probdensity();
      double cumulative = 0;
      for (size_t r = 0; r < uniq.size(); ++r) {
        int pixel_order = (63 - __builtin_clzll(uniq[r])) / 2 - 1;
        int64_t ipix = static_cast<int64_t>(uniq[r] - (uint64_t{1} << (2 * (pixel_order + 1))));
        cumulative += density[r] * 4 * kPi / (12.0 * std::ldexp(1.0, 2 * pixel_order));
        // crossmatch.py: a pixel is inside iff its cumulative probability is <= the level.
        if (cumulative > s_.credible_level * (1 + 1e-12)) break;
        if (pixel_order >= order) {
          cells.push_back(ipix >> (2 * (pixel_order - order)));
        } else {
          int64_t first = ipix << (2 * (order - pixel_order)), count = int64_t{1} << (2 * (order - pixel_order));
          for (int64_t k = 0; k < count; ++k) cells.push_back(first + k);
        }
      }
    } else {
      const ErrorRegion& r = *event.region;
      rangeset<int64_t> set;
      base_.query_disc_inclusive(pointing((90 - r.dec) * kDeg, r.ra * kDeg), std::max(r.semi_major, r.semi_minor) * kDeg, set);
      set.toVector(cells);
    }
    std::sort(cells.begin(), cells.end());
    cells.erase(std::unique(cells.begin(), cells.end()), cells.end());
    // Cumulative sums above differ from the map's own by rounding only at the boundary pixel;
    // a map whose 90% region is most of the sky goes to the whole-sky list.
    if (static_cast<int64_t>(cells.size()) * 2 > base_.Npix()) cells.clear();
    return cells;
  }

  uint32_t insert(std::unique_ptr<ActiveEvent> event) {
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<uint32_t>(events_.size());
      events_.emplace_back();
    }
    if (s_.sky_index) {
      if (event->cells.empty()) whole_sky_.push_back(slot);
      for (int64_t cell : event->cells) cells_[cell].push_back(slot);
    }
    by_id_[event->record->event_id] = slot;
    events_[slot] = std::move(event);
    return slot;
  }

  void remove(uint32_t slot) {
    ActiveEvent& event = *events_[slot];
    auto drop = [slot](std::vector<uint32_t>& list) { list.erase(std::remove(list.begin(), list.end(), slot), list.end()); };
    if (s_.sky_index) {
      if (event.cells.empty()) drop(whole_sky_);
      for (int64_t cell : event.cells) drop(cells_[cell]);
    }
    by_id_.erase(event.record->event_id);
    events_[slot].reset();  // releases the held acknowledgements
    free_.push_back(slot);
  }

  void expire() {
    if (!std::isfinite(stream_mjd_) || stream_mjd_ < next_expiry_check_) return;
    next_expiry_check_ = stream_mjd_ + 1.0 / 24;
    for (uint32_t slot = 0; slot < events_.size(); ++slot)
      if (events_[slot] && events_[slot]->record->mjd_tai + events_[slot]->window.hi + s_.expiry_grace_days < stream_mjd_)
        retire(slot);
  }

  // Expiry: the event stops matching, but what it produced is remembered (the last
  // kExpiredEventsKept events) so that a late retraction can still withdraw it.
  void retire(uint32_t slot) {
    static constexpr size_t kExpiredEventsKept = 10000;
    ActiveEvent& event = *events_[slot];
    if (!event.emitted.empty()) {
      auto& list = expired_[event.record->event_id];
      for (auto& [object, entry] : event.emitted) list.push_back(entry.second);
      expired_order_.push_back(event.record->event_id);
      if (expired_order_.size() > kExpiredEventsKept) {
        expired_.erase(expired_order_.front());
        expired_order_.pop_front();
      }
    }
    remove(slot);
  }

  Settings s_;
  T_Healpix_Base<int64_t> base_;
  std::vector<std::vector<uint32_t>> cells_;
  std::vector<uint32_t> whole_sky_;
  std::vector<std::unique_ptr<ActiveEvent>> events_;
  std::vector<uint32_t> free_;
  std::unordered_map<std::string, uint32_t> by_id_;
  std::set<std::string> retracted_;
  std::deque<AlertKey> recent_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<const Coincidence>>> expired_;
  std::deque<std::string> expired_order_;
  double stream_mjd_ = -INFINITY;
  double next_expiry_check_ = -INFINITY;
};

Window window_from(const ActorConfig& config, const std::string& key) {
  auto values = config.strings(key);
  if (values.size() != 2) fail(config.place(key), key + " must be [lo, hi] in days");
  Window w{std::stod(values[0]), std::stod(values[1])};
  if (!(w.lo <= w.hi)) fail(config.place(key), key + ": lo > hi");
  return w;
}

Settings settings_from(const ActorConfig& config) {
  Settings s;
  s.credible_level = config.number("credible_level");
  s.region_scale = config.number("region_scale");
  s.transient_density = config.number("transient_density");
  s.expiry_grace_days = config.number("expiry_grace_days");
  s.recent_alerts = static_cast<size_t>(config.integer("recent_alerts"));
  s.sky_index = config.boolean("sky_index");
  s.index_order = static_cast<int>(config.integer("index_order"));
  using K = SkyEvent::Kind;
  s.windows[static_cast<size_t>(K::gravitational_wave)] = window_from(config, "window_gw_days");
  s.windows[static_cast<size_t>(K::neutrino)] = window_from(config, "window_neutrino_days");
  s.windows[static_cast<size_t>(K::gamma_ray_burst)] = window_from(config, "window_grb_days");
  s.windows[static_cast<size_t>(K::x_ray)] = window_from(config, "window_x_ray_days");
  s.windows[static_cast<size_t>(K::other)] = window_from(config, "window_other_days");
  if (!(s.credible_level > 0 && s.credible_level <= 1)) fail(config.place("credible_level"), "credible_level must be in (0, 1]");
  if (s.index_order < 0 || s.index_order > 8) fail(config.place("index_order"), "index_order must be 0..8");
  return s;
}

}  // namespace

ActorType coincidence_actor_type() {
  ActorType t;
  t.name = "coincidence";
  t.description = "Matches alerts against active GW/neutrino/GRB/X-ray sky events; emits Coincidence records";
  t.version = "1.0";
  t.inputs = {{"alerts", PortType::alert, "survey alerts"}, {"events", PortType::sky_event, "sky events (notices)"}};
  t.outputs = {{"coincidences", PortType::coincidence, "new, updated and withdrawn coincidences"},
               {"alerts", PortType::alert, "every input alert, unchanged"}};
  t.config = {
      {"credible_level", ValueKind::number, false, "0.9", "a GW map matches where searched probability <= this"},
      {"region_scale", ValueKind::number, false, "1.0", "error regions scaled by this (Fink-mm: 1.5)"},
      {"window_gw_days", ValueKind::list, false, "[0, 14]", "first detection minus GW time, days [lo, hi]"},
      {"window_neutrino_days", ValueKind::list, false, "[0, 14]", "first detection minus neutrino time, days"},
      {"window_grb_days", ValueKind::list, false, "[0, 3]", "first detection minus GRB time, days (afterglows)"},
      {"window_x_ray_days", ValueKind::list, false, "[0, 3]", "first detection minus X-ray trigger time, days"},
      {"window_other_days", ValueKind::list, false, "[0, 3]", "first detection minus other triggers (FRBs), days"},
      {"transient_density", ValueKind::number, false, "0.01",
       "unrelated new transients per deg^2 per day, for the chance probability (an assumption)"},
      {"expiry_grace_days", ValueKind::number, false, "1", "an event is dropped this long after its window closes"},
      {"recent_alerts", ValueKind::integer, false, "100000", "alerts remembered for events that arrive late"},
      {"sky_index", ValueKind::boolean, false, "true", "HEALPix cell index of active events (false: scan them all)"},
      {"index_order", ValueKind::integer, false, "5", "HEALPix order of the sky index cells"},
  };
  t.check = [](const ActorConfig& config, std::vector<Problem>& problems) {
    try {
      settings_from(config);
    } catch (const Fault& f) {
      problems.push_back({f.place(), f.message()});
    } catch (const std::exception& e) {
      problems.push_back({config.file(), e.what()});
    }
  };
  t.create = [](const ActorContext& context) { return std::make_unique<CoincidenceLogic>(settings_from(context.config)); };
  return t;
}

}  // namespace ebs::coincidence
