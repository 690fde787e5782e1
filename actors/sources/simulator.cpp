#include "actors/sources/simulator.h"

#include <chrono>
#include <cmath>
#include <random>

#include "engine/model/record_bytes.h"
#include "engine/runtime/actor_logic.h"
#include "engine/runtime/source_batch.h"

namespace ebs {

namespace {

constexpr double kPi = 3.14159265358979323846;

enum class ObjectClass { supernova, variable, agn, bogus };

struct SimObject {
  std::string id;
  double ra, dec;
  ObjectClass cls;
  double peak_mag;      // supernova: peak; variable/agn: mean
  double t0;            // supernova peak time / variable phase origin (MJD)
  double rise, fall;    // Bazin times (days)
  double period;        // variable (days)
  double amplitude;
  double walk = 0;      // agn: current offset
};

const char* band_name(int fid) { return fid == 1 ? "g" : fid == 2 ? "r" : "i"; }

// One point of an object's past as the simulator keeps it: what a Photometry is made from, in
// 40 bytes instead of 96 (20,000 objects x 30 points held for a whole run: docs/performance.md,
// "Memory").
struct PastPoint {
  double mjd_tai, mag, mag_err, limit_mag;
  uint8_t fid;
  bool upper_limit;
  bool is_diff_pos;

  Photometry photometry() const {
    if (upper_limit) return {mjd_tai, band_name(fid), Photometry::Kind::upper_limit, NAN, NAN, NAN, NAN, limit_mag, true};
    double flux = std::pow(10.0, (31.4 - mag) / 2.5) * (is_diff_pos ? 1 : -1);  // nJy
    return {mjd_tai, band_name(fid), Photometry::Kind::detection, mag, mag_err, flux, std::abs(flux) * mag_err / 1.0857,
            limit_mag, is_diff_pos};
  }
};

const std::vector<std::string> kCandidateFields{
    "jd",   "fid",      "pid",       "candid",   "isdiffpos", "ra",        "dec",
    "magpsf", "sigmapsf", "diffmaglim", "rb",      "drb",       "ssdistnr",  "ssnamenr",
    "ndethist", "jdstarthist", "sgscore1", "distpsnr1", "field"};
const std::vector<std::string> kAlertFields{"schemavsn", "publisher", "objectId", "candid", "candidate",
                                            "prv_candidates"};
const std::vector<std::string> kPrvFields{"jd", "fid", "magpsf", "sigmapsf", "diffmaglim", "isdiffpos"};

// The record shapes are shared by every alert the simulator makes.
struct Shapes {
  RecordShape alert{"sim.alert", kAlertFields};
  RecordShape candidate{"sim.alert.candidate", kCandidateFields};
  RecordShape prv{"sim.alert.prv_candidate", kPrvFields};
};

class Simulator final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    acks_ = std::make_shared<AckTracker>(AckTracker::Listener{}, context.acks);
    const ActorConfig& c = context.config;
    count_ = c.integer("count");
    rate_ = c.number("rate");
    survey_ = c.string("survey");
    ra_min_ = c.number("ra_min");
    ra_max_ = c.number("ra_max");
    dec_min_ = c.number("dec_min");
    dec_max_ = c.number("dec_max");
    mjd_ = c.number("start_mjd");
    bogus_fraction_ = c.number("bogus_fraction");
    corrupt_fraction_ = c.number("corrupt_fraction");
    history_ = static_cast<size_t>(c.integer("history"));
    instance_ = context.instance;
    parallelism_ = context.parallelism;
    batch_delay_ = context.batch_delay;
    if (count_ < 0) fail(c.place("count"), "count must be >= 0 (0 = endless)");
    if (rate_ < 0) fail(c.place("rate"), "rate must be >= 0 (0 = as fast as possible)");
    if (!(ra_min_ < ra_max_) || ra_min_ < 0 || ra_max_ > 360)
      fail(c.place("ra_min"), "need 0 <= ra_min < ra_max <= 360");
    if (!(dec_min_ < dec_max_) || dec_min_ < -90 || dec_max_ > 90)
      fail(c.place("dec_min"), "need -90 <= dec_min < dec_max <= 90");
    rng_.seed(static_cast<uint64_t>(c.integer("seed")) * 1000003u + instance_);
    id_base_ = static_cast<uint64_t>(std::max(0.0, mjd_)) * 1000000000ull;
    int64_t objects = c.integer("objects");
    if (objects <= 0) objects = std::max<int64_t>(1, (count_ > 0 ? count_ : 100000) / 10);
    make_objects(static_cast<size_t>(std::max<int64_t>(1, objects / static_cast<int64_t>(parallelism_))));
    // This instance's share of the total.
    if (count_ > 0)
      quota_ = count_ / parallelism_ + (instance_ < static_cast<size_t>(count_ % parallelism_) ? 1 : 0);
    started_ = std::chrono::steady_clock::now();
  }

  ProduceResult produce(size_t max_records, Emitter& out) override {
    size_t want = max_records;
    if (count_ > 0) want = std::min<size_t>(want, quota_ - made_);
    if (rate_ > 0) {
      // Release what is due by now; a partial batch closes after the batch delay.
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      auto due = static_cast<uint64_t>(elapsed * rate_ / parallelism_);
      size_t available = due > made_ ? static_cast<size_t>(due - made_) : 0;
      if (available < want && available < max_records &&
          std::chrono::steady_clock::now() - last_batch_ < batch_delay_) {
        return ProduceResult::idle(std::chrono::microseconds(1000));
      }
      want = std::min(want, available);
      if (want == 0) return ProduceResult::idle(std::chrono::microseconds(1000));
    }
    if (want == 0) return ProduceResult::done();
    // A batch also ends at kSourceBatchBytes, as every source's: alerts with long histories are
    // ~10 KB, and 1,024 of them would overdraw an edge's byte window by a whole window.
    std::vector<RecordPtr> records;
    records.reserve(want);
    size_t bytes = 0;
    while (records.size() < want && bytes < kSourceBatchBytes) {
      records.push_back(make_alert());
      bytes += record_bytes(*records.back());
    }
    want = records.size();
    made_ += want;
    last_batch_ = std::chrono::steady_clock::now();
    out.read(want);
    if (count_ > 0) out.progress(made_, quota_);
    out.forward(0, BatchView::make(PortType::alert, std::move(records),
                                   {std::make_shared<const AckToken>(acks_, want)}));
    if (count_ > 0 && made_ >= quota_) return ProduceResult::done();
    return ProduceResult::more();
  }

 private:
  void make_objects(size_t n) {
    std::uniform_real_distribution<double> u(0, 1);
    double z_min = std::sin(dec_min_ * kPi / 180), z_max = std::sin(dec_max_ * kPi / 180);
    for (size_t i = 0; i < n; ++i) {
      SimObject o;
      char id[32];
      std::snprintf(id, sizeof id, "SIM%02zu%08zu", instance_, i);
      o.id = id;
      o.ra = ra_min_ + (ra_max_ - ra_min_) * u(rng_);
      o.dec = std::asin(z_min + (z_max - z_min) * u(rng_)) * 180 / kPi;  // uniform on the sphere
      double pick = u(rng_);
      o.cls = pick < bogus_fraction_ ? ObjectClass::bogus
              : pick < 0.45         ? ObjectClass::supernova
              : pick < 0.8          ? ObjectClass::variable
                                    : ObjectClass::agn;
      o.peak_mag = 16.5 + 4 * u(rng_);
      o.t0 = mjd_ + 60 * u(rng_);
      o.rise = 2 + 8 * u(rng_);
      o.fall = 15 + 40 * u(rng_);
      o.period = 0.2 + 20 * u(rng_);
      o.amplitude = 0.1 + 1.2 * u(rng_);
      objects_.push_back(std::move(o));
    }
    histories_.resize(objects_.size());
  }

  double true_mag(SimObject& o, double t, int fid) {
    double colour = fid == 1 ? -0.1 : fid == 3 ? 0.15 : 0.0;
    switch (o.cls) {
      case ObjectClass::supernova: {
        // Bazin: flux ∝ exp(-(t - t0)/fall) / (1 + exp(-(t - t0)/rise)), normalised to the peak.
        double x = t - o.t0;
        double f = std::exp(-x / o.fall) / (1 + std::exp(-x / o.rise));
        double fpeak = std::exp(-o.rise * std::log(o.fall / o.rise - 1) / o.fall) /
                       (1 + std::exp(std::log(o.fall / o.rise - 1)));
        f = std::max(f / std::max(fpeak, 1e-9), 1e-6);
        return o.peak_mag - 2.5 * std::log10(f) + colour * (1 + x / 30);
      }
      case ObjectClass::variable:
        return o.peak_mag + o.amplitude * std::sin(2 * kPi * (t - o.t0) / o.period) + colour;
      case ObjectClass::agn: {
        std::normal_distribution<double> step(0, 0.05);
        o.walk = 0.98 * o.walk + step(rng_);
        return o.peak_mag + o.walk + colour;
      }
      case ObjectClass::bogus: return o.peak_mag + 1.5;
    }
    return o.peak_mag;
  }

  RecordPtr make_alert() {
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> noise(0, 1);
    size_t which = static_cast<size_t>(u(rng_) * objects_.size()) % objects_.size();
    SimObject& o = objects_[which];
    mjd_ += 30.0 / 86400.0 / 1000.0;  // about 1000 alerts per 30-second visit
    int fid = 1 + static_cast<int>(u(rng_) * 3) % 3;
    double limit = 20.3 + 0.6 * u(rng_);
    double mag = true_mag(o, mjd_, fid);
    double sigma = 0.02 + 0.08 * std::exp((mag - 19) / 1.5);
    double observed = mag + sigma * noise(rng_);
    bool negative = o.cls == ObjectClass::bogus ? u(rng_) < 0.5 : u(rng_) < 0.03;
    double rb = o.cls == ObjectClass::bogus ? 0.05 + 0.4 * u(rng_) : 0.55 + 0.45 * u(rng_);
    double drb = o.cls == ObjectClass::bogus ? 0.3 * u(rng_) : 0.7 + 0.3 * u(rng_);
    // Unique per run and instance: the start epoch in the high digits, then a serial number.
    uint64_t candid = id_base_ + serial_++ * parallelism_ + instance_;

    auto core = std::make_shared<AlertCore>();
    core->alert_id = candid;
    core->object_id = o.id;
    core->survey = survey_;
    core->schema_version = "sim-1";
    core->ra = o.ra + 0.1 / 3600 * noise(rng_);
    core->dec = o.dec + 0.1 / 3600 * noise(rng_);
    core->mjd_tai = mjd_;
    core->band = band_name(fid);
    core->mag = observed;
    core->mag_err = sigma;
    core->flux = std::pow(10.0, (31.4 - observed) / 2.5) * (negative ? -1 : 1);  // nJy
    core->flux_err = std::abs(core->flux) * sigma / 1.0857;
    core->is_diff_pos = !negative;
    core->real_bogus = drb;

    std::vector<PastPoint>& past = histories_[which];
    core->history.reserve(past.size());
    for (const PastPoint& p : past) core->history.push_back(p.photometry());
    count_history_detections(*core);
    // Never regrown at the default history: up to two points a turn (a long `history` grows as usual).
    if (past.capacity() == 0) past.reserve(std::min<size_t>(history_ + 2, 64));
    past.push_back({mjd_, observed, sigma, limit, static_cast<uint8_t>(fid), false, !negative});
    // An upper limit now and then, as on a night the object was fainter than the limit.
    if (u(rng_) < 0.2) past.push_back({mjd_ - 1 - u(rng_), NAN, NAN, limit, static_cast<uint8_t>(fid), true, true});
    if (past.size() > history_) past.erase(past.begin(), past.begin() + (past.size() - history_));

    // The raw, ZTF-like record.
    // String nodes point into kept buffers: the object id here, literals for the rest.
    auto text = std::make_shared<std::string>(o.id);
    RawRecordBuilder b;
    uint32_t f = b.begin_record(b.add_root(), &shapes_->alert);
    b.set_string(f + 0, "sim-1");
    b.set_string(f + 1, "ebs-flow simulator");
    b.set_string(f + 2, *text);
    b.set_int(f + 3, static_cast<int64_t>(candid));
    uint32_t c = b.begin_record(f + 4, &shapes_->candidate);
    b.set_double(c + 0, mjd_ + 2400000.5);
    b.set_int(c + 1, fid);
    b.set_int(c + 2, static_cast<int64_t>(serial_));
    b.set_int(c + 3, static_cast<int64_t>(candid));
    b.set_string(c + 4, negative ? "f" : "t");
    b.set_double(c + 5, core->ra);
    b.set_double(c + 6, core->dec);
    b.set_double(c + 7, observed);
    b.set_double(c + 8, sigma);
    b.set_double(c + 9, limit);
    b.set_double(c + 10, rb);
    b.set_double(c + 11, drb);
    b.set_null(c + 12);  // no solar-system object nearby
    b.set_null(c + 13);
    b.set_int(c + 14, static_cast<int64_t>(core->history.size() + 1));
    b.set_double(c + 15, (core->history.empty() ? mjd_ : core->history.front().mjd_tai) + 2400000.5);
    b.set_double(c + 16, o.cls == ObjectClass::variable ? 0.9 : 0.1);
    b.set_double(c + 17, 0.5 + 10 * u(rng_));
    b.set_int(c + 18, 500 + static_cast<int64_t>(o.ra / 10));
    uint32_t prv = b.begin_list(f + 5, static_cast<uint32_t>(core->history.size()));
    for (size_t i = 0; i < core->history.size(); ++i) {
      const Photometry& p = core->history[i];
      uint32_t r = b.begin_record(prv + static_cast<uint32_t>(i), &shapes_->prv);
      b.set_double(r + 0, p.mjd_tai + 2400000.5);
      b.set_int(r + 1, p.band == "g" ? 1 : p.band == "r" ? 2 : 3);
      if (p.kind == Photometry::Kind::detection) {
        b.set_double(r + 2, p.mag);
        b.set_double(r + 3, p.mag_err);
      } else {
        b.set_null(r + 2);
        b.set_null(r + 3);
      }
      b.set_double(r + 4, p.limit_mag);
      b.set_string(r + 5, p.is_diff_pos ? "t" : "f");
    }
    core->raw = b.finish(text, shapes_);
    // Damaged alerts, as real streams sometimes carry, to exercise quality gates and dead letters.
    if (corrupt_fraction_ > 0 && u(rng_) < corrupt_fraction_) core->dec = u(rng_) < 0.5 ? NAN : 91.5;
    return std::make_shared<const Alert>(std::move(core));
  }

  int64_t count_ = 0;
  uint64_t quota_ = 0;
  uint64_t made_ = 0;
  uint64_t serial_ = 0;
  uint64_t id_base_ = 0;
  double rate_ = 0;
  std::string survey_;
  double ra_min_ = 0, ra_max_ = 360, dec_min_ = -90, dec_max_ = 90;
  double mjd_ = 60000;
  double bogus_fraction_ = 0.2;
  double corrupt_fraction_ = 0;
  size_t history_ = 30;
  size_t instance_ = 0, parallelism_ = 1;
  std::chrono::microseconds batch_delay_{5000};
  std::chrono::steady_clock::time_point started_, last_batch_;
  std::mt19937_64 rng_;
  std::vector<SimObject> objects_;
  std::vector<std::vector<PastPoint>> histories_;
  std::shared_ptr<const Shapes> shapes_ = std::make_shared<const Shapes>();
  std::shared_ptr<AckTracker> acks_;
};

}  // namespace

void register_simulator(ActorRegistry& registry) {
  ActorType t;
  t.name = "simulator";
  t.description = "Synthetic survey alerts with light curves (no external service needed)";
  t.version = "1.0";
  t.outputs = {{"alerts", PortType::alert, "simulated alerts"}};
  t.input_time_scale = "tai";  // it makes its times directly on the engine's scale
  t.config = {
      {"count", ValueKind::integer, false, "10000", "alerts to produce in total; 0 = endless"},
      {"rate", ValueKind::number, false, "0", "alerts per second over all instances; 0 = as fast as possible"},
      {"seed", ValueKind::integer, false, "42", "random seed (same seed, same alerts)"},
      {"objects", ValueKind::integer, false, "0", "distinct objects; 0 = count / 10"},
      {"survey", ValueKind::string, false, "sim", "survey name written on each alert"},
      {"ra_min", ValueKind::number, false, "0", "sky region, degrees"},
      {"ra_max", ValueKind::number, false, "360", "sky region, degrees"},
      {"dec_min", ValueKind::number, false, "-90", "sky region, degrees"},
      {"dec_max", ValueKind::number, false, "90", "sky region, degrees"},
      {"start_mjd", ValueKind::number, false, "60000", "MJD (TAI) of the first alert"},
      {"bogus_fraction", ValueKind::number, false, "0.2", "fraction of objects that are bogus"},
      {"history", ValueKind::integer, false, "30", "light-curve points kept per object"},
      {"corrupt_fraction", ValueKind::number, false, "0",
       "fraction of alerts with a damaged declination (NaN or 91.5), to exercise quality gates"},
  };
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    if (c.integer("count") < 0) problems.push_back({c.place("count"), "count must be >= 0 (0 = endless)"});
    if (c.number("rate") < 0) problems.push_back({c.place("rate"), "rate must be >= 0"});
    if (c.integer("history") < 0) problems.push_back({c.place("history"), "history must be >= 0"});
    double f = c.number("bogus_fraction");
    if (f < 0 || f > 1) problems.push_back({c.place("bogus_fraction"), "bogus_fraction must be in [0, 1]"});
    double cf = c.number("corrupt_fraction");
    if (cf < 0 || cf > 1) problems.push_back({c.place("corrupt_fraction"), "corrupt_fraction must be in [0, 1]"});
    if (!(c.number("ra_min") < c.number("ra_max")) || c.number("ra_min") < 0 || c.number("ra_max") > 360)
      problems.push_back({c.place("ra_min"), "need 0 <= ra_min < ra_max <= 360"});
    if (!(c.number("dec_min") < c.number("dec_max")) || c.number("dec_min") < -90 || c.number("dec_max") > 90)
      problems.push_back({c.place("dec_min"), "need -90 <= dec_min < dec_max <= 90"});
  };
  t.emits_fields = [](const ActorConfig&) {
    FieldSet set{"the simulator's alerts", {}};
    for (const std::string& f : kAlertFields) set.fields.push_back(f);
    for (const std::string& f : kCandidateFields) set.fields.push_back("candidate." + f);
    for (const std::string& f : kPrvFields) set.fields.push_back("prv_candidates." + f);
    return std::vector<FieldSet>{set};
  };
  t.create = [](const ActorContext&) { return std::make_unique<Simulator>(); };
  registry.add(std::move(t));
}

}  // namespace ebs
