#include "actors/ml/model_inputs.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "actors/common/fits/fits_image.h"
#include "engine/model/light_curve.h"
#include "engine/util/fault.h"

namespace ebs::ml {

namespace {

constexpr int64_t kSequenceValues = 6;     // dt, mag, mag_err, g, r, i
constexpr int64_t kLargestStamp = 1024;    // cutouts/N: N above this is surely a typo
constexpr int64_t kLongestSequence = 10000;

// "cutouts/63" -> 63 when `declaration` is PREFIX/N with 1 <= N <= largest; 0 otherwise.
int64_t size_after(const std::string& declaration, std::string_view prefix, int64_t largest) {
  if (!declaration.starts_with(prefix)) return 0;
  int64_t n = 0;
  const char* begin = declaration.data() + prefix.size();
  const char* end = declaration.data() + declaration.size();
  auto [at, error] = std::from_chars(begin, end, n);
  if (error != std::errc() || at != end || n < 1 || n > largest) return 0;
  return n;
}

double magnitude_of(double mag, double flux, bool positive) {
  if (std::isfinite(mag)) return positive ? mag : NAN;
  return njy_to_mag(flux);
}

// The alert's detection and its distinct history detections, with or without a magnitude (the
// features' n_det): what min_detections counts.
size_t detection_count(const AlertCore& alert) {
  const Photometry own = own_detection(alert);
  size_t n = std::isfinite(own.mjd_tai) ? 1 : 0;
  for (uint32_t i : distinct_points(alert.history, std::isfinite(own.mjd_tai) ? &own : nullptr))
    n += alert.history[i].kind == Photometry::Kind::detection;
  return n;
}

class FeatureEncoder final : public InputEncoder {
 public:
  FeatureEncoder(InputLayout layout, const FeatureSet& set) : layout_(std::move(layout)), extractor_(set) {}
  const InputLayout& layout() const override { return layout_; }
  size_t encode(const AlertCore& alert, float* row) override { return extractor_.extract(alert, row); }

 private:
  InputLayout layout_;
  FeatureExtractor extractor_;
};

class CutoutEncoder final : public InputEncoder {
 public:
  CutoutEncoder(InputLayout layout, int64_t size) : layout_(std::move(layout)), size_(size) {}
  const InputLayout& layout() const override { return layout_; }

  size_t encode(const AlertCore& alert, float* row) override {
    constexpr Cutout::Kind kOrder[] = {Cutout::Kind::science, Cutout::Kind::template_, Cutout::Kind::difference};
    for (size_t channel = 0; channel < 3; ++channel) {
      const Cutout* cutout = nullptr;
      for (const Cutout& c : alert.cutouts)
        if (c.kind == kOrder[channel]) cutout = &c;
      std::string what = std::string(to_string(kOrder[channel])) + " cutout of " + alert_place(alert);
      if (!cutout || cutout->bytes.empty()) fail(what, "the alert has no " + std::string(to_string(kOrder[channel])) + " cutout");
      if (cutout->format != "fits.gz" && cutout->format != "fits")
        fail(what, "a " + cutout->format + " cutout: the scorers read FITS stamps only");
      place_stamp(read_fits_image(cutout->bytes, what), row + channel * size_ * size_);
    }
    return detection_count(alert);
  }

 private:
  // Crops or zero-pads about the centre, then standardises the stamp's finite pixels.
  void place_stamp(const FitsImage& image, float* out) const {
    const int64_t n = size_;
    std::fill(out, out + n * n, 0.0f);
    // Offsets of the output window in the image (positive: crop) and of the image in the window.
    const int64_t x0 = (image.width - n) / 2, y0 = (image.height - n) / 2;
    double sum = 0, sum2 = 0;
    size_t count = 0;
    for (int64_t y = 0; y < n; ++y)
      for (int64_t x = 0; x < n; ++x) {
        const int64_t ix = x + x0, iy = y + y0;
        if (ix < 0 || iy < 0 || ix >= image.width || iy >= image.height) continue;
        const double v = image.pixels[static_cast<size_t>(iy * image.width + ix)];
        if (!std::isfinite(v)) continue;
        sum += v;
        sum2 += v * v;
        ++count;
      }
    if (count == 0) return;
    const double mean = sum / count;
    const double variance = std::max(0.0, sum2 / count - mean * mean);
    const double scale = variance > 0 ? 1 / std::sqrt(variance) : 1;
    for (int64_t y = 0; y < n; ++y)
      for (int64_t x = 0; x < n; ++x) {
        const int64_t ix = x + x0, iy = y + y0;
        if (ix < 0 || iy < 0 || ix >= image.width || iy >= image.height) continue;
        const double v = image.pixels[static_cast<size_t>(iy * image.width + ix)];
        if (std::isfinite(v)) out[y * n + x] = static_cast<float>((v - mean) * scale);
      }
  }

  InputLayout layout_;
  int64_t size_;
};

class SequenceEncoder final : public InputEncoder {
 public:
  SequenceEncoder(InputLayout layout, int64_t length) : layout_(std::move(layout)), length_(length) {}
  const InputLayout& layout() const override { return layout_; }

  size_t encode(const AlertCore& alert, float* row) override {
    std::vector<SequencePoint> points = detection_sequence(alert);
    std::fill(row, row + layout_.width, 0.0f);
    const size_t kept = std::min(points.size(), static_cast<size_t>(length_));
    const size_t first = points.size() - kept;
    float* mask = row + length_ * kSequenceValues;
    for (size_t k = 0; k < kept; ++k) {
      const SequencePoint& p = points[first + k];
      float* step = row + k * kSequenceValues;
      step[0] = static_cast<float>(p.mjd_tai - points[first].mjd_tai);
      step[1] = static_cast<float>(p.mag);
      step[2] = std::isfinite(p.mag_err) ? static_cast<float>(p.mag_err) : 0.0f;
      step[3] = p.band == "g";
      step[4] = p.band == "r";
      step[5] = p.band == "i";
      mask[k] = 1;
    }
    return detection_count(alert);
  }

 private:
  InputLayout layout_;
  int64_t length_;
};

}  // namespace

InputLayout input_layout(const std::string& declaration, const std::string& place) {
  if (const FeatureSet* set = find_feature_set(declaration))
    return {declaration, {{static_cast<int64_t>(set->names.size())}}, set->names.size()};
  if (int64_t n = size_after(declaration, "cutouts/", kLargestStamp))
    return {declaration, {{3, n, n}}, static_cast<size_t>(3 * n * n)};
  if (int64_t n = size_after(declaration, "lightcurve/", kLongestSequence))
    return {declaration, {{n, kSequenceValues}, {n}}, static_cast<size_t>(n * (kSequenceValues + 1))};
  std::string known;
  for (const std::string& s : feature_set_names()) known += s + ", ";
  fail(place, "unknown model input '" + declaration + "' (known: " + known + "cutouts/N, lightcurve/N)");
}

std::unique_ptr<InputEncoder> make_input_encoder(const std::string& declaration, const std::string& place) {
  InputLayout layout = input_layout(declaration, place);
  if (const FeatureSet* set = find_feature_set(declaration)) return std::make_unique<FeatureEncoder>(layout, *set);
  if (declaration.starts_with("cutouts/")) {
    int64_t n = layout.tensors[0][1];
    return std::make_unique<CutoutEncoder>(std::move(layout), n);
  }
  int64_t n = layout.tensors[0][0];
  return std::make_unique<SequenceEncoder>(std::move(layout), n);
}

std::vector<SequencePoint> detection_sequence(const AlertCore& alert) {
  std::vector<SequencePoint> points;
  const Photometry own = own_detection(alert);
  if (std::isfinite(own.mjd_tai)) {
    double mag = magnitude_of(own.mag, own.flux, own.is_diff_pos);
    if (std::isfinite(mag)) points.push_back({own.mjd_tai, mag, own.mag_err, own.band});
  }
  for (uint32_t i : distinct_points(alert.history, std::isfinite(own.mjd_tai) ? &own : nullptr)) {
    const Photometry& h = alert.history[i];
    if (h.kind != Photometry::Kind::detection || !std::isfinite(h.mjd_tai)) continue;
    double mag = magnitude_of(h.mag, h.flux, h.is_diff_pos);
    if (std::isfinite(mag)) points.push_back({h.mjd_tai, mag, h.mag_err, h.band});
  }
  std::stable_sort(points.begin(), points.end(),
                   [](const SequencePoint& a, const SequencePoint& b) { return a.mjd_tai < b.mjd_tai; });
  return points;
}

}  // namespace ebs::ml
