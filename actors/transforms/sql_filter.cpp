// `sql-filter` (sql_filter.h).
#include "actors/transforms/sql_filter.h"

#include <filesystem>
#include <optional>

#include "actors/common/repository/alert_query.h"
#include "actors/common/repository/reader.h"
#include "engine/runtime/actor_logic.h"

namespace ebs {

namespace {

class SqlFilter final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    std::filesystem::path p = c.string("db");
    if (p.is_relative()) p = std::filesystem::path(context.run_dir) / p;
    path_ = p.string();
    sql_ = c.string("query");
    query_place_ = c.place("query");
    if (auto problem = repository::check_alert_query(sql_)) fail(c.place_in("query", problem->offset), problem->message);
    annotate_ = c.boolean("annotate");
    tag_.kind = Annotation::Kind::tag;
    tag_.name = c.has("tag") ? c.string("tag") : context.actor_id;
    tag_.provenance = {context.actor_id, context.type_name, context.type_version, c.hash()};
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    // Opened on first use: the repository sink creates the file, and what reaches this actor
    // from its `committed` port is committed already.
    if (!query_) {
      reader_ = std::make_unique<repository::Reader>(path_);
      query_.emplace(reader_->database(), sql_);
    }
    std::vector<uint32_t> keep;
    std::vector<RecordPtr> annotated;
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& alert = static_cast<const Alert&>(batch[i]);
      bool match = false;
      if (annotate_) {
        if (std::optional<nlohmann::json> row = query_->first_row(alert.core())) {
          match = true;
          Annotation a = tag_;
          a.details = row->dump();
          annotated.push_back(alert.annotated(std::move(a)));
        }
      } else {
        match = query_->matches(alert.core());
      }
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
  std::string path_, sql_, query_place_;
  bool annotate_ = false;
  Annotation tag_;
  std::unique_ptr<repository::Reader> reader_;
  std::optional<repository::AlertQuery> query_;
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
    if (auto problem = repository::check_alert_query(c.string("query")))
      problems.push_back({c.place_in("query", problem->offset), problem->message});
  };
  t.create = [](const ActorContext&) { return std::make_unique<SqlFilter>(); };
  t.uses_cutouts = uses_no_cutouts;
  registry.add(std::move(t));
}

}  // namespace ebs
