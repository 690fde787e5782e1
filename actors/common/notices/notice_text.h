// A notice's text with its sky maps cut out before the JSON parse: internal to the notices unit
// (notice.cpp), in its own header so that its central property can be tested and fuzzed.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ebs::notices {

// An LVK notice carries its sky map as ~1 MB of base64 in one JSON string (`event.skymap`; a GCN
// Localization's `healpix_file` likewise), and nlohmann's lexer copies a string a character at
// a time (~75 instructions a byte: half of what reading a notice cost). So the text is parsed
// with those strings cut out: each long, plain (printable ASCII, no escape) value of a "skymap"
// or "healpix_file" key becomes a short placeholder, NUL and its index, and the map is read from
// the notice's text in place. Replacing one valid string literal by another keeps the text valid
// or invalid alike. A notice that spells "\u0000" anywhere is parsed whole, so no real value can
// pass for a placeholder (JSON has no other way to write a NUL in a string).
// The text viewed must outlive the NoticeText.
class NoticeText {
 public:
  explicit NoticeText(std::string_view text) : text_(text) { cut_maps(); }
  std::string_view json_text() const { return cuts_.empty() ? text_ : std::string_view(reduced_); }
  bool cut_any() const { return !cuts_.empty(); }
  // A string value of the parsed notice as the notice wrote it: a cut map's text, else the value.
  std::string_view text_of(const std::string& value) const;
  // Every cut map put back, for a notice kept as JSON.
  void restore(nlohmann::json& value) const;

 private:
  static constexpr size_t kCutFrom = 1024;  // bytes: a map; the rest is left to the parser

  void cut_maps();
  bool spells_nul() const;
  bool after_map_key(size_t key_close, size_t open) const;

  std::string_view text_;
  std::string reduced_;
  std::vector<std::string_view> cuts_;
};

// The cut's central property for one text: nlohmann's parse of the text as written and the
// restored parse of the cut text agree on validity and, when valid, are equal. The unit test and
// the notice fuzz target check it.
bool cut_parses_as_whole(std::string_view text);

}  // namespace ebs::notices
