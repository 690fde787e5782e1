#include "engine/graph/field_check.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "engine/expr/alert_field.h"
#include "engine/expr/program.h"
#include "engine/util/edit_distance.h"

namespace ebs {

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string quoted_list(const std::vector<std::string>& names, const char* joiner) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) text += i + 1 == names.size() ? joiner : ", ";
    text += "'" + names[i] + "'";
  }
  return text;
}

// What can reach an actor: the field sets of its upstream sources and the fields its upstream
// transforms add; `known` false when some upstream actor does not declare them.
struct Upstream {
  std::vector<FieldSet> sets;
  bool sets_known = true;
  std::set<std::string> added;
  bool added_known = true;
};

Upstream upstream_of(const Workflow& workflow, const ActorSpec& actor) {
  Upstream up;
  std::set<std::string> seen;
  std::vector<const ActorSpec*> todo{&actor};
  while (!todo.empty()) {
    const ActorSpec* a = todo.back();
    todo.pop_back();
    for (const auto& [port, wires] : a->inputs) {
      for (const WireRef& w : wires) {
        const ActorSpec* from = workflow.find(w.actor);
        if (!from || !seen.insert(from->id).second) continue;
        if (w.port == "dead_letters") {
          up.sets_known = up.added_known = false;  // dead letters carry any record
          continue;
        }
        if (from->type->is_source()) {
          try {
            if (!from->type->emits_fields || from->has_problems) up.sets_known = false;
            else
              for (FieldSet& s : from->type->emits_fields(from->config())) up.sets.push_back(std::move(s));
          } catch (const std::exception&) {
            up.sets_known = false;  // its own check reports why
          }
        } else {
          try {
            if (!from->type->adds_fields || from->has_problems) up.added_known = false;
            else
              for (std::string& f : from->type->adds_fields(from->config())) up.added.insert(std::move(f));
          } catch (const std::exception&) {
            up.added_known = false;
          }
          todo.push_back(from);
        }
      }
    }
  }
  return up;
}

}  // namespace

// Without a declaration (`reads_fields`), the fields of the expression-valued config keys
// (filter's `where`, a plugin type's condition): every type that takes an expression is checked,
// built in or loaded.
std::vector<FieldRead> fields_read(const ActorSpec& actor) {
  const ActorConfig config = actor.config();
  if (actor.type->reads_fields) return actor.type->reads_fields(config);
  std::vector<FieldRead> reads;
  const std::vector<std::string> core = core_alert_field_names();
  for (const ConfigKey& key : actor.type->config) {
    if (key.kind != ValueKind::expression || !config.has(key.name) || !config.node(key.name).IsScalar()) continue;
    const std::string text = config.string(key.name);
    auto compiled = expr::Program::compile(text);
    if (auto* program = std::get_if<expr::Program>(&compiled))
      for (const std::string& f : program->fields())
        if (!is_core_alert_field(f)) reads.push_back({f, config.place(key.name), text, core});
  }
  return reads;
}

std::string comparable_path(const std::string& path) {
  std::string in = path.starts_with("raw.") ? path.substr(4) : path;
  std::string out;
  std::istringstream parts(in);
  for (std::string part; std::getline(parts, part, '.');) {
    if (all_digits(part)) continue;
    out += (out.empty() ? "" : ".") + part;
  }
  return out;
}

void check_field_names(const Workflow& workflow, std::vector<Problem>& errors, std::vector<Problem>& warnings) {
  for (const ActorSpec& actor : workflow.actors) {
    if (actor.has_problems) continue;
    std::vector<FieldRead> reads;
    try {
      reads = fields_read(actor);
    } catch (const std::exception&) {
      continue;  // the check hook reports a bad expression
    }
    if (reads.empty()) continue;
    Upstream up = upstream_of(workflow, actor);
    for (const FieldRead& read : reads) {
      std::string path = comparable_path(read.path);
      if (up.added.count(path)) continue;
      if (path.starts_with("score.")) {
        if (!up.added_known) continue;
        std::set<std::string> scores;
        for (const std::string& f : up.added)
          if (f.starts_with("score.")) scores.insert(f);
        std::string text = "no upstream actor writes the field '" + path + "'";
        if (scores.empty()) {
          text += " (scores come from a scorer such as xgboost-score upstream)";
        } else {
          std::vector<std::string> hint = nearest_names(path, scores);
          text += hint.empty() ? "; upstream scores: " + quoted_list({scores.begin(), scores.end()}, " and ")
                               : " (did you mean " + quoted_list(hint, " or ") + "?)";
          // A score name with '-' (a model file's stem) written bare reads as a subtraction.
          for (const std::string& s : scores)
            if (s.find('-') != std::string::npos && read.as_written.find(s) != std::string::npos)
              text += "; '" + s + "' is not an identifier, so it reads as a subtraction: quote the name, score.`" +
                      s.substr(6) + "`, or give the model a `name:`";
        }
        errors.push_back({read.place, text});
        continue;
      }
      if (!up.sets_known || up.sets.empty()) continue;
      std::vector<std::string> with, without;
      for (const FieldSet& set : up.sets) {
        bool has = std::find(set.fields.begin(), set.fields.end(), path) != set.fields.end();
        (has ? with : without).push_back(set.name);
      }
      if (with.empty()) {
        std::set<std::string> all(read.always_there.begin(), read.always_there.end());
        for (const FieldSet& set : up.sets) all.insert(set.fields.begin(), set.fields.end());
        std::vector<std::string> hint = nearest_names(path, all);
        errors.push_back({read.place, "no record reaching '" + actor.id + "' has the field '" + path + "'" +
                                          (hint.empty() ? "" : " (did you mean " + quoted_list(hint, " or ") + "?)") +
                                          "; checked against " + std::to_string(up.sets.size()) +
                                          " field set(s) of the upstream source(s)"});
      } else if (!without.empty()) {
        warnings.push_back({read.place, "the field '" + path + "' is only in " + quoted_list(with, " and ") +
                                            ", not in " + quoted_list(without, " and ") +
                                            ": other records read it as null (a source's `profile:` says which)"});
      }
    }
  }
}

}  // namespace ebs
