#include "actors/common/avro/schema_directory.h"

#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/util/fault.h"

namespace ebs::avro {

using json = nlohmann::ordered_json;  // keeps the files' key order in the inlined text
namespace fs = std::filesystem;

namespace {

bool is_primitive(std::string_view name) {
  return name == "null" || name == "boolean" || name == "int" || name == "long" ||
         name == "float" || name == "double" || name == "bytes" || name == "string";
}

std::string namespace_of(const std::string& full) {
  size_t dot = full.rfind('.');
  return dot == std::string::npos ? std::string() : full.substr(0, dot);
}

// Full name of a named type definition seen in namespace `ns`.
std::string full_name(const json& def, const std::string& ns) {
  std::string name = def.value("name", "");
  if (name.find('.') != std::string::npos) return name;
  std::string space = ns;
  if (auto it = def.find("namespace"); it != def.end() && it->is_string()) space = it->get<std::string>();
  return space.empty() ? name : space + "." + name;
}

class Inliner {
 public:
  Inliner(const std::map<std::string, json>& defs, const std::string& place)
      : defs_(defs), place_(place) {}

  json inline_definition(const std::string& full, int depth) {
    json def = defs_.at(full);
    def["name"] = full;
    if (full.find('.') == std::string::npos) def["namespace"] = "";
    else def.erase("namespace");
    return walk(def, namespace_of(full), depth + 1);
  }

  size_t defined_count() const { return defined_.size(); }

 private:
  json walk(const json& s, const std::string& ns, int depth) {
    if (depth > 200) ebs::fail(place_, "schema nested deeper than 200 levels");
    if (s.is_string()) return reference(s.get<std::string>(), ns, depth);
    if (s.is_array()) {
      json out = json::array();
      for (const json& branch : s) out.push_back(walk(branch, ns, depth + 1));
      return out;
    }
    if (!s.is_object() || !s.contains("type")) return s;
    json out = s;
    const json& type = s["type"];
    if (!type.is_string()) {
      out["type"] = walk(type, ns, depth + 1);
      return out;
    }
    std::string t = type.get<std::string>();
    if (t == "record" || t == "error") {
      std::string full = full_name(s, ns);
      defined_.insert(full);
      if (out.contains("fields") && out["fields"].is_array())
        for (json& field : out["fields"])
          if (field.is_object() && field.contains("type"))
            field["type"] = walk(field["type"], namespace_of(full), depth + 1);
    } else if (t == "enum" || t == "fixed") {
      defined_.insert(full_name(s, ns));
    } else if (t == "array" && s.contains("items")) {
      out["items"] = walk(s["items"], ns, depth + 1);
    } else if (t == "map" && s.contains("values")) {
      out["values"] = walk(s["values"], ns, depth + 1);
    } else if (!is_primitive(t)) {
      out["type"] = reference(t, ns, depth);
    }
    return out;
  }

  json reference(const std::string& name, const std::string& ns, int depth) {
    if (is_primitive(name)) return name;
    std::vector<std::string> candidates;
    if (name.find('.') == std::string::npos && !ns.empty()) candidates.push_back(ns + "." + name);
    candidates.push_back(name);
    for (const auto& c : candidates)
      if (defined_.count(c)) return name;
    for (const auto& c : candidates)
      if (defs_.count(c)) return inline_definition(c, depth);
    ebs::fail(place_, "unknown type name \"" + name + "\"");
  }

  const std::map<std::string, json>& defs_;
  std::string place_;
  std::set<std::string> defined_;
};

std::optional<uint32_t> parse_number(const std::string& text) {
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

std::map<std::string, json> parse_all(const std::map<std::string, std::string>& files,
                                      const std::string& place) {
  std::map<std::string, json> defs;
  for (const auto& [name, text] : files) {
    json parsed = json::parse(text, nullptr, false);
    if (parsed.is_discarded()) ebs::fail(place, "schema " + name + " is not valid JSON");
    defs.emplace(name, std::move(parsed));
  }
  return defs;
}

}  // namespace

std::string SchemaDirectory::inline_schemas(const std::map<std::string, std::string>& files,
                                            const std::string& root_name,
                                            const std::string& place) {
  auto defs = parse_all(files, place);
  if (!defs.count(root_name)) ebs::fail(place, "no schema named " + root_name);
  Inliner inliner(defs, place);
  return inliner.inline_definition(root_name, 0).dump();
}

SchemaDirectory SchemaDirectory::load(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) ebs::fail(root.string(), "schema directory not found");
  std::map<fs::path, std::vector<fs::path>> groups;  // folder -> its .avsc files
  auto consider = [&](const fs::directory_entry& e) {
    if (e.is_regular_file() && e.path().extension() == ".avsc")
      groups[e.path().parent_path()].push_back(e.path());
  };
  for (const auto& e : fs::recursive_directory_iterator(root, ec)) consider(e);
  if (ec) ebs::fail(root.string(), "cannot list schema directory: " + ec.message());
  if (groups.empty()) ebs::fail(root.string(), "no .avsc files found");

  SchemaDirectory directory;
  for (auto& [folder, paths] : groups) {
    auto minor = parse_number(folder.filename().string());
    auto major = parse_number(folder.parent_path().filename().string());
    if (!minor || !major)
      ebs::fail(folder.string(), "schema folders must be laid out as MAJOR/MINOR (e.g. 11/0)");
    uint32_t id = *major * 100 + *minor;

    std::map<std::string, std::string> texts;  // full name -> JSON text
    for (const fs::path& path : paths) {
      std::ifstream in(path, std::ios::binary);
      if (!in) ebs::fail(path.string(), "cannot read schema file");
      std::stringstream buffer;
      buffer << in.rdbuf();
      json parsed = json::parse(buffer.str(), nullptr, false);
      if (parsed.is_discarded()) ebs::fail(path.string(), "schema file is not valid JSON");
      if (!parsed.is_object() || !parsed.contains("name"))
        ebs::fail(path.string(), "schema file does not define a named type");
      std::string full = full_name(parsed, "");
      if (texts.count(full)) ebs::fail(path.string(), "type " + full + " is defined twice");
      texts.emplace(full, buffer.str());
    }
    // The root is the type whose inlined form defines the most types (it references the rest).
    auto defs = parse_all(texts, folder.string());
    std::string best;
    size_t best_count = 0;
    bool tie = false;
    for (const auto& [full, def] : defs) {
      Inliner inliner(defs, folder.string());
      inliner.inline_definition(full, 0);
      if (inliner.defined_count() > best_count) {
        best = full;
        best_count = inliner.defined_count();
        tie = false;
      } else if (inliner.defined_count() == best_count) {
        tie = true;
      }
    }
    if (tie) ebs::fail(folder.string(), "no single root schema: several types reference all others");
    Inliner inliner(defs, folder.string());
    directory.schemas_[id] = inliner.inline_definition(best, 0).dump();
  }
  return directory;
}

std::optional<std::string_view> SchemaDirectory::schema_text(uint32_t id) const {
  auto it = schemas_.find(id);
  if (it == schemas_.end()) return std::nullopt;
  return std::string_view(it->second);
}

std::vector<uint32_t> SchemaDirectory::ids() const {
  std::vector<uint32_t> ids;
  for (const auto& [id, text] : schemas_) ids.push_back(id);
  return ids;
}

}  // namespace ebs::avro
