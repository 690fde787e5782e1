// Labelled synthetic alerts for training tests and benchmarks: supernova-like transients (Bazin
// light curves, label 1) and periodic variables (label 0), observed in g and r with noise, upper
// limits before a transient rises, and either ZTF-like magnitudes or Rubin-like difference fluxes
// in nJy (negative when a variable is fainter than its template).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/model/record.h"

namespace ebs::ml {

struct SyntheticOptions {
  size_t objects = 1000;
  size_t alerts_per_object = 1;  // alerts at successive epochs, each with the history before it
  size_t history = 20;           // past points before the first alert of an object
  bool rubin_fluxes = false;     // difference fluxes (nJy) instead of magnitudes
  uint64_t seed = 1;
};

struct LabelledAlert {
  std::shared_ptr<const AlertCore> alert;
  int label = 0;  // 1: transient, 0: variable
};

std::vector<LabelledAlert> make_synthetic_alerts(const SyntheticOptions& options);

}  // namespace ebs::ml
