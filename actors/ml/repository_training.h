// Training sets from the alert repository (docs/repository.md): labels that astronomers give
// objects (a spectroscopic class from TNS, a human vetting) live in the repository database in
// the table `ml_labels`, which this unit creates; the features of each stored alert of a
// labelled object are recomputed from the stored light curve by the same FeatureExtractor the
// live `features` and `xgboost-score` actors run, so training and serving features are identical.
//
//   ml_labels(label_id INTEGER PRIMARY KEY AUTOINCREMENT, object_id, label, source, labelled_at)
//   unique on (object_id, source). A changed label gets a new label_id; label_id only grows, so
//   "labels newer than id W" counts the labels that arrived after a training that saw up to W.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "actors/ml/light_curve_features.h"

namespace ebs::ml {

struct LabelImport {
  uint64_t rows = 0, added = 0, changed = 0, unchanged = 0;
  uint64_t unknown_objects = 0;  // labels of objects the repository has no alert of (yet)
  int64_t watermark = 0;         // the largest label_id after the import
};

// Imports a CSV with a header row and columns object_id, label and optionally source (else
// `default_source`) into `repository_path`'s ml_labels. A Fault naming FILE:row N:column X for
// an empty object id or label, or the database when it is not an alert repository.
LabelImport import_labels(const std::string& repository_path, const std::string& csv_path,
                          const std::string& default_source);

// The largest label_id (0 without labels), and how many labels (of `source`, when non-empty)
// arrived after `watermark`.
int64_t label_watermark(const std::string& repository_path);
int64_t labels_since(const std::string& repository_path, int64_t watermark, const std::string& source = {});

struct ExportOptions {
  std::string feature_set = "lc-basic/1";  // or lightcurve/N (model_inputs.h): the rows a sequence network reads
  std::string label_source;  // only labels of this source; empty: each object's newest label
  // Light-curve points older than this many days before an alert are left out (ZTF alerts carry
  // 30 days of history); 0 = the whole stored light curve up to the alert.
  double history_days = 0;
  bool latest_only = false;  // one row per object, its latest alert, instead of every alert
  // Every stored object, labelled or not (label empty when it has none): for unsupervised models
  // (isolation forests) and for `model suggest`.
  bool unlabelled_too = false;
};

struct ExportedSet {
  std::string csv;  // object_id,alert_id,mjd,label,<feature names>; missing features empty
  uint64_t rows = 0, objects = 0;
  uint64_t unscorable = 0;  // stored alerts the scorer would dead-letter, left out
  int64_t label_watermark = 0;
};

// The labelled feature table of every stored alert of a labelled object, oldest first per
// object. An alert's light curve is its object's stored points up to and including its time.
ExportedSet export_labelled_features(const std::string& repository_path, const ExportOptions& options);

}  // namespace ebs::ml
