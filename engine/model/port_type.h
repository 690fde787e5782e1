// The record types that flow between actors. Each names a Cap'n Proto struct in schemas/.
#pragma once

#include <optional>
#include <string_view>

namespace ebs {

enum class PortType { alert, sky_event, coincidence, dead_letter, classification, any };

std::string_view to_string(PortType type);          // "Alert", "SkyEvent", ...
std::optional<PortType> parse_port_type(std::string_view name);
// Whether records of type `from` may be wired into a port accepting `to`.
bool port_accepts(PortType to, PortType from);

}  // namespace ebs
