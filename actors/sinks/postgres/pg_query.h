// `ebs-flow query postgresql://... "SELECT ..."`: one statement in a READ ONLY transaction (the
// server refuses any write), `:name` parameters bound from JSON (SQL never carries a value), rows
// as JSON objects: integers, floating-point and numeric as numbers, booleans, json/jsonb as JSON,
// everything else as text, NULL as null.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace ebs::postgres {

// `sql` with each :name outside quotes turned into $1, $2, ... (casts like ::text untouched), and
// the names in order of their numbers.
std::pair<std::string, std::vector<std::string>> positional_parameters(const std::string& sql);

void query(const std::string& url, const std::string& sql, const nlohmann::json& parameters,
           const std::function<void(const nlohmann::json&)>& row);

}  // namespace ebs::postgres
