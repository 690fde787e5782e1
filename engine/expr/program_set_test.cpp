#include "engine/expr/program_set.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "engine/expr/program.h"

using namespace ebs::expr;

namespace {

// The block sizes this CPU evaluates with (ProgramSet::Workspace): 4 words, and 8 with AVX-512.
std::vector<size_t> block_sizes() {
  if (ProgramSet::Workspace::wide_blocks()) return {4, 8};
  return {4};
}

// Every record's answer from the single Program, next to the set's.
void check_matches(const std::vector<std::string>& texts, const std::vector<std::vector<Value>>& columns,
                   size_t records, const ProgramSet& set, const Matches& matches) {
  REQUIRE(matches.records() == records);
  REQUIRE(matches.programs() == texts.size());
  for (size_t p = 0; p < texts.size(); ++p) {
    Program program = std::get<Program>(Program::compile(texts[p]));
    std::vector<Value> row(program.fields().size());
    for (size_t r = 0; r < records; ++r) {
      for (size_t f = 0; f < row.size(); ++f) {
        auto at = std::find(set.fields().begin(), set.fields().end(), program.fields()[f]);
        row[f] = columns[static_cast<size_t>(at - set.fields().begin())][r];
      }
      INFO("expression: " << texts[p] << ", record " << r);
      CHECK(matches.passes(p, r) == program.test(row));
    }
  }
  // The union taken as the answers were written, and the counts of their bit slices, against the
  // answers one by one.
  std::vector<uint32_t> any, counts(records, 0);
  for (size_t r = 0; r < records; ++r) {
    for (size_t p = 0; p < texts.size(); ++p) counts[r] += matches.passes(p, r);
    if (counts[r] > 0) any.push_back(static_cast<uint32_t>(r));
  }
  CHECK(matches.passed_any() == any);
  CHECK(matches.passed_counts() == counts);
}

// Every record's answer from the single Program, next to the set's, with each block size (and the
// CPU's choice).
void check_against_programs(const std::vector<std::string>& texts, const std::vector<std::vector<Value>>& columns,
                            size_t records) {
  auto compiled = ProgramSet::compile(texts);
  REQUIRE(std::holds_alternative<ProgramSet>(compiled));
  const ProgramSet& set = std::get<ProgramSet>(compiled);
  check_matches(texts, columns, records, set, set.evaluate(columns, records));
  for (size_t words : block_sizes()) {
    INFO("blocks of " << words * 64 << " records");
    ProgramSet::Workspace workspace(words);
    check_matches(texts, columns, records, set, set.evaluate(columns, records, workspace));
  }
}

// Random expressions over three fields; only those that compile are kept.
class ExpressionMaker {
 public:
  explicit ExpressionMaker(uint64_t seed) : random_(seed) {}

  std::string boolean(int depth) {
    switch (pick(depth > 0 ? 7 : 3)) {
      case 0: return field() + " " + ordering() + " " + number();
      case 1: return number() + " " + ordering() + " " + field();
      case 2: return field() + (pick(2) ? " == " : " != ") + (pick(2) ? "'g'" : number());
      case 3: return "(" + boolean(depth - 1) + (pick(2) ? " and " : " or ") + boolean(depth - 1) + ")";
      case 4: return "not " + boolean(depth - 1);
      case 5: return pick(2) ? "exists(" + field() + ")" : "is_null(" + numeric(depth - 1) + ")";
      default: return numeric(depth - 1) + " " + ordering() + " " + numeric(depth - 1);
    }
  }

 private:
  std::string numeric(int depth) {
    if (depth <= 0) return pick(3) ? field() : number();
    switch (pick(4)) {
      case 0: return "(" + numeric(depth - 1) + " " + "+-*/%"[pick(5)] + " " + numeric(depth - 1) + ")";
      case 1: return std::string(pick(2) ? "abs(" : "log10(") + numeric(depth - 1) + ")";
      case 2: return std::string(pick(2) ? "min(" : "max(") + numeric(depth - 1) + ", " + numeric(depth - 1) + ")";
      default: return "-" + field();
    }
  }
  std::string field() { return std::string("abc").substr(pick(3), 1); }
  std::string ordering() {
    static const char* ops[] = {"<", "<=", ">", ">="};
    return ops[pick(4)];
  }
  // Few distinct thresholds, so that equal values, equal cuts and ties at a threshold all happen.
  std::string number() { return std::to_string(static_cast<int>(pick(7)) - 3); }
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random_); }
  std::mt19937_64 random_;
};

}  // namespace

TEST_CASE("a set of expressions answers as each expression on its own, null and NaN included") {
  ExpressionMaker maker(18);
  std::vector<std::string> texts;
  while (texts.size() < 400) {
    std::string text = maker.boolean(3);
    if (std::holds_alternative<Program>(Program::compile(text))) texts.push_back(text);
  }
  // Columns a, b, c (the set's field order may differ: look it up) with numbers on the thresholds,
  // NaN, null, text and booleans.
  // Several blocks of either size, the last one partial: the nodes evaluated on value columns
  // (arithmetic, functions, text ==, exists, field against field) cross block boundaries.
  const size_t records = 1100;
  std::mt19937_64 random(7);
  std::vector<std::vector<Value>> by_name(3, std::vector<Value>(records));
  for (auto& column : by_name)
    for (auto& v : column) {
      switch (random() % 8) {
        case 0: v = Value(); break;
        case 1: v = Value(std::nan("")); break;
        case 2: v = Value(random() % 2 ? "g" : "r"); break;
        case 3: v = Value(random() % 2 == 0); break;
        case 4: v = Value(static_cast<double>(random() % 7) - 3); break;  // on a threshold
        default: v = Value(std::uniform_real_distribution<double>(-4, 4)(random)); break;
      }
    }
  auto compiled = ProgramSet::compile(texts);
  REQUIRE(std::holds_alternative<ProgramSet>(compiled));
  std::vector<std::vector<Value>> columns;
  for (const std::string& name : std::get<ProgramSet>(compiled).fields())
    columns.push_back(by_name[static_cast<size_t>(name[0] - 'a')]);
  check_against_programs(texts, columns, records);
  ProgramSet::Shape shape = std::get<ProgramSet>(compiled).shape();
  CHECK(shape.nodes < shape.unshared_nodes / 2);  // few fields, few thresholds: much is shared
  CHECK(shape.swept_cuts > 0);
}

TEST_CASE("equal subexpressions are one node, whatever the order of and-terms") {
  auto compiled = ProgramSet::compile({"mag < 19 and drb > 0.5", "drb > 0.5 and mag < 19", "0.5 < drb and mag < 19"});
  REQUIRE(std::holds_alternative<ProgramSet>(compiled));
  ProgramSet::Shape shape = std::get<ProgramSet>(compiled).shape();
  CHECK(shape.nodes == 3);  // two cuts and one `and`
  CHECK(shape.swept_cuts == 2);
  CHECK(std::get<ProgramSet>(compiled).fields() == std::vector<std::string>{"mag", "drb"});
}

TEST_CASE("the errors of every wrong expression, by position") {
  auto compiled = ProgramSet::compile({"mag < 19", "mag <", "foo(mag)"});
  REQUIRE(std::holds_alternative<std::vector<ProgramErrors>>(compiled));
  const auto& errors = std::get<std::vector<ProgramErrors>>(compiled);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].index == 1);
  CHECK(errors[1].index == 2);
  CHECK(errors[1].errors[0].message.find("unknown function") != std::string::npos);
}

TEST_CASE("an empty batch and constant expressions") {
  auto compiled = ProgramSet::compile({"true", "1 > 2", "-3 < mag"});
  REQUIRE(std::holds_alternative<ProgramSet>(compiled));
  const ProgramSet& set = std::get<ProgramSet>(compiled);
  std::vector<std::vector<Value>> columns{{Value(1.0), Value(-4.0), Value()}};
  Matches matches = set.evaluate(columns, 3);
  CHECK(matches.passed(0) == std::vector<uint32_t>{0, 1, 2});
  CHECK(matches.count(1) == 0);
  CHECK(matches.passed(2) == std::vector<uint32_t>{0});
  CHECK(matches.passed_any() == std::vector<uint32_t>{0, 1, 2});
  CHECK(matches.passed_counts() == std::vector<uint32_t>{2, 1, 1});
  CHECK(set.evaluate(columns, 0).records() == 0);
}

TEST_CASE("the caller's extra rows count in the union; the evaluated rows are not to be changed") {
  const ProgramSet set = std::get<ProgramSet>(ProgramSet::compile({"mag < 2", "mag > 10"}));
  std::vector<std::vector<Value>> columns{{Value(1.0), Value(5.0), Value(20.0), Value(5.0)}};
  ProgramSet::Workspace workspace;
  Matches& matches = set.evaluate(columns, 4, workspace, 1);
  CHECK(matches.passed_any() == std::vector<uint32_t>{0, 2});
  matches.words(2)[0] |= uint64_t{1} << 1;  // the caller's own answer: record 1
  CHECK(matches.passed_any() == std::vector<uint32_t>{0, 1, 2});
  CHECK(matches.passed_counts() == std::vector<uint32_t>{1, 1, 1, 0});
  CHECK_THROWS(matches.words(0));
}

TEST_CASE("the sweeps place every value: crowded thresholds, one threshold, infinities, every batch length") {
  // a: five thresholds in the first cell of its guide (lower_bound() places values there) and one
  // far above; b: a single threshold (one cell); c: a range too wide for a guide (1e308 - -1e308 is
  // infinite). Values on, just beside and far beyond the thresholds, infinities, NaN and null.
  const std::vector<double> a_thresholds{0, 1e-9, 0.001, 0.002, 0.003, 100}, b_thresholds{2.5},
      c_thresholds{-1e308, 0, 1e308};
  std::vector<std::string> texts;
  for (const auto& [name, thresholds] : {std::pair{"a", a_thresholds}, {"b", b_thresholds}, {"c", c_thresholds}})
    for (double t : thresholds)
      for (const char* op : {"<", "<=", ">", ">="}) {
        char number[40];
        std::snprintf(number, sizeof number, "%.17g", t);
        texts.push_back(std::string(name) + " " + op + " " + number);
      }
  // ands and ors over the three fields, and a `not` (its cuts' false bitsets are read)
  for (size_t i = 0; i + 8 < texts.size(); i += 5) {
    texts.push_back(texts[i] + " and " + texts[i + 8]);
    texts.push_back("not (" + texts[i] + ") or " + texts[texts.size() - 2]);
  }
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> near;
  for (const auto& thresholds : {a_thresholds, b_thresholds, c_thresholds})
    for (double t : thresholds)
      for (double v : {t, std::nextafter(t, -inf), std::nextafter(t, inf), t / 2, t * 2 + 1}) near.push_back(v);
  for (double v : {inf, -inf, 1e300, -1e300, -5.0, 50.0, 1e6}) near.push_back(v);
  std::mt19937_64 random(11);
  auto value = [&]() {
    switch (random() % 10) {
      case 0: return Value();
      case 1: return Value(std::nan(""));
      default: return Value(near[random() % near.size()]);
    }
  };
  // The sweeps' steps: an above cut with many segments under it (between it and the top), made by
  // the below cuts' thresholds, is several steps (two segments each).
  for (int t = 0; t < 12; ++t) texts.push_back("b < " + std::to_string(t) + ".5");
  texts.push_back("b >= 0.25");
  texts.push_back("b >= 0.25 and a > 0.002 and c <= 0 and b < 7.5");
  for (size_t records : {1, 63, 64, 65, 128, 129, 200, 255, 256, 257, 300, 511, 512, 513, 520, 1000, 1024, 1025}) {
    INFO(records << " records");
    auto compiled = ProgramSet::compile(texts);
    REQUIRE(std::holds_alternative<ProgramSet>(compiled));
    std::vector<std::vector<Value>> columns;
    for (size_t f = 0; f < std::get<ProgramSet>(compiled).fields().size(); ++f) {
      columns.emplace_back();
      for (size_t r = 0; r < records; ++r) columns.back().push_back(value());
    }
    check_against_programs(texts, columns, records);
  }
}

TEST_CASE("blocks: a workspace kept across batches of every length, the last block partial, an empty batch") {
  // Generated-like filters: 2-5 cuts and-ed over four fields, thresholds on a grid (many equal).
  std::mt19937_64 random(5);
  const char* fields[] = {"a", "b", "c", "d"};
  const char* ops[] = {"<", "<=", ">", ">="};
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) {
    std::string text;
    const size_t cuts = 2 + random() % 4;
    for (size_t c = 0; c < cuts; ++c) {
      if (!text.empty()) text += " and ";
      text += std::string(fields[(i + c) % 4]) + " " + ops[random() % 4] + " " + std::to_string(random() % 40);
    }
    texts.push_back(text);
  }
  texts.push_back("a > 3 or b < 5");  // an `or` and a root that is one cut, beside them
  texts.push_back("c >= 20");
  // Nodes evaluated on value columns (slots), whose columns the workspace also keeps across batches.
  texts.push_back("a + b > 30");
  texts.push_back("abs(c - 20) < 5 and d >= 10");
  texts.push_back("exists(d) and not (a > b)");
  texts.push_back("b == 'x' or max(a, c) >= 35");
  texts.push_back("log10(d) > 1");
  const ProgramSet set = std::get<ProgramSet>(ProgramSet::compile(texts));
  auto batch = [&](size_t records) {
    std::vector<std::vector<Value>> columns(set.fields().size());
    for (auto& column : columns)
      for (size_t r = 0; r < records; ++r)
        switch (random() % 20) {
          case 0: case 1: column.push_back(Value()); break;
          case 2: column.push_back(Value("x")); break;
          default: column.push_back(Value(static_cast<double>(random() % 400) / 10)); break;
        }
    return columns;
  };
  for (size_t words : block_sizes()) {
    INFO("blocks of " << words * 64 << " records");
    ProgramSet::Workspace workspace(words);
    // Longest first: a shorter batch must not see the longer one's bits past its end.
    for (size_t records : {size_t{1025}, size_t{3}, size_t{0}, size_t{1}, size_t{600}, 64 * words, 64 * words + 1,
                           64 * words - 1, 2 * 64 * words + 7}) {
      INFO(records << " records");
      std::vector<std::vector<Value>> columns = batch(records);
      const Matches& matches = set.evaluate(columns, records, workspace);
      check_matches(texts, columns, records, set, matches);
      if (records == 0) CHECK(matches.passed_any().empty());
    }
  }
}

TEST_CASE("blocks of a size the CPU cannot take are refused") {
  CHECK_THROWS(ProgramSet::Workspace(16));
  CHECK_THROWS(ProgramSet::Workspace(2));
  if (!ProgramSet::Workspace::wide_blocks()) CHECK_THROWS(ProgramSet::Workspace(8));
}
