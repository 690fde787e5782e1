#include "actors/common/notices/notice_text.h"

#include <cstdint>
#include <cstring>

namespace ebs::notices {

namespace {

bool plain_ascii(std::string_view s) {  // bytes 0x20-0x7f: nothing the parser refuses
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if ((((w - kOnes * 0x20) & ~w) | w) & kHighs) return false;  // a byte < 0x20, or >= 0x80
  }
  for (; i < s.size(); ++i)
    if (static_cast<unsigned char>(s[i]) < 0x20 || static_cast<unsigned char>(s[i]) >= 0x80) return false;
  return true;
}

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_map_key(std::string_view key) { return key == "skymap" || key == "healpix_file"; }

}  // namespace

std::string_view NoticeText::text_of(const std::string& value) const {
  if (cuts_.empty() || value.size() < 2 || value[0] != '\0') return value;
  return cuts_.at(std::stoul(value.substr(1)));
}

void NoticeText::restore(nlohmann::json& value) const {
  if (cuts_.empty()) return;
  if (value.is_string()) {
    std::string_view original = text_of(value.get_ref<const std::string&>());
    if (original.data() != value.get_ref<const std::string&>().data()) value = std::string(original);
  } else if (value.is_structured()) {
    for (auto& item : value) restore(item);
  }
}

void NoticeText::cut_maps() {
  const char* d = text_.data();
  const size_t n = text_.size();
  if (n < kCutFrom || spells_nul()) return;
  size_t copied = 0;                   // text_[0, copied) is in reduced_
  size_t key_open = 0, key_close = 0;  // the string before this one, when unescaped
  bool key_plain = false;
  for (size_t pos = 0; pos < n;) {
    const char* quote = static_cast<const char*>(std::memchr(d + pos, '"', n - pos));
    if (!quote) break;
    size_t open = quote - d, close = 0, from = open + 1;
    bool escaped = false;
    for (;;) {  // the closing quote: the first one no backslash escapes
      const char* end = static_cast<const char*>(std::memchr(d + from, '"', n - from));
      if (!end) break;
      const char* slash = static_cast<const char*>(std::memchr(d + from, '\\', end - (d + from)));
      if (!slash) {
        close = end - d;
        break;
      }
      escaped = true;
      from = slash - d + 2;
      if (from >= n) break;
    }
    if (close == 0) break;  // unterminated: the parser says so
    std::string_view value(d + open + 1, close - open - 1);
    if (!escaped && value.size() >= kCutFrom && key_plain && after_map_key(key_close, open) &&
        is_map_key(std::string_view(d + key_open + 1, key_close - key_open - 1)) && plain_ascii(value)) {
      reduced_.append(d + copied, open - copied);
      reduced_ += "\"\\u0000" + std::to_string(cuts_.size()) + "\"";
      cuts_.push_back(value);
      copied = close + 1;
    }
    key_open = open;
    key_close = close;
    key_plain = !escaped;
    pos = close + 1;
  }
  if (!cuts_.empty()) reduced_.append(d + copied, n - copied);
}

// "\u0000" anywhere (a backslash is rare in a notice: memchr passes a map at its speed).
bool NoticeText::spells_nul() const {
  const char* d = text_.data();
  const char* end = d + text_.size();
  for (const char* at = d; (at = static_cast<const char*>(std::memchr(at, '\\', end - at))); ++at)
    if (end - at >= 6 && std::memcmp(at, "\\u0000", 6) == 0) return true;
  return false;
}

// Only blanks and one ':' between a key's closing quote and its value's opening quote.
bool NoticeText::after_map_key(size_t key_close, size_t open) const {
  size_t colons = 0;
  for (size_t i = key_close + 1; i < open; ++i) {
    if (text_[i] == ':') ++colons;
    else if (!blank(text_[i])) return false;
  }
  return colons == 1;
}

bool cut_parses_as_whole(std::string_view text) {
  using nlohmann::json;
  NoticeText cut(text);
  if (!cut.cut_any()) return true;  // the parser reads the text itself
  json whole = json::parse(text, nullptr, false);
  json restored = json::parse(cut.json_text(), nullptr, false);
  if (whole.is_discarded() || restored.is_discarded()) return whole.is_discarded() == restored.is_discarded();
  cut.restore(restored);
  return whole == restored;
}

}  // namespace ebs::notices
