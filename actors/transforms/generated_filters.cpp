#include "actors/transforms/generated_filters.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

namespace ebs {

namespace {

struct CommonField {
  const char* path;
  double low, high;  // where users put thresholds
  double step;       // thresholds are multiples of it
};

// Core fields (every survey) and ZTF candidate fields, over the ranges real cuts use.
constexpr CommonField kCommonFields[] = {
    {"mag", 14, 21, 0.1},
    {"mag_err", 0, 0.3, 0.01},
    {"real_bogus", 0, 1, 0.05},
    {"ra", 0, 360, 1},
    {"dec", -30, 90, 1},
    {"n_detections", 1, 30, 1},
    {"candidate.drb", 0, 1, 0.01},
    {"candidate.sgscore1", 0, 1, 0.05},
    {"candidate.distpsnr1", 0, 20, 0.5},
    {"candidate.fwhm", 0.5, 6, 0.1},
    {"candidate.classtar", 0, 1, 0.05},
    {"candidate.ndethist", 1, 100, 1},
};

}  // namespace

std::vector<std::string> generated_user_filters(size_t count, uint64_t seed) {
  std::mt19937_64 random(seed);
  auto pick = [&random](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random); };
  static const char* kOperators[] = {"<", "<=", ">", ">="};
  constexpr size_t kFields = std::size(kCommonFields);
  std::vector<std::string> out;
  out.reserve(count);
  for (size_t n = 0; n < count; ++n) {
    size_t cuts = 2 + pick(4);
    std::vector<size_t> fields(kFields);
    for (size_t i = 0; i < kFields; ++i) fields[i] = i;
    std::shuffle(fields.begin(), fields.end(), random);
    std::string text;
    for (size_t c = 0; c < cuts; ++c) {
      const CommonField& f = kCommonFields[fields[c]];
      double steps = std::floor((f.high - f.low) / f.step);
      double threshold = f.low + f.step * static_cast<double>(pick(static_cast<size_t>(steps) + 1));
      char number[32];
      std::snprintf(number, sizeof number, "%g", std::round(threshold / f.step) * f.step);
      if (!text.empty()) text += " and ";
      text += std::string(f.path) + " " + kOperators[pick(4)] + " " + number;
    }
    out.push_back(std::move(text));
  }
  return out;
}

}  // namespace ebs
