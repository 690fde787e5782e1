// What a model reads from an alert, declared by its registry entry (the feature_set column) or, for
// a TorchScript file, by the module's `ebs_inputs` attribute (docs/ml.md, "Model inputs"):
//   lc-basic/1, lc-bazin/1  the feature vector (light_curve_features.h); NaN = missing
//   cutouts/N               science, template and difference stamps: 3 x N x N, each cropped or
//                           zero-padded about its centre to N x N and standardised over its finite
//                           pixels ((x - mean) / std; non-finite pixels and padding 0)
//   lightcurve/N            the latest N detections with a magnitude, oldest first: N x 6 values
//                           (days since the first of them, mag, mag error or 0, one-hot g, r, i),
//                           zero-padded after the last, then N mask values (1 = a point, 0 = padding)
// One alert becomes one row of floats; a model sees the row as its tensors (TorchScript: forward(x)
// or, for light curves, forward(x, mask)).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/ml/light_curve_features.h"
#include "engine/model/record.h"

namespace ebs::ml {

struct InputLayout {
  std::string declaration;                    // "cutouts/63"
  std::vector<std::vector<int64_t>> tensors;  // per-alert shape of each tensor, in row order
  size_t width = 0;                           // floats per alert: the sum of the tensors' sizes
};

// A Fault naming `place` for an unknown declaration (the message lists the known kinds).
InputLayout input_layout(const std::string& declaration, const std::string& place);

class InputEncoder {
 public:
  virtual ~InputEncoder() = default;
  virtual const InputLayout& layout() const = 0;
  // Writes layout().width floats for `alert`; returns the number of detections in its light curve
  // (the current one included, with or without a magnitude), for min_detections. A Fault for an alert this input cannot be
  // made from (no cutouts, a corrupt stamp): the scorer dead-letters it.
  virtual size_t encode(const AlertCore& alert, float* row) = 0;
};

// One encoder per scorer instance (encoders keep scratch buffers).
std::unique_ptr<InputEncoder> make_input_encoder(const std::string& declaration, const std::string& place);

// The light curve a lightcurve/N input is made of, before truncation: the alert's detection and its
// distinct history detections (engine/model/light_curve.h) that have a magnitude (a positive
// flux's when there is no magnitude), sorted by time.
struct SequencePoint {
  double mjd_tai, mag, mag_err;
  std::string_view band;
};
std::vector<SequencePoint> detection_sequence(const AlertCore& alert);

}  // namespace ebs::ml
