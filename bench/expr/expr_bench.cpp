// Prints nanoseconds per evaluation of a 5-term filter compiled by ebs::expr, next to a
// hand-written C++ lambda that computes the same three-valued result from the same inputs.
// Both run interleaved in one process (the machine is noisy); the ratio is what to watch.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string_view>
#include <vector>

#include "engine/expr/program.h"

using ebs::expr::Program;
using ebs::expr::Value;

namespace {

constexpr const char* kExpression =
    "candidate.drb > 0.8 and candidate.magpsf < 19.5 and not exists(candidate.ssnamenr) and "
    "abs(candidate.ra - 150) <= 2.5 and candidate.isdiffpos == 't'";

constexpr size_t kFields = 5;  // drb, magpsf, ssnamenr, ra, isdiffpos (Program's slot order)
using Row = std::array<Value, kFields>;

std::vector<Row> make_rows(size_t count) {
  std::mt19937_64 random(20221722);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  static const std::string_view signs[] = {"t", "f", "1", "0"};
  std::vector<Row> rows(count);
  for (auto& row : rows) {
    // Each term passes often enough that most evaluations run several terms.
    row[0] = unit(random) < 0.05 ? Value() : Value(0.6 + 0.4 * unit(random));    // drb > 0.8: ~50%
    row[1] = Value(15.0 + 6.0 * unit(random));                                   // magpsf: 75%
    row[2] = unit(random) < 0.7 ? Value() : Value(std::string_view("2003 XY"));  // ssnamenr
    row[3] = Value(147.0 + 6.0 * unit(random));                                  // ra: 83%
    row[4] = Value(signs[random() % 2]);                                         // isdiffpos t: 50%
  }
  return rows;
}

template <typename Test>
double ns_per_eval(const std::vector<Row>& rows, size_t repeats, Test&& test, size_t& passed) {
  auto start = std::chrono::steady_clock::now();
  size_t count = 0;
  for (size_t r = 0; r < repeats; ++r)
    for (const auto& row : rows) count += test(row) ? 1 : 0;
  auto stop = std::chrono::steady_clock::now();
  passed = count / repeats;
  return std::chrono::duration<double, std::nano>(stop - start).count() /
         static_cast<double>(repeats * rows.size());
}

}  // namespace

int main(int argc, char** argv) {
  size_t repeats = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 200;
  auto compiled = Program::compile(kExpression);
  if (!std::holds_alternative<Program>(compiled)) {
    std::fprintf(stderr, "expr_bench: the expression does not compile\n");
    return 1;
  }
  const Program& program = std::get<Program>(compiled);
  if (program.fields().size() != kFields) {
    std::fprintf(stderr, "expr_bench: unexpected field count\n");
    return 1;
  }
  const std::vector<Row> rows = make_rows(4096);

  auto compile_start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) (void)Program::compile(kExpression);
  double compile_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - compile_start)
          .count() /
      1000.0;

  // The same filter written by hand, with the same null rules (true only when every term is
  // known and true; a false term decides regardless of unknown ones).
  auto hand_written = [](const Row& row) {
    const double* drb = std::get_if<double>(&row[0].v);
    const double* magpsf = std::get_if<double>(&row[1].v);
    const double* ra = std::get_if<double>(&row[3].v);
    const std::string_view* isdiffpos = std::get_if<std::string_view>(&row[4].v);
    return drb && *drb > 0.8 && magpsf && *magpsf < 19.5 && row[2].is_null() && ra &&
           std::fabs(*ra - 150.0) <= 2.5 && isdiffpos && *isdiffpos == "t";
  };

  double best_program = 1e300, best_lambda = 1e300, best_eval = 1e300;
  size_t passed_program = 0, passed_lambda = 0, passed_eval = 0;
  for (int round = 0; round < 7; ++round) {
    best_program = std::min(
        best_program,
        ns_per_eval(
            rows, repeats, [&](const Row& row) { return program.test(row); }, passed_program));
    best_lambda = std::min(best_lambda, ns_per_eval(rows, repeats, hand_written, passed_lambda));
    best_eval = std::min(best_eval, ns_per_eval(
                                        rows, repeats,
                                        [&](const Row& row) {
                                          Value v = program.eval(row);
                                          return v.is_bool() && v.as_bool();
                                        },
                                        passed_eval));
  }

  std::printf("expression : %s\n", kExpression);
  std::printf("records    : %zu x %zu repeats, best of 7 interleaved rounds\n", rows.size(),
              repeats);
  std::printf("compile    : %8.2f us per compile\n", compile_us);
  std::printf("test()     : %8.2f ns/eval  (%.1f M evals/s)\n", best_program, 1e3 / best_program);
  std::printf("eval()     : %8.2f ns/eval\n", best_eval);
  std::printf("hand C++   : %8.2f ns/eval  (%.1f M evals/s)\n", best_lambda, 1e3 / best_lambda);
  std::printf("ratio      : %8.2f x slower than hand-written\n", best_program / best_lambda);
  std::printf("passed     : %zu of %zu (program), %zu (hand-written)\n", passed_program,
              rows.size(), passed_lambda);
  if (passed_program != passed_lambda || passed_eval != passed_lambda) {
    std::fprintf(stderr, "expr_bench: program and hand-written filter disagree\n");
    return 1;
  }
  return 0;
}
