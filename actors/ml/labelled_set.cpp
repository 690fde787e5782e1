#include "actors/ml/labelled_set.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/util/fault.h"
#include "engine/util/hash.h"

namespace ebs::ml {

std::vector<std::string> split_csv_line(std::string_view line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cells.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

bool held_back_object(const std::string& object_id, double test_fraction) {
  // A stable hash: the same object lands on the same side in every run and on every machine.
  return static_cast<double>(fnv1a64(object_id) % 1000000) < test_fraction * 1e6;
}

namespace {

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool parse_number(const std::string& cell, double& out) {
  if (cell.empty() || lower(cell) == "nan") {
    out = NAN;
    return true;
  }
  const char* end = cell.data() + cell.size();
  auto [p, ec] = std::from_chars(cell.data(), end, out);
  return ec == std::errc() && p == end;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

LabelledSet LabelledSet::subset(const std::vector<size_t>& indices) const {
  LabelledSet s;
  s.source = source;
  s.feature_names = feature_names;
  size_t width = feature_names.size();
  s.features.reserve(indices.size() * width);
  for (size_t i : indices) {
    s.features.insert(s.features.end(), features.begin() + static_cast<ptrdiff_t>(i * width),
                      features.begin() + static_cast<ptrdiff_t>((i + 1) * width));
    s.labels.push_back(labels[i]);
    s.object_ids.push_back(object_ids[i]);
    s.times.push_back(times[i]);
    s.rows.push_back(rows[i]);
  }
  return s;
}

LabelledSet read_labelled_csv(const std::string& path, const LabelledSetOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the labelled set");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_labelled_csv(text.str(), path, options);
}

LabelledSet parse_labelled_csv(const std::string& text, const std::string& source, const LabelledSetOptions& options) {
  std::istringstream lines(text);
  std::string line;
  size_t row = 0;
  auto place = [&](size_t r, const std::string& column = {}) {
    return source + ":row " + std::to_string(r) + (column.empty() ? "" : ":column " + column);
  };
  std::vector<std::string> header;
  while (header.empty() && std::getline(lines, line)) {
    ++row;
    if (trim(line).empty()) continue;
    for (std::string& c : split_csv_line(line)) header.push_back(trim(c));
  }
  if (header.empty()) fail(source, "empty file: no header row");

  std::map<std::string, size_t> column_of;
  for (size_t i = 0; i < header.size(); ++i)
    if (!column_of.emplace(header[i], i).second) fail(place(row, header[i]), "duplicate column");
  auto find = [&](const std::string& name) -> long {
    auto it = column_of.find(name);
    return it == column_of.end() ? -1 : static_cast<long>(it->second);
  };
  long label_col = find(options.label_column);
  if (label_col < 0) fail(place(row), "no label column '" + options.label_column + "'");
  long object_col = find(options.object_column);
  long time_col = find(options.time_column);

  LabelledSet set;
  set.source = source;
  std::vector<size_t> feature_cols;
  if (!options.feature_names.empty()) {
    for (const std::string& name : options.feature_names) {
      long c = find(name);
      if (c < 0) fail(place(row), "no feature column '" + name + "'");
      feature_cols.push_back(static_cast<size_t>(c));
    }
    set.feature_names = options.feature_names;
  } else {
    for (size_t i = 0; i < header.size(); ++i) {
      auto c = static_cast<long>(i);
      if (c == label_col || c == object_col || c == time_col) continue;
      feature_cols.push_back(i);
      set.feature_names.push_back(header[i]);
    }
    if (feature_cols.empty()) fail(place(row), "no feature columns besides the label, object and time columns");
  }

  while (std::getline(lines, line)) {
    ++row;
    if (trim(line).empty()) continue;
    std::vector<std::string> cells = split_csv_line(line);
    if (cells.size() != header.size())
      fail(place(row), std::to_string(cells.size()) + " cells, the header has " + std::to_string(header.size()));
    for (std::string& c : cells) c = trim(std::move(c));
    const std::string& label = cells[static_cast<size_t>(label_col)];
    std::string l = lower(label);
    auto in_list = [&](const std::vector<std::string>& list) {
      return std::any_of(list.begin(), list.end(), [&](const std::string& s) { return lower(s) == l; });
    };
    if (in_list(options.positive))
      set.labels.push_back(1);
    else if (in_list(options.negative))
      set.labels.push_back(0);
    else
      fail(place(row, options.label_column), "label '" + label + "' is not a known class (positive: " +
                                                 join(options.positive) + "; negative: " + join(options.negative) + ")");
    for (size_t k = 0; k < feature_cols.size(); ++k) {
      double v;
      if (!parse_number(cells[feature_cols[k]], v))
        fail(place(row, header[feature_cols[k]]), "'" + cells[feature_cols[k]] + "' is not a number");
      auto value = static_cast<float>(v);
      if (std::isinf(value))  // XGBoost takes NaN as missing but refuses infinities
        fail(place(row, header[feature_cols[k]]), "'" + cells[feature_cols[k]] + "' is not finite as a float");
      set.features.push_back(value);
    }
    set.object_ids.push_back(object_col >= 0 ? cells[static_cast<size_t>(object_col)] : std::string());
    double t = NAN;
    if (time_col >= 0 && !parse_number(cells[static_cast<size_t>(time_col)], t))
      fail(place(row, options.time_column), "'" + cells[static_cast<size_t>(time_col)] + "' is not a time");
    set.times.push_back(t);
    set.rows.push_back(row);
  }
  if (set.labels.empty()) fail(source, "no data rows");
  return set;
}

SplitBy parse_split(const std::string& text) {
  if (text == "none") return SplitBy::none;
  if (text == "object") return SplitBy::object;
  if (text == "time") return SplitBy::time;
  fail("split", "'" + text + "' is not a split (none, object, time)");
}

Split split_set(const LabelledSet& set, SplitBy by, double test_fraction) {
  Split split;
  if (by == SplitBy::none) {
    for (size_t i = 0; i < set.size(); ++i) split.test.push_back(i);
    return split;
  }
  if (!(test_fraction > 0 && test_fraction < 1)) fail(set.source, "the test fraction must be in (0, 1)");
  for (size_t i = 0; i < set.size(); ++i)
    if (set.object_ids[i].empty())
      fail(set.source + ":row " + std::to_string(set.rows[i]), "an object id is needed to split without leaks");
  std::map<std::string, bool> object_is_test;
  if (by == SplitBy::object) {
    for (const std::string& id : set.object_ids) object_is_test.emplace(id, held_back_object(id, test_fraction));
  } else {
    std::map<std::string, double> first_time;
    for (size_t i = 0; i < set.size(); ++i) {
      if (!std::isfinite(set.times[i]))
        fail(set.source + ":row " + std::to_string(set.rows[i]), "a finite time is needed to split by time");
      auto [it, added] = first_time.emplace(set.object_ids[i], set.times[i]);
      if (!added) it->second = std::min(it->second, set.times[i]);
    }
    std::vector<double> times;
    for (const auto& [id, t] : first_time) times.push_back(t);
    std::sort(times.begin(), times.end());
    auto train_objects = static_cast<size_t>(std::floor(static_cast<double>(times.size()) * (1 - test_fraction)));
    double cut = train_objects < times.size() ? times[train_objects] : INFINITY;
    for (const auto& [id, t] : first_time) object_is_test[id] = t >= cut;
  }
  for (size_t i = 0; i < set.size(); ++i) (object_is_test[set.object_ids[i]] ? split.test : split.train).push_back(i);
  return split;
}

}  // namespace ebs::ml
