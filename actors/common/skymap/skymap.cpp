#include "actors/common/skymap/skymap.h"

#include <curl/curl.h>
#include <fitsio.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <healpix_cxx/healpix_base.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <fstream>
#include <memory>
#include <numeric>
#include <regex>

#include "actors/common/cosmology.h"
#include "actors/common/gzip.h"
#include "engine/util/fault.h"

namespace ebs::skymap {

namespace {

constexpr double pi = 3.141592653589793238462643383279502884;
constexpr double square_degrees_per_steradian = (180.0 / pi) * (180.0 / pi);
double theta_of_dec(double dec_deg) {
  // np.deg2rad multiplies by π/180; clamp the rounding at the poles into [0, π].
  return std::clamp(0.5 * pi - dec_deg * (pi / 180.0), 0.0, pi);
}

void check_position(double ra_deg, double dec_deg, const std::string& source) {
  if (!std::isfinite(ra_deg) || !std::isfinite(dec_deg) || dec_deg < -90 || dec_deg > 90)
    fail(source, "position (" + std::to_string(ra_deg) + ", " + std::to_string(dec_deg) +
                     ") is not a finite ra with dec in [-90, 90]");
}

// ---------------------------------------------------------------------------------------------
// Bytes: files, gzip, http.

size_t append_to_vector(char* data, size_t size, size_t count, void* user) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(user);
  out->insert(out->end(), data, data + size * count);
  return size * count;
}

// ---------------------------------------------------------------------------------------------
// FITS through cfitsio, opened on bytes in memory.

std::string fits_error(int status) {
  char text[FLEN_STATUS] = {};
  fits_get_errstatus(status, text);
  char message[FLEN_ERRMSG] = {};
  std::string detail;
  // The message stack holds cfitsio's own explanation; keep its first line.
  if (fits_read_errmsg(message)) detail = std::string(" (") + message + ")";
  fits_clear_errmsg();
  return std::string(text) + detail;
}

struct FitsCloser {
  void operator()(fitsfile* file) const {
    int status = 0;
    fits_close_file(file, &status);
  }
};
using FitsFile = std::unique_ptr<fitsfile, FitsCloser>;

std::optional<std::string> read_string_key(fitsfile* file, const char* key) {
  char value[FLEN_VALUE] = {};
  int status = 0;
  if (fits_read_key(file, TSTRING, key, value, nullptr, &status)) {
    fits_clear_errmsg();
    return std::nullopt;
  }
  std::string text(value);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

std::optional<double> read_double_key(fitsfile* file, const char* key) {
  double value = 0;
  int status = 0;
  if (fits_read_key(file, TDOUBLE, key, &value, nullptr, &status)) {
    fits_clear_errmsg();
    return std::nullopt;
  }
  return value;
}

// Keys are read from the table's HDU first, then from the primary HDU.
struct HeaderReader {
  fitsfile* file;
  int table_hdu;

  template <typename Read>
  auto read(const char* key, Read read_key) const -> decltype(read_key(file, key)) {
    int type = 0, status = 0;
    fits_movabs_hdu(file, table_hdu, &type, &status);
    if (auto value = read_key(file, key)) return value;
    if (table_hdu != 1) {
      fits_movabs_hdu(file, 1, &type, &status);
      auto value = read_key(file, key);
      fits_movabs_hdu(file, table_hdu, &type, &status);
      return value;
    }
    return std::nullopt;
  }
  std::string text(const char* key) const { return read(key, read_string_key).value_or(""); }
  std::optional<double> number(const char* key) const { return read(key, read_double_key); }
};

std::optional<int> find_column(fitsfile* file, const char* name) {
  int column = 0, status = 0;
  fits_get_colnum(file, CASEINSEN, const_cast<char*>(name), &column, &status);
  if (status) {
    fits_clear_errmsg();
    return std::nullopt;
  }
  return column;
}

// All elements of a column, rows after rows (healpy writes flat maps as 1024-element vectors).
// What the header declares is checked against the `available` bytes of table data before any
// allocation: a table declaring 2^63-1 rows is a clear error, not a std::length_error.
template <typename T>
std::vector<T> read_column(fitsfile* file, int column, int datatype, std::size_t available, const std::string& place) {
  int status = 0, typecode = 0;
  LONGLONG rows = 0, repeat = 0, width = 0;
  fits_get_num_rowsll(file, &rows, &status);
  fits_get_coltypell(file, column, &typecode, &repeat, &width, &status);
  if (status) fail(place, "cannot inspect column: " + fits_error(status));
  unsigned long long elements = 0, bytes = 0;
  if (rows < 0 || repeat < 0 || width < 0 ||
      __builtin_mul_overflow(static_cast<unsigned long long>(rows), static_cast<unsigned long long>(repeat), &elements) ||
      __builtin_mul_overflow(elements, static_cast<unsigned long long>(std::max<LONGLONG>(width, 1)), &bytes) ||
      bytes > available)
    fail(place, "the table declares " + std::to_string(rows) + " rows of " + std::to_string(repeat) +
                    " elements: more than the " + std::to_string(available) + " bytes of table data the file holds");
  std::vector<T> values(static_cast<std::size_t>(elements));
  if (!values.empty() && fits_read_col(file, datatype, column, 1, 1, static_cast<LONGLONG>(values.size()),
                                       nullptr, values.data(), nullptr, &status))
    fail(place, "cannot read column: " + fits_error(status));
  return values;
}

std::optional<int> map_version_from_source(const std::string& source) {
  // GraceDB names file versions "name.fits,N" (also "name.fits.gz,N").
  static const std::regex version(R"(\.fits(\.gz)?,(\d+)$)");
  std::smatch match;
  if (std::regex_search(source, match, version)) return std::stoi(match[2]);
  return std::nullopt;
}

Skymap read_fits(std::span<const std::uint8_t> raw, const std::string& source) {
  std::string inflated;
  const std::string_view raw_text(reinterpret_cast<const char*>(raw.data()), raw.size());
  if (is_gzip(raw_text)) {
    inflated = gunzip(raw_text, source, fits_inflate_limit(kSkymapInflateCeiling));
    raw = std::span(reinterpret_cast<const std::uint8_t*>(inflated.data()), inflated.size());
  }
  if (raw.size() < 2880 || std::string_view(reinterpret_cast<const char*>(raw.data()), 6) != "SIMPLE")
    fail(source, "not a FITS file (no SIMPLE card at the start)");

  // cfitsio reads whole 2880-byte records: give files that lack their final padding a padded copy.
  std::vector<std::uint8_t> padded;
  if (raw.size() % 2880 != 0) {
    padded.assign(raw.begin(), raw.end());
    padded.resize((raw.size() / 2880 + 1) * 2880, 0);
    raw = padded;
  }
  // cfitsio may not write, but wants mutable pointers to the buffer and its size.
  void* buffer = const_cast<std::uint8_t*>(raw.data());
  std::size_t buffer_size = raw.size();
  fitsfile* opened = nullptr;
  int status = 0;
  if (fits_open_memfile(&opened, source.c_str(), READONLY, &buffer, &buffer_size, 0, nullptr, &status))
    fail(source, "cannot open FITS: " + fits_error(status));
  FitsFile file(opened);

  int hdus = 0;
  fits_get_num_hdus(file.get(), &hdus, &status);
  int table_hdu = 0;
  for (int hdu = 1; hdu <= hdus && !table_hdu; ++hdu) {
    int type = 0;
    if (fits_movabs_hdu(file.get(), hdu, &type, &status)) break;
    if (type == BINARY_TBL) table_hdu = hdu;
  }
  if (status) fail(source, "cannot read FITS HDUs: " + fits_error(status));
  if (!table_hdu) fail(source, "no binary table HDU with a HEALPix map");
  fits_movabs_hdu(file.get(), table_hdu, nullptr, &status);
  std::string place = source + ":HDU " + std::to_string(table_hdu);
  // cfitsio's memory driver does not stop at the end of a short buffer: check that the table's
  // data, as its header declares it, is all there before reading columns.
  LONGLONG header_start = 0, data_start = 0, data_end = 0;
  if (fits_get_hduaddrll(file.get(), &header_start, &data_start, &data_end, &status))
    fail(place, "cannot locate the table: " + fits_error(status));
  if (static_cast<std::size_t>(data_end) > raw.size())
    fail(place, "truncated FITS: the table needs " + std::to_string(data_end) + " bytes, there are " +
                    std::to_string(raw.size()));
  // What the columns may declare at most (data_end itself may have overflowed in cfitsio).
  const std::size_t table_bytes =
      data_start >= 0 && static_cast<std::size_t>(data_start) <= raw.size() ? raw.size() - static_cast<std::size_t>(data_start) : 0;

  HeaderReader keys{file.get(), table_hdu};
  SkymapHeader header;
  header.object = keys.text("OBJECT");
  header.date_obs = keys.text("DATE-OBS");
  header.mjd_obs = keys.number("MJD-OBS");
  header.instruments = keys.text("INSTRUME");
  header.creator = keys.text("CREATOR");
  header.origin = keys.text("ORIGIN");
  header.software_version = keys.text("VCSVERS");
  header.distmean = keys.number("DISTMEAN");
  header.diststd = keys.number("DISTSTD");
  if (auto order = keys.number("MOCORDER")) header.mocorder = static_cast<int>(*order);
  header.map_version = map_version_from_source(source);

  std::string ordering_key = keys.text("ORDERING");
  for (char& c : ordering_key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto uniq_column = find_column(file.get(), "UNIQ");
  SkymapOrdering ordering;
  if (ordering_key == "NUNIQ" || (ordering_key.empty() && uniq_column)) {
    ordering = SkymapOrdering::nuniq;
  } else if (ordering_key == "RING") {
    ordering = SkymapOrdering::ring;
  } else if (ordering_key == "NESTED" || ordering_key == "NEST") {
    ordering = SkymapOrdering::nested;
  } else {
    fail(place, ordering_key.empty() ? "no ORDERING key and no UNIQ column"
                                     : "unknown ORDERING '" + ordering_key + "'");
  }

  auto column_or_fail = [&](const char* name) {
    auto column = find_column(file.get(), name);
    if (!column) fail(place, std::string("missing column ") + name);
    return *column;
  };

  std::vector<std::uint64_t> uniq;
  std::vector<double> density;
  const char* density_name = "PROBDENSITY";
  if (ordering == SkymapOrdering::nuniq) {
    auto raw_uniq = read_column<long long>(file.get(), column_or_fail("UNIQ"), TLONGLONG, table_bytes, place + ":column UNIQ");
    density = read_column<double>(file.get(), column_or_fail("PROBDENSITY"), TDOUBLE, table_bytes,
                                  place + ":column PROBDENSITY");
    if (raw_uniq.size() != density.size())
      fail(place, "columns UNIQ and PROBDENSITY differ in length");
    uniq.resize(raw_uniq.size());
    for (std::size_t row = 0; row < raw_uniq.size(); ++row) {
      if (raw_uniq[row] < 4)
        fail(place + ":row " + std::to_string(row + 1) + ":column UNIQ",
             "invalid UNIQ " + std::to_string(raw_uniq[row]));
      uniq[row] = static_cast<std::uint64_t>(raw_uniq[row]);
    }
  } else {
    auto prob_column = find_column(file.get(), "PROB");
    density_name = "PROB";
    if (!prob_column) {
      prob_column = find_column(file.get(), "PROBABILITY");  // Fermi GBM's name
      density_name = "PROBABILITY";
    }
    if (!prob_column) fail(place, "missing column PROB");
    density = read_column<double>(file.get(), *prob_column, TDOUBLE, table_bytes, place + ":column PROB");
    std::uint64_t npix = density.size();
    std::uint64_t nside = 0;
    if (auto key = keys.number("NSIDE")) nside = static_cast<std::uint64_t>(*key);
    else nside = static_cast<std::uint64_t>(std::llround(std::sqrt(npix / 12.0)));
    if (nside == 0 || 12 * nside * nside != npix)
      fail(place, std::to_string(npix) + " pixels do not make a full HEALPix map of NSIDE " +
                      std::to_string(nside));
    if (!std::has_single_bit(nside) || std::bit_width(nside) - 1 > max_healpix_order)
      unimplemented(place, "NSIDE " + std::to_string(nside) + " is not a power of two");
    int order = std::bit_width(nside) - 1;
    T_Healpix_Base<int64_t> base(order, RING);
    uniq.resize(npix);
    double area = pixel_area(order);
    for (std::uint64_t pixel = 0; pixel < npix; ++pixel) {
      std::uint64_t nest = ordering == SkymapOrdering::ring
                               ? static_cast<std::uint64_t>(base.ring2nest(static_cast<int64_t>(pixel)))
                               : pixel;
      uniq[pixel] = nest_to_uniq(order, nest);
      density[pixel] /= area;  // probability per pixel -> per steradian
    }
  }

  std::vector<DistanceAnsatz> distance;
  auto mu_column = find_column(file.get(), "DISTMU");
  if (mu_column) {
    auto mu = read_column<double>(file.get(), *mu_column, TDOUBLE, table_bytes, place + ":column DISTMU");
    auto sigma = read_column<double>(file.get(), column_or_fail("DISTSIGMA"), TDOUBLE, table_bytes,
                                     place + ":column DISTSIGMA");
    auto norm = read_column<double>(file.get(), column_or_fail("DISTNORM"), TDOUBLE, table_bytes,
                                    place + ":column DISTNORM");
    if (mu.size() != uniq.size() || sigma.size() != uniq.size() || norm.size() != uniq.size())
      fail(place, "distance columns differ in length from the probability column");
    distance.resize(uniq.size());
    for (std::size_t i = 0; i < uniq.size(); ++i) distance[i] = {mu[i], sigma[i], norm[i]};
  }
  // Validation names the column as it is in the file.
  try {
    return Skymap::from_columns(source, ordering, std::move(header), std::move(uniq),
                                std::move(density), std::move(distance));
  } catch (const Fault& fault) {
    if (ordering != SkymapOrdering::nuniq && fault.message().find("PROBDENSITY") != std::string::npos) {
      std::string message = fault.message();
      message.replace(message.find("PROBDENSITY"), 11, density_name);
      std::string where = fault.place();
      if (auto at = where.find("PROBDENSITY"); at != std::string::npos) where.replace(at, 11, density_name);
      fail(where, message);
    }
    throw;
  }
}

// ---------------------------------------------------------------------------------------------
// Distance moments of p(r) ∝ r² N(r; mu, sigma), r > 0. With r = sigma·u, u >= 0 and
// t0 = -mu/sigma: moments are sigma^m · J_m / J_2, J_m = ∫_0^∞ u^m exp(-u·t0 - u²/2) du.

double exponential_moment_integrand(double u, void* params) {
  auto* p = static_cast<std::pair<double, int>*>(params);
  return std::pow(u, p->second) * std::exp(-u * p->first - 0.5 * u * u);
}

std::array<double, 5> ansatz_integrals(double t0) {
  std::array<double, 5> j{};
  if (t0 <= 2) {
    // Forward recursion is stable while t0 is not large and positive.
    j[0] = std::sqrt(pi / 2) * std::exp(0.5 * t0 * t0) * std::erfc(t0 / std::sqrt(2.0));
    j[1] = 1 - t0 * j[0];
    for (int m = 2; m <= 4; ++m) j[m] = (m - 1) * j[m - 2] - t0 * j[m - 1];
    return j;
  }
  std::unique_ptr<gsl_integration_workspace, decltype(&gsl_integration_workspace_free)> workspace(
      gsl_integration_workspace_alloc(200), &gsl_integration_workspace_free);
  gsl_error_handler_t* previous = gsl_set_error_handler_off();
  for (int m = 0; m <= 4; ++m) {
    std::pair<double, int> params{t0, m};
    gsl_function f{&exponential_moment_integrand, &params};
    double error = 0;
    gsl_integration_qagiu(&f, 0.0, 0.0, 1e-12, 200, workspace.get(), &j[m], &error);
  }
  gsl_set_error_handler(previous);
  return j;
}

}  // namespace

// -----------------------------------------------------------------------------------------------

// HEALPix UNIQ scheme: uniq = ipix + 4^(order+1).
int uniq_order(std::uint64_t uniq) { return (std::bit_width(uniq) - 1) / 2 - 1; }
std::uint64_t uniq_ipix(std::uint64_t uniq, int order) { return uniq - (std::uint64_t{4} << (2 * order)); }
std::uint64_t nest_to_uniq(int order, std::uint64_t ipix) { return ipix + (std::uint64_t{4} << (2 * order)); }
double pixel_area(int order) { return std::ldexp(pi / 3, -2 * order); }

const char* to_string(SkymapOrdering ordering) {
  switch (ordering) {
    case SkymapOrdering::nuniq: return "NUNIQ";
    case SkymapOrdering::ring: return "RING";
    case SkymapOrdering::nested: return "NESTED";
  }
  return "NUNIQ";
}

double DistanceAnsatz::pdf(double r) const {
  // No support (mu = +inf, norm = 0) or r outside (0, ∞): density 0 rather than 0·∞ = NaN.
  if (!(norm > 0) || !std::isfinite(mu) || !(sigma > 0) || !(r > 0) || !std::isfinite(r)) return 0;
  double t = (r - mu) / sigma;
  return norm * r * r * std::exp(-0.5 * t * t) / (sigma * std::sqrt(2 * pi));
}

double DistanceAnsatz::pdf_redshift(double z, const FlatLambdaCDM& cosmology) const {
  if (!(z > 0)) return 0;
  return pdf(cosmology.luminosity_distance_mpc(z)) * cosmology.luminosity_distance_derivative_mpc(z);
}

double DistanceAnsatz::conditional_mean() const {
  if (!std::isfinite(mu) || !(sigma > 0)) return std::nan("");
  auto j = ansatz_integrals(-mu / sigma);
  return sigma * j[3] / j[2];
}

double DistanceAnsatz::conditional_std() const {
  if (!std::isfinite(mu) || !(sigma > 0)) return std::nan("");
  auto j = ansatz_integrals(-mu / sigma);
  double mean = j[3] / j[2];
  return sigma * std::sqrt(std::max(0.0, j[4] / j[2] - mean * mean));
}

Skymap Skymap::from_columns(std::string source, SkymapOrdering ordering, SkymapHeader header,
                            std::vector<std::uint64_t> uniq, std::vector<double> probdensity,
                            std::vector<DistanceAnsatz> distance) {
  std::size_t n = uniq.size();
  if (n == 0) fail(source, "the map has no pixels");
  if (probdensity.size() != n || (!distance.empty() && distance.size() != n))
    fail(source, "columns differ in length");
  if (n > std::numeric_limits<std::uint32_t>::max()) unimplemented(source, "more than 2^32 pixels");

  Skymap map;
  map.source_ = std::move(source);
  map.ordering_ = ordering;
  map.header_ = std::move(header);
  map.min_order_ = max_healpix_order;
  map.max_order_ = 0;
  // A row's place is text only for its fault (an LVK multi-order map has ~17,000 rows).
  auto place = [&](std::size_t row) { return map.source_ + ":row " + std::to_string(row + 1); };
  for (std::size_t row = 0; row < n; ++row) {
    double rho = probdensity[row];
    if (std::isnan(rho)) fail(place(row) + ":column PROBDENSITY", "probability is NaN");
    if (rho < 0) fail(place(row) + ":column PROBDENSITY", "probability is negative (" + std::to_string(rho) + ")");
    if (std::isinf(rho)) fail(place(row) + ":column PROBDENSITY", "probability is infinite");
    int order = uniq[row] < 4 ? -1 : uniq_order(uniq[row]);
    if (uniq[row] < 4 || order > max_healpix_order)
      fail(place(row) + ":column UNIQ", "invalid UNIQ " + std::to_string(uniq[row]));
    map.min_order_ = std::min(map.min_order_, order);
    map.max_order_ = std::max(map.max_order_, order);
  }

  // Rank like crossmatch.py: np.flipud(np.sort(sky_map, order='PROBDENSITY')); numpy breaks
  // density ties by the next field, UNIQ, so the flipped order is (density, UNIQ) descending.
  std::vector<std::uint32_t> rank_to_row(n);
  std::iota(rank_to_row.begin(), rank_to_row.end(), 0u);
  std::sort(rank_to_row.begin(), rank_to_row.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (probdensity[a] != probdensity[b]) return probdensity[a] > probdensity[b];
    return uniq[a] > uniq[b];
  });

  map.ranked_uniq_.resize(n);
  map.ranked_density_.resize(n);
  map.cumulative_prob_.resize(n);
  map.cumulative_area_.resize(n);
  if (!distance.empty()) map.ranked_distance_.resize(n);
  double prob = 0, area = 0;
  std::array<double, max_healpix_order + 1> areas;  // pixel_area by order, not an ldexp a row
  for (int order = 0; order <= max_healpix_order; ++order) areas[order] = pixel_area(order);
  for (std::size_t rank = 0; rank < n; ++rank) {
    std::uint32_t row = rank_to_row[rank];
    double pixel = areas[uniq_order(uniq[row])];
    map.ranked_uniq_[rank] = uniq[row];
    map.ranked_density_[rank] = probdensity[row];
    // Sequential sums as np.cumsum; the area is converted after summing, as crossmatch.py does.
    prob += probdensity[row] * pixel;
    area += pixel;
    map.cumulative_prob_[rank] = prob;
    map.cumulative_area_[rank] = area * square_degrees_per_steradian;
    if (!distance.empty()) map.ranked_distance_[rank] = distance[row];
  }
  // A map without probability anywhere localizes nothing (every position would be outside every
  // credible region): refused rather than matched against.
  if (!(prob > 0)) fail(map.source_ + ":column PROBDENSITY", "probability is zero everywhere");

  map.max_order_base_ = std::make_shared<const T_Healpix_Base<int64_t>>(map.max_order_, NEST);
  // Pixel ranges at the maximum order, sorted, for the O(log n) search.
  std::vector<std::uint32_t> by_start(n);
  std::vector<std::uint64_t> start(n);
  for (std::size_t rank = 0; rank < n; ++rank) {
    int order = uniq_order(map.ranked_uniq_[rank]);
    start[rank] = uniq_ipix(map.ranked_uniq_[rank], order) << (2 * (map.max_order_ - order));
  }
  std::iota(by_start.begin(), by_start.end(), 0u);
  std::sort(by_start.begin(), by_start.end(), [&](std::uint32_t a, std::uint32_t b) { return start[a] < start[b]; });
  map.range_start_.resize(n);
  map.range_end_.resize(n);
  map.range_rank_.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    std::uint32_t rank = by_start[k];
    int order = uniq_order(map.ranked_uniq_[rank]);
    map.range_start_[k] = start[rank];
    map.range_end_[k] = start[rank] + (std::uint64_t{1} << (2 * (map.max_order_ - order)));
    map.range_rank_[k] = rank;
    if (k > 0 && map.range_start_[k] < map.range_end_[k - 1])
      fail(map.source_, "pixels UNIQ " + std::to_string(map.ranked_uniq_[map.range_rank_[k - 1]]) +
                            " and " + std::to_string(map.ranked_uniq_[rank]) + " overlap");
  }
  return map;
}

Skymap Skymap::from_bytes(std::span<const std::uint8_t> bytes, const std::string& source) {
  return read_fits(bytes, source);
}

Skymap Skymap::from_file(const std::string& path) { return read_fits(read_file_bytes(path), path); }

Skymap Skymap::from_url(const std::string& url, const FetchOptions& options) {
  return read_fits(fetch_url(url, options), url);
}

std::uint64_t Skymap::pixel_at_max_order(double ra_deg, double dec_deg) const {
  if (!std::isfinite(ra_deg) || !(dec_deg >= -90 && dec_deg <= 90)) check_position(ra_deg, dec_deg, source_);
  return static_cast<std::uint64_t>(
      max_order_base_->ang2pix(pointing(theta_of_dec(dec_deg), ra_deg * (pi / 180.0))));
}

std::size_t Skymap::rank_at(double ra_deg, double dec_deg, bool& covered) const {
  std::uint64_t pixel = pixel_at_max_order(ra_deg, dec_deg);
  auto after = std::upper_bound(range_start_.begin(), range_start_.end(), pixel);
  if (after == range_start_.begin()) {
    covered = false;
    return 0;
  }
  std::size_t k = static_cast<std::size_t>(after - range_start_.begin()) - 1;
  covered = pixel < range_end_[k];
  return range_rank_[k];
}

SkymapLookup Skymap::lookup_rank(std::size_t rank, bool covered) const {
  SkymapLookup result;
  result.covered = covered;
  if (!covered) {
    // Outside a partial map: no density; enclosed only by the whole sky.
    result.probdensity = 0;
    result.searched_prob = integral();
    result.searched_area = 4 * pi * square_degrees_per_steradian;
    return result;
  }
  result.probdensity = ranked_density_[rank];
  result.searched_prob = cumulative_prob_[rank];
  result.searched_area = cumulative_area_[rank];
  if (!ranked_distance_.empty()) result.distance = ranked_distance_[rank];
  return result;
}

SkymapLookup Skymap::at(double ra_deg, double dec_deg) const {
  bool covered = false;
  std::size_t rank = rank_at(ra_deg, dec_deg, covered);
  return lookup_rank(rank, covered);
}

double Skymap::probdensity(double ra_deg, double dec_deg) const {
  bool covered = false;
  std::size_t rank = rank_at(ra_deg, dec_deg, covered);
  return covered ? ranked_density_[rank] : 0.0;
}

SkymapLookup Skymap::at_by_linear_scan(double ra_deg, double dec_deg) const {
  std::uint64_t pixel = pixel_at_max_order(ra_deg, dec_deg);
  for (std::size_t rank = 0; rank < ranked_uniq_.size(); ++rank) {
    int order = uniq_order(ranked_uniq_[rank]);
    if ((pixel >> (2 * (max_order_ - order))) == uniq_ipix(ranked_uniq_[rank], order))
      return lookup_rank(rank, true);
  }
  return lookup_rank(0, false);
}

double Skymap::credible_area(double level) const {
  // np.interp(level, cumulative_prob, cumulative_area, left=0, right=4·180²/π).
  const auto& xp = cumulative_prob_;
  const auto& fp = cumulative_area_;
  if (std::isnan(level)) return std::nan("");
  if (level < xp.front()) return 0;
  if (level > xp.back()) return 4 * 180.0 * 180.0 / pi;
  if (level == xp.back()) return fp.back();
  // j with xp[j] <= level < xp[j+1]
  std::size_t j = static_cast<std::size_t>(std::upper_bound(xp.begin(), xp.end(), level) - xp.begin()) - 1;
  double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  return slope * (level - xp[j]) + fp[j];
}

double Skymap::sky_coverage() const {
  double area = cumulative_area_.back() / square_degrees_per_steradian;
  return area / (4 * pi);
}

std::pair<double, double> Skymap::peak() const {
  if (ranked_uniq_.empty()) fail(source_, "the sky map has no pixels");
  const int order = uniq_order(ranked_uniq_.front());
  const pointing centre =
      T_Healpix_Base<std::int64_t>(order, NEST).pix2ang(static_cast<std::int64_t>(uniq_ipix(ranked_uniq_.front(), order)));
  double ra = centre.phi * 180.0 / pi;
  if (ra >= 360) ra -= 360;
  return {ra, 90.0 - centre.theta * 180.0 / pi};
}

std::optional<std::pair<double, double>> Skymap::ansatz_moments() const {
  if (ranked_distance_.empty()) return std::nullopt;
  // ligo.skymap distance.parameters_to_marginal_moments: finite pixels only, weights ρ·ΔA.
  double rbar = 0, r2bar = 0;
  for (std::size_t rank = 0; rank < ranked_uniq_.size(); ++rank) {
    const DistanceAnsatz& d = ranked_distance_[rank];
    if (!std::isfinite(d.mu) || !std::isfinite(d.sigma)) continue;
    double prob = ranked_density_[rank] * pixel_area(uniq_order(ranked_uniq_[rank]));
    double mean = d.conditional_mean(), std_dev = d.conditional_std();
    if (!std::isfinite(mean) || !std::isfinite(std_dev)) continue;
    rbar += prob * mean;
    r2bar += prob * (std_dev * std_dev + mean * mean);
  }
  return std::pair{rbar, std::sqrt(std::max(0.0, r2bar - rbar * rbar))};
}

std::optional<double> Skymap::distance_mean() const {
  if (header_.distmean) return header_.distmean;
  if (auto moments = ansatz_moments()) return moments->first;
  return std::nullopt;
}

std::optional<double> Skymap::distance_std() const {
  if (header_.diststd) return header_.diststd;
  if (auto moments = ansatz_moments()) return moments->second;
  return std::nullopt;
}

// -----------------------------------------------------------------------------------------------

double overlap_integral(const Skymap& first, const Skymap& second) {
  // Walk both maps' pixels as sorted ranges at the finer of the two maximum orders; each
  // intersection contributes ρ1·ρ2·(its area).
  int order = std::max(first.max_order(), second.max_order());
  struct Range {
    std::uint64_t start, end;
    double density;
  };
  auto ranges = [order](const Skymap& map) {
    std::vector<Range> out(map.rows());
    auto uniq = map.ranked_uniq();
    auto density = map.ranked_probdensity();
    for (std::size_t i = 0; i < out.size(); ++i) {
      int pixel_order = uniq_order(uniq[i]);
      int shift = 2 * (order - pixel_order);
      std::uint64_t start = uniq_ipix(uniq[i], pixel_order) << shift;
      out[i] = {start, start + (std::uint64_t{1} << shift), density[i]};
    }
    std::sort(out.begin(), out.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
    return out;
  };
  auto a = ranges(first), b = ranges(second);
  double sum = 0;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    std::uint64_t lo = std::max(a[i].start, b[j].start), hi = std::min(a[i].end, b[j].end);
    if (lo < hi) sum += a[i].density * b[j].density * static_cast<double>(hi - lo);
    if (a[i].end < b[j].end) ++i;
    else ++j;
  }
  sum *= pixel_area(order);
  return 4 * pi * sum / (first.integral() * second.integral());
}

double overlap_integral(const Skymap& map, double ra_deg, double dec_deg) {
  return 4 * pi * map.probdensity(ra_deg, dec_deg) / map.integral();
}

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "cannot read file");
  return bytes;
}

std::vector<std::uint8_t> fetch_url(const std::string& url, const FetchOptions& options) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    fail(url, "only http(s) URLs are fetched");
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) fail(url, "cannot start libcurl");
  std::vector<std::uint8_t> body;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, options.timeout_seconds);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, options.connect_timeout_seconds);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &append_to_vector);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  CURLcode code = curl_easy_perform(curl.get());
  if (code != CURLE_OK)
    disconnected(url, std::string("fetch failed: ") + (error[0] ? error : curl_easy_strerror(code)));
  long http_status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &http_status);
  // 5xx: the server may recover, so retry later; 4xx: the request itself is wrong.
  if (http_status >= 500) disconnected(url, "HTTP status " + std::to_string(http_status));
  if (http_status >= 400) fail(url, "HTTP status " + std::to_string(http_status));
  return body;
}

}  // namespace ebs::skymap
