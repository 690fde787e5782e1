#include "engine/expr/expr_commands.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/expr/program.h"

namespace ebs {

namespace {

using expr::CompileError;
using expr::Program;
using expr::Value;

// Compiles `text`, printing every error to stderr; nullopt when there were errors.
std::optional<Program> compile_or_report(const std::string& text) {
  auto compiled = Program::compile(text);
  if (auto* program = std::get_if<Program>(&compiled)) return *program;
  for (const CompileError& error : std::get<std::vector<CompileError>>(compiled))
    std::cerr << "expression:" << error.column << ": " << error.message << "\n";
  std::cerr << expr::describe(text, std::get<std::vector<CompileError>>(compiled)) << "\n";
  return std::nullopt;
}

// A dotted path into a JSON document: names for objects, indices for arrays.
const nlohmann::json* find_path(const nlohmann::json& root, std::string_view path) {
  const nlohmann::json* node = &root;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view segment = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    if (node->is_object()) {
      auto it = node->find(std::string(segment));
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      size_t index = 0;
      auto [end, status] = std::from_chars(segment.data(), segment.data() + segment.size(), index);
      if (status != std::errc() || end != segment.data() + segment.size() || index >= node->size())
        return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
  }
  return node;
}

// JSON values read the way the filter actor reads raw record nodes: a list reads as its length,
// a record as true (present).
Value json_value(const nlohmann::json* node) {
  if (!node || node->is_null()) return Value();
  if (node->is_boolean()) return Value(node->get<bool>());
  if (node->is_number()) return Value(node->get<double>());
  if (node->is_string()) return Value(std::string_view(node->get_ref<const std::string&>()));
  if (node->is_array()) return Value(static_cast<double>(node->size()));
  return Value(true);
}

nlohmann::json to_json(const Value& value) {
  if (value.is_bool()) return value.as_bool();
  if (value.is_number()) return value.as_number();
  if (value.is_text()) return std::string(value.as_text());
  return nullptr;
}

}  // namespace

void register_expr_commands(CommandRegistry& registry) {
  registry.describe_group("expr", "Filter expressions: check and try them");

  registry.add("expr check", "Compile a filter expression; list the fields it reads",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 struct Options {
                   std::string text;
                   bool bytecode = false;
                 };
                 auto options = std::make_shared<Options>();
                 app.add_option("expression", options->text, "the expression")->required();
                 app.add_flag("--bytecode", options->bytecode, "also print the compiled bytecode");
                 return [options] {
                   auto program = compile_or_report(options->text);
                   if (!program) return exit_code::failed;
                   nlohmann::json out{{"expression", options->text}, {"fields", program->fields()}};
                   if (options->bytecode) {
                     nlohmann::json lines = nlohmann::json::array();
                     std::string code = program->disassemble();
                     for (size_t start = 0, end; start < code.size(); start = end + 1) {
                       end = code.find('\n', start);
                       lines.push_back(code.substr(start, end - start));
                     }
                     out["bytecode"] = lines;
                   }
                   std::cout << out.dump() << "\n";
                   return exit_code::ok;
                 };
               });

  registry.add("expr eval", "Evaluate a filter expression over JSON records read from stdin",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto text = std::make_shared<std::string>();
                 app.add_option("expression", *text, "the expression")->required();
                 return [text] {
                   auto program = compile_or_report(*text);
                   if (!program) return exit_code::failed;
                   int status = exit_code::ok;
                   std::vector<Value> values(program->fields().size());
                   std::string line;
                   for (size_t row = 1; std::getline(std::cin, line); ++row) {
                     if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
                     nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
                     if (record.is_discarded()) {
                       std::cerr << "stdin:row " << row << ": not a JSON document\n";
                       status = exit_code::failed;
                       continue;
                     }
                     for (size_t i = 0; i < values.size(); ++i)
                       values[i] = json_value(find_path(record, program->fields()[i]));
                     Value result = program->eval(values);
                     nlohmann::json out{{"row", row},
                                        {"result", to_json(result)},
                                        {"passes", result == Value(true)}};
                     std::cout << out.dump() << "\n";
                   }
                   return status;
                 };
               });
}

}  // namespace ebs
