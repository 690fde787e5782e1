// Test support: synthetic labelled alerts stored in an alert repository with the repository's
// Writer, as the `repository` sink stores them. Alert ids are shifted by one (the synthetic
// ids start at 0, which the repository refuses as "no alert id").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "actors/ml/synthetic_light_curves.h"
#include "actors/common/repository/writer.h"

namespace ebs::ml::testing {

inline std::vector<LabelledAlert> store_synthetic_alerts(const std::string& db, const SyntheticOptions& options) {
  std::vector<LabelledAlert> alerts = make_synthetic_alerts(options);
  repository::Writer writer(db);
  writer.begin();
  for (LabelledAlert& a : alerts) {
    auto core = std::make_shared<AlertCore>(*a.alert);
    core->alert_id += 1;
    a.alert = core;
    writer.add(Alert(a.alert));
  }
  writer.commit(alerts.size(), alerts.size());
  return alerts;
}

}  // namespace ebs::ml::testing
