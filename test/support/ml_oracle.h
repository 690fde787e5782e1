// Test helper: runs an independent oracle script with Debian's /usr/bin/python3 (numpy, xgboost,
// avro installed by tools/install-deps.sh) and returns its stdout. A missing oracle fails the
// test rather than skipping it.
#pragma once

#include "test/support/python_oracle.h"
#include "test/support/temp_dir.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ebs::ml::testing {

using ebs::test::run_python_oracle;

// Trains a binary model with Python's xgboost on a CSV whose first column is the label and the
// others named features ('nan' = missing); writes PREFIX.json, PREFIX.ubj (same model, with the
// booster attribute version=7) and PREFIX.pred (Python's predictions for every row, %.9g).
inline void python_train(const std::string& csv, const std::string& prefix, int rounds = 30, int depth = 4) {
  run_python_oracle(
      "import numpy as np, xgboost as xgb\n"
      "path = '" + csv + "'\n"
      "names = open(path).readline().strip().split(',')[1:]\n"
      "data = np.loadtxt(path, delimiter=',', skiprows=1, ndmin=2)\n"
      "X, y = data[:, 1:], data[:, 0]\n"
      "d = xgb.DMatrix(X, label=y, feature_names=names, missing=np.nan)\n"
      "b = xgb.train({'objective': 'binary:logistic', 'max_depth': " + std::to_string(depth) +
      ", 'eta': 0.3, 'nthread': 1, 'seed': 0}, d, " + std::to_string(rounds) + ")\n"
      "b.set_attr(version='7')\n"
      "b.save_model('" + prefix + ".json')\n"
      "b.save_model('" + prefix + ".ubj')\n"
      "p = b.predict(xgb.DMatrix(X, feature_names=names, missing=np.nan))\n"
      "np.savetxt('" + prefix + ".pred', p, fmt='%.9g')\n");
}

inline std::vector<double> read_numbers(const std::string& path) {
  std::ifstream in(path);
  std::vector<double> out;
  for (double v; in >> v;) out.push_back(v);
  return out;
}

using ebs::test_support::TempDir;

}  // namespace ebs::ml::testing
