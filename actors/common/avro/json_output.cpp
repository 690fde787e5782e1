#include "actors/common/avro/json_output.h"

#include <charconv>
#include <cmath>

#include "engine/util/utf8.h"

namespace ebs::avro {

namespace {

void append_string(std::string_view s, std::string& out) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    auto u = static_cast<uint8_t>(c);
    if (u < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
      ++i;
      continue;
    }
    size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  out += '"';
}

void append_base64(std::string_view s, std::string& out) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out += '"';
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(s[k])); };
  for (; i + 3 <= s.size(); i += 3) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (size_t rest = s.size() - i; rest > 0) {
    uint32_t v = b(i) << 16;
    if (rest == 2) v |= b(i + 1) << 8;
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += rest == 2 ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  out += '"';
}

void append_double(double v, std::string& out) {
  if (std::isnan(v)) { out += "\"NaN\""; return; }
  if (std::isinf(v)) { out += v > 0 ? "\"Infinity\"" : "\"-Infinity\""; return; }
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  std::string_view text(buffer, static_cast<size_t>(end - buffer));
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

}  // namespace

void append_json(RawView value, bool with_bytes, std::string& out) {
  const RawNode& n = value.node();
  switch (n.kind) {
    case RawNode::Kind::Null: out += "null"; return;
    case RawNode::Kind::Bool: out += n.boolean ? "true" : "false"; return;
    case RawNode::Kind::Int: {
      char buffer[24];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, n.integer);
      out.append(buffer, end);
      return;
    }
    case RawNode::Kind::Double: append_double(n.number, out); return;
    case RawNode::Kind::String: append_string(n.text, out); return;
    case RawNode::Kind::Bytes:
      if (with_bytes) append_base64(n.text, out);
      else out += std::to_string(n.text.size());
      return;
    case RawNode::Kind::List:
      out += '[';
      for (size_t i = 0; i < value.size(); ++i) {
        if (i) out += ',';
        append_json(value.child(i), with_bytes, out);
      }
      out += ']';
      return;
    case RawNode::Kind::Record:
      out += '{';
      for (size_t i = 0; i < value.size(); ++i) {
        if (i) out += ',';
        append_string(value.field_name(i), out);
        out += ':';
        append_json(value.child(i), with_bytes, out);
      }
      out += '}';
      return;
  }
}

std::string to_json(const RawRecord& record, bool with_bytes) {
  std::string out;
  if (record.empty()) return "null";
  append_json(record.root(), with_bytes, out);
  return out;
}

}  // namespace ebs::avro
