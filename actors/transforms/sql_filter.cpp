// `sql-filter` (sql_filter.h).
#include "actors/transforms/sql_filter.h"

#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include "actors/common/repository/reader.h"
#include "actors/common/repository/schema.h"
#include "engine/model/record_json.h"
#include "engine/runtime/actor_logic.h"
#include "engine/util/edit_distance.h"

namespace ebs {

namespace {

using repository::Database;
using repository::Statement;

// The alert fields a query may bind, by name.
const std::set<std::string> kParameters = {":alert_id", ":object_id", ":survey",     ":ra", ":dec",
                                           ":mjd_tai",  ":band",      ":mag",        ":mag_err",
                                           ":real_bogus"};

// What is wrong with a query, and where in its text (for FILE:LINE:COL).
struct QueryProblem {
  std::string message;
  size_t offset = 0;
};

// The first whole-word occurrence of `word` in `sql` (0 when absent: the query's start).
size_t word_offset(const std::string& sql, const std::string& word) {
  auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t at = sql.find(word); at != std::string::npos; at = sql.find(word, at + 1)) {
    bool starts = at == 0 || !is_word(sql[at - 1]) || word.front() == ':';
    bool ends = at + word.size() == sql.size() || !is_word(sql[at + word.size()]);
    if (starts && ends) return at;
  }
  return 0;
}

std::string did_you_mean(const std::string& name, const std::set<std::string>& pool) {
  std::vector<std::string> hint = nearest_names(name, pool);
  if (hint.empty()) return "";
  std::string text = " (did you mean ";
  for (size_t i = 0; i < hint.size(); ++i) text += (i ? (i + 1 == hint.size() ? " or '" : ", '") : "'") + hint[i] + "'";
  return text + "?)";
}

// SQLite's "no such column: o.ndett" / "no such table: objectz", with the nearest names of the
// repository schema and the typo's place.
QueryProblem unknown_name(const Database& db, const std::string& sql, std::string message) {
  QueryProblem problem{message, 0};
  for (const char* prefix : {"no such column: ", "no such table: "}) {
    if (!message.starts_with(prefix)) continue;
    std::string name = message.substr(std::strlen(prefix));
    problem.offset = word_offset(sql, name);
    if (auto dot = name.rfind('.'); dot != std::string::npos) name = name.substr(dot + 1);
    std::set<std::string> tables, columns;
    Statement list = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')");
    while (list.step()) tables.insert(std::string(list.text(0)));
    for (const std::string& table : tables) {
      Statement info = db.prepare("SELECT name FROM pragma_table_info('" + table + "')");
      while (info.step()) columns.insert(std::string(info.text(0)));
    }
    problem.message += did_you_mean(name, std::string_view(prefix).find("column") != std::string_view::npos ? columns : tables);
  }
  return problem;
}

// Compiles `sql` against an empty repository in memory: validate finds SQL errors, unknown
// tables or columns (with the nearest names), writes and unknown parameters without the
// database file.
std::optional<QueryProblem> check_query(const std::string& sql) {
  try {
    Database db(":memory:", Database::Mode::read_write);
    repository::migrate(db);
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, &tail);
    if (rc != SQLITE_OK) return unknown_name(db, sql, sqlite3_errmsg(db.get()));
    Statement s(&db, raw);
    if (!raw) return QueryProblem{"the query is empty"};
    for (; tail && *tail; ++tail)
      if (!std::isspace(static_cast<unsigned char>(*tail)) && *tail != ';')
        return QueryProblem{"one statement only", static_cast<size_t>(tail - sql.c_str())};
    if (!sqlite3_stmt_readonly(raw)) return QueryProblem{"the query must only read (a SELECT)"};
    for (int i = 1; i <= sqlite3_bind_parameter_count(raw); ++i) {
      const char* name = sqlite3_bind_parameter_name(raw, i);
      if (!name || !kParameters.count(name)) {
        std::string known;
        for (const std::string& p : kParameters) known += (known.empty() ? "" : ", ") + p;
        std::string text = name ? name : "?";
        return QueryProblem{"unknown parameter " + text + did_you_mean(text, kParameters) + " (known: " + known + ")",
                            word_offset(sql, text)};
      }
    }
  } catch (const Fault& f) {
    return QueryProblem{f.message()};
  }
  return std::nullopt;
}

class SqlFilter final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    std::filesystem::path p = c.string("db");
    if (p.is_relative()) p = std::filesystem::path(context.run_dir) / p;
    path_ = p.string();
    sql_ = c.string("query");
    query_place_ = c.place("query");
    if (auto problem = check_query(sql_)) fail(c.place_in("query", problem->offset), problem->message);
    annotate_ = c.boolean("annotate");
    tag_.kind = Annotation::Kind::tag;
    tag_.name = c.has("tag") ? c.string("tag") : context.actor_id;
    tag_.provenance = {context.actor_id, context.type_name, context.type_version, c.hash()};
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    // Opened on first use: the repository sink creates the file, and what reaches this actor
    // from its `committed` port is committed already.
    if (!statement_) {
      reader_ = std::make_unique<repository::Reader>(path_);
      statement_ = reader_->database().prepare(sql_);
    }
    std::vector<uint32_t> keep;
    std::vector<RecordPtr> annotated;
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& alert = static_cast<const Alert&>(batch[i]);
      bind(alert.core());
      bool match = statement_.step();
      if (match && annotate_) {
        Annotation a = tag_;
        a.details = repository::row_to_json(statement_).dump();
        annotated.push_back(alert.annotated(std::move(a)));
      }
      statement_.reset();
      if (match) keep.push_back(static_cast<uint32_t>(i));
    }
    out.filtered(batch.size() - keep.size());
    if (annotate_) {
      if (!annotated.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(annotated), batch.acks()));
    } else {
      out.forward(0, batch.select(keep));
    }
  }

 private:
  void bind(const AlertCore& c) {
    auto set = [&](const char* name, auto value) {
      if (int i = statement_.parameter_index(name); i > 0) statement_.bind(i, value);
    };
    set(":alert_id", c.alert_id);
    set(":object_id", std::string_view(c.object_id));
    set(":survey", std::string_view(c.survey));
    set(":ra", c.ra);
    set(":dec", c.dec);
    set(":mjd_tai", c.mjd_tai);
    set(":band", std::string_view(c.band));
    set(":mag", c.mag);
    set(":mag_err", c.mag_err);
    set(":real_bogus", c.real_bogus);
  }

  std::string path_, sql_, query_place_;
  bool annotate_ = false;
  Annotation tag_;
  std::unique_ptr<repository::Reader> reader_;
  Statement statement_;
};

}  // namespace

void register_sql_filter(ActorRegistry& registry) {
  ActorType t;
  t.name = "sql-filter";
  t.description = "Passes alerts for which an SQL query over the committed repository returns a row";
  t.version = "1.0";
  t.inputs = {{"in", PortType::alert, "alerts (from a repository sink's committed port)"}};
  t.outputs = {{"out", PortType::alert, "the alerts the query selects"}};
  t.blocking = true;
  t.config = {
      {"db", ValueKind::string, true, "", "the repository database (relative paths are in the run directory)"},
      {"query", ValueKind::string, true, "",
       "one SELECT; bound parameters :alert_id :object_id :survey :ra :dec :mjd_tai :band :mag :mag_err "
       ":real_bogus"},
      {"annotate", ValueKind::boolean, false, "false", "tag passing alerts with the first result row"},
      {"tag", ValueKind::string, false, "", "the tag's name (default: the actor id)"},
  };
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    if (auto problem = check_query(c.string("query")))
      problems.push_back({c.place_in("query", problem->offset), problem->message});
  };
  t.create = [](const ActorContext&) { return std::make_unique<SqlFilter>(); };
  registry.add(std::move(t));
}

}  // namespace ebs
