#include "actors/transforms/filter.h"

#include <doctest/doctest.h>

#include "actors/transforms/alert_check.h"
#include "engine/expr/alert_field.h"
#include "test/support/collecting_emitter.h"

using namespace ebs;
using ebs::test::CollectingEmitter;

namespace {

std::shared_ptr<const Alert> make_alert(double mag, double drb, bool with_drb = true) {
  static const RecordShape alert_shape("a", {"candidate"});
  static const RecordShape with("c", {"drb", "ssnamenr"});
  static const RecordShape without("c", {"rb"});
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), &alert_shape);
  uint32_t c = b.begin_record(f, with_drb ? &with : &without);
  b.set_double(c, drb);
  if (with_drb) b.set_null(c + 1);
  auto core = std::make_shared<AlertCore>();
  core->object_id = "ZTF21x";
  core->ra = 150;
  core->dec = 2;
  core->mjd_tai = 60000;
  core->mag = mag;
  core->band = "g";
  core->raw = b.finish(nullptr, nullptr);
  return std::make_shared<const Alert>(core);
}

BatchView run_filter(const std::string& where, const std::vector<RecordPtr>& records, CollectingEmitter& out) {
  ebs::test::OpenActor filter(register_filter, "filter", "{where: \"" + where + "\"}");
  filter.run(records, out);
  return out.sent[0].empty() ? BatchView() : out.sent[0].front();
}

}  // namespace

TEST_CASE("alert fields: core names, raw paths, annotations") {
  auto a = make_alert(18.5, 0.9);
  CHECK(compile_alert_field("mag")(*a) == expr::Value(18.5));
  CHECK(compile_alert_field("band")(*a) == expr::Value("g"));
  CHECK(compile_alert_field("candidate.drb")(*a) == expr::Value(0.9));
  CHECK(compile_alert_field("raw.candidate.drb")(*a) == expr::Value(0.9));
  CHECK(compile_alert_field("candidate.ssnamenr")(*a).is_null());
  CHECK(compile_alert_field("candidate.nothing")(*a).is_null());
  CHECK(compile_alert_field("flux")(*a).is_null());  // NaN reads as null
  CHECK(compile_alert_field("class")(*a).is_null());
  Annotation cls;
  cls.kind = Annotation::Kind::classification;
  cls.name = "SN";
  Annotation score;
  score.kind = Annotation::Kind::score;
  score.name = "snia";
  score.value = 0.7;
  auto annotated = a->annotated(cls)->annotated(score);
  CHECK(compile_alert_field("class")(*annotated) == expr::Value("SN"));
  CHECK(compile_alert_field("score.snia")(*annotated) == expr::Value(0.7));
  CHECK(compile_alert_field("score.other")(*annotated).is_null());
  CHECK(compile_alert_field("n_annotations")(*annotated) == expr::Value(2));
}

TEST_CASE("the filter narrows the batch; a missing field filters, it does not fail") {
  std::vector<RecordPtr> records{make_alert(18, 0.95), make_alert(20, 0.95), make_alert(18, 0.5),
                                 make_alert(18, 0.99, false)};
  CollectingEmitter out;
  BatchView kept = run_filter("candidate.drb > 0.8 and mag < 19", records, out);
  REQUIRE(kept.size() == 1);
  CHECK(&kept[0] == records[0].get());  // the same record, not a copy
  CHECK(out.forwarded_records == 1);
  CHECK(out.filtered_records == 3);
  CHECK(out.failed_records == 0);
}

TEST_CASE("a bad expression fails at open with its place") {
  ActorRegistry registry;
  register_filter(registry);
  const ActorType& type = *registry.find("filter");
  ActorContext context = ebs::test::make_context(type, "{where: \"mag <\"}");
  auto logic = type.create(context);
  CHECK_THROWS_AS(logic->open(context), Fault);
  std::vector<Problem> problems;
  type.check(context.config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].place.starts_with("test.yaml:1:"));
}

TEST_CASE("alert-check dead-letters impossible alerts and passes the rest") {
  auto good = make_alert(18, 0.9);
  auto bad_core = std::make_shared<AlertCore>(good->core());
  bad_core->dec = 95;
  auto bad = std::make_shared<const Alert>(bad_core);
  CHECK_FALSE(alert_problem(good->core()));
  CHECK(alert_problem(*bad_core) == "dec 95.000000 is not in [-90, 90]");
  ebs::test::OpenActor check(register_alert_check, "alert-check", "{}");
  CollectingEmitter out;
  check.run({good, bad, good}, out);
  CHECK(out.forwarded_records == 2);
  CHECK(out.failed_records == 1);
  REQUIRE(out.faults.size() == 1);
  CHECK(out.faults[0].place().find("ZTF21x") != std::string::npos);
}
