#include "actors/common/repository/raw_json.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include "actors/common/repository/shortest_double.h"

namespace ebs::repository {

namespace {

// The bytes JSON text cannot hold as they are: control characters, the quote and the backslash.
constexpr std::array<bool, 256> kEscaped = [] {
  std::array<bool, 256> escaped{};
  for (int c = 0; c < 0x20; ++c) escaped[c] = true;
  escaped['"'] = escaped['\\'] = true;
  return escaped;
}();

void append_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t clean_from = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (!kEscaped[c]) continue;
    out.append(text.data() + clean_from, i - clean_from);
    clean_from = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(text.data() + clean_from, text.size() - clean_from);
  out.push_back('"');
}

template <class T>
void append_number(std::string& out, T value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

void append_double(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buffer[kShortestDoubleChars];
  char* end = write_shortest_double(buffer, value);  // to_chars's bytes, fewer instructions
  out.append(buffer, end);
  // JSON readers keep 1.0 a floating-point number only if it looks like one. (Looked for in
  // the few digits written: std::string::find_first_of calls memchr once per character.)
  if (std::none_of(buffer, end, [](char ch) { return ch == '.' || ch == 'e' || ch == 'E'; })) out += ".0";
}

void append_children(std::string& out, const RawView& record, const std::unordered_set<std::string_view>* exclude) {
  out.push_back('{');
  bool first = true;
  const size_t fields = record.size();
  for (size_t i = 0; i < fields; ++i) {
    std::string_view name = record.field_name(i);
    if (exclude && exclude->count(name)) continue;
    if (!first) out.push_back(',');
    first = false;
    append_string(out, name);
    out.push_back(':');
    append_raw_json(out, record.child(i));
  }
  out.push_back('}');
}

}  // namespace

void append_raw_json(std::string& out, const RawView& value) {
  if (!value.valid()) {
    out += "null";
    return;
  }
  const RawNode& node = value.node();
  switch (node.kind) {
    case RawNode::Kind::Null: out += "null"; return;
    case RawNode::Kind::Bool: out += node.boolean ? "true" : "false"; return;
    case RawNode::Kind::Int: append_number(out, node.integer); return;
    case RawNode::Kind::Double: append_double(out, node.number); return;
    case RawNode::Kind::String: append_string(out, node.text); return;
    case RawNode::Kind::Bytes: append_number(out, node.text.size()); return;
    case RawNode::Kind::List:
      out.push_back('[');
      for (size_t i = 0, n = value.size(); i < n; ++i) {
        if (i) out.push_back(',');
        append_raw_json(out, value.child(i));
      }
      out.push_back(']');
      return;
    case RawNode::Kind::Record: append_children(out, value, nullptr); return;
  }
}

void append_raw_json(std::string& out, const RawView& record, const std::unordered_set<std::string_view>& exclude) {
  if (!record.valid() || record.kind() != RawNode::Kind::Record) {
    append_raw_json(out, record);
    return;
  }
  append_children(out, record, &exclude);
}

}  // namespace ebs::repository
