#include "actors/ml/repository_training.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "actors/ml/labelled_set.h"
#include "actors/ml/ml_actors.h"
#include "actors/ml/model_inputs.h"
#include "actors/common/repository/file_store.h"
#include "actors/common/repository/raw_json.h"
#include "actors/common/repository/schema.h"
#include "actors/common/sqlite/sqlite_db.h"
#include "engine/util/fault.h"

namespace ebs::ml {

namespace {

using repository::Database;

constexpr const char* kLabelTable =
    "CREATE TABLE IF NOT EXISTS ml_labels("
    " label_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " object_id TEXT NOT NULL,"
    " label TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " labelled_at TEXT NOT NULL,"
    " UNIQUE(object_id, source))";

// An existing repository at the layout this build reads; a Fault naming the file otherwise.
Database open_repository(const std::string& path, Database::Mode mode) {
  if (!std::filesystem::exists(path)) fail(path, "no such repository database");
  Database db(path, mode, 10000);
  repository::register_raw_json(db.get());
  int version = repository::schema_version(db);
  if (!repository::readable_schema_version(version))
    fail(path, "not an alert repository at schema version " + std::to_string(repository::kOldestReadableSchemaVersion) +
                   " to " + std::to_string(repository::kSchemaVersion) + " (found " + std::to_string(version) +
                   "); store alerts with the `repository` sink first");
  return db;
}

bool has_label_table(const Database& db) {
  return db.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'ml_labels'") > 0;
}

std::string now_utc() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

Photometry::Kind kind_of(std::string_view text) {
  if (text == "upper_limit") return Photometry::Kind::upper_limit;
  if (text == "forced") return Photometry::Kind::forced;
  return Photometry::Kind::detection;
}

}  // namespace

LabelImport import_labels(const std::string& repository_path, const std::string& csv_path,
                          const std::string& default_source) {
  std::ifstream in(csv_path, std::ios::binary);
  if (!in) fail(csv_path, "cannot open the labels file");
  Database db = open_repository(repository_path, Database::Mode::read_write);
  db.execute(kLabelTable);

  std::string line;
  size_t row = 0;
  std::vector<std::string> header;
  while (header.empty() && std::getline(in, line)) {
    ++row;
    if (trimmed(line).empty()) continue;
    for (const std::string& c : split_csv_line(line)) header.push_back(trimmed(c));
  }
  auto column = [&](const std::string& name) -> long {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return static_cast<long>(i);
    return -1;
  };
  long object_col = column("object_id"), label_col = column("label"), source_col = column("source");
  if (object_col < 0 || label_col < 0)
    fail(csv_path + ":row " + std::to_string(row), "the header needs columns object_id and label (and optionally source)");

  LabelImport result;
  repository::Transaction transaction(db);
  repository::Statement find = db.prepare("SELECT label FROM ml_labels WHERE object_id = ?1 AND source = ?2");
  repository::Statement remove = db.prepare("DELETE FROM ml_labels WHERE object_id = ?1 AND source = ?2");
  repository::Statement insert =
      db.prepare("INSERT INTO ml_labels(object_id, label, source, labelled_at) VALUES (?1, ?2, ?3, ?4)");
  repository::Statement known = db.prepare("SELECT 1 FROM objects WHERE object_id = ?1");
  const std::string now = now_utc();
  while (std::getline(in, line)) {
    ++row;
    if (trimmed(line).empty()) continue;
    std::vector<std::string> cells = split_csv_line(line);
    auto place = [&](const std::string& c) { return csv_path + ":row " + std::to_string(row) + ":column " + c; };
    if (cells.size() != header.size())
      fail(csv_path + ":row " + std::to_string(row),
           std::to_string(cells.size()) + " cells, the header has " + std::to_string(header.size()));
    std::string object = trimmed(cells[static_cast<size_t>(object_col)]);
    std::string label = trimmed(cells[static_cast<size_t>(label_col)]);
    std::string source = source_col >= 0 ? trimmed(cells[static_cast<size_t>(source_col)]) : default_source;
    if (object.empty()) fail(place("object_id"), "empty object id");
    if (label.empty()) fail(place("label"), "empty label");
    if (source.empty()) source = default_source;
    ++result.rows;
    find.bind(1, object).bind(2, source);
    std::optional<std::string> previous;
    if (find.step()) previous = std::string(find.text(0));
    find.reset();
    if (previous == label) {
      ++result.unchanged;
      continue;
    }
    if (previous) {
      remove.bind(1, object).bind(2, source);
      remove.run();
      ++result.changed;
    } else {
      ++result.added;
    }
    insert.bind(1, object).bind(2, label).bind(3, source).bind(4, now);
    insert.run();
    known.bind(1, object);
    if (!known.step()) ++result.unknown_objects;
    known.reset();
  }
  transaction.commit();
  result.watermark = db.scalar("SELECT COALESCE(MAX(label_id), 0) FROM ml_labels");
  return result;
}

int64_t label_watermark(const std::string& repository_path) {
  Database db = open_repository(repository_path, Database::Mode::read_only);
  if (!has_label_table(db)) return 0;
  return db.scalar("SELECT COALESCE(MAX(label_id), 0) FROM ml_labels");
}

int64_t labels_since(const std::string& repository_path, int64_t watermark, const std::string& source) {
  Database db = open_repository(repository_path, Database::Mode::read_only);
  if (!has_label_table(db)) return 0;
  repository::Statement s = db.prepare("SELECT COUNT(*) FROM ml_labels WHERE label_id > ?1 AND (?2 = '' OR source = ?2)");
  s.bind(1, watermark).bind(2, source);
  s.step();
  return s.integer(0);
}

ExportedSet export_labelled_features(const std::string& repository_path, const ExportOptions& options) {
  // A feature set, lightcurve/N for sequence networks, or cutouts/N for stamp networks: the stamps
  // are those the repository's file store keeps (a repository sink with `cutouts_dir`).
  const FeatureSet* set = find_feature_set(options.feature_set);
  std::unique_ptr<InputEncoder> encoder = make_input_encoder(options.feature_set, "--feature-set");
  Database db = open_repository(repository_path, Database::Mode::read_only);
  const bool stamps = options.feature_set.starts_with("cutouts/");
  if (stamps && db.scalar("SELECT COUNT(*) FROM cutouts") == 0)
    fail(repository_path, "the repository keeps no cutouts (a repository sink stores them with cutouts_dir): " +
                              options.feature_set + " cannot be computed from it");
  const bool labels = has_label_table(db);
  if (!labels && !options.unlabelled_too)
    fail(repository_path, "no labels in this repository: import some with `ebs-flow model label DB --file labels.csv`");

  ExportedSet out;
  out.label_watermark = labels ? db.scalar("SELECT COALESCE(MAX(label_id), 0) FROM ml_labels") : 0;
  // Each object's newest label (of the chosen source).
  std::map<std::string, std::string> label_of;
  if (options.unlabelled_too) {
    repository::Statement s = db.prepare("SELECT DISTINCT object_id FROM alerts");
    while (s.step()) label_of[std::string(s.text(0))];
  }
  if (labels) {
    repository::Statement s = db.prepare(
        "SELECT object_id, label FROM ml_labels l WHERE label_id = (SELECT MAX(label_id) FROM ml_labels m"
        " WHERE m.object_id = l.object_id AND (?1 = '' OR m.source = ?1)) ORDER BY object_id");
    s.bind(1, options.label_source);
    while (s.step()) label_of[std::string(s.text(0))] = std::string(s.text(1));
  }

  std::ostringstream csv;
  csv.precision(9);
  csv << "object_id,alert_id,mjd,label";
  for (size_t k = 0; k < encoder->layout().width; ++k) csv << "," << (set ? set->names[k] : "v" + std::to_string(k));
  csv << "\n";

  repository::Statement points = db.prepare(
      "SELECT mjd_tai, band, kind, mag, mag_err, flux, flux_err, limit_mag, is_diff_pos FROM lightcurve"
      " WHERE object_id = ?1 ORDER BY mjd_tai");
  repository::Statement alerts = db.prepare(
      "SELECT alert_id, survey, ra, dec, mjd_tai, band, mag, mag_err, flux, flux_err, is_diff_pos, real_bogus"
      " FROM alerts WHERE object_id = ?1 ORDER BY mjd_tai, alert_id");
  repository::Statement cutouts = db.prepare("SELECT kind, format, path FROM cutouts WHERE alert_id = ?1");
  std::vector<std::string> stamp_bytes;
  // The alert's stored stamps read into `stamp_bytes` and viewed from `a.cutouts`; false when
  // one of the three is not stored (or its file is gone): the alert cannot be scored.
  auto read_stamps = [&](AlertCore& a) {
    stamp_bytes.clear();
    stamp_bytes.reserve(3);
    cutouts.bind(1, a.alert_id);
    while (cutouts.step()) {
      const std::string kind(cutouts.text(0));
      Cutout c;
      if (kind == to_string(Cutout::Kind::science)) c.kind = Cutout::Kind::science;
      else if (kind == to_string(Cutout::Kind::template_)) c.kind = Cutout::Kind::template_;
      else if (kind == to_string(Cutout::Kind::difference)) c.kind = Cutout::Kind::difference;
      else continue;
      c.format = std::string(cutouts.text(1));
      std::ifstream file(repository::stored_file_path(repository_path, cutouts.text(2)), std::ios::binary);
      if (!file || stamp_bytes.size() == 3) break;
      stamp_bytes.emplace_back(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
      c.bytes = stamp_bytes.back();
      a.cutouts.push_back(std::move(c));
    }
    cutouts.reset();
    return a.cutouts.size() == 3;
  };
  std::vector<float> values(encoder->layout().width);
  std::vector<Photometry> curve;
  for (const auto& [object, label] : label_of) {
    curve.clear();
    points.bind(1, object);
    while (points.step()) {
      Photometry p;
      p.mjd_tai = points.number(0);
      p.band = std::string(points.text(1));
      p.kind = kind_of(points.text(2));
      p.mag = points.number(3);
      p.mag_err = points.number(4);
      p.flux = points.number(5);
      p.flux_err = points.number(6);
      p.limit_mag = points.number(7);
      p.is_diff_pos = points.is_null(8) || points.integer(8) != 0;
      curve.push_back(std::move(p));
    }
    points.reset();
    std::vector<AlertCore> stored;
    alerts.bind(1, object);
    while (alerts.step()) {
      AlertCore a;
      a.alert_id = alerts.integer(0);
      a.object_id = object;
      a.survey = std::string(alerts.text(1));
      a.ra = alerts.number(2);
      a.dec = alerts.number(3);
      a.mjd_tai = alerts.number(4);
      a.band = std::string(alerts.text(5));
      a.mag = alerts.number(6);
      a.mag_err = alerts.number(7);
      a.flux = alerts.number(8);
      a.flux_err = alerts.number(9);
      a.is_diff_pos = alerts.is_null(10) || alerts.integer(10) != 0;
      a.real_bogus = alerts.number(11);
      stored.push_back(std::move(a));
    }
    alerts.reset();
    if (options.latest_only && stored.size() > 1) stored.erase(stored.begin(), stored.end() - 1);
    bool any = false;
    for (AlertCore& a : stored) {
      if (!unscorable_reason(a).empty() || (stamps && !read_stamps(a))) {
        ++out.unscorable;
        continue;
      }
      // The light curve as the alert saw it: the stored points up to its own time (its own
      // detection is among them; the extractor counts it once).
      double earliest = options.history_days > 0 ? a.mjd_tai - options.history_days : -INFINITY;
      for (const Photometry& p : curve)
        if (p.mjd_tai <= a.mjd_tai && p.mjd_tai >= earliest) a.history.push_back(p);
      count_history_detections(a);
      try {
        encoder->encode(a, values.data());
      } catch (const Fault&) {  // a stored stamp that is not FITS, as the scorer would dead-letter it
        ++out.unscorable;
        continue;
      }
      csv << csv_cell(object) << "," << a.alert_id << "," << std::setprecision(15) << a.mjd_tai << std::setprecision(9)
          << "," << csv_cell(label);
      for (float v : values) {
        csv << ",";
        if (!std::isnan(v)) csv << v;
      }
      csv << "\n";
      ++out.rows;
      any = true;
    }
    out.objects += any;
  }
  out.csv = csv.str();
  return out;
}

}  // namespace ebs::ml
