#include "actors/sinks/dashboard/zscale.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ebs::dashboard {

DisplayLimits zscale(std::span<const float> values, const ZScaleOptions& options) {
  std::vector<double> finite;
  finite.reserve(values.size());
  for (float v : values)
    if (std::isfinite(v)) finite.push_back(v);
  if (finite.empty()) return {};
  const size_t stride = static_cast<size_t>(std::max(1.0, static_cast<double>(finite.size()) / options.n_samples));
  std::vector<double> samples;
  for (size_t i = 0; i < finite.size() && samples.size() < static_cast<size_t>(options.n_samples); i += stride)
    samples.push_back(finite[i]);
  std::sort(samples.begin(), samples.end());

  const long npix = static_cast<long>(samples.size());
  DisplayLimits limits{samples.front(), samples.back()};
  const long minpix = std::max<long>(options.min_npixels, static_cast<long>(npix * options.max_reject));
  const long ngrow = std::max<long>(1, static_cast<long>(npix * 0.01));
  long ngoodpix = npix, last_ngoodpix = npix + 1;
  std::vector<char> bad(npix, 0), grown(npix, 0);
  double slope = 0;
  for (int iteration = 0; iteration < options.max_iterations; ++iteration) {
    if (ngoodpix >= last_ngoodpix || ngoodpix < minpix) break;
    // Least-squares line through the good samples (numpy.polyfit with 0/1 weights).
    double n = 0, sx = 0, sy = 0;
    for (long i = 0; i < npix; ++i)
      if (!bad[i]) n += 1, sx += i, sy += samples[i];
    const double mx = sx / n, my = sy / n;
    double sxx = 0, sxy = 0;
    for (long i = 0; i < npix; ++i)
      if (!bad[i]) sxx += (i - mx) * (i - mx), sxy += (i - mx) * (samples[i] - my);
    slope = sxy / sxx;
    const double intercept = my - slope * mx;
    // k-sigma threshold from the population deviation of the good residuals.
    double sum = 0, sum2 = 0;
    for (long i = 0; i < npix; ++i)
      if (!bad[i]) {
        double r = samples[i] - (intercept + slope * i);
        sum += r, sum2 += r * r;
      }
    const double mean = sum / n;
    const double threshold = options.krej * std::sqrt(std::max(0.0, sum2 / n - mean * mean));
    for (long i = 0; i < npix; ++i) {
      double r = samples[i] - (intercept + slope * i);
      if (r < -threshold || r > threshold) bad[i] = 1;
    }
    // Grow the mask: numpy.convolve(bad, ones(ngrow), mode="same") covers [i - ngrow/2, i + ngrow - 1 - ngrow/2].
    for (long i = 0; i < npix; ++i) {
      char any = 0;
      for (long j = std::max(0L, i - ngrow / 2); j <= std::min(npix - 1, i + ngrow - 1 - ngrow / 2) && !any; ++j)
        any = bad[j];
      grown[i] = any;
    }
    bad.swap(grown);
    last_ngoodpix = ngoodpix;
    ngoodpix = static_cast<long>(std::count(bad.begin(), bad.end(), 0));
  }
  if (ngoodpix >= minpix) {
    if (options.contrast > 0) slope /= options.contrast;
    const long center = (npix - 1) / 2;
    const double median = npix % 2 ? samples[npix / 2] : (samples[npix / 2 - 1] + samples[npix / 2]) / 2;
    limits.vmin = std::max(limits.vmin, median - (center - 1) * slope);
    limits.vmax = std::min(limits.vmax, median + (npix - center) * slope);
  }
  return limits;
}

}  // namespace ebs::dashboard
