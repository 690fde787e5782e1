#include "engine/expr/program.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <new>
#include <optional>

#include "engine/util/fault.h"

using namespace ebs::expr;

// Counts heap allocations, to check that evaluation never allocates.
namespace {
size_t allocations = 0;
}
void* operator new(size_t size) {
  ++allocations;
  if (void* memory = std::malloc(size ? size : 1)) return memory;
  throw std::bad_alloc();
}
// The nothrow forms too (std::stable_sort's buffer uses them): a sanitizer's runtime replaces each
// form it is not given, and memory from its `new` must not reach this `free`.
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  ++allocations;
  return std::malloc(size ? size : 1);
}
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, size_t) noexcept { std::free(memory); }
void operator delete(void* memory, const std::nothrow_t&) noexcept { std::free(memory); }

namespace {

using Record = std::map<std::string, Value>;

Program compiled(std::string_view text) {
  auto result = Program::compile(text);
  if (auto* errors = std::get_if<std::vector<CompileError>>(&result)) FAIL(describe(text, *errors));
  return std::get<Program>(std::move(result));
}

std::vector<Value> values_for(const Program& program, const Record& record) {
  std::vector<Value> values;
  for (const auto& path : program.fields()) {
    auto it = record.find(path);
    values.push_back(it == record.end() ? Value() : it->second);
  }
  return values;
}

// Text in a result may point into the program's literals, so the programs are kept alive.
Value eval(std::string_view text, const Record& record = {}) {
  static std::vector<Program> kept;
  Program program = kept.emplace_back(compiled(text));
  std::vector<Value> values = values_for(program, record);
  Value result = program.eval(values);
  CHECK(program.test(values) == (result == Value(true)));
  return result;
}

std::vector<CompileError> errors(std::string_view text) {
  auto result = Program::compile(text);
  auto* found = std::get_if<std::vector<CompileError>>(&result);
  REQUIRE_MESSAGE(found, "compiled without errors: " << text);
  return *found;
}

CompileError error(std::string_view text) {
  auto found = errors(text);
  REQUIRE(found.size() == 1);
  return found.front();
}

const Value null;
const Value T(true);
const Value F(false);

}  // namespace

TEST_CASE("literals and arithmetic") {
  CHECK(eval("1 + 2 * 3") == Value(7));
  CHECK(eval("(1 + 2) * 3") == Value(9));
  CHECK(eval("10 - 4 - 3") == Value(3));
  CHECK(eval("2 * 3 % 4") == Value(2));
  CHECK(eval("7 % 3") == Value(1));
  CHECK(eval("-7 % 3") == Value(-1));
  CHECK(eval("1 / 4") == Value(0.25));
  CHECK(eval("-2 * -3") == Value(6));
  CHECK(eval("- (1 + 2)") == Value(-3));
  CHECK(eval("1e-3 * 1000") == Value(1));
  CHECK(eval("true") == T);
  CHECK(eval("false") == F);
  CHECK(eval("null") == null);
  CHECK(eval("'text'") == Value("text"));
  CHECK(eval("x * 2 + y", {{"x", 3}, {"y", 0.5}}) == Value(6.5));
}

TEST_CASE("precedence as evaluated") {
  CHECK(eval("1 + 2 > 2 and 3 * 2 == 6") == T);
  CHECK(eval("false and false or true") == T);  // (false and false) or true
  CHECK(eval("true or true and false") == T);   // true or (true and false)
  CHECK(eval("not false and false") == F);      // (not false) and false
  CHECK(eval("not 1 > 2") == T);                // not (1 > 2)
  CHECK(eval("-2 * 3 + 10 / 2 - 1") == Value(-2));
  CHECK(eval("!(1 < 2) || 2 <= 2 && 3 >= 4") == F);
}

TEST_CASE("comparisons of numbers, text and booleans") {
  for (auto [text_, expected] :
       std::vector<std::pair<std::string_view, bool>>{{"1 < 2", true},
                                                      {"2 < 1", false},
                                                      {"1 <= 1", true},
                                                      {"1 > 1", false},
                                                      {"1 >= 1", true},
                                                      {"1 == 1.0", true},
                                                      {"1 != 1", false},
                                                      {"'a' < 'b'", true},
                                                      {"'b' < 'a'", false},
                                                      {"'ab' > 'a'", true},
                                                      {"'g' == 'g'", true},
                                                      {"'g' != 'r'", true},
                                                      {"'G' == 'g'", false},
                                                      {"true == true", true},
                                                      {"true != false", true},
                                                      {"false == true", false}}) {
    std::string_view text = text_;  // CAPTURE's lambda cannot capture a structured binding (clang 14)
    CAPTURE(text);
    CHECK(eval(text) == Value(expected));
  }
  Record record{{"band", "g"}, {"flag", true}, {"mag", 18.5}, {"name", "ZTF20aaa"}};
  CHECK(eval("band == \"g\"", record) == T);
  CHECK(eval("\"g\" == band", record) == T);
  CHECK(eval("band != 'g'", record) == F);
  CHECK(eval("name >= 'ZTF20'", record) == T);
  CHECK(eval("flag == true", record) == T);
  CHECK(eval("mag < 19.5", record) == T);
  CHECK(eval("19.5 > mag", record) == T);  // the constant on the left is mirrored
  CHECK(eval("19.5 <= mag", record) == F);
  CHECK(eval("18.5 >= mag", record) == T);
  CHECK(eval("mag + 1 == 19.5", record) == T);
  // Kinds that differ at run time compare as null; booleans do not order.
  CHECK(eval("mag == band", record) == null);
  CHECK(eval("band < 1", record) == null);
  CHECK(error("flag < true").message == "'<' cannot order true/false values; use == or !=");
  CHECK(eval("flag < other", {{"flag", true}, {"other", false}}) == null);
  CHECK(eval("isdiffpos == 't' or isdiffpos == '1'", {{"isdiffpos", "1"}}) == T);
  CHECK(eval("isdiffpos == 't' or isdiffpos == '1'", {{"isdiffpos", "f"}}) == F);
}

TEST_CASE("three-valued logic, every combination") {
  struct Row {
    Value a, b, and_result, or_result;
  };
  const Row rows[] = {
      {T, T, T, T},       {T, F, F, T},       {T, null, null, T},
      {F, T, F, T},       {F, F, F, F},       {F, null, F, null},
      {null, T, null, T}, {null, F, F, null}, {null, null, null, null},
  };
  for (const auto& row : rows) {
    Record record{{"a", row.a}, {"b", row.b}};
    CAPTURE(row.a);
    CAPTURE(row.b);
    CHECK(eval("a and b", record) == row.and_result);
    CHECK(eval("a && b", record) == row.and_result);
    CHECK(eval("a or b", record) == row.or_result);
    CHECK(eval("a || b", record) == row.or_result);
  }
  CHECK(eval("not a", {{"a", true}}) == F);
  CHECK(eval("not a", {{"a", false}}) == T);
  CHECK(eval("not a") == null);
  CHECK(eval("!a") == null);
  // Literal nulls take part in logic too.
  CHECK(eval("null and false") == F);
  CHECK(eval("null or true") == T);
  CHECK(eval("null and true") == null);
  CHECK(eval("not null") == null);
  // A number or text where true/false is expected (known only at run time) is unknown.
  CHECK(eval("a and true", {{"a", 1}}) == null);
  CHECK(eval("a or false", {{"a", "yes"}}) == null);
  CHECK(eval("a and false", {{"a", 1}}) == F);
  CHECK(eval("not a", {{"a", 0}}) == null);
  CHECK(eval("a", {{"a", true}}) == T);
}

TEST_CASE("short-circuit skips the other side, with the same result") {
  Program program = compiled("a and b > 1 or c");
  CHECK(program.fields() == std::vector<std::string>{"a", "b", "c"});
  CHECK(program.eval(values_for(program, {{"a", false}, {"c", true}})) == T);
  CHECK(program.eval(values_for(program, {{"a", false}, {"c", false}})) == F);
  CHECK(program.eval(values_for(program, {{"a", true}, {"b", 2}, {"c", false}})) == T);
  CHECK(program.eval(values_for(program, {{"a", true}, {"b", 0}})) == null);
  CHECK(program.disassemble().find("and_head") != std::string::npos);
  CHECK(program.disassemble().find("or_head") != std::string::npos);
}

TEST_CASE("a chain of 'and' is one n-ary step per term; a false term jumps to the end") {
  Program program = compiled("a > 1 and b > 1 and (c > 1 and d > 1)");
  CHECK(program.disassemble() ==
        "0 field_greater_number a 1\n1 and_head -> 8\n2 field_greater_number b 1\n"
        "3 and_step -> 8\n4 field_greater_number c 1\n5 and_step -> 8\n"
        "6 field_greater_number d 1\n7 and_step -> 8\n");
  Record record{{"a", 0}, {"b", 2}, {"c", 2}, {"d", 2}};
  CHECK(program.eval(values_for(program, record)) == F);
  record["a"] = 2;
  CHECK(program.eval(values_for(program, record)) == T);
  record["d"] = Value();
  CHECK(program.eval(values_for(program, record)) == null);
  record["b"] = Value();
  record["c"] = 0;
  CHECK(program.eval(values_for(program, record)) == F);
  Program either = compiled("a > 1 or b > 1 or c > 1");
  CHECK(either.eval(values_for(either, {{"a", 2}})) == T);
  CHECK(either.eval(values_for(either, {{"c", 2}})) == T);
  CHECK(either.eval(values_for(either, {{"a", 0}, {"b", 0}, {"c", 0}})) == F);
  CHECK(either.eval(values_for(either, {{"a", 0}, {"b", 0}})) == null);
}

TEST_CASE("nested three-valued logic agrees with a reference, for every input") {
  // Reference Kleene logic on optional<bool> (nullopt = unknown).
  using Tri = std::optional<bool>;
  auto and3 = [](Tri x, Tri y) -> Tri {
    if (x == false || y == false) return false;
    if (x == true && y == true) return true;
    return std::nullopt;
  };
  auto or3 = [](Tri x, Tri y) -> Tri {
    if (x == true || y == true) return true;
    if (x == false && y == false) return false;
    return std::nullopt;
  };
  auto not3 = [](Tri x) -> Tri { return x ? Tri(!*x) : std::nullopt; };
  struct Case {
    const char* text;
    std::function<Tri(Tri, Tri, Tri)> reference;
  };
  const Case cases[] = {
      {"a and b or c", [&](Tri a, Tri b, Tri c) { return or3(and3(a, b), c); }},
      {"a or b and c", [&](Tri a, Tri b, Tri c) { return or3(a, and3(b, c)); }},
      {"(a or b) and c", [&](Tri a, Tri b, Tri c) { return and3(or3(a, b), c); }},
      {"not a and not (b or c)",
       [&](Tri a, Tri b, Tri c) { return and3(not3(a), not3(or3(b, c))); }},
      {"a and b and c", [&](Tri a, Tri b, Tri c) { return and3(and3(a, b), c); }},
      {"a or b or c", [&](Tri a, Tri b, Tri c) { return or3(or3(a, b), c); }},
      {"a and (b or not c) and (c or a)",
       [&](Tri a, Tri b, Tri c) { return and3(and3(a, or3(b, not3(c))), or3(c, a)); }},
      {"not (a and b) or (b and c) or not c",
       [&](Tri a, Tri b, Tri c) { return or3(or3(not3(and3(a, b)), and3(b, c)), not3(c)); }},
  };
  const Tri states[] = {true, false, std::nullopt};
  auto value_of = [](Tri x) { return x ? Value(*x) : Value(); };
  for (const auto& test : cases) {
    Program program = compiled(test.text);
    for (Tri a : states)
      for (Tri b : states)
        for (Tri c : states) {
          CAPTURE(test.text);
          CAPTURE(value_of(a));
          CAPTURE(value_of(b));
          CAPTURE(value_of(c));
          Record record{{"a", value_of(a)}, {"b", value_of(b)}, {"c", value_of(c)}};
          CHECK(program.eval(values_for(program, record)) == value_of(test.reference(a, b, c)));
        }
  }
}

TEST_CASE("missing and null fields propagate null; filters do not pass on null") {
  CHECK(eval("x + 1") == null);
  CHECK(eval("x + 1", {{"x", null}}) == null);
  CHECK(eval("-x") == null);
  CHECK(eval("x * 0") == null);
  CHECK(eval("x > 1") == null);
  CHECK(eval("x == x") == null);
  CHECK(eval("x != 1") == null);
  CHECK(eval("abs(x)") == null);
  CHECK(eval("min(x, 1)") == null);
  CHECK(eval("max(1, x)") == null);
  CHECK(eval("x + y", {{"x", 1}, {"y", "a"}}) == null);  // field kinds are known at run time only
  CHECK(eval("-y", {{"y", "a"}}) == null);
  CHECK(eval("abs(y)", {{"y", true}}) == null);
  Program program = compiled("candidate.magpsf < 19");
  std::vector<Value> missing = values_for(program, {});
  CHECK_FALSE(program.test(missing));
  CHECK_FALSE(compiled("not (candidate.magpsf < 19)").test(missing));  // filtered both ways
  CHECK(compiled("not (candidate.magpsf < 19)").eval(missing) == null);
}

TEST_CASE("NaN and out-of-domain numbers are null") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(eval("x", {{"x", nan}}) == null);
  CHECK(eval("x < 1", {{"x", nan}}) == null);
  CHECK(eval("not (x < 1)", {{"x", nan}}) == null);
  CHECK(eval("is_null(x)", {{"x", nan}}) == T);
  CHECK(eval("exists(x)", {{"x", nan}}) == F);
  CHECK(eval("x / 0", {{"x", 1}}) == null);
  CHECK(eval("x % 0", {{"x", 1}}) == null);
  CHECK(eval("1 / 0") == null);
  CHECK(eval("log10(0)") == null);
  CHECK(eval("log10(x)", {{"x", -5}}) == null);
  CHECK(eval("sqrt(-1)") == null);
  CHECK(eval("x - x", {{"x", std::numeric_limits<double>::infinity()}}) == null);
  CHECK(eval("x > 1e308", {{"x", std::numeric_limits<double>::infinity()}}) == T);
}

TEST_CASE("functions") {
  CHECK(eval("abs(-2.5)") == Value(2.5));
  CHECK(eval("abs(x)", {{"x", 3}}) == Value(3));
  CHECK(eval("abs(ra - 150) <= 2.5", {{"ra", 148}}) == T);
  CHECK(eval("abs(ra - 150) <= 2.5", {{"ra", 153}}) == F);
  CHECK(eval("log10(1000)") == Value(3));
  CHECK(eval("log10(flux) > 3 and band == \"g\"", {{"flux", 1500}, {"band", "g"}}) == T);
  CHECK(eval("log10(flux) > 3 and band == \"g\"", {{"flux", 500}, {"band", "g"}}) == F);
  CHECK(eval("sqrt(16)") == Value(4));
  CHECK(eval("sqrt(x)", {{"x", 2.25}}) == Value(1.5));
  CHECK(eval("min(3, 2)") == Value(2));
  CHECK(eval("max(3, 2)") == Value(3));
  CHECK(eval("min(a, b)", {{"a", -1}, {"b", 4}}) == Value(-1));
  CHECK(eval("max(a, b)", {{"a", -1}, {"b", 4}}) == Value(4));
  CHECK(eval("exists(x)", {{"x", 1}}) == T);
  CHECK(eval("exists(x)", {{"x", false}}) == T);
  CHECK(eval("exists(x)", {{"x", ""}}) == T);
  CHECK(eval("exists(x)", {{"x", null}}) == F);
  CHECK(eval("exists(x)") == F);
  CHECK(eval("not exists(candidate.ssnamenr)") == T);
  CHECK(eval("is_null(x)") == T);
  CHECK(eval("is_null(x)", {{"x", 0}}) == F);
  CHECK(eval("is_null(x + 1)", {{"x", 0}}) == F);
  CHECK(eval("is_null(x + 1)") == T);
  CHECK(eval("is_null(null)") == T);
  CHECK(eval("is_null(1)") == F);
}

TEST_CASE("the brief's example filter") {
  const char* text =
      "candidate.drb > 0.8 and (mag < 19.5 or not exists(candidate.ssnamenr)) and "
      "abs(ra - 150) <= 2.5";
  Program program = compiled(text);
  CHECK(program.text() == text);
  CHECK(program.fields() ==
        std::vector<std::string>{"candidate.drb", "mag", "candidate.ssnamenr", "ra"});
  Record passing{{"candidate.drb", 0.95}, {"mag", 20.1}, {"ra", 151}};
  CHECK(program.test(values_for(program, passing)));
  Record asteroid = passing;
  asteroid["candidate.ssnamenr"] = "12345";
  CHECK_FALSE(program.test(values_for(program, asteroid)));
  asteroid["mag"] = 18.0;
  CHECK(program.test(values_for(program, asteroid)));
  Record no_drb = passing;
  no_drb.erase("candidate.drb");
  CHECK(program.eval(values_for(program, no_drb)) == null);
  Record far = passing;
  far["ra"] = 160;
  CHECK(program.eval(values_for(program, far)) == F);
}

TEST_CASE("fields: distinct paths in order of first use, including list indices") {
  Program program = compiled(
      "prv_candidates.0.jd < candidate.jd and exists(prv_candidates.0.jd) and "
      "candidate.jd - prv_candidates.0.jd < 30");
  CHECK(program.fields() == std::vector<std::string>{"prv_candidates.0.jd", "candidate.jd"});
  CHECK(program.test(
      values_for(program, {{"prv_candidates.0.jd", 2458849.5}, {"candidate.jd", 2458850.5}})));
  CHECK(compiled("1 + 2 > 0").fields().empty());
}

TEST_CASE("text results point into the input or the program") {
  std::string input = "hello";
  Program program = compiled("x");
  std::vector<Value> values{Value(std::string_view(input))};
  Value result = program.eval(values);
  REQUIRE(result.is_text());
  CHECK(result.as_text().data() == input.data());

  // Copies share the compiled code, so literals outlive the original program object.
  std::optional<Program> original = compiled("'a literal long enough to live on the heap'");
  Program copy = *original;
  Program moved = std::move(*original);
  original.reset();
  CHECK(copy.eval({}) == Value("a literal long enough to live on the heap"));
  CHECK(moved.eval({}).as_text().data() == copy.eval({}).as_text().data());
}

TEST_CASE("constants fold and field comparisons are fused") {
  Program folded = compiled("x > -1 and y < 2 * 3 + abs(-1) and z == 'g'");
  std::string code = folded.disassemble();
  CAPTURE(code);
  CHECK(code.find("field_greater_number x -1") != std::string::npos);
  CHECK(code.find("field_less_number y 7") != std::string::npos);
  CHECK(code.find("field_equal_text z \"g\"") != std::string::npos);
  CHECK(code.find("negate") == std::string::npos);
  CHECK(code.find("multiply") == std::string::npos);
  CHECK(compiled("19.5 > mag").disassemble() == "0 field_less_number mag 19.5\n");
  CHECK(compiled("2 > 1 and true").disassemble() == "0 push_const true\n");
  CHECK(compiled("-x").disassemble() == "0 load_field x\n1 negate\n");
  CHECK(compiled("flag == true").disassemble() == "0 field_equal flag true\n");
  CHECK(compiled("name < 'b'").disassemble() == "0 field_less name \"b\"\n");
  CHECK(compiled("abs(ra - 150) <= 2.5").disassemble() ==
        "0 load_field ra\n1 subtract_const 150\n2 abs\n3 less_equal_const 2.5\n");
  CHECK(compiled("2.5 >= abs(ra)").disassemble() ==
        "0 load_field ra\n1 abs\n2 less_equal_const 2.5\n");
  CHECK(compiled("not exists(x)").disassemble() == "0 absent x\n");
  CHECK(compiled("is_null(x)").disassemble() == "0 absent x\n");
  CHECK(compiled("is_null(x + 1)").disassemble() == "0 load_field x\n1 add_const 1\n2 is_null\n");
  CHECK(compiled("x / 2 % 3 * 4 + 1").disassemble() ==
        "0 load_field x\n1 divide_const 2\n2 modulo_const 3\n3 multiply_const 4\n4 add_const 1\n");
  CHECK(compiled("10 - x").disassemble() == "0 push_const 10\n1 load_field x\n2 subtract\n");
  CHECK(compiled("1 / 0 > 1 or x").disassemble().find("push_const null") != std::string::npos);
}

TEST_CASE("type errors when both sides are known") {
  CHECK(error("1 == 'a'") == CompileError{3, "cannot compare a number with text using '=='"});
  CHECK(error("'a' < 2") == CompileError{5, "cannot compare text with a number using '<'"});
  CHECK(error("true == 1") == CompileError{6, "cannot compare a boolean with a number using '=='"});
  CHECK(error("abs(x) == 'a'") == CompileError{8, "cannot compare a number with text using '=='"});
  CHECK(error("(x > 1) != 'yes'") ==
        CompileError{9, "cannot compare a boolean with text using '!='"});
  CHECK(error("true < false") ==
        CompileError{6, "'<' cannot order true/false values; use == or !="});
  CHECK(error("x == null") ==
        CompileError{3, "comparing with null always gives null; use is_null(x) or exists(path)"});
  CHECK(error("null != x").column == 6);
  CHECK(error("'a' + 1") == CompileError{1, "'+' needs numbers, found text on its left"});
  CHECK(error("x * true") == CompileError{5, "'*' needs numbers, found a boolean on its right"});
  CHECK(error("x + null") == CompileError{3, "'+' with null always gives null"});
  CHECK(error("-'a'") == CompileError{2, "'-' needs a number, found text"});
  CHECK(error("-null") == CompileError{1, "'-' of null always gives null"});
  CHECK(error("not 1") == CompileError{5, "'not' needs a true/false value, found a number"});
  CHECK(error("x and 'yes'") ==
        CompileError{7, "'and' needs true/false values, found text on its right"});
  CHECK(error("1 or x") ==
        CompileError{1, "'or' needs true/false values, found a number on its left"});
  CHECK(error("log10('a')") == CompileError{7, "'log10' needs a number, found text"});
  CHECK(error("min(a, 'x')") == CompileError{8, "'min' needs a number, found text"});
  CHECK(error("sqrt(null)") == CompileError{6, "'sqrt' of null always gives null"});
  CHECK(error("abs(x > 1)") == CompileError{5, "'abs' needs a number, found a boolean"});
}

TEST_CASE("functions: unknown names and arity, at the name's column") {
  CHECK(error("lg10(flux) > 3") ==
        CompileError{1, "unknown function 'lg10' (did you mean 'log10'?)"});
  CHECK(error("x > 1 and isnull(y)") ==
        CompileError{11, "unknown function 'isnull' (did you mean 'is_null'?)"});
  CHECK(error("x > 1 and log(y) > 0").message == "unknown function 'log' (did you mean 'log10'?)");
  CHECK(error("Abs(x) > 0").message == "unknown function 'Abs' (did you mean 'abs'?)");
  CHECK(error("frobnicate(x)") ==
        CompileError{1,
                     "unknown function 'frobnicate' (known: abs, log10, sqrt, exists, min, "
                     "max, is_null)"});
  CHECK(error("candidate.rb(1)").message.starts_with("unknown function 'candidate.rb'"));
  CHECK(error("1 + min(x)") == CompileError{5, "'min' takes 2 arguments, found 1"});
  CHECK(error("max(x, y, z)") == CompileError{1, "'max' takes 2 arguments, found 3"});
  CHECK(error("abs()") == CompileError{1, "'abs' takes 1 argument, found 0"});
  CHECK(error("exists(a, b)") == CompileError{1, "'exists' takes 1 argument, found 2"});
  CHECK(error("is_null()") == CompileError{1, "'is_null' takes 1 argument, found 0"});
  CHECK(error("exists(1)") ==
        CompileError{8, "exists() takes a field path, e.g. exists(candidate.ssnamenr)"});
  CHECK(error("exists(x + 1)").column == 8);
}

TEST_CASE("every type and function error is reported, in column order") {
  auto found = errors("lg10(x) > 1 and 'a' == 2 or sqrt(x, y) > 0 and z = 1");
  REQUIRE(found.size() == 1);  // a lexical error ('=') hides the rest
  CHECK(found[0].column == 50);

  found = errors("lg10(x) > 1 and 'a' == 2 or sqrt(x, y) > 0 and mn(z) < 1");
  REQUIRE(found.size() == 4);
  CHECK(found[0] == CompileError{1, "unknown function 'lg10' (did you mean 'log10'?)"});
  CHECK(found[1] == CompileError{21, "cannot compare text with a number using '=='"});
  CHECK(found[2] == CompileError{29, "'sqrt' takes 1 argument, found 2"});
  CHECK(found[3] == CompileError{48, "unknown function 'mn' (did you mean 'min'?)"});
}

TEST_CASE("syntax errors come through compile") {
  CHECK(error("candidate.drb > 0.8)") == CompileError{20, "unexpected ')'"});
  CHECK(error("(candidate.drb > 0.8") == CompileError{21, "missing ')' to close '(' at column 1"});
  CHECK(error("mag < 1.2.3") == CompileError{7, "bad number '1.2.3'"});
  CHECK(error("mag < 19 19") == CompileError{10, "unexpected '19' after a complete expression"});
}

TEST_CASE("eval needs a value per field") {
  Program program = compiled("a + b > 1");
  std::vector<Value> one{Value(1)};
  CHECK_THROWS_AS(program.eval(one), ebs::Fault);
  std::vector<Value> more{Value(1), Value(2), Value(3)};  // extra values are ignored
  CHECK(program.eval(more) == T);
}

TEST_CASE("a deep but legal expression evaluates") {
  std::string text = "x";
  for (int i = 0; i < 150; ++i) text = "(" + text + " + 1)";
  CHECK(eval(text, {{"x", 0}}) == Value(150));
  std::string right = "x";
  for (int i = 0; i < 150; ++i) right = "(1 + " + right + ")";
  CHECK(eval(right, {{"x", 0}}) == Value(150));
}

TEST_CASE("evaluation does not allocate") {
  Program program = compiled(
      "candidate.drb > 0.8 and (mag < 19.5 or not exists(candidate.ssnamenr)) and "
      "abs(ra - 150) <= 2.5 and band == 'g' and log10(max(flux, 1)) > 3 or is_null(x) and y != "
      "'a'");
  std::vector<Value> values = values_for(
      program,
      {{"candidate.drb", 0.9}, {"mag", 18.0}, {"ra", 150.5}, {"band", "g"}, {"flux", 5000}});
  size_t passed = 0;
  size_t before = allocations;
  for (int i = 0; i < 1000; ++i) passed += program.test(values) ? 1 : 0;
  Value result = program.eval(values);
  size_t during = allocations - before;
  CHECK(during == 0);
  CHECK(passed == 1000);
  CHECK(result == T);
}

TEST_CASE("a watchlist: a flat 'or' of 200 terms compiles and finds its last id") {
  std::string watchlist = "id == 0";
  for (int i = 1; i < 200; ++i) watchlist += " or id == " + std::to_string(i);
  Program program = compiled(watchlist);
  CHECK(program.eval(values_for(program, {{"id", 199}})) == T);
  CHECK(program.eval(values_for(program, {{"id", 200}})) == F);
}
