#include "engine/graph/cutout_use.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <set>

#include "engine/graph/field_check.h"

namespace ebs {

namespace {

// Records of these types hold no alert, so no cutout.
bool holds_no_alert(PortType type) {
  return type == PortType::sky_event || type == PortType::coincidence || type == PortType::classification ||
         type == PortType::dead_letter;
}

// Whether records leave `from` on its output `port` with alerts in them.
bool may_carry_alerts(const ActorSpec& from, const std::string& port) {
  if (port == "dead_letters") return false;
  if (!from.type) return true;
  const PortSpec* spec = from.type->output(port);
  return !spec || !holds_no_alert(spec->type);
}

std::string named(const ActorSpec& actor) { return "actor '" + actor.id + "' (" + actor.type_name + ")"; }

// Why `actor` uses cutouts, or nothing.
std::optional<std::string> uses_cutouts(const ActorSpec& actor, const std::vector<std::string>& cutout_fields) {
  if (!actor.type) return named(actor) + ": a type this build does not know";
  if (!actor.type->uses_cutouts) return named(actor) + ": its type does not say that it leaves cutouts alone";
  try {
    if (actor.type->uses_cutouts(actor.config(), cutout_fields)) return named(actor) + " uses them";
    for (const FieldRead& read : fields_read(actor)) {
      const std::string path = comparable_path(read.path);
      const std::string field = path.substr(0, path.find('.'));
      if (std::find(cutout_fields.begin(), cutout_fields.end(), field) != cutout_fields.end())
        return named(actor) + " reads the field '" + read.path + "' at " + read.place;
    }
  } catch (const std::exception& error) {
    return named(actor) + ": its config could not be read (" + error.what() + ")";
  }
  return std::nullopt;
}

}  // namespace

CutoutUse cutout_use_downstream(const Workflow& workflow, const std::string& source,
                                const std::vector<std::string>& cutout_fields) {
  std::set<std::string> seen{source};
  std::deque<std::string> todo{source};
  while (!todo.empty()) {
    const ActorSpec* from = workflow.find(todo.front());
    todo.pop_front();
    if (!from) continue;
    for (const ActorSpec& down : workflow.actors) {
      if (seen.count(down.id)) continue;
      bool reached = false;
      for (const auto& [in_port, wires] : down.inputs)
        for (const WireRef& wire : wires)
          reached = reached || (wire.actor == from->id && may_carry_alerts(*from, wire.port));
      if (!reached) continue;
      if (std::optional<std::string> why = uses_cutouts(down, cutout_fields)) return {true, *why};
      seen.insert(down.id);
      todo.push_back(down.id);
    }
  }
  return {false, ""};
}

}  // namespace ebs
