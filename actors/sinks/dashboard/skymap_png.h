// A sky map drawn as the page shows it: an all-sky Mollweide projection (RA 180° at the centre,
// RA increasing to the left, as astronomers draw the sky from inside), probability density on a
// viridis-like colour scale, transparent outside the ellipse. The page draws the coincident
// candidates over it with the same projection (web/dashboard.js `mollweide`).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace ebs::skymap {
class Skymap;
}

namespace ebs::dashboard {

// Inverse Mollweide: (x, y) in [-1, 1]² of the image's bounding box (x right, y up) to (ra, dec)
// in degrees; nothing outside the ellipse.
std::optional<std::pair<double, double>> mollweide_inverse(double x, double y);

// PNG of `map`, `width` pixels wide and width/2 high.
std::string mollweide_png(const skymap::Skymap& map, int width);

}  // namespace ebs::dashboard
