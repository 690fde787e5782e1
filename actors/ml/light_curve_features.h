// Light-curve features of an alert, as a fixed, named and versioned vector (docs/ml.md defines
// each one). Feature sets:
//   lc-basic/1  counts, magnitude peak and range, rise and decline rates, flux peak per band
//               (g, r, i), time since the first detection, g-r colour at the nearest epochs
//   lc-bazin/1  lc-basic/1 followed by a Bazin fit (GSL) of the band with the most flux points
// A scorer's model must have been trained on exactly one of these name lists (same order).
//
// The light curve is the alert's history (detections, upper limits, forced photometry) plus the
// current detection. Magnitudes come from `mag`, or from a positive flux (AB, nJy: m = 31.4 -
// 2.5 log10 f); fluxes from `flux`, or from the magnitude (negative for a negative subtraction).
// Missing values are NaN (XGBoost treats them as missing).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "actors/ml/bazin_fit.h"
#include "engine/model/record.h"

namespace ebs::ml {

struct FeatureSet {
  std::string name;                // "lc-basic/1"
  std::vector<std::string> names;  // the vector's columns, in order
  bool bazin = false;
};

// nullptr when `name` is not a known feature set.
const FeatureSet* find_feature_set(std::string_view name);
std::vector<std::string> feature_set_names();

// AB magnitude of a flux in nJy (NaN unless positive), and back.
double njy_to_mag(double flux_njy);
double mag_to_njy(double mag);

// Computes one feature set. Not thread-safe (scratch buffers and the Bazin fitter): one per actor
// instance.
class FeatureExtractor {
 public:
  explicit FeatureExtractor(const FeatureSet& set);
  const FeatureSet& set() const { return *set_; }
  size_t size() const { return set_->names.size(); }

  // Writes size() values to `out`. Returns the number of detections in the light curve (the
  // current one included, duplicates of it in the history not).
  size_t extract(const AlertCore& alert, float* out);

 private:
  struct Point {
    double t;
    double mag;   // NaN when unknown or the flux is not positive
    double flux;  // nJy; NaN while it is only implied by the magnitude (see flux_from_mag)
    double flux_err;
    int band;     // index into bands_, -1 when not yet assigned
    Photometry::Kind kind;
    // A magnitude-only point whose flux lc-basic never needs one by one: flux_max only needs
    // the brightest positive (or faintest negative) magnitude, which saves a pow() per point.
    bool flux_from_mag;
    bool positive;
    double flux_mag;  // flux_from_mag: the magnitude of |flux|
  };
  void gather(const AlertCore& alert);
  int band_index(std::string_view band);

  const FeatureSet* set_;
  std::vector<Point> points_;
  std::vector<std::string_view> bands_;  // every band of this light curve (views into the alert)
  std::vector<double> t_, flux_, flux_err_;
  BazinFitter fitter_;
};

}  // namespace ebs::ml
