// The fields an expression can read from an alert: the core fields (ra, dec, mag, band, ...),
// `class` and `score.NAME` from its annotations, and any raw survey field by path
// (candidate.drb, diaSource.psfFlux). One definition for the `filter` actor and the CLI tools.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/expr/value.h"
#include "engine/model/record.h"

namespace ebs {

// Reads one field of an alert as an expression value (null when absent). Safe to call from
// several threads at once.
using AlertField = std::function<expr::Value(const Alert&)>;
AlertField compile_alert_field(const std::string& path);

// Several fields of many alerts read column by column (the `filters` actor's reads): the values
// compile_alert_field gives, but raw paths share their walk (candidate.drb and candidate.fwhm find
// `candidate` once per alert) and look up a record shape's field positions once per call instead
// of checking a field name per alert. One per thread: it keeps those positions between records.
class AlertColumns {
 public:
  explicit AlertColumns(const std::vector<std::string>& paths);
  ~AlertColumns();
  AlertColumns(AlertColumns&&) noexcept;
  AlertColumns& operator=(AlertColumns&&) noexcept;

  // columns[f][i]: paths[f] of alerts[i] (columns are resized). Text values view the alerts.
  void read(std::span<const Alert* const> alerts, std::vector<std::vector<expr::Value>>& columns);

 private:
  struct Plan;
  std::unique_ptr<Plan> plan_;
};

// The core fields every alert has (ra, dec, mag, ..., class), by name.
std::vector<std::string> core_alert_field_names();
bool is_core_alert_field(const std::string& path);

// Core fields and scores are always there (or null by design); a raw path can be missing from a
// record (a typo, another survey's schema).
bool is_raw_alert_field(const std::string& path);

// The raw path a field names ("raw.candidate.drb" and "candidate.drb" both name candidate.drb).
std::string raw_alert_path(const std::string& path);

}  // namespace ebs
