// IRAF's zscale display limits, exactly as astropy.visualization.ZScaleInterval computes them
// (samples every stride-th finite pixel up to n_samples, fits a line to the sorted samples with
// k-sigma rejection and a grown bad-pixel mask, then scales the slope by 1/contrast around the
// median). Checked against astropy on real ZTF cutouts in zscale_test.cpp.
#pragma once

#include <span>

namespace ebs::dashboard {

struct ZScaleOptions {
  int n_samples = 1000;
  double contrast = 0.25;
  double max_reject = 0.5;
  int min_npixels = 5;
  double krej = 2.5;
  int max_iterations = 5;
};

struct DisplayLimits {
  double vmin = 0;
  double vmax = 1;
};

// Non-finite values are ignored; with no finite value the limits are [0, 1].
DisplayLimits zscale(std::span<const float> values, const ZScaleOptions& options = {});

}  // namespace ebs::dashboard
