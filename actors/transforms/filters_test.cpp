#include "actors/transforms/filters.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "actors/transforms/filter.h"
#include "actors/transforms/generated_filters.h"
#include "engine/expr/alert_field.h"
#include "test/support/collecting_emitter.h"
#include "test/support/ztf_alerts.h"

using namespace ebs;
using ebs::test::CollectingEmitter;

namespace {

std::vector<RecordPtr> real_ztf_alerts() {
  std::vector<RecordPtr> out;
  for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01"})
    for (auto& a : ebs::test::ztf_alerts(folder)) out.push_back(a);
  return out;
}

std::string filters_config(const std::map<std::string, std::string>& filters, const std::string& tag = "") {
  YAML::Node config;
  for (const auto& [name, where] : filters) config["filters"][name] = where;
  if (!tag.empty()) config["tag"] = tag;
  return YAML::Dump(config);
}

// The records the `filters` actor forwards from `records`, its config's `tag` given.
std::vector<RecordPtr> forwarded(const std::map<std::string, std::string>& filters, const std::string& tag,
                                 const std::vector<RecordPtr>& records) {
  ActorRegistry registry;
  register_filters(registry);
  const ActorType& type = *registry.find("filters");
  ActorContext context = ebs::test::make_context(type, filters_config(filters, tag));
  auto logic = type.create(context);
  logic->open(context);
  CollectingEmitter out;
  logic->on_batch(0, BatchView::make(PortType::alert, records, {}), out);
  CHECK(out.forwarded_records + out.filtered_records == records.size());
  return out.records();
}

// filter name -> the positions (in `records`) of the alerts the `filters` actor says passed it.
std::map<std::string, std::set<size_t>> run_filters(const std::map<std::string, std::string>& filters,
                                                    const std::vector<RecordPtr>& records, CollectingEmitter& out) {
  ActorRegistry registry;
  register_filters(registry);
  const ActorType& type = *registry.find("filters");
  ActorContext context = ebs::test::make_context(type, filters_config(filters));
  auto logic = type.create(context);
  logic->open(context);
  logic->on_batch(0, BatchView::make(PortType::alert, records, {}), out);
  std::map<const AlertCore*, size_t> position;
  for (size_t i = 0; i < records.size(); ++i) position[&static_cast<const Alert&>(*records[i]).core()] = i;
  std::map<std::string, std::set<size_t>> passed;
  for (const RecordPtr& r : out.records()) {
    const auto& alert = static_cast<const Alert&>(*r);
    auto annotations = alert.annotations().list();
    REQUIRE(!annotations.empty());
    CHECK(annotations.back()->name == "filters");
    nlohmann::json details = nlohmann::json::parse(annotations.back()->details);
    for (const auto& [name, version] : details.items()) {
      CHECK(version == 1);
      passed[name].insert(position.at(&alert.core()));
    }
  }
  return passed;
}

std::set<size_t> run_single_filter(const std::string& where, const std::vector<RecordPtr>& records) {
  ActorRegistry registry;
  register_filter(registry);
  const ActorType& type = *registry.find("filter");
  YAML::Node config;
  config["where"] = where;
  ActorContext context = ebs::test::make_context(type, YAML::Dump(config));
  auto logic = type.create(context);
  logic->open(context);
  CollectingEmitter out;
  logic->on_batch(0, BatchView::make(PortType::alert, records, {}), out);
  std::set<size_t> passed;
  for (const RecordPtr& r : out.records())
    for (size_t i = 0; i < records.size(); ++i)
      if (r.get() == records[i].get()) passed.insert(i);
  return passed;
}

}  // namespace

TEST_CASE("1,000 generated filters on real ZTF alerts: each passes what `filter` passes alone") {
  std::vector<RecordPtr> records = real_ztf_alerts();
  REQUIRE(records.size() > 50);
  std::vector<std::string> texts = generated_user_filters(1000, 18);
  std::map<std::string, std::string> filters;
  for (size_t i = 0; i < texts.size(); ++i) filters["user" + std::to_string(i)] = texts[i];
  CollectingEmitter out;
  auto passed = run_filters(filters, records, out);
  size_t non_empty = 0, not_all = 0;
  std::set<size_t> any;
  for (const auto& entry : filters) {
    const auto& name = entry.first;  // clang 14 lambdas (INFO) cannot capture structured bindings
    const auto& where = entry.second;
    std::set<size_t> alone = run_single_filter(where, records);
    INFO("filter " << name << ": " << where);
    CHECK(passed[name] == alone);
    non_empty += !alone.empty();
    not_all += alone.size() < records.size();
    any.insert(alone.begin(), alone.end());
  }
  // The comparison means something only if the filters both keep and drop alerts.
  CHECK(non_empty > 100);
  CHECK(not_all > 900);
  CHECK(out.forwarded_records == any.size());
  CHECK(out.forwarded_records + out.filtered_records == records.size());
}

TEST_CASE("a wrong expression names its filter") {
  ActorRegistry registry;
  register_filters(registry);
  const ActorType& type = *registry.find("filters");
  ActorContext context = ebs::test::make_context(type, filters_config({{"good", "mag < 19"}, {"typo", "mag <"}}));
  std::vector<Problem> problems;
  type.check(context.config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("filter 'typo'") != std::string::npos);
  auto logic = type.create(context);
  CHECK_THROWS_AS(logic->open(context), Fault);
}

TEST_CASE("tag: filters maps the filters passed, count says how many, none forwards the alerts as they came") {
  std::vector<RecordPtr> records = real_ztf_alerts();
  std::vector<std::string> texts = generated_user_filters(12, 7);
  std::map<std::string, std::string> filters;
  for (size_t i = 0; i < texts.size(); ++i) filters["user" + std::to_string(i)] = texts[i];
  std::vector<RecordPtr> mapped = forwarded(filters, "", records);  // the default: the map
  std::vector<RecordPtr> counted = forwarded(filters, "count", records);
  std::vector<RecordPtr> plain = forwarded(filters, "none", records);
  REQUIRE(!mapped.empty());
  REQUIRE(mapped.size() < records.size());
  REQUIRE(counted.size() == mapped.size());
  REQUIRE(plain.size() == mapped.size());
  size_t several = 0;
  for (size_t i = 0; i < mapped.size(); ++i) {
    const auto& m = static_cast<const Alert&>(*mapped[i]);
    const auto& c = static_cast<const Alert&>(*counted[i]);
    CHECK(&m.core() == &c.core());
    CHECK(plain[i].get() != mapped[i].get());
    // `none` forwards the very records it was given, unannotated.
    CHECK(std::find(records.begin(), records.end(), plain[i]) != records.end());
    CHECK(&static_cast<const Alert&>(*plain[i]).core() == &m.core());
    const Annotation* map_tag = m.annotations().list().back();
    const Annotation* count_tag = c.annotations().list().back();
    CHECK(count_tag->name == "filters");
    CHECK(count_tag->kind == Annotation::Kind::tag);
    CHECK(count_tag->details.empty());
    size_t passed = nlohmann::json::parse(map_tag->details).size();
    CHECK(count_tag->value == static_cast<double>(passed));
    several += passed > 1;
  }
  CHECK(several > 0);
}

TEST_CASE("a wrong tag mode is refused") {
  ActorRegistry registry;
  register_filters(registry);
  const ActorType& type = *registry.find("filters");
  ActorContext context = ebs::test::make_context(type, filters_config({{"bright", "mag < 19"}}, "list"));
  std::vector<Problem> problems;
  type.check(context.config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("`tag` is `filters`, `count` or `none`") != std::string::npos);
}

TEST_CASE("AlertColumns reads what compile_alert_field reads, on both ZTF schemas") {
  std::vector<RecordPtr> records = real_ztf_alerts();
  std::vector<const Alert*> alerts;
  for (const RecordPtr& r : records) alerts.push_back(static_cast<const Alert*>(r.get()));
  // Core fields, raw paths sharing steps, one named twice, paths through a list, a record, a
  // missing field and a path below a number.
  const std::vector<std::string> paths = {
      "mag", "n_detections", "candidate.drb", "candidate.fwhm", "raw.candidate.drb", "candidate.drb",
      "objectId", "prv_candidates.0.jd", "prv_candidates", "candidate", "candidate.no_such_field",
      "candidate.jd.deeper", "cutoutScience.stampData", "no_such_record.x"};
  AlertColumns reader(paths);
  std::vector<std::vector<expr::Value>> columns;
  // Twice: positions found in the first call must not leak into the second.
  for (int call = 0; call < 2; ++call) {
    reader.read(alerts, columns);
    REQUIRE(columns.size() == paths.size());
    std::set<std::string> schemas;
    size_t numbers = 0;
    for (size_t f = 0; f < paths.size(); ++f) {
      AlertField single = compile_alert_field(paths[f]);
      REQUIRE(columns[f].size() == alerts.size());
      for (size_t i = 0; i < alerts.size(); ++i) {
        INFO(paths[f] << " of alert " << i);
        CHECK(columns[f][i] == single(*alerts[i]));
        numbers += columns[f][i].is_number();
        schemas.insert(alerts[i]->core().schema_version);
      }
    }
    CHECK(schemas.size() >= 2);
    CHECK(numbers > 5 * alerts.size());
  }
}
