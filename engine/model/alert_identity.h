// Alert identity, one rule for every survey (docs/ingestion.md, "Alert identity"):
//  - `alert_key` is the survey's own id as text, losslessly (ZTF candid "1105522232515015004",
//    ATLAS candid "02a59543o0040o_006230");
//  - `alert_id` is a signed 64-bit integer: the id itself for surveys whose ids are integers
//    (negative ZTF test candids stay negative), or, for surveys whose ids are text, a stable
//    63-bit hash of the key: FNV-1a 64 of its UTF-8 bytes with the top bit cleared (0 maps to 1,
//    since 0 means "no id").
// The repository is unique on (survey, alert_key); a hash collision is a different alert under an
// existing id and becomes a dead letter, never a silent replace.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ebs {

// How a profile reads its survey's id (`alert_id_kind` in profiles/*.yaml).
enum class AlertIdKind : uint8_t { integer, text };

// The 63-bit hash of a text id: the same on every machine and in every release.
int64_t alert_id_of_text(std::string_view key);

// A decimal signed 64-bit integer, the whole text; nullopt otherwise (overflow included).
std::optional<int64_t> parse_alert_id(std::string_view text);

}  // namespace ebs
