#include "actors/sinks/postgres/pg_query.h"

#include <algorithm>
#include <cctype>

#include "actors/sinks/postgres/pg_connection.h"
#include "actors/common/repository/rows.h"

namespace ebs::postgres {

namespace {

// Type OIDs (pg_type.dat) that have a JSON counterpart.
constexpr Oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kJson = 114, kFloat4 = 700,
              kFloat8 = 701, kNumeric = 1700, kJsonb = 3802;

nlohmann::json cell(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return nullptr;
  std::string_view value = text(result, row, column);
  switch (PQftype(result, column)) {
    case kBool: return value == "t";
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid:
      if (repository::is_alert_id_column(PQfname(result, column))) return std::string(value);
      return integer(result, row, column);
    case kFloat4:
    case kFloat8:
    case kNumeric: return number(result, row, column);
    case kJson:
    case kJsonb: return nlohmann::json::parse(value, nullptr, false);
    default: return std::string(value);
  }
}

std::string parameter_text(const std::string& name, const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number() || value.is_object() || value.is_array()) return value.dump();
  fail(":" + name, "no value for this parameter (--param " + name + "=VALUE)");
}

}  // namespace

std::pair<std::string, std::vector<std::string>> positional_parameters(const std::string& sql) {
  std::string out;
  std::vector<std::string> names;
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char ch = sql[i];
    if (quote) {
      if (ch == quote) quote = 0;
      out += ch;
    } else if (ch == '\'' || ch == '"') {
      quote = ch;
      out += ch;
    } else if (ch == ':' && i + 1 < sql.size() && sql[i + 1] == ':') {
      out += "::";
      ++i;
    } else if (ch == ':' && i + 1 < sql.size() && (std::isalpha(static_cast<unsigned char>(sql[i + 1])) || sql[i + 1] == '_')) {
      size_t end = i + 1;
      while (end < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[end])) || sql[end] == '_')) ++end;
      std::string name = sql.substr(i + 1, end - i - 1);
      auto found = std::find(names.begin(), names.end(), name);
      if (found == names.end()) found = names.insert(names.end(), name);
      out += "$" + std::to_string(found - names.begin() + 1);
      i = end - 1;
    } else {
      out += ch;
    }
  }
  return {out, names};
}

void query(const std::string& url, const std::string& sql, const nlohmann::json& parameters,
           const std::function<void(const nlohmann::json&)>& row) {
  Connection connection(url, "ebs-flow query");
  auto [statement, names] = positional_parameters(sql);
  Params params;
  for (const std::string& name : names) {
    if (!parameters.contains(name)) fail(":" + name, "no value for this parameter (--param " + name + "=VALUE)");
    params.add(std::string_view(parameter_text(name, parameters.at(name))));
  }
  // READ ONLY: the server refuses writes; the extended protocol runs one statement only, so
  // "...; COMMIT; DELETE ..." cannot end the transaction.
  connection.execute("BEGIN TRANSACTION READ ONLY");
  Result result = connection.execute(statement, params);
  const int columns = PQnfields(result.get());
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    nlohmann::json object = nlohmann::json::object();
    for (int c = 0; c < columns; ++c) object[PQfname(result.get(), c)] = cell(result.get(), r, c);
    row(object);
  }
  connection.execute("ROLLBACK");
}

}  // namespace ebs::postgres
