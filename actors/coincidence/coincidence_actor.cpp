#include "actors/coincidence/coincidence_actor.h"

#include <healpix_cxx/healpix_base.h>

#include <array>
#include <cmath>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <algorithm>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "actors/common/skymap/error_region.h"
#include "actors/coincidence/significance.h"
#include "actors/common/skymap/skymap.h"
#include "engine/time/time_scale.h"

namespace ebs::coincidence {

using namespace ebs::skymap;  // sky maps and error regions (actors/common/skymap)

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
  // Event x event pairs (RAVEN). Windows in seconds, external time minus GW time.
  bool pair_events = true;
  Window pair_gw_grb{-1, 5};
  Window pair_gw_burst_grb{-60, 600};
  Window pair_gw_targeted_grb{-10, 20};
  Window pair_gw_neutrino{-500, 500};
  double grb_rate_hz = 325 / kSecondsPerYear;
  double neutrino_rate_hz = 13.91 / kSecondsPerYear;
  double targeted_gw_far_threshold_hz = 2.0 / 86400;
  double targeted_grb_far_threshold_hz = 1.0 / 1000;
  double neutrino_prior_odds = 1;
  // Every alert, while a sky-map event is active, gets a score annotation `annotation_name` per
  // such event: the map at the alert (docs/coincidence.md, "Per-alert GW annotation").
  bool annotate_alerts = false;
  std::string annotation_name = "sky_map";
};

// What the actor remembers of an alert: enough to match it again, not the alert itself.
struct AlertKey {
  int64_t alert_id = 0;
  std::string object_id;
  double ra = NAN, dec = NAN;
  double first_detection_mjd = NAN;  // earliest detection in the alert's history (MJD TAI)
  double mjd = NAN;
  int64_t cell = -1;
  double mag = NAN;  // the detection's magnitude and band, carried into the coincidence
  std::string band;
};

struct ActiveEvent {
  std::shared_ptr<const SkyEvent> record;
  std::shared_ptr<const Skymap> map;
  std::optional<ErrorRegion> region;         // at its containment, scaled by region_scale
  std::optional<ErrorRegion> notice_region;  // as the notice gives it, for overlap integrals
  bool burst_search = false;                 // a GW from the Burst group (wider RAVEN window)
  Window window;
  std::vector<int64_t> cells;  // sky-index cells covering the region (empty: whole sky)
  std::vector<AckRef> acks;
  std::map<std::string, std::pair<AlertKey, std::shared_ptr<const Coincidence>>> emitted;  // by object id
};

// A GW paired with a GRB or neutrino; both sides are kept (also after they expire) so that an
// UPDATE or RETRACTION of either can re-check or withdraw the pair.
struct EventPair {
  std::shared_ptr<const ActiveEvent> gw;
  std::shared_ptr<const ActiveEvent> external;
  std::shared_ptr<const Coincidence> emitted;
};

bool pairs_with_gw(SkyEvent::Kind kind) {
  return kind == SkyEvent::Kind::gamma_ray_burst || kind == SkyEvent::Kind::neutrino;
}

const char* kWindowSource =
    "Fink-mm (a transient must follow the trigger); 14 d spans kilonova light curves (docs/coincidence.md)";

class CoincidenceLogic final : public ActorLogic {
 public:
  explicit CoincidenceLogic(Settings settings)
      : s_(std::move(settings)), base_(s_.index_order, NEST), cells_(s_.sky_index ? base_.Npix() : 0) {}

  void open(const ActorContext& context) override {
    provenance_ = {context.actor_id, context.type_name, context.type_version, ""};
  }

  void on_batch(size_t port, const BatchView& batch, Emitter& out) override {
    std::vector<RecordPtr> produced;
    if (port == 0) {
      for (size_t i = 0; i < batch.size(); ++i) on_alert(static_cast<const Alert&>(batch[i]), produced);
      out.forward(1, s_.annotate_alerts ? annotated(batch) : batch);
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
    // The coincidences carry the acknowledgements of what produced them: a Kafka source commits an
    // alert or a notice only once the rows it made are written.
    if (!produced.empty()) out.emit(0, BatchView::make(PortType::coincidence, std::move(produced), batch.acks()));
  }

  // Keyed alerts: this instance sees some objects only; the stream's clock comes from all of them,
  // so events expire when they would in one instance.
  void on_stream_time(size_t port, double mjd_tai) override {
    if (port != 0 || !(mjd_tai > stream_mjd_)) return;
    stream_mjd_ = mjd_tai;
    expire();
  }

  // The final state: every coincidence not withdrawn (also of expired events), for replays and
  // batch runs where a reader wants the outcome rather than the history of changes.
  void on_end_of_stream(Emitter& out) override {
    std::vector<std::shared_ptr<const Coincidence>> live;
    for (const auto& event : events_)
      if (event)
        for (const auto& [object, entry] : event->emitted) live.push_back(entry.second);
    for (const auto& [id, list] : expired_) live.insert(live.end(), list.begin(), list.end());
    for (const auto& [key, pair] : pairs_) live.push_back(pair.emitted);
    if (!live.empty()) {
      auto order = [](const Coincidence& c) { return std::tie(c.event_id, c.object_id, c.other_event_id); };
      std::sort(live.begin(), live.end(), [&](const auto& a, const auto& b) { return order(*a) < order(*b); });
      out.emit(2, BatchView::make(PortType::coincidence, std::vector<RecordPtr>(live.begin(), live.end()), {}));
    }
    // Nothing more can pair: the events' notices are acknowledged now, not when the instance's
    // logic is destroyed (a cluster node keeps it to the end of the run, after its teardown).
    for (const auto& event : events_)
      if (event) event->acks.clear();
    pairs_.clear();
  }

 private:
  // ---- alerts ----
  AlertKey key_of(const Alert& alert) const {
    const AlertCore& c = alert.core();
    AlertKey key{c.alert_id, c.object_id, c.ra, c.dec, c.mjd_tai, c.mjd_tai, -1, c.mag, c.band};
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

  // ---- per-alert GW annotation ----
  // The alerts of `batch`, each annotated with every active sky map at its position (the batch
  // itself when no map is active). Alerts without valid coordinates are left as they are.
  BatchView annotated(const BatchView& batch) const {
    std::vector<const ActiveEvent*> maps;
    for (const auto& event : events_)
      if (event && event->map) maps.push_back(event.get());
    if (maps.empty()) return batch;
    std::vector<RecordPtr> records;
    records.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      auto alert = std::static_pointer_cast<const Alert>(batch.record(i));
      const AlertCore& c = alert->core();
      if (!coordinate_problem(c))
        for (const ActiveEvent* event : maps)
          if (!expired_at(*event, c.mjd_tai)) alert = alert->annotated(sky_map_annotation(*event, c.ra, c.dec));
      records.push_back(std::move(alert));
    }
    return BatchView::make(PortType::alert, std::move(records), batch.acks());
  }

  // value: the searched probability (score.sky_map <= 0.9: inside the 90 % region); details: the
  // event, the density, the searched area and the distance posterior at the alert. Only finite
  // values are written (a direction without distance support has no conditional moments).
  Annotation sky_map_annotation(const ActiveEvent& event, double ra, double dec) const {
    SkymapLookup at = event.map->at(ra, dec);
    Annotation a;
    a.kind = Annotation::Kind::score;
    a.name = s_.annotation_name;
    a.value = at.searched_prob;
    a.provenance = provenance_;
    a.provenance.config_hash = event.record->event_id + "/" + std::to_string(event.record->sequence);
    nlohmann::json d{{"event_id", event.record->event_id}, {"event_sequence", event.record->sequence},
                     {"covered", at.covered}};
    auto put = [&d](const char* key, double value) {
      if (std::isfinite(value)) d[key] = value;
    };
    put("searched_probability", at.searched_prob);
    put("probdensity_sr", at.probdensity);
    put("searched_area_deg2", at.searched_area);
    if (at.distance) {
      put("distmu_mpc", at.distance->mu);
      put("distsigma_mpc", at.distance->sigma);
      put("distnorm_mpc2", at.distance->norm);
      put("distance_mean_mpc", at.distance->conditional_mean());
      put("distance_std_mpc", at.distance->conditional_std());
    }
    a.details = d.dump();
    return a;
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
    c->alert_ra = alert.ra;
    c->alert_dec = alert.dec;
    c->alert_mag = alert.mag;
    c->alert_band = alert.band;
    c->alert_mjd_tai = alert.mjd;
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
      for (auto it = pairs_.begin(); it != pairs_.end();) {
        if (it->first.first == event->event_id || it->first.second == event->event_id) {
          produced.push_back(with_status(*it->second.emitted, Coincidence::Status::withdrawn));
          it = pairs_.erase(it);
        } else {
          ++it;
        }
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
    if (s_.pair_events) pair_with_events(slot, produced);
  }

  // ---- event x event (RAVEN) ----
  // Re-checks the pairs the event's earlier notice made (updated or withdrawn), then pairs it
  // with every active event of the other side that it is not yet paired with.
  void pair_with_events(uint32_t slot, std::vector<RecordPtr>& produced) {
    std::shared_ptr<const ActiveEvent> self = events_[slot];
    const SkyEvent& e = *self->record;
    bool is_gw = e.kind == SkyEvent::Kind::gravitational_wave;
    if (!is_gw && !pairs_with_gw(e.kind)) return;
    for (auto it = pairs_.begin(); it != pairs_.end();) {
      EventPair& pair = it->second;
      if (it->first.first == e.event_id) pair.gw = self;
      else if (it->first.second == e.event_id) pair.external = self;
      else {
        ++it;
        continue;
      }
      if (auto again = pair_match(*pair.gw, *pair.external)) {
        again->status = Coincidence::Status::updated;
        pair.emitted = again;
        produced.push_back(std::move(again));
        ++it;
      } else {
        produced.push_back(with_status(*pair.emitted, Coincidence::Status::withdrawn));
        it = pairs_.erase(it);
      }
    }
    for (const auto& other : events_) {
      if (!other || other == self) continue;
      const SkyEvent& o = *other->record;
      bool other_gw = o.kind == SkyEvent::Kind::gravitational_wave;
      if (is_gw ? !pairs_with_gw(o.kind) : !other_gw) continue;
      const auto& gw = is_gw ? self : other;
      const auto& external = is_gw ? other : self;
      auto key = std::make_pair(gw->record->event_id, external->record->event_id);
      if (pairs_.count(key)) continue;
      if (auto c = pair_match(*gw, *external)) {
        pairs_.emplace(key, EventPair{gw, external, c});
        produced.push_back(std::move(c));
      }
    }
    forget_old_pairs();
  }

  // The coincidence of a GW with a GRB or neutrino (RAVEN windows relative to the GW time,
  // temporal and sky-coupled false-alarm rates; LLAMA-like odds for neutrinos), or null when the
  // external event falls outside the window.
  std::shared_ptr<Coincidence> pair_match(const ActiveEvent& gw_event, const ActiveEvent& external_event) const {
    if (!gw_event.map) return nullptr;  // RAVEN pairs with the GW's sky map
    const SkyEvent& gw = *gw_event.record;
    const SkyEvent& ext = *external_event.record;
    const bool neutrino = ext.kind == SkyEvent::Kind::neutrino;
    // A GRB notice with its own false-alarm rate comes from a subthreshold (targeted) search
    // (Swift BAT-GUANO); RAVEN then uses the targeted formula and window.
    const bool targeted = !neutrino && std::isfinite(ext.far_hz);
    Window window = neutrino ? s_.pair_gw_neutrino
                    : targeted ? s_.pair_gw_targeted_grb
                    : gw_event.burst_search ? s_.pair_gw_burst_grb
                                            : s_.pair_gw_grb;
    const char* window_source = neutrino ? "RAVEN/LLAMA GW-neutrino window, config pair_window_gw_neutrino_s"
                                : targeted ? "RAVEN subthreshold Swift GRB window, config pair_window_gw_targeted_grb_s"
                                : gw_event.burst_search ? "RAVEN GW(Burst)-GRB window, config pair_window_gw_burst_grb_s"
                                                        : "RAVEN GW(CBC)-GRB window, config pair_window_gw_grb_s";
    double dt_s = (ext.mjd_tai - gw.mjd_tai) * time::kSecondsPerDay;
    if (!(dt_s >= window.lo && dt_s <= window.hi)) return nullptr;

    auto c = std::make_shared<Coincidence>();
    c->event_id = gw.event_id;
    c->event_sequence = gw.sequence;
    c->other_event_id = ext.event_id;
    c->other_event_sequence = ext.sequence;
    c->time_difference_s = dt_s;
    c->terms.push_back({"window_lo_s", window.lo, window_source});
    c->terms.push_back({"window_hi_s", window.hi, window_source});
    c->terms.push_back({"gw_far_hz", gw.far_hz, "the GW notice's far"});

    double temporal_far = NAN;
    if (targeted) {
      temporal_far = raven_targeted_far(window.lo, window.hi, ext.far_hz, gw.far_hz, s_.targeted_grb_far_threshold_hz,
                                        s_.targeted_gw_far_threshold_hz);
      c->terms.push_back({"external_far_hz", ext.far_hz, "the GRB notice's far"});
      c->terms.push_back({"gw_far_threshold_hz", s_.targeted_gw_far_threshold_hz,
                          "gwcelery raven_targeted_far_thresholds GW (CBC all-sky preliminary alert threshold, 2/day)"});
      c->terms.push_back({"external_far_threshold_hz", s_.targeted_grb_far_threshold_hz,
                          "gwcelery raven_targeted_far_thresholds GRB Swift (1/1000 Hz)"});
      c->terms.push_back({"temporal_far_hz", temporal_far, "RAVEN targeted z(1 - ln(z/z_max))"});
    } else {
      double rate = neutrino ? s_.neutrino_rate_hz : s_.grb_rate_hz;
      temporal_far = raven_untargeted_far(window.lo, window.hi, rate, gw.far_hz);
      c->terms.push_back({"external_rate_hz", rate,
                          neutrino ? "IceCube gold-track rate 13.91/yr, config neutrino_rate_per_year"
                                   : "GRB rate 325/yr (Fermi 236 + Swift 65 + SVOM ~25), config grb_rate_per_year"});
      c->terms.push_back({"temporal_far_hz", temporal_far, "RAVEN untargeted (t_hi - t_lo) R_ext FAR_gw"});
    }

    // Sky overlap of the two localizations (Ashton et al. 2018).
    const Skymap& map = *gw_event.map;
    double overlap = NAN;
    double ra = NAN, dec = NAN;
    if (external_event.map) {
      overlap = overlap_integral(map, *external_event.map);
      c->terms.push_back({"overlap_integral", overlap, "map x map, 4 pi sum rho1 rho2 dA (Ashton et al. 2018)"});
    } else {
      const ErrorRegion& region = *external_event.notice_region;
      ra = region.ra;
      dec = region.dec;
      overlap = overlap_integral(map, RegionDensity(region));
      c->terms.push_back({"overlap_integral", overlap,
                          "map x error region as a 2-D Gaussian holding its containment (Ashton et al. 2018)"});
    }
    if (std::isfinite(ra)) {
      SkymapLookup at = map.at(ra, dec);
      c->searched_probability = at.searched_prob;
      c->terms.push_back({"searched_area_deg2", at.searched_area, "GW map at the external event's centre"});
    }
    c->false_alarm_rate = raven_sky_coupled_far(temporal_far, overlap);
    c->terms.push_back({"sky_coupled_far_hz", c->false_alarm_rate, "RAVEN temporal FAR / overlap integral"});

    if (neutrino) {
      bool signalness_known = ext.significance > 0 && ext.significance < 1;
      bool p_astro_known = gw.significance > 0 && gw.significance < 1;
      NeutrinoOddsTerms odds = gw_neutrino_odds(s_.neutrino_prior_odds, overlap, true,
                                                signalness_known ? ext.significance : NAN,
                                                p_astro_known ? gw.significance : NAN);
      c->terms.push_back({"neutrino_signalness", ext.significance, "the neutrino notice's p_astro / signalness"});
      c->terms.push_back({"gw_p_astro", gw.significance, "1 - classification.Terrestrial of the GW notice"});
      c->terms.push_back({"prior_odds", odds.prior_odds, "config neutrino_prior_odds"});
      c->terms.push_back({"odds", odds.odds, "LLAMA-like prior * I * s/(1-s) * p/(1-p) (docs/coincidence.md)"});
    }
    return c;
  }

  // Pairs whose events have both left the actor are kept for late retractions, up to a bound.
  void forget_old_pairs() {
    static constexpr size_t kPairsKept = 10000;
    for (auto it = pairs_.begin(); pairs_.size() > kPairsKept && it != pairs_.end();) {
      bool gw_active = by_id_.count(it->first.first) > 0, external_active = by_id_.count(it->first.second) > 0;
      it = gw_active || external_active ? std::next(it) : pairs_.erase(it);
    }
  }

  static std::shared_ptr<const Coincidence> with_status(const Coincidence& c, Coincidence::Status status) {
    auto copy = std::make_shared<Coincidence>(c);
    copy->status = status;
    return copy;
  }

  std::shared_ptr<ActiveEvent> build(const std::shared_ptr<const SkyEvent>& event, const std::vector<AckRef>& acks) const {
    std::string place = event->source + " event " + event->event_id;
    if (!std::isfinite(event->mjd_tai)) fail(place, "no event time");
    auto active = std::make_shared<ActiveEvent>();
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
        active->notice_region = ErrorRegion::circle(l.ra, l.dec, l.radius_deg, l.containment_probability);
        active->region = active->notice_region->scaled(s_.region_scale);
        break;
      case Localization::Shape::ellipse:
        active->notice_region = ErrorRegion::ellipse(l.ra, l.dec, l.semi_major_deg, l.semi_minor_deg,
                                                     l.position_angle_deg, l.containment_probability);
        active->region = active->notice_region->scaled(s_.region_scale);
        break;
      case Localization::Shape::point: fail(place, "a point localization has no region to match in");
    }
    if (event->kind == SkyEvent::Kind::gravitational_wave && !event->notice_json.empty()) {
      auto notice = nlohmann::json::parse(event->notice_json, nullptr, false);
      if (notice.is_object() && notice.contains("event") && notice["event"].is_object())
        active->burst_search = notice["event"].value("group", "") == "Burst";
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

  uint32_t insert(std::shared_ptr<ActiveEvent> event) {
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
    event.acks.clear();  // releases the held acknowledgements (a pair may keep the event itself)
    event.emitted.clear();
    events_[slot].reset();
    free_.push_back(slot);
  }

  void expire() {
    if (!std::isfinite(stream_mjd_) || stream_mjd_ < next_expiry_check_) return;
    next_expiry_check_ = stream_mjd_ + 1.0 / 24;
    for (uint32_t slot = 0; slot < events_.size(); ++slot)
      if (events_[slot] && expired_at(*events_[slot], stream_mjd_)) retire(slot);
  }

  // Whether the event is over by `mjd`: the alert of that time is not annotated with it, even
  // before expire() retires it (that runs after the batch, and at most once an hour of stream
  // time), so an alert's annotation does not depend on the batch it came in.
  bool expired_at(const ActiveEvent& event, double mjd) const {
    return event.record->mjd_tai + event.window.hi + s_.expiry_grace_days < mjd;
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
  Provenance provenance_;
  T_Healpix_Base<int64_t> base_;
  std::vector<std::vector<uint32_t>> cells_;
  std::vector<uint32_t> whole_sky_;
  std::vector<std::shared_ptr<ActiveEvent>> events_;
  std::vector<uint32_t> free_;
  std::unordered_map<std::string, uint32_t> by_id_;
  std::set<std::string> retracted_;
  std::deque<AlertKey> recent_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<const Coincidence>>> expired_;
  std::deque<std::string> expired_order_;
  std::map<std::pair<std::string, std::string>, EventPair> pairs_;  // by (GW id, external id)
  double stream_mjd_ = -INFINITY;
  double next_expiry_check_ = -INFINITY;
};

Window window_from(const ActorConfig& config, const std::string& key) {
  auto values = config.strings(key);
  if (values.size() != 2) fail(config.place(key), key + " must be [lo, hi] in days");
  Window w{std::stod(values[0]), std::stod(values[1])};
  if (!(w.lo <= w.hi)) fail(config.place(key), key + ": lo > hi");  // NaN too
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
  s.pair_events = config.boolean("pair_events");
  s.pair_gw_grb = window_from(config, "pair_window_gw_grb_s");
  s.pair_gw_burst_grb = window_from(config, "pair_window_gw_burst_grb_s");
  s.pair_gw_targeted_grb = window_from(config, "pair_window_gw_targeted_grb_s");
  s.pair_gw_neutrino = window_from(config, "pair_window_gw_neutrino_s");
  s.grb_rate_hz = config.number("grb_rate_per_year") / kSecondsPerYear;
  s.neutrino_rate_hz = config.number("neutrino_rate_per_year") / kSecondsPerYear;
  s.targeted_gw_far_threshold_hz = config.number("targeted_gw_far_threshold_hz");
  s.targeted_grb_far_threshold_hz = config.number("targeted_grb_far_threshold_hz");
  s.neutrino_prior_odds = config.number("neutrino_prior_odds");
  s.annotate_alerts = config.boolean("annotate_alerts");
  s.annotation_name = config.string("annotation_name");
  if (s.annotation_name.empty()) fail(config.place("annotation_name"), "annotation_name must not be empty");
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
  // Parallel instances: each keeps the windows of its own objects' alerts, and every instance
  // knows every event (docs/workflow-format.md, "Parallel actors").
  t.inputs = {{"alerts", PortType::alert, "survey alerts", "object_id"},
              {"events", PortType::sky_event, "sky events (notices)", "broadcast"}};
  t.outputs = {{"coincidences", PortType::coincidence, "new, updated and withdrawn coincidences"},
               {"alerts", PortType::alert, "every input alert (annotate_alerts: with the active sky maps at it)"},
               {"live", PortType::coincidence, "at the end of the stream: every coincidence not withdrawn"}};
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
      {"pair_events", ValueKind::boolean, false, "true", "also pair GW events with GRB and neutrino events (RAVEN)"},
      {"pair_window_gw_grb_s", ValueKind::list, false, "[-1, 5]", "GRB time minus GW (CBC) time, s (RAVEN)"},
      {"pair_window_gw_burst_grb_s", ValueKind::list, false, "[-60, 600]", "GRB time minus GW (Burst) time, s (RAVEN)"},
      {"pair_window_gw_targeted_grb_s", ValueKind::list, false, "[-10, 20]",
       "subthreshold GRB (a notice with a far, e.g. Swift BAT-GUANO) minus GW time, s (RAVEN)"},
      {"pair_window_gw_neutrino_s", ValueKind::list, false, "[-500, 500]", "neutrino time minus GW time, s (LLAMA)"},
      {"grb_rate_per_year", ValueKind::number, false, "325", "external GRB rate for the untargeted FAR"},
      {"neutrino_rate_per_year", ValueKind::number, false, "13.91", "external neutrino rate for the untargeted FAR"},
      {"targeted_gw_far_threshold_hz", ValueKind::number, false, "2.3148148148148147e-05",
       "GW FAR threshold of the targeted search (2/day)"},
      {"targeted_grb_far_threshold_hz", ValueKind::number, false, "0.001", "GRB FAR threshold of the targeted search"},
      {"neutrino_prior_odds", ValueKind::number, false, "1", "prior odds of the GW x neutrino odds ratio"},
      {"annotate_alerts", ValueKind::boolean, false, "false",
       "annotate every alert on `alerts` with each active sky map at its position (score.NAME: searched "
       "probability; details: density, searched area, distance posterior)"},
      {"annotation_name", ValueKind::string, false, "sky_map", "the name of that score annotation (score.sky_map)"},
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
  t.create = [](const ActorContext& context) {
    Settings settings = settings_from(context.config);
    // Every instance sees every event: event x event pairs are made by the first one only.
    settings.pair_events = settings.pair_events && context.instance == 0;
    return std::make_unique<CoincidenceLogic>(std::move(settings));
  };
  t.uses_cutouts = uses_no_cutouts;
  return t;
}

}  // namespace ebs::coincidence
