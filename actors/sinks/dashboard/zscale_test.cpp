#include "actors/sinks/dashboard/zscale.h"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/sinks/dashboard/image_png.h"
#include "test/support/ztf_alerts.h"
#include "test/support/python_oracle.h"

namespace ebs::dashboard {

// astropy's ZScaleInterval reads the same gzip-FITS bytes with its own FITS reader.
TEST_CASE("zscale limits equal astropy's ZScaleInterval on real ZTF cutouts") {
  auto alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 6);
  REQUIRE(alerts.size() == 6);
  auto dir = std::filesystem::temp_directory_path() / ("ebs_zscale_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<std::string> paths;
  std::vector<DisplayLimits> ours;
  for (const auto& alert : alerts)
    for (Cutout::Kind kind : {Cutout::Kind::science, Cutout::Kind::template_, Cutout::Kind::difference}) {
      std::string_view bytes = ebs::test::cutout_bytes(*alert, kind);
      REQUIRE(!bytes.empty());
      auto path = dir / (std::to_string(paths.size()) + ".fits.gz");
      std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      paths.push_back(path.string());
      FitsImage image = read_fits_image(bytes, path.string());
      CHECK(image.width > 0);
      ours.push_back(zscale(image.pixels));
    }
  std::string out = test::run_python_oracle(R"(
import sys, warnings
import numpy as np
from astropy.io import fits
from astropy.visualization import ZScaleInterval
warnings.simplefilter('ignore')
for path in sys.argv[1:]:
    data = fits.getdata(path)
    lo, hi = ZScaleInterval().get_limits(data)
    print(repr(float(lo)), repr(float(hi)))
)",
                                            paths);
  std::istringstream lines(out);
  for (size_t i = 0; i < paths.size(); ++i) {
    double lo = NAN, hi = NAN;
    lines >> lo >> hi;
    INFO(paths[i] << " ours [" << ours[i].vmin << ", " << ours[i].vmax << "] astropy [" << lo << ", " << hi << "]");
    double scale = std::max(1.0, std::abs(hi - lo));
    CHECK(std::abs(ours[i].vmin - lo) <= 1e-4 * scale);
    CHECK(std::abs(ours[i].vmax - hi) <= 1e-4 * scale);
    CHECK(ours[i].vmin < ours[i].vmax);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("zscale ignores NaN and keeps the sample range for a flat ramp") {
  std::vector<float> ramp;
  for (int i = 0; i < 2000; ++i) ramp.push_back(i % 7 == 0 ? NAN : static_cast<float>(i));
  DisplayLimits l = zscale(ramp);
  // 1714 finite values: stride 1, the first 1000 are sampled. Nearly a line: slope / contrast
  // reaches past both ends, so the limits are the extremes of the samples.
  std::vector<float> finite;
  for (float v : ramp)
    if (!std::isnan(v) && finite.size() < 1000) finite.push_back(v);
  CHECK(l.vmin == finite.front());
  CHECK(l.vmax == finite.back());
  CHECK(zscale(std::vector<float>{NAN, NAN}).vmin == 0);
  CHECK(zscale(std::vector<float>{NAN, NAN}).vmax == 1);
}

}  // namespace ebs::dashboard
