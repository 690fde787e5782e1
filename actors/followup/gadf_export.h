// Exports for joint analyses in Gammapy (GADF: gamma-astro-data-formats):
//   - a candidate's multi-band optical light curve as Gammapy's "lightcurve" flux-points table
//     (one row per time bin; e_min/e_max/e_ref and e2dnde vectors over the bands), read back by
//     FluxPoints.read(path, format="lightcurve");
//   - a sky map as a GADF HPX map (BINTABLE "SKYMAP", column CHANNEL1, PIXTYPE HEALPIX, ORDERING
//     NESTED, INDXSCHM IMPLICIT, HPX_CONV GADF), read back by Map.read(path).
// docs/followup.md gives the band table and the AB-magnitude conversion.
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "actors/common/skymap/skymap.h"

namespace ebs::followup {

// One photometric point; an upper limit has no magnitude and a limiting magnitude.
struct PhotometryPoint {
  double mjd_utc = 0;
  std::string band;
  double mag = NAN, mag_err = NAN;  // AB
  double limit_mag = NAN;           // AB, for upper limits
  bool upper_limit() const { return !std::isfinite(mag); }
};

// SkyPortal's photometry upload CSV: mjd, mag, magerr, filter, limiting_mag[, magsys (ab)].
std::vector<PhotometryPoint> load_photometry_csv(const std::filesystem::path& path);
// One object's photometry from alerts as JSON lines (the `jsonl` sink's Alert records): each
// alert's detection and its history (detections and upper limits), once per (time, band); bands
// named after the survey ("ZTF" + "g" -> ztfg, "lsst" + "r" -> lsstr). Times MJD TAI -> UTC.
std::vector<PhotometryPoint> load_alert_photometry(const std::filesystem::path& path, const std::string& object_id);

struct Band {
  std::string name;          // as SkyPortal names filters: ztfg, atlaso, lsstr, ...
  double wavelength_eff_angstrom;
  double wavelength_min_angstrom, wavelength_max_angstrom;
};
// The documented band table; a fault naming `place` for an unknown band.
const Band& band_by_name(const std::string& name, const std::string& place);
const std::vector<Band>& band_table();

// νF_ν (erg cm^-2 s^-1) of an AB magnitude at the frequency of photon energy `energy_ev`.
double ab_magnitude_to_e2dnde(double mag, double energy_ev);

struct LightCurveOptions {
  double exposure_s = 30;  // a time bin is [mjd - exposure/2, mjd + exposure/2]
  double ul_sigma = 5;     // what the limiting magnitudes are (SkyPortal: 5σ)
};

// The table as written, for callers and tests: bins by time, vectors over the bands (ascending
// energy); NaN where a band has no point in a bin.
struct LightCurveTable {
  std::vector<std::string> bands;
  std::vector<double> e_min, e_max, e_ref;  // eV, contiguous: e_max[i] == e_min[i + 1]
  std::vector<double> time_min, time_max;   // MJD UTC
  std::vector<std::vector<double>> e2dnde, e2dnde_err, e2dnde_ul;  // [time][band]
  std::vector<std::vector<bool>> is_ul;
};

LightCurveTable make_light_curve(const std::vector<PhotometryPoint>& points, const LightCurveOptions& options = {},
                                 const std::string& place = "light curve");
void write_light_curve_fits(const LightCurveTable& table, const std::filesystem::path& path,
                            const LightCurveOptions& options = {});

// The map's PROBDENSITY (sr^-1) on the NESTED grid of `order` (< 0: the map's maximum order; a
// coarser order averages the density over each pixel). At the map's maximum order or finer, the
// DISTMU, DISTSIGMA, DISTNORM layers follow as HDUs of those names. Pixels the map lacks hold 0.
void write_hpx_map(const skymap::Skymap& map, const std::filesystem::path& path, int order = -1);

}  // namespace ebs::followup
