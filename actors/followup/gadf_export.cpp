#include "actors/followup/gadf_export.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "actors/common/catalog/table_reader.h"
#include "actors/followup/fits_output.h"
#include "actors/followup/json_lines.h"
#include "engine/model/record_json.h"
#include "engine/time/time_scale.h"
#include "engine/util/fault.h"

namespace ebs::followup {

namespace {

constexpr double planck_ev_s = 4.135667696e-15;         // h (CODATA 2018, exact in SI)
constexpr double hc_ev_angstrom = 12398.419843320026;   // h·c
constexpr double ab_zero_point = 48.6;                  // m_AB = -2.5 log10(F_ν / erg s^-1 cm^-2 Hz^-1) - 48.6

double energy_of(double wavelength_angstrom) { return hc_ev_angstrom / wavelength_angstrom; }

}  // namespace

const std::vector<Band>& band_table() {
  // Effective wavelengths and edges (Å): ZTF and LSST from the SVO Filter Profile Service
  // (λ_eff; edges where the transmission falls to half), ATLAS from Tonry et al. 2018 (PASP 130,
  // 064505: c 420-650 nm, o 560-820 nm). See docs/followup.md.
  static const std::vector<Band> bands = {
      {"ztfg", 4746.5, 4087, 5522},  {"ztfr", 6366.4, 5600, 7316},  {"ztfi", 7829.0, 7100, 8900},
      {"atlasc", 5330, 4200, 6500},  {"atlaso", 6780, 5600, 8200},
      {"lsstu", 3671, 3200, 4000},   {"lsstg", 4827, 4000, 5520},   {"lsstr", 6223, 5520, 6910},
      {"lssti", 7546, 6910, 8180},   {"lsstz", 8691, 8180, 9220},   {"lssty", 9712, 9220, 10600},
  };
  return bands;
}

const Band& band_by_name(const std::string& name, const std::string& place) {
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const Band& band : band_table())
    if (band.name == lower) return band;
  std::string known;
  for (const Band& band : band_table()) known += (known.empty() ? "" : ", ") + band.name;
  fail(place, "unknown band '" + name + "' (known: " + known + ")");
}

double ab_magnitude_to_e2dnde(double mag, double energy_ev) {
  const double f_nu = std::pow(10.0, -0.4 * (mag + ab_zero_point));  // erg s^-1 cm^-2 Hz^-1
  return f_nu * energy_ev / planck_ev_s;                             // ν F_ν
}

std::vector<PhotometryPoint> load_photometry_csv(const std::filesystem::path& path) {
  catalog::CatalogConfig config;
  config.data_file = path;
  config.name = path.filename().string();
  config.format = catalog::TableFormat::csv;
  auto reader = catalog::open_table(config);
  auto column = [&](const char* name, bool required) {
    const int index = reader->find_column(name);
    if (index < 0 && required) fail(path.string(), std::string("no column '") + name + "' (SkyPortal photometry CSV)");
    return index;
  };
  const int mjd = column("mjd", true), mag = column("mag", true), magerr = column("magerr", true),
            filter = column("filter", true), limit = column("limiting_mag", true), magsys = column("magsys", false);
  std::vector<int> selected = {mjd, mag, magerr, filter, limit};
  if (magsys >= 0) selected.push_back(magsys);
  reader->select(selected);
  std::vector<catalog::Cell> cells;
  std::vector<PhotometryPoint> points;
  auto number = [&](std::size_t i) {
    const catalog::Cell& c = cells[i];
    if (c.kind == catalog::Cell::Kind::number) return c.number;
    if (c.kind == catalog::Cell::Kind::integer) return static_cast<double>(c.integer);
    if (c.kind == catalog::Cell::Kind::null) return static_cast<double>(NAN);
    // Text readers hand over cells as text: the whole cell must be a number.
    const std::string text(c.text);
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(value))
      fail(reader->row_place(), "'" + text + "' is not a number");
    return value;
  };
  while (reader->next_row(cells)) {
    PhotometryPoint p;
    p.mjd_utc = number(0);
    p.mag = number(1);
    p.mag_err = number(2);
    p.band = std::string(cells[3].text);
    p.limit_mag = number(4);
    if (magsys >= 0 && cells[5].kind != catalog::Cell::Kind::null && cells[5].text != "ab" && cells[5].text != "AB")
      fail(reader->row_place(), "magnitude system '" + std::string(cells[5].text) + "' is not AB");
    if (!std::isfinite(p.mjd_utc)) fail(reader->row_place(), "no mjd");
    if (p.upper_limit() && !std::isfinite(p.limit_mag))
      fail(reader->row_place(), "neither a magnitude nor a limiting magnitude");
    if (!p.upper_limit() && !(p.mag_err >= 0)) fail(reader->row_place(), "a detection without magerr");
    points.push_back(std::move(p));
  }
  return points;
}

namespace {

// "ztfg", "lsstr", or the band as given when it already names one of the table.
std::string band_name(std::string survey, const std::string& band) {
  for (char& c : survey) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (survey == "rubin") survey = "lsst";
  std::string lower = band;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const Band& b : band_table())
    if (b.name == lower) return lower;
  return survey + lower;
}

}  // namespace

std::vector<PhotometryPoint> load_alert_photometry(const std::filesystem::path& path, const std::string& object_id) {
  std::map<std::pair<double, std::string>, PhotometryPoint> points;  // one per (time, band)
  for_each_json_line(path, "the alerts file", [&](const nlohmann::json& json, const std::string& place) {
    if (json.value("type", "") != "Alert" || json.value("object_id", "") != object_id) return;
    const auto alert = alert_from_json(json, place);
    const AlertCore& core = alert->core();
    auto add = [&](double mjd_tai, const std::string& band, double mag, double mag_err, double limit) {
      if (!std::isfinite(mjd_tai) || band.empty()) return;
      PhotometryPoint p;
      p.mjd_utc = time::mjd_tai_to_utc(mjd_tai, place);
      p.band = band_name(core.survey, band);
      p.mag = mag;
      p.mag_err = mag_err;
      p.limit_mag = limit;
      if (p.upper_limit() && !std::isfinite(p.limit_mag)) return;  // neither a detection nor a limit
      points.emplace(std::pair{p.mjd_utc, p.band}, p);
    };
    add(core.mjd_tai, core.band, core.mag, core.mag_err, NAN);
    for (const Photometry& h : core.history) {
      if (h.kind == Photometry::Kind::upper_limit) add(h.mjd_tai, h.band, NAN, NAN, h.limit_mag);
      else if (h.kind == Photometry::Kind::detection) add(h.mjd_tai, h.band, h.mag, h.mag_err, NAN);
    }
  });
  if (points.empty()) fail(path.string(), "no photometry of object '" + object_id + "'");
  std::vector<PhotometryPoint> out;
  for (auto& [key, point] : points) out.push_back(std::move(point));
  return out;
}

LightCurveTable make_light_curve(const std::vector<PhotometryPoint>& points, const LightCurveOptions& options,
                                 const std::string& place) {
  if (points.empty()) fail(place, "no photometry");
  if (!(options.exposure_s > 0)) fail(place, "the exposure must be positive");
  // The bands present, by ascending photon energy (descending wavelength).
  std::vector<const Band*> bands;
  for (const PhotometryPoint& p : points) {
    const Band* band = &band_by_name(p.band, place);
    if (std::find(bands.begin(), bands.end(), band) == bands.end()) bands.push_back(band);
  }
  std::sort(bands.begin(), bands.end(), [](const Band* a, const Band* b) {
    return a->wavelength_eff_angstrom > b->wavelength_eff_angstrom;
  });
  LightCurveTable table;
  // Gammapy's energy axis is contiguous: neighbouring bands meet at the geometric mean of their
  // effective energies; the outer edges are the outer bands' own.
  const std::size_t n = bands.size();
  std::vector<double> edges(n + 1);
  edges[0] = energy_of(bands[0]->wavelength_max_angstrom);
  edges[n] = energy_of(bands[n - 1]->wavelength_min_angstrom);
  for (std::size_t i = 1; i < n; ++i)
    edges[i] = std::sqrt(energy_of(bands[i - 1]->wavelength_eff_angstrom) * energy_of(bands[i]->wavelength_eff_angstrom));
  for (std::size_t i = 0; i < n; ++i) {
    table.bands.push_back(bands[i]->name);
    table.e_min.push_back(edges[i]);
    table.e_max.push_back(edges[i + 1]);
    table.e_ref.push_back(std::sqrt(edges[i] * edges[i + 1]));  // the bin's log centre, as Gammapy takes it
  }
  // One time bin per distinct epoch.
  std::map<double, std::vector<const PhotometryPoint*>> epochs;
  for (const PhotometryPoint& p : points) epochs[p.mjd_utc].push_back(&p);
  const double half = 0.5 * options.exposure_s / 86400.0;
  for (const auto& [mjd, at_epoch] : epochs) {
    table.time_min.push_back(mjd - half);
    table.time_max.push_back(mjd + half);
    std::vector<double> flux(n, NAN), error(n, NAN), limit(n, NAN);
    std::vector<bool> is_ul(n, false);
    for (const PhotometryPoint* p : at_epoch) {
      const std::size_t i = static_cast<std::size_t>(
          std::find(table.bands.begin(), table.bands.end(), band_by_name(p->band, place).name) - table.bands.begin());
      if (std::isfinite(flux[i]) || std::isfinite(limit[i]))
        fail(place, "two points in band " + p->band + " at MJD " + std::to_string(mjd));
      if (p->upper_limit()) {
        limit[i] = ab_magnitude_to_e2dnde(p->limit_mag, table.e_ref[i]);
        is_ul[i] = true;
      } else {
        flux[i] = ab_magnitude_to_e2dnde(p->mag, table.e_ref[i]);
        error[i] = flux[i] * 0.4 * std::log(10.0) * p->mag_err;  // linearised magnitude error
      }
    }
    table.e2dnde.push_back(flux);
    table.e2dnde_err.push_back(error);
    table.e2dnde_ul.push_back(limit);
    table.is_ul.push_back(is_ul);
  }
  return table;
}

void write_light_curve_fits(const LightCurveTable& table, const std::filesystem::path& path,
                            const LightCurveOptions& options) {
  const std::size_t bands = table.bands.size(), rows = table.time_min.size();
  const std::string vector = std::to_string(bands) + "D";
  FitsOutput out(path);
  out.add_table("LIGHTCURVE", {{"time_min", "D", ""},
                               {"time_max", "D", ""},
                               {"e_ref", vector, "eV"},
                               {"e_min", vector, "eV"},
                               {"e_max", vector, "eV"},
                               {"e2dnde", vector, "erg cm-2 s-1"},
                               {"e2dnde_err", vector, "erg cm-2 s-1"},
                               {"e2dnde_ul", vector, "erg cm-2 s-1"},
                               {"is_ul", std::to_string(bands) + "L", ""}});
  out.key("SED_TYPE", std::string("e2dnde"), "GADF flux points type");
  out.key("TIMESYS", std::string("utc"), "time_min/time_max are MJD UTC");
  // The confidence of a two-sided n-sigma interval, as Gammapy reads UL_CONF.
  out.key("UL_CONF", std::erf(options.ul_sigma / std::sqrt(2.0)), "upper limits at n sigma");
  std::string names;
  for (const std::string& band : table.bands) names += (names.empty() ? "" : ",") + band;
  out.key("BANDS", names, "energy bins, ascending");
  auto repeat = [&](const std::vector<double>& per_band) {
    std::vector<double> values;
    for (std::size_t r = 0; r < rows; ++r) values.insert(values.end(), per_band.begin(), per_band.end());
    return values;
  };
  auto flatten = [](const std::vector<std::vector<double>>& matrix) {
    std::vector<double> values;
    for (const auto& row : matrix) values.insert(values.end(), row.begin(), row.end());
    return values;
  };
  out.write(1, table.time_min);
  out.write(2, table.time_max);
  out.write(3, repeat(table.e_ref));
  out.write(4, repeat(table.e_min));
  out.write(5, repeat(table.e_max));
  out.write(6, flatten(table.e2dnde));
  out.write(7, flatten(table.e2dnde_err));
  out.write(8, flatten(table.e2dnde_ul));
  std::vector<char> logicals;
  for (const auto& row : table.is_ul)
    for (bool ul : row) logicals.push_back(ul ? 1 : 0);
  out.write(9, logicals);
  out.close();
}

void write_hpx_map(const skymap::Skymap& map, const std::filesystem::path& path, int order) {
  const int top = map.max_order();
  if (order < 0) order = top;
  if (order > 13) fail(path.string(), "HPX export order " + std::to_string(order) + " is above 13");
  const std::size_t npix = 12 * (std::size_t{1} << (2 * order));
  std::vector<double> density(npix, 0.0);
  const bool with_distance = map.has_distance() && order >= top;
  std::vector<double> mu, sigma, norm;
  if (with_distance) {
    mu.assign(npix, INFINITY);  // no support where the map has no pixel
    sigma.assign(npix, 1.0);
    norm.assign(npix, 0.0);
  }
  auto uniq = map.ranked_uniq();
  auto rho = map.ranked_probdensity();
  auto distance = map.ranked_distance();
  for (std::size_t rank = 0; rank < uniq.size(); ++rank) {
    const int cell_order = skymap::uniq_order(uniq[rank]);
    const std::uint64_t ipix = skymap::uniq_ipix(uniq[rank], cell_order);
    if (cell_order <= order) {
      const int shift = 2 * (order - cell_order);
      for (std::uint64_t p = ipix << shift; p < (ipix + 1) << shift; ++p) {
        density[p] = rho[rank];
        if (with_distance) {
          mu[p] = distance[rank].mu;
          sigma[p] = distance[rank].sigma;
          norm[p] = distance[rank].norm;
        }
      }
    } else {
      // A finer cell adds its probability to the coarser pixel: the pixel's mean density.
      density[ipix >> (2 * (cell_order - order))] +=
          rho[rank] * skymap::pixel_area(cell_order) / skymap::pixel_area(order);
    }
  }
  FitsOutput out(path);
  auto layer = [&](const std::string& extname, const std::vector<double>& values, const std::string& unit) {
    out.add_table(extname, {{"CHANNEL1", "D", unit}});
    out.key("PIXTYPE", std::string("HEALPIX"));
    out.key("ORDERING", std::string("NESTED"));
    out.key("COORDSYS", std::string("CEL"));
    out.key("INDXSCHM", std::string("IMPLICIT"));
    out.key("ORDER", static_cast<long long>(order));
    out.key("NSIDE", static_cast<long long>(1) << order);
    out.key("FIRSTPIX", 0LL);
    out.key("LASTPIX", static_cast<long long>(npix - 1));
    out.key("HPX_CONV", std::string("GADF"));
    out.key("EQUINOX", 2000.0);
    out.key("BUNIT", unit);
    if (!map.header().object.empty()) out.key("OBJECT", map.header().object);
    out.write(1, values);
  };
  layer("SKYMAP", density, "sr-1");
  if (with_distance) {
    layer("DISTMU", mu, "Mpc");
    layer("DISTSIGMA", sigma, "Mpc");
    layer("DISTNORM", norm, "Mpc-2");
  }
  out.close();
}

}  // namespace ebs::followup
