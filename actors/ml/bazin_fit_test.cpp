#include "actors/ml/bazin_fit.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include "test/support/ml_oracle.h"
#include "test/support/test_data.h"

using namespace ebs::ml;

TEST_CASE("Bazin fit recovers the parameters of a noise-free curve") {
  BazinParameters truth{5000, 60010, 3.5, 25, 120};
  std::vector<double> t, f, e;
  for (int i = 0; i < 40; ++i) {
    t.push_back(59990 + 2.0 * i);
    f.push_back(bazin_flux(truth, t.back()));
    e.push_back(50);
  }
  BazinFitter fitter;
  auto fit = fitter.fit(t, f, e);
  REQUIRE(fit);
  CHECK(fit->parameters.amplitude == doctest::Approx(truth.amplitude).epsilon(1e-5));
  CHECK(fit->parameters.t0 == doctest::Approx(truth.t0).epsilon(1e-9));
  CHECK(fit->parameters.rise == doctest::Approx(truth.rise).epsilon(1e-5));
  CHECK(fit->parameters.fall == doctest::Approx(truth.fall).epsilon(1e-5));
  CHECK(fit->parameters.baseline == doctest::Approx(truth.baseline).epsilon(1e-4));
  CHECK(fit->chi2 < 1e-8);
  CHECK(fit->points == 40);
}

TEST_CASE("Bazin fit of a noisy curve with negative difference fluxes stays within the errors") {
  BazinParameters truth{3000, 60020, 2, 30, -40};
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0, 1);
  std::vector<double> t, f, e;
  for (int i = 0; i < 60; ++i) {
    t.push_back(59995 + 1.3 * i);
    e.push_back(60);
    f.push_back(bazin_flux(truth, t.back()) + e.back() * noise(rng));
  }
  CHECK(*std::min_element(f.begin(), f.end()) < 0);
  BazinFitter fitter;
  auto fit = fitter.fit(t, f, e);
  REQUIRE(fit);
  CHECK(fit->parameters.t0 == doctest::Approx(truth.t0).epsilon(1.0 / 60020));
  CHECK(fit->parameters.rise == doctest::Approx(truth.rise).epsilon(0.25));
  CHECK(fit->parameters.fall == doctest::Approx(truth.fall).epsilon(0.1));
  CHECK(fit->chi2_dof == doctest::Approx(1).epsilon(0.4));
}

TEST_CASE("Bazin fit refuses too few points, no positive flux and bad errors") {
  BazinFitter fitter;
  std::vector<double> t{1, 2, 3, 4, 5}, f{1, 5, 9, 4, 2}, e{1, 1, 1, 1, 1};
  CHECK_FALSE(fitter.fit(t, f, e));  // 5 points for 5 parameters
  t.push_back(6);
  f.push_back(1);
  e.push_back(0);  // a zero error is skipped: still 5
  CHECK_FALSE(fitter.fit(t, f, e));
  e.back() = 1;
  CHECK(fitter.fit(t, f, e));
  std::vector<double> negative{-1, -5, -9, -4, -2, -1};
  CHECK_FALSE(fitter.fit(t, negative, e));
}

TEST_CASE("Bazin fit of ATLAS forced photometry of AT2020wol matches a numpy Levenberg-Marquardt oracle") {
  const std::string path = (ebs::test::data_dir() / "atlas/forced-phot-AT2020wol-server.txt").string();
  std::ifstream in(path);
  REQUIRE(in);
  std::string line;
  std::vector<double> t, f, e;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    double mjd, m, dm, ujy, dujy;
    std::string band;
    s >> mjd >> m >> dm >> ujy >> dujy >> band;
    if (band != "o" || !(dujy > 0)) continue;
    t.push_back(mjd);
    f.push_back(ujy);
    e.push_back(dujy);
  }
  REQUIRE(t.size() > 50);
  // Both start from the same point and minimise the same weighted least squares.
  size_t peak = static_cast<size_t>(std::max_element(f.begin(), f.end()) - f.begin());
  BazinParameters start{1.7 * f[peak], t[peak] - 5, 3, 20, 0};
  BazinFitter fitter;
  auto fit = fitter.fit(t, f, e, start);
  REQUIRE(fit);

  std::ostringstream script;
  script.precision(17);
  script << "import numpy as np\n"
            "rows = []\n"
            "for line in open('" << path << "'):\n"
            "    if line.startswith('#') or not line.strip(): continue\n"
            "    c = line.split()\n"
            "    if c[5] == 'o' and float(c[4]) > 0: rows.append((float(c[0]), float(c[3]), float(c[4])))\n"
            "t, y, e = (np.array(c) for c in zip(*rows))\n"
            "t0ref = t.min(); t = t - t0ref\n"
            "def model(p):\n"
            "    x = t - p[1]\n"
            "    return p[0] * np.exp(-x / np.exp(p[3])) / (1 + np.exp(-x / np.exp(p[2]))) + p[4]\n"
            "def res(p): return (model(p) - y) / e\n"
            "p = np.array([" << start.amplitude << ", " << start.t0 << " - t0ref, np.log(" << start.rise
         << "), np.log(" << start.fall << "), " << start.baseline << "])\n"
            "lam = 1e-3\n"
            "r = res(p); chi2 = r @ r\n"
            "for it in range(2000):\n"
            "    J = np.empty((len(t), 5))\n"
            "    for k in range(5):\n"
            "        h = 1e-6 * max(1.0, abs(p[k])); d = np.zeros(5); d[k] = h\n"
            "        J[:, k] = (res(p + d) - res(p - d)) / (2 * h)\n"
            "    A = J.T @ J; g = J.T @ r\n"
            "    step = np.linalg.solve(A + lam * np.diag(np.diag(A)), -g)\n"
            "    rn = res(p + step); cn = rn @ rn\n"
            "    if cn < chi2:\n"
            "        done = chi2 - cn < 1e-12 * chi2\n"
            "        p, r, chi2, lam = p + step, rn, cn, lam / 3\n"
            "        if done: break\n"
            "    else:\n"
            "        lam *= 4\n"
            "print(chi2, p[0], p[1] + t0ref, np.exp(p[2]), np.exp(p[3]), p[4])\n";
  std::istringstream oracle(testing::run_python_oracle(script.str()));
  double chi2, a, t0, rise, fall, b;
  oracle >> chi2 >> a >> t0 >> rise >> fall >> b;
  INFO("oracle chi2 " << chi2 << " ours " << fit->chi2);
  CHECK(fit->chi2 == doctest::Approx(chi2).epsilon(1e-6));
  CHECK(fit->parameters.amplitude == doctest::Approx(a).epsilon(1e-3));
  CHECK(fit->parameters.t0 == doctest::Approx(t0).epsilon(1e-7));
  CHECK(fit->parameters.rise == doctest::Approx(rise).epsilon(1e-3));
  CHECK(fit->parameters.fall == doctest::Approx(fall).epsilon(1e-3));
  CHECK(fit->parameters.baseline == doctest::Approx(b).epsilon(1e-3));
}
