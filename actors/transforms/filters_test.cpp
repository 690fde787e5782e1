#include "actors/transforms/filters.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "actors/transforms/filter.h"
#include "actors/transforms/generated_filters.h"
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

std::string filters_config(const std::map<std::string, std::string>& filters) {
  YAML::Node config;
  for (const auto& [name, where] : filters) config["filters"][name] = where;
  return YAML::Dump(config);
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
