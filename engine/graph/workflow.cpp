#include "engine/graph/workflow.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "engine/graph/yaml_keys.h"
#include "engine/util/byte_size.h"
#include "engine/util/edit_distance.h"
#include "engine/util/utf8.h"

namespace ebs {

namespace {

const std::set<std::string> kTopLevelKeys{"name", "description", "plugins", "dead_letters",
                                          "defaults", "actors", "on_node_loss", "cluster"};
const std::set<std::string> kActorKeys{"id", "type", "config", "inputs", "parallelism",
                                       "rate", "burst", "placement", "description"};
// Actor keys that `--set ACTOR.KEY=VALUE` sets on the actor itself, not in its config.
const std::set<std::string> kOverridableActorKeys{"parallelism", "rate", "burst.every_s", "burst.alerts"};
const std::set<std::string> kDefaultsKeys{"batch_size",
                                          "batch_delay_ms",
                                          "drain_timeout_s",
                                          "credit_window_batches",
                                          "credit_window_bytes",
                                          "held_tokens_bytes",
                                          "dashboard_shipment_bytes",
                                          "dashboard_final_shipment_bytes"};

std::string did_you_mean(const std::vector<std::string>& names) {
  if (names.empty()) return "";
  std::string text = " (did you mean ";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) text += i + 1 == names.size() ? " or " : ", ";
    text += "'" + names[i] + "'";
  }
  return text + "?)";
}

// "a, b, c" (or "none"): port errors list every valid port.
std::string name_list(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string text;
  for (const std::string& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

bool is_integer(const YAML::Node& v) {
  if (!v.IsScalar()) return false;
  int64_t i;
  return YAML::convert<int64_t>::decode(v, i);
}
bool is_number(const YAML::Node& v) {
  if (!v.IsScalar()) return false;
  double d;
  return YAML::convert<double>::decode(v, d);
}
bool is_boolean(const YAML::Node& v) {
  if (!v.IsScalar()) return false;
  bool b;
  return YAML::convert<bool>::decode(v, b);
}

bool value_fits(ValueKind kind, const YAML::Node& v) {
  switch (kind) {
    case ValueKind::string:
    case ValueKind::expression: return v.IsScalar();
    case ValueKind::integer: return is_integer(v);
    case ValueKind::number: return is_number(v);
    case ValueKind::boolean: return is_boolean(v);
    case ValueKind::list: return v.IsSequence() || v.IsScalar();
    case ValueKind::map: return v.IsMap();
    case ValueKind::any: return true;
    case ValueKind::bytes: return v.IsScalar() && parse_byte_size(v.Scalar()).bytes.has_value();
    case ValueKind::mebibytes: return v.IsScalar() && parse_byte_size(v.Scalar(), int64_t{1} << 20).bytes.has_value();
  }
  return true;
}

std::string describe_kind(ValueKind kind) {
  switch (kind) {
    case ValueKind::string: return "a string";
    case ValueKind::expression: return "an expression (a string)";
    case ValueKind::integer: return "an integer";
    case ValueKind::number: return "a number";
    case ValueKind::boolean: return "true or false";
    case ValueKind::list: return "a list";
    case ValueKind::map: return "a map";
    case ValueKind::any: return "any value";
    case ValueKind::bytes: return "a size in bytes: " + byte_size_forms();
    case ValueKind::mebibytes: return "a size: " + byte_size_forms(int64_t{1} << 20);
  }
  return "a value";
}

std::string yaml_text(const YAML::Node& v) {
  if (v.IsScalar()) return "'" + v.Scalar() + "'";
  if (v.IsSequence()) return "a list";
  if (v.IsMap()) return "a map";
  return "nothing";
}

// A whole decimal number, all of `text` (no sign but '-', no suffix), within int64_t.
std::optional<int64_t> whole_number(const std::string& text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [at, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || at != end) return std::nullopt;
  return value;
}

}  // namespace

std::string byte_setting_problem(const std::string& key, int64_t value, const ByteRange& range) {
  if (value >= range.least && value <= range.most) return "";
  return "'" + key + "' must be a number of bytes from " + describe_bytes(range.least) + " to " +
         describe_bytes(range.most) + ", default " + range.default_text + ", not " + std::to_string(value);
}

SettingValue byte_setting(const std::string& key, const std::string& text, const ByteRange& range) {
  if (text.empty()) {  // a list, a map: no size at all
    std::string problem = byte_setting_problem(key, range.least - 1, range);
    problem.resize(problem.rfind(", not "));
    return {std::nullopt, problem + ": write " + byte_size_forms()};
  }
  ByteSize size = parse_byte_size(text);
  if (!size.bytes) return {std::nullopt, "'" + key + "': " + size.problem};
  std::string problem = byte_setting_problem(key, *size.bytes, range);
  if (problem.empty()) return {size.bytes, ""};
  // A size is shown as written beside its bytes: '0 KiB' is 0.
  if (text != std::to_string(*size.bytes)) problem += " ('" + text + "')";
  return {std::nullopt, problem};
}

ByteRange dashboard_budget_range(bool final) {
  return final ? ByteRange{Workflow::kMinDashboardShipmentBytes, Workflow::kMaxDashboardFinalShipmentBytes,
                           std::to_string(Workflow::kFinalShipments) + " times dashboard_shipment_bytes"}
               : ByteRange{Workflow::kMinDashboardShipmentBytes, Workflow::kMaxDashboardShipmentBytes,
                           describe_bytes(Workflow::kDefaultDashboardShipmentBytes)};
}

namespace {

ByteRange credit_bytes_range(const std::string& key) {
  return {1, Workflow::kMaxWindowBytes,
          key == "credit_window_bytes" ? describe_bytes(Workflow::kDefaultCreditWindowBytes) : "one credit byte window"};
}

}  // namespace

std::string credit_setting_problem(const std::string& key, int64_t value) {
  if (key != "credit_window_batches") return byte_setting_problem(key, value, credit_bytes_range(key));
  const int64_t most = Workflow::kMaxCreditWindowBatches;
  if (value >= 1 && value <= most) return "";
  return "'credit_window_batches' must be a whole number of batches from 1 to " + std::to_string(most) +
         " (default " + std::to_string(Workflow::kDefaultCreditWindowBatches) + "), not " + std::to_string(value);
}

SettingValue credit_setting(const std::string& key, const std::string& text) {
  if (key != "credit_window_batches") return byte_setting(key, text, credit_bytes_range(key));
  if (std::optional<int64_t> value = whole_number(text)) {
    std::string problem = credit_setting_problem(key, *value);
    return problem.empty() ? SettingValue{value, ""} : SettingValue{std::nullopt, problem};
  }
  // Text that is not a number at all (or nothing: a list) gives the range.
  std::string problem = credit_setting_problem(key, int64_t{0});
  problem.resize(problem.rfind(", not "));
  return {std::nullopt, text.empty() ? problem : problem + ", not '" + text + "'"};
}

std::string credit_setting_problem(const std::string& key, const std::string& text) {
  return credit_setting(key, text).problem;
}

ActorConfig ActorSpec::config() const {
  return ActorConfig(config_node, file, type ? &type->config : nullptr);
}

const ActorSpec* Workflow::find(const std::string& id) const {
  for (const ActorSpec& a : actors)
    if (a.id == id) return &a;
  return nullptr;
}

std::string format_problem(const Problem& problem) {
  return problem.place.empty() ? problem.message : problem.place + ": " + problem.message;
}

std::string expand_variables(std::string_view text, const std::string& file,
                             std::vector<Problem>& problems) {
  std::string out;
  out.reserve(text.size());
  size_t line = 1, column = 1;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '$' && i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      i += 2;
      column += 2;
      continue;
    }
    if (c == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      size_t newline = text.find('\n', i + 2);
      std::string place = file + ":" + std::to_string(line) + ":" + std::to_string(column);
      if (close == std::string_view::npos || (newline != std::string_view::npos && newline < close)) {
        problems.push_back({place, "unterminated '${' (write '$$' for a literal '$')"});
        out += c;
        ++i;
        ++column;
        continue;
      }
      std::string_view body = text.substr(i + 2, close - i - 2);
      size_t sep = body.find(":-");
      std::string name(body.substr(0, sep));
      bool valid_name = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
      });
      if (!valid_name) {
        problems.push_back({place, "bad variable name '" + name + "' in '${" + std::string(body) + "}'"});
      } else if (const char* value = std::getenv(name.c_str()); value && *value) {
        out += value;
      } else if (sep != std::string_view::npos) {
        out += body.substr(sep + 2);
      } else {
        problems.push_back({place, "environment variable " + name +
                                       " is not set (give a default: ${" + name + ":-value})"});
      }
      column += close + 1 - i;
      i = close + 1;
      continue;
    }
    out += c;
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    ++i;
  }
  return out;
}

std::optional<WorkflowDocument> parse_workflow_text(std::string_view text, const std::string& file,
                                                    std::vector<Problem>& problems) {
  std::string expanded = expand_variables(text, file, problems);
  try {
    WorkflowDocument doc{file, YAML::Load(expanded), {}};
    if (!doc.root.IsMap()) {
      problems.push_back({place_of(file, doc.root), "a workflow is a YAML map with 'name' and 'actors'"});
      return std::nullopt;
    }
    KeyProblems keys = key_problems(doc.root);
    for (const DuplicateKey& d : keys.duplicates) problems.push_back({place_of(file, d.second), describe_duplicate(file, d)});
    for (const YAML::Mark& m : keys.not_names) problems.push_back({place_of(file, m), "a key must be a name, not a map or a list"});
    if (!keys.duplicates.empty() || !keys.not_names.empty()) return std::nullopt;
    return doc;
  } catch (const YAML::Exception& e) {
    problems.push_back({place_of(file, e.mark), e.msg});
    return std::nullopt;
  }
}

std::optional<WorkflowDocument> parse_workflow(const std::string& path, std::vector<Problem>& problems) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    problems.push_back({path, "cannot open the workflow file"});
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_workflow_text(text.str(), path, problems);
}

std::vector<std::string> workflow_plugins(const WorkflowDocument& document) {
  std::vector<std::string> out;
  YAML::Node plugins = document.root["plugins"];
  if (!plugins || !plugins.IsSequence()) return out;
  std::filesystem::path base = std::filesystem::path(document.file).parent_path();
  for (const YAML::Node& p : plugins) {
    if (!p.IsScalar()) continue;
    std::filesystem::path path = p.Scalar();
    if (path.is_relative() && path.string().find('/') != std::string::npos) path = base / path;
    out.push_back(path.string());
  }
  return out;
}

void apply_overrides(WorkflowDocument& document, const std::vector<std::string>& overrides,
                     std::vector<Problem>& problems) {
  for (const std::string& item : overrides) {
    size_t eq = item.find('=');
    size_t dot = item.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq || dot == 0 || dot + 1 == eq) {
      problems.push_back({"--set " + item, "expected ACTOR.KEY=VALUE"});
      continue;
    }
    std::string actor = item.substr(0, dot);
    std::string key = item.substr(dot + 1, eq - dot - 1);
    std::string value = item.substr(eq + 1);
    bool found = false;
    for (YAML::Node a : document.root["actors"]) {
      if (a.IsMap() && a["id"] && a["id"].IsScalar() && a["id"].Scalar() == actor) {
        YAML::Node parsed;
        try {
          parsed = YAML::Load(value);
        } catch (const YAML::Exception&) {
          parsed = YAML::Node(value);
        }
        if (kOverridableActorKeys.count(key)) {
          if (key.starts_with("burst.")) {
            if (!a["burst"] || !a["burst"].IsMap()) a["burst"] = YAML::Node(YAML::NodeType::Map);
            a["burst"][key.substr(6)] = parsed;
          } else {
            a[key] = parsed;
          }
        } else {
          if (!a["config"] || !a["config"].IsMap()) a["config"] = YAML::Node(YAML::NodeType::Map);
          a["config"][key] = parsed;
        }
        found = true;
      }
    }
    if (!found) problems.push_back({"--set " + item, "no actor with id '" + actor + "'"});
  }
}

std::vector<std::string> partition_words() { return {"any", "broadcast", "object_id", "event_id"}; }

bool is_partition_key(std::string_view word) { return word == "object_id" || word == "event_id"; }

std::optional<Workflow> build_workflow(const WorkflowDocument& document,
                                       const ActorRegistry& registry, std::vector<Problem>& problems) {
  const std::string& file = document.file;
  const YAML::Node& root = document.root;
  size_t problems_before = problems.size();
  Workflow wf;
  wf.file = file;

  std::vector<std::string> top_keys(kTopLevelKeys.begin(), kTopLevelKeys.end());
  for (const auto& entry : root) {
    std::string key = entry.first.as<std::string>();
    if (!kTopLevelKeys.count(key))
      problems.push_back({place_of(file, entry.first),
                          "unknown key '" + key + "'" + did_you_mean(nearest_names(key, top_keys))});
  }
  if (!root["name"] || !root["name"].IsScalar())
    problems.push_back({place_of(file, root), "the workflow needs a 'name'"});
  else if (auto bad = first_invalid_utf8(root["name"].Scalar()))
    problems.push_back({place_of(file, root["name"]), "the name is not valid UTF-8 (byte " + std::to_string(*bad + 1) + ")"});
  else
    wf.name = root["name"].Scalar();
  if (root["description"] && root["description"].IsScalar()) wf.description = root["description"].Scalar();
  wf.plugins = workflow_plugins(document);
  if (YAML::Node dl = root["dead_letters"]) {
    if (dl.IsScalar())
      wf.dead_letters_path = dl.Scalar();
    else if (dl.IsMap() && dl["path"] && dl["path"].IsScalar())
      wf.dead_letters_path = dl["path"].Scalar();
    else
      problems.push_back({place_of(file, dl), "'dead_letters' is a file path or {path: FILE}"});
  }
  if (YAML::Node policy = root["on_node_loss"]) {
    const std::string word = policy.IsScalar() ? policy.Scalar() : "";
    if (word == "failover" || word == "stop" || word == "restart")
      wf.on_node_loss = word;
    else
      problems.push_back({place_of(file, policy), "'on_node_loss' is failover, restart or stop"});
  }
  if (YAML::Node cluster = root["cluster"]) {
    // The nodes as `run --nodes` takes them: a list of NAME=HOST:PORT, or one comma-separated text.
    const YAML::Node nodes = cluster.IsMap() && cluster.size() == 1 ? cluster["nodes"] : YAML::Node();
    std::vector<std::string> items;
    bool shape = nodes.IsDefined() && (nodes.IsScalar() || nodes.IsSequence());
    if (shape && nodes.IsScalar()) {
      std::istringstream text(nodes.Scalar());
      for (std::string item; std::getline(text, item, ',');)
        if (!item.empty()) items.push_back(item);
    } else if (shape) {
      for (const YAML::Node& item : nodes) {
        if (!item.IsScalar()) shape = false;
        else items.push_back(item.Scalar());
      }
    }
    if (!shape || items.empty()) {
      problems.push_back({place_of(file, cluster), "'cluster' is a map {nodes: [NAME=HOST:PORT, ...]}"});
    } else {
      for (const std::string& item : items) {
        const size_t eq = item.find('='), colon = item.rfind(':');
        if (eq == 0 || eq == std::string::npos || colon == std::string::npos || colon < eq + 2 || colon + 1 == item.size())
          problems.push_back({place_of(file, nodes), "cluster node '" + item + "' is not NAME=HOST:PORT"});
        wf.cluster_nodes += (wf.cluster_nodes.empty() ? "" : ",") + item;
      }
      wf.cluster_place = place_of(file, nodes);
    }
  }
  std::optional<int64_t> final_shipment;  // dashboard_final_shipment_bytes as given
  std::string final_shipment_place;
  bool shipment_refused = false;  // then the final budget is not compared with the default shipment's
  if (YAML::Node defaults = root["defaults"]) {
    if (!defaults.IsMap()) {
      problems.push_back({place_of(file, defaults), "'defaults' must be a map"});
    } else {
      for (const auto& entry : defaults) {
        std::string key = entry.first.as<std::string>();
        if (!kDefaultsKeys.count(key)) {
          problems.push_back({place_of(file, entry.first), "unknown key '" + key + "' in defaults"});
        } else if (key == "drain_timeout_s") {
          double seconds = -1;
          if (entry.second.IsScalar()) {
            try {
              seconds = entry.second.as<double>();
            } catch (const YAML::Exception&) {
            }
          }
          if (!(seconds >= 0 && std::isfinite(seconds)))
            problems.push_back({place_of(file, entry.second),
                                "'drain_timeout_s' must be a number of seconds >= 0 (0: no bound)"});
          else
            wf.drain_timeout_s = seconds;
        } else if (key == "credit_window_batches" || key == "credit_window_bytes" || key == "held_tokens_bytes") {
          const SettingValue setting = credit_setting(key, entry.second.IsScalar() ? entry.second.Scalar() : "");
          if (!setting.value) {
            problems.push_back({place_of(file, entry.second), setting.problem});
          } else {
            (key == "credit_window_batches" ? wf.credit_window_batches
             : key == "credit_window_bytes" ? wf.credit_window_bytes
                                            : wf.held_tokens_bytes) = *setting.value;
          }
        } else if (key == "dashboard_shipment_bytes" || key == "dashboard_final_shipment_bytes") {
          const bool final = key == "dashboard_final_shipment_bytes";
          const SettingValue setting =
              byte_setting(key, entry.second.IsScalar() ? entry.second.Scalar() : "", dashboard_budget_range(final));
          if (!setting.value) {
            problems.push_back({place_of(file, entry.second), setting.problem});
            if (!final) shipment_refused = true;
          } else if (final) final_shipment = *setting.value;
          else wf.dashboard_shipment_bytes = *setting.value;
          if (final) final_shipment_place = place_of(file, entry.second);
        } else if (!is_integer(entry.second) || entry.second.as<int64_t>() < (key == "batch_size" ? 1 : 0)) {
          problems.push_back({place_of(file, entry.second), "'" + key + "' must be a whole number" +
                                                                (key == "batch_size" ? " >= 1" : " >= 0")});
        } else if (key == "batch_size") {
          wf.batch_size = entry.second.as<size_t>();
        } else {
          wf.batch_delay = std::chrono::milliseconds(entry.second.as<int64_t>());
        }
      }
    }
  }
  // The final shipment takes at least what one shipment takes; not given, four of them.
  if (!final_shipment)
    wf.dashboard_final_shipment_bytes = Workflow::kFinalShipments * wf.dashboard_shipment_bytes;
  else if (*final_shipment < wf.dashboard_shipment_bytes && !shipment_refused)
    problems.push_back({final_shipment_place, "'dashboard_final_shipment_bytes' (" + describe_bytes(*final_shipment) +
                                                  ") must not be below 'dashboard_shipment_bytes' (" +
                                                  describe_bytes(wf.dashboard_shipment_bytes) + ")"});
  else
    wf.dashboard_final_shipment_bytes = *final_shipment;
  wf.dashboard_final_shipment_given = final_shipment.has_value();

  YAML::Node actors = root["actors"];
  if (!actors || !actors.IsSequence() || actors.size() == 0) {
    problems.push_back({place_of(file, actors ? actors : root),
                        "'actors' must be a non-empty list of actors"});
    return std::nullopt;
  }

  // Pass 1: each actor on its own.
  std::map<std::string, size_t> index_of;
  std::set<std::string> unchecked;  // actors placed on another cluster node (config_files)
  std::vector<ActorSpec> specs;
  std::vector<std::string> actor_keys(kActorKeys.begin(), kActorKeys.end());
  for (const YAML::Node& a : actors) {
    if (!a.IsMap()) {
      problems.push_back({place_of(file, a), "an actor is a map with 'id' and 'type'"});
      continue;
    }
    size_t problems_at_start = problems.size();
    ActorSpec spec;
    spec.file = file;
    spec.place = place_of(file, a);
    for (const auto& entry : a) {
      std::string key = entry.first.as<std::string>();
      if (!kActorKeys.count(key))
        problems.push_back({place_of(file, entry.first),
                            "unknown actor key '" + key + "'" + did_you_mean(nearest_names(key, actor_keys))});
    }
    if (!a["id"] || !a["id"].IsScalar() || a["id"].Scalar().empty()) {
      problems.push_back({spec.place, "the actor needs an 'id'"});
      continue;
    }
    spec.id = a["id"].Scalar();
    if (auto relocated = document.config_files.find(spec.id); relocated != document.config_files.end()) {
      if (relocated->second.empty()) unchecked.insert(spec.id);
      else spec.file = relocated->second;
    }
    if (spec.id.find('.') != std::string::npos)
      problems.push_back({place_of(file, a["id"]), "actor id '" + spec.id + "' must not contain '.'"});
    if (auto it = index_of.find(spec.id); it != index_of.end()) {
      problems.push_back({place_of(file, a["id"]), "duplicate actor id '" + spec.id +
                                                       "' (first defined at " + specs[it->second].place + ")"});
      continue;
    }
    if (!a["type"] || !a["type"].IsScalar()) {
      problems.push_back({spec.place, "actor '" + spec.id + "' needs a 'type'"});
    } else {
      spec.type_name = a["type"].Scalar();
      spec.type = registry.find(spec.type_name);
      if (!spec.type)
        problems.push_back({place_of(file, a["type"]), "unknown actor type '" + spec.type_name + "'" +
                                                           did_you_mean(registry.nearest(spec.type_name))});
    }
    if (YAML::Node p = a["parallelism"]) {
      if (!is_integer(p) || p.as<int64_t>() < 1 || p.as<int64_t>() > 1024)
        problems.push_back({place_of(file, p), "'parallelism' must be a whole number from 1 to 1024"});
      else
        spec.parallelism = p.as<size_t>();
    }
    if (YAML::Node r = a["rate"]) {
      if (!r.IsScalar() || !is_number(r) || !(r.as<double>() >= 0))
        problems.push_back({place_of(file, r), "'rate' must be a number of records per second >= 0 (0: as fast as possible)"});
      else
        spec.rate = r.as<double>();
    }
    if (YAML::Node b = a["burst"]) {
      if (!b.IsMap()) {
        problems.push_back({place_of(file, b), "'burst' is a map {every_s: SECONDS, alerts: N}"});
      } else {
        for (const auto& entry : b) {
          std::string key = entry.first.as<std::string>();
          if (key != "every_s" && key != "alerts")
            problems.push_back({place_of(file, entry.first), "unknown key '" + key + "' in burst (every_s, alerts)"});
        }
        if (!b["every_s"] || !is_number(b["every_s"]) || !(b["every_s"].as<double>() > 0))
          problems.push_back({place_of(file, b["every_s"] ? b["every_s"] : b), "burst needs 'every_s', seconds > 0"});
        else
          spec.burst_every_s = b["every_s"].as<double>();
        if (!b["alerts"] || !is_integer(b["alerts"]) || b["alerts"].as<int64_t>() < 1)
          problems.push_back({place_of(file, b["alerts"] ? b["alerts"] : b), "burst needs 'alerts', a whole number >= 1"});
        else
          spec.burst_records = b["alerts"].as<uint64_t>();
      }
    }
    if (spec.type && !spec.type->is_source() && (a["rate"] || a["burst"]))
      problems.push_back({place_of(file, a["rate"] ? a["rate"] : a["burst"]),
                          "'rate' and 'burst' pace a source; '" + spec.id + "' (type '" + spec.type_name +
                              "') has inputs"});
    if (a["placement"]) spec.placement = a["placement"];
    spec.config_node = a["config"] ? a["config"] : YAML::Node(YAML::NodeType::Map);
    if (a["config"] && !a["config"].IsMap() && !a["config"].IsNull())
      problems.push_back({place_of(file, a["config"]), "'config' must be a map"});

    // Config keys and value types against the declared schema.
    if (spec.type && spec.config_node.IsMap()) {
      std::vector<std::string> known;
      for (const ConfigKey& k : spec.type->config) known.push_back(k.name);
      for (const auto& entry : spec.config_node) {
        std::string key = entry.first.as<std::string>();
        const ConfigKey* decl = nullptr;
        for (const ConfigKey& k : spec.type->config)
          if (k.name == key) decl = &k;
        if (!decl) {
          problems.push_back({place_of(file, entry.first), "unknown config key '" + key + "' for type '" +
                                                               spec.type_name + "'" +
                                                               did_you_mean(nearest_names(key, known))});
        } else if ((decl->kind == ValueKind::bytes || decl->kind == ValueKind::mebibytes) && entry.second.IsScalar() &&
                   !value_fits(decl->kind, entry.second)) {
          // The parser says why: which unit is not one, a fraction of a byte, too large.
          const int64_t plain_unit = decl->kind == ValueKind::mebibytes ? int64_t{1} << 20 : 1;
          problems.push_back({place_of(file, entry.second),
                              "config key '" + key + "': " + parse_byte_size(entry.second.Scalar(), plain_unit).problem});
        } else if (!value_fits(decl->kind, entry.second)) {
          problems.push_back({place_of(file, entry.second), "config key '" + key + "' must be " +
                                                                describe_kind(decl->kind) + ", not " +
                                                                yaml_text(entry.second)});
        }
      }
      for (const ConfigKey& k : spec.type->config)
        if (k.required && !spec.config_node[k.name])
          problems.push_back({place_of(file, a["config"] ? a["config"] : a),
                              "missing config key '" + k.name + "' for type '" + spec.type_name + "'"});
    }

    // Inputs: {port: "actor.port" | {from: "actor.port", partition: P} | [..]} or a list for
    // the single input port.
    if (YAML::Node in = a["inputs"]) {
      auto add_wire = [&](const std::string& port, const YAML::Node& written) {
        spec.inputs[port];  // written, if wrongly: its problem is said here, not "not wired" later
        // Node::reset, not `=`: assigning a yaml-cpp node writes through to the node it refers to.
        YAML::Node ref;
        ref.reset(written);
        std::string partition, partition_place;
        if (written.IsMap()) {
          for (const auto& entry : written) {
            std::string key = entry.first.as<std::string>();
            if (key != "from" && key != "partition")
              problems.push_back({place_of(file, entry.first), "unknown input key '" + key +
                                                                   "' (an input is {from: actor.port, partition: " +
                                                                   name_list(partition_words()) + "})"});
          }
          if (!written["from"]) {
            problems.push_back({place_of(file, written), "an input written as a map needs 'from: actor.port'"});
            return;
          }
          ref.reset(written["from"]);
          if (YAML::Node p = written["partition"]) {
            partition_place = place_of(file, p);
            partition = p.IsScalar() ? p.Scalar() : "";
            std::vector<std::string> words = partition_words();
            if (std::find(words.begin(), words.end(), partition) == words.end()) {
              problems.push_back({place_of(file, p), "'partition' must be one of " + name_list(words) + ", not " +
                                                         yaml_text(p) + did_you_mean(nearest_names(partition, words))});
              return;
            }
          }
        }
        if (!ref.IsScalar()) {
          problems.push_back({place_of(file, ref), "an input is written 'actor.port' or {from: actor.port, partition: ...}"});
          return;
        }
        std::string text = ref.Scalar();
        size_t dot = text.find('.');
        WireRef w{text.substr(0, dot), dot == std::string::npos ? "" : text.substr(dot + 1),
                  place_of(file, ref), partition, partition_place};
        if (w.port.empty() || w.actor.empty()) {
          problems.push_back({w.place, "input '" + text + "' must be written 'actor.port'"});
          return;
        }
        spec.inputs[port].push_back(w);
      };
      auto add_wires = [&](const std::string& port, const YAML::Node& refs) {
        if (refs.IsSequence())
          for (const YAML::Node& r : refs) add_wire(port, r);
        else
          add_wire(port, refs);
      };
      if (in.IsMap()) {
        for (const auto& entry : in) {
          std::string port = entry.first.as<std::string>();
          if (spec.type && !spec.type->input(port)) {
            std::vector<std::string> names;
            for (const PortSpec& p : spec.type->inputs) names.push_back(p.name);
            problems.push_back({place_of(file, entry.first), "type '" + spec.type_name +
                                                                 "' has no input port '" + port + "'" +
                                                                 did_you_mean(nearest_names(port, names)) +
                                                                 "; its input ports: " + name_list(names)});
            continue;
          }
          add_wires(port, entry.second);
        }
      } else if (spec.type && spec.type->inputs.size() == 1) {
        add_wires(spec.type->inputs[0].name, in);
      } else if (spec.type && spec.type->inputs.empty()) {
        problems.push_back({place_of(file, in), "type '" + spec.type_name + "' is a source: it takes no inputs"});
      } else if (spec.type) {
        problems.push_back({place_of(file, in), "type '" + spec.type_name +
                                                    "' has several input ports: write inputs as {port: actor.port}"});
      }
    }
    spec.has_problems = problems.size() != problems_at_start;
    index_of.emplace(spec.id, specs.size());
    specs.push_back(std::move(spec));
  }

  // Pass 2: each actor's check hook, wiring and port types.
  for (ActorSpec& spec : specs) {
    if (!spec.type) continue;
    // The check hook reads typed values: only run it on a config that passed the type checks.
    // An actor without an instance on this cluster node: the files its check would read are not here.
    if (spec.type->check && spec.config_node.IsMap() && !spec.has_problems && !unchecked.count(spec.id)) {
      try {
        spec.type->check(spec.config(), problems);
      } catch (const std::exception& e) {
        problems.push_back({spec.place, e.what()});
      }
    }
    for (const PortSpec& port : spec.type->inputs)
      if (!spec.inputs.count(port.name))
        problems.push_back({spec.place, "input port '" + port.name + "' of actor '" + spec.id +
                                            "' is not wired (inputs: {" + port.name + ": actor.port})"});
    for (auto& [port, wires] : spec.inputs) {
      const PortSpec* in_port = spec.type->input(port);
      // Partitioning: a stateful input defaults to its key; a parallel stateful actor must get
      // exactly that, or its instances would each see an arbitrary part of an object's records.
      for (WireRef& w : wires) {
        const std::string needed = in_port ? in_port->state_key : "";
        if (w.partition.empty()) w.partition = needed.empty() ? "any" : needed;
        if (spec.parallelism > 1 && !needed.empty() && w.partition != needed)
          problems.push_back({w.partition_place.empty() ? w.place : w.partition_place, "actor '" + spec.id + "' (" + spec.type_name + ") keeps state across its " +
                                           std::to_string(spec.parallelism) + " instances: its input '" + port +
                                           "' must be partitioned by " + needed + ", not " + w.partition +
                                           " (write {from: " + w.actor + "." + w.port + ", partition: " + needed +
                                           "} or leave partition out)"});
      }
      for (const WireRef& w : wires) {
        auto it = index_of.find(w.actor);
        if (it == index_of.end()) {
          std::vector<std::string> ids;
          for (const auto& [id, i] : index_of) ids.push_back(id);
          problems.push_back({w.place, "input refers to unknown actor '" + w.actor + "'" +
                                           did_you_mean(nearest_names(w.actor, ids))});
          continue;
        }
        const ActorSpec& from = specs[it->second];
        if (!from.type) continue;
        PortType produced;
        if (w.port == "dead_letters") {
          produced = PortType::dead_letter;
        } else if (const PortSpec* out = from.type->output(w.port)) {
          produced = out->type;
        } else {
          std::vector<std::string> names;
          for (const PortSpec& p : from.type->outputs) names.push_back(p.name);
          names.push_back("dead_letters");
          problems.push_back({w.place, "actor '" + w.actor + "' (" + from.type_name +
                                           ") has no output port '" + w.port + "'" +
                                           did_you_mean(nearest_names(w.port, names)) +
                                           "; its output ports: " + name_list(names)});
          continue;
        }
        if (in_port && !port_accepts(in_port->type, produced))
          problems.push_back({w.place, "port type mismatch: " + w.actor + "." + w.port + " produces " +
                                           std::string(to_string(produced)) + " but " + spec.id + "." +
                                           port + " takes " + std::string(to_string(in_port->type))});
      }
    }
  }

  // Pass 3: cycles (the graph must be a DAG), and a topological order for the runtime.
  std::vector<int> state(specs.size(), 0);  // 0 new, 1 on stack, 2 done
  std::vector<size_t> order;
  std::vector<size_t> stack;
  std::set<std::string> reported;
  std::function<void(size_t)> visit = [&](size_t i) {
    state[i] = 1;
    stack.push_back(i);
    for (const auto& [port, wires] : specs[i].inputs) {
      for (const WireRef& w : wires) {
        auto it = index_of.find(w.actor);
        if (it == index_of.end()) continue;
        size_t j = it->second;
        if (state[j] == 1) {
          std::string path;
          auto start = std::find(stack.begin(), stack.end(), j);
          for (auto s = start; s != stack.end(); ++s) path += specs[*s].id + " <- ";
          path += specs[j].id;
          if (reported.insert(specs[j].id).second)
            problems.push_back({w.place, "cycle: " + path + " (workflows are acyclic graphs)"});
        } else if (state[j] == 0) {
          visit(j);
        }
      }
    }
    stack.pop_back();
    state[i] = 2;
    order.push_back(i);
  };
  for (size_t i = 0; i < specs.size(); ++i)
    if (state[i] == 0) visit(i);

  if (problems.size() != problems_before) return std::nullopt;
  for (size_t i : order) wf.actors.push_back(std::move(specs[i]));

  // Pass 4: the checks that need the whole graph (ActorType::check_in_workflow).
  for (const ActorSpec& spec : wf.actors) {
    if (!spec.type || !spec.type->check_in_workflow || unchecked.count(spec.id)) continue;
    try {
      spec.type->check_in_workflow(wf, spec, problems);
    } catch (const std::exception& e) {
      problems.push_back({spec.place, e.what()});
    }
  }
  if (problems.size() != problems_before) return std::nullopt;
  return wf;
}

}  // namespace ebs
