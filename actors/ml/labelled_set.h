// Labelled feature tables for training and evaluation: a CSV with a header row, one row per
// alert, the feature columns, a label column and optionally an object id and a time column.
// Empty, "nan" and "NaN" cells are missing features. Labels are binary: by default 1/true/yes are
// positive and 0/false/no negative; `positive`/`negative` replace those (class names). Anything
// else is an error naming FILE:row N:column X (row 1 is the header).
//
// Splits never put one object on both sides: by object (a stable hash of the object id picks the
// side) or by time (objects whose first row is in the latest `test_fraction` of times are test).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ebs::ml {

struct LabelledSetOptions {
  std::string label_column = "label";
  std::string object_column = "object_id";  // optional unless splitting by object
  std::string time_column = "mjd";          // optional unless splitting by time
  // When non-empty, exactly these columns (in this order) are the features; otherwise every column
  // other than the label, object and time columns.
  std::vector<std::string> feature_names;
  std::vector<std::string> positive = {"1", "true", "yes"};
  std::vector<std::string> negative = {"0", "false", "no"};
};

struct LabelledSet {
  std::string source;                      // file name, for errors and provenance
  std::vector<std::string> feature_names;
  std::vector<float> features;             // row-major, rows x feature_names.size()
  std::vector<float> labels;               // 0 or 1
  std::vector<std::string> object_ids;     // empty strings when there is no object column
  std::vector<double> times;               // NaN when there is no time column
  std::vector<size_t> rows;                // the CSV row of each record (header = row 1)

  size_t size() const { return labels.size(); }
  // The records at `indices`, in that order.
  LabelledSet subset(const std::vector<size_t>& indices) const;
};

// One CSV line into cells: commas separate, double quotes quote ("" is a quote), spaces kept.
std::vector<std::string> split_csv_line(std::string_view line);

// Reads a CSV file (a Fault naming FILE:row N:column X on bad cells, missing columns, no rows).
LabelledSet read_labelled_csv(const std::string& path, const LabelledSetOptions& options = {});
// The same from text; `source` names it in errors.
LabelledSet parse_labelled_csv(const std::string& text, const std::string& source,
                               const LabelledSetOptions& options = {});

enum class SplitBy { none, object, time };
SplitBy parse_split(const std::string& text);  // "none", "object", "time"; a Fault otherwise

struct Split {
  std::vector<size_t> train;
  std::vector<size_t> test;
};
// Whether a split by object holds `object_id` back for testing (a stable hash of the id).
bool held_back_object(const std::string& object_id, double test_fraction);

// With SplitBy::none every record is test. A Fault when the needed column is absent.
Split split_set(const LabelledSet& set, SplitBy by, double test_fraction);

}  // namespace ebs::ml
