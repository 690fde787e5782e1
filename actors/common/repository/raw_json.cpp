#include "actors/common/repository/raw_json.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <sqlite3.h>

#include "actors/common/repository/shortest_double.h"
#include "engine/util/fault.h"

namespace ebs::repository {

namespace {

// The bytes JSON text cannot hold as they are: control characters, the quote and the backslash.
constexpr std::array<bool, 256> kEscaped = [] {
  std::array<bool, 256> escaped{};
  for (int c = 0; c < 0x20; ++c) escaped[c] = true;
  escaped['"'] = escaped['\\'] = true;
  return escaped;
}();

// Text appended through a cursor into the string's own bytes, room made before each value:
// std::string::append and push_back per piece (a call and a capacity test each) cost more than
// the bytes themselves (~110 fields per ZTF candidate, several pieces each). Room is made by
// resize, which zero-fills: only what is about to be written is asked for (doubled when short),
// never the whole capacity, which a reused string keeps from its largest record.
class JsonOut {
 public:
  static constexpr size_t kFirstRoom = 4096;

  explicit JsonOut(std::string& out) : JsonOut(out, SIZE_MAX, {}) {}
  // At most `limit` bytes appended, a Fault naming `place` past them: a reader's bound (a few
  // bytes of a stored record may stand for many bytes of text, append_stored_raw_json).
  JsonOut(std::string& out, size_t limit, std::string_view place)
      : out_(out), start_(out.size()), limit_(limit), place_(place) {
    out_.resize(start_ + std::min(kFirstRoom, limit_));
    at_ = out_.data() + start_;
    end_ = out_.data() + out_.size();
  }
  JsonOut(const JsonOut&) = delete;
  JsonOut& operator=(const JsonOut&) = delete;
  ~JsonOut() { out_.resize(static_cast<size_t>(at_ - out_.data())); }

  // Room for `bytes` more: this text's room doubled (the bytes before start_ are not ours to
  // double), or `bytes` when more, never past the limit.
  void need(size_t bytes) {
    if (static_cast<size_t>(end_ - at_) >= bytes) return;
    const size_t used = static_cast<size_t>(at_ - out_.data());
    const size_t written = used - start_;
    if (bytes > limit_ - written) over_limit();
    out_.resize(used + std::min(std::max(bytes, out_.size() - start_), limit_ - written));
    at_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }
  // One character, room made.
  void add(char c) {
    need(1);
    put(c);
  }
  // Writing, after need() made room.
  void put(char c) { *at_++ = c; }
  void put(std::string_view text) {
    if (text.empty()) return;  // an empty view's data() may be null: memcpy's arguments must not be
    std::memcpy(at_, text.data(), text.size());
    at_ += text.size();
  }
  char*& cursor() { return at_; }

 private:
  [[noreturn]] void over_limit() const {
    fail(std::string(place_), "damaged raw record (compact form): its JSON text would pass " +
                                  std::to_string(limit_) + " bytes");
  }

  std::string& out_;
  size_t start_;
  size_t limit_;
  std::string_view place_;
  char* at_;
  char* end_;
};

constexpr uint64_t kOnes = 0x0101010101010101ull;

// Whether any of the 8 bytes of `word` needs an escape: the has-zero-byte test on the word with
// the quote and the backslash xor'ed out, and the has-byte-below-0x20 test. Each test is exact
// about "any" (a borrow only marks bytes above a true hit); bytes from 0x80 (UTF-8) never hit.
bool any_escaped(uint64_t word) {
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  const uint64_t quote = word ^ (kOnes * '"'), backslash = word ^ (kOnes * '\\');
  return (((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) | ((word - kOnes * 0x20) & ~word)) &
         kHighs;
}

uint64_t load8(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
}

uint32_t load4(const char* p) {
  uint32_t word;
  std::memcpy(&word, p, 4);
  return word;
}

// Whether `text` has a byte to escape, eight bytes a test. Shorter texts (most: field names,
// bands, ids) in one word of overlapping loads, the rest of it clean filler; longer ones whole
// words, then their last eight bytes (overlapping the last whole word: a byte tested twice is
// the same answer).
bool needs_escape(std::string_view text) {
  const char* p = text.data();
  const size_t size = text.size();
  if (size < 4) {
    if (size == 0) return false;
    // Bytes 0, size / 2 and size - 1: every byte of a text of 1 to 3.
    const uint64_t word = (kOnes * 'a' & ~uint64_t{0xffffff}) | static_cast<unsigned char>(p[0]) |
                          uint64_t{static_cast<unsigned char>(p[size / 2])} << 8 |
                          uint64_t{static_cast<unsigned char>(p[size - 1])} << 16;
    return any_escaped(word);
  }
  if (size < 8) return any_escaped(load4(p) | uint64_t{load4(p + size - 4)} << 32);
  for (size_t i = 0; i + 8 <= size; i += 8)
    if (any_escaped(load8(p + i))) return true;
  return any_escaped(load8(p + size - 8));
}

void append_string(JsonOut& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Room for the text as it is and the quotes; an escape (\u00XX at most) makes its own room
  // with the clean bytes before it. Not 6 bytes per byte up front: a long string would leave
  // the reused string that much capacity, zero-filled by every record after it.
  out.need(text.size() + 2);
  out.put('"');
  if (!needs_escape(text)) {
    out.put(text);
    out.put('"');
    return;
  }
  size_t clean_from = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (!kEscaped[c]) continue;
    out.need(i - clean_from + 6);
    out.put(text.substr(clean_from, i - clean_from));
    clean_from = i + 1;
    switch (c) {
      case '"': out.put("\\\""); break;
      case '\\': out.put("\\\\"); break;
      case '\n': out.put("\\n"); break;
      case '\r': out.put("\\r"); break;
      case '\t': out.put("\\t"); break;
      case '\b': out.put("\\b"); break;
      case '\f': out.put("\\f"); break;
      default:
        out.put("\\u00");
        out.put(kHex[c >> 4]);
        out.put(kHex[c & 0xf]);
    }
  }
  out.need(text.size() - clean_from + 1);
  out.put(text.substr(clean_from));
  out.put('"');
}

template <class T>
void append_number(JsonOut& out, T value) {
  out.need(24);
  out.cursor() = std::to_chars(out.cursor(), out.cursor() + 24, value).ptr;
}

void append_double(JsonOut& out, double value) {
  out.need(kShortestDoubleChars + 2);
  if (!std::isfinite(value)) {
    out.put("null");
    return;
  }
  char* begin = out.cursor();
  char* end = write_shortest_double(begin, value);  // to_chars's bytes, fewer instructions
  out.cursor() = end;
  // JSON readers keep 1.0 a floating-point number only if it looks like one.
  if (std::none_of(begin, end, [](char ch) { return ch == '.' || ch == 'e' || ch == 'E'; })) out.put(".0");
}

// `nodes` is the record's node array: children are nodes [first_child, first_child + count).
void append_node(JsonOut& out, const RawNode* nodes, const RawNode& node,
                 const std::unordered_set<std::string_view>* exclude) {
  switch (node.kind) {
    case RawNode::Kind::Null: out.need(4); out.put("null"); return;
    case RawNode::Kind::Bool: out.need(5); out.put(node.boolean ? "true" : "false"); return;
    case RawNode::Kind::Int: append_number(out, node.integer); return;
    case RawNode::Kind::Double: append_double(out, node.number); return;
    case RawNode::Kind::String: append_string(out, node.text); return;
    case RawNode::Kind::Bytes: append_number(out, node.text.size()); return;
    case RawNode::Kind::List:
      out.add('[');
      for (uint32_t i = 0; i < node.child_count; ++i) {
        if (i) out.add(',');
        append_node(out, nodes, nodes[node.first_child + i], nullptr);
      }
      out.add(']');
      return;
    case RawNode::Kind::Record: {
      out.add('{');
      bool first = true;
      for (uint32_t i = 0; i < node.child_count; ++i) {
        std::string_view name = node.shape->fields[i];
        if (exclude && exclude->count(name)) continue;
        if (!first) out.add(',');
        first = false;
        append_string(out, name);
        out.add(':');
        append_node(out, nodes, nodes[node.first_child + i], nullptr);
      }
      out.add('}');
      return;
    }
  }
}

// The compact form (raw_json.h): tags of its values.
enum CompactTag : uint8_t {
  kNull = 0,
  kFalse = 1,
  kTrue = 2,
  kInt = 3,
  kDouble = 4,
  kFloat = 5,
  kString = 6,
  kList = 7,
  kKnownRecord = 8,
  kNewRecord = 9,
};
constexpr uint8_t kCompactVersion = 1;
// How deep the values of a stored record may nest when read: a walk recurses, and a survey's
// record nests a handful of levels (the cluster wire's bound, record_wire.cpp).
constexpr int kMaxCompactDepth = 512;

void put_varint(JsonOut& out, uint64_t value) {
  out.need(10);
  char*& at = out.cursor();
  while (value >= 0x80) {
    *at++ = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  *at++ = static_cast<char>(value);
}

void put_compact_text(JsonOut& out, std::string_view text) {
  put_varint(out, text.size());
  out.need(text.size());
  out.put(text);
}

// Writes a record's values in the compact form, each record's shape given once (a handful per
// record: the root, ZTF's candidate).
class CompactWriter {
 public:
  CompactWriter(JsonOut& out, const RawNode* nodes) : out_(out), nodes_(nodes) {}

  void value(const RawNode& node, const std::unordered_set<std::string_view>* exclude) {
    switch (node.kind) {
      case RawNode::Kind::Null: out_.add(static_cast<char>(kNull)); return;
      case RawNode::Kind::Bool: out_.add(static_cast<char>(node.boolean ? kTrue : kFalse)); return;
      case RawNode::Kind::Int: integer(node.integer); return;
      case RawNode::Kind::Double: {
        // Avro floats are doubles here: four bytes when they give the same double back, bit for
        // bit (== would take NaN for another value). A double beyond a float's range (and NaN,
        // infinities) is not cast: the cast is undefined behaviour there.
        out_.need(9);
        const double x = node.number;
        if (std::fabs(x) <= FLT_MAX) {
          const float narrow = static_cast<float>(x);
          const double wide = narrow;
          if (std::memcmp(&wide, &x, sizeof x) == 0) {
            out_.put(static_cast<char>(kFloat));
            std::memcpy(out_.cursor(), &narrow, sizeof narrow);
            out_.cursor() += sizeof narrow;
            return;
          }
        }
        out_.put(static_cast<char>(kDouble));
        std::memcpy(out_.cursor(), &x, sizeof x);
        out_.cursor() += sizeof x;
        return;
      }
      case RawNode::Kind::String:
        out_.add(static_cast<char>(kString));
        put_compact_text(out_, node.text);
        return;
      case RawNode::Kind::Bytes: integer(static_cast<int64_t>(node.text.size())); return;  // as the JSON keeps them
      case RawNode::Kind::List:
        out_.add(static_cast<char>(kList));
        put_varint(out_, node.child_count);
        for (uint32_t i = 0; i < node.child_count; ++i) value(nodes_[node.first_child + i], nullptr);
        return;
      case RawNode::Kind::Record: record(node, exclude); return;
    }
  }

 private:
  void integer(int64_t v) {
    out_.add(static_cast<char>(kInt));
    put_varint(out_, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));  // zigzag
  }

  void record(const RawNode& node, const std::unordered_set<std::string_view>* exclude) {
    const std::vector<std::string>& fields = node.shape->fields;
    uint32_t kept = node.child_count;
    if (exclude)
      for (uint32_t i = 0; i < node.child_count; ++i) kept -= exclude->count(fields[i]) ? 1 : 0;
    if (kept == node.child_count) exclude = nullptr;  // every field: the shape as it is
    const auto known = std::find(shapes_.begin(), shapes_.end(), node.shape);
    if (!exclude && known != shapes_.end()) {
      out_.add(static_cast<char>(kKnownRecord));
      put_varint(out_, static_cast<uint64_t>(known - shapes_.begin()));
    } else {
      // A shape with fields left out is its own, numbered but never matched again.
      shapes_.push_back(exclude ? nullptr : node.shape);
      out_.add(static_cast<char>(kNewRecord));
      put_compact_text(out_, node.shape->name);
      put_varint(out_, kept);
      for (uint32_t i = 0; i < node.child_count; ++i)
        if (!exclude || !exclude->count(fields[i])) put_compact_text(out_, fields[i]);
    }
    for (uint32_t i = 0; i < node.child_count; ++i)
      if (!exclude || !exclude->count(fields[i])) value(nodes_[node.first_child + i], nullptr);
  }

  JsonOut& out_;
  const RawNode* nodes_;
  std::vector<const RecordShape*> shapes_;
};

// Reads the compact form into JSON text as append_node writes it, every length and count checked
// against the bytes left (each value takes at least one byte, so counts are bounded by them).
class CompactReader {
 public:
  CompactReader(std::string_view bytes, std::string_view place)
      : at_(reinterpret_cast<const unsigned char*>(bytes.data())), end_(at_ + bytes.size()), place_(place) {}

  void read(JsonOut& out) {
    if (byte() != kCompactVersion) bad("not version " + std::to_string(kCompactVersion) + " of the compact form");
    value(out, 0);
    if (at_ != end_) bad(std::to_string(end_ - at_) + " bytes after the record");
  }

 private:
  struct Shape {
    std::vector<std::string_view> fields;
  };

  [[noreturn]] void bad(const std::string& what) const {
    fail(std::string(place_), "damaged raw record (compact form): " + what);
  }
  size_t left() const { return static_cast<size_t>(end_ - at_); }
  uint8_t byte() {
    if (at_ == end_) bad("it ends early");
    return *at_++;
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = byte();
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    bad("a number longer than ten bytes");
  }
  std::string_view text() {
    const uint64_t size = varint();
    if (size > left()) bad("a text runs past the end");
    std::string_view v(reinterpret_cast<const char*>(at_), size);
    at_ += size;
    return v;
  }
  template <class T>
  T fixed() {
    if (left() < sizeof(T)) bad("a number runs past the end");
    T v;
    std::memcpy(&v, at_, sizeof v);
    at_ += sizeof v;
    return v;
  }

  void value(JsonOut& out, int depth) {
    const uint8_t tag = byte();
    switch (tag) {
      case kNull: out.need(4); out.put("null"); return;
      case kFalse: out.need(5); out.put("false"); return;
      case kTrue: out.need(4); out.put("true"); return;
      case kInt: {
        const uint64_t z = varint();
        append_number(out, static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1)));
        return;
      }
      case kDouble: append_double(out, fixed<double>()); return;
      case kFloat: append_double(out, static_cast<double>(fixed<float>())); return;
      case kString: append_string(out, text()); return;
      case kList: {
        const uint64_t count = varint();
        if (count > left()) bad("a list of more values than bytes left");
        if (count > 0 && depth >= kMaxCompactDepth) nested_too_deep();
        out.add('[');
        for (uint64_t i = 0; i < count; ++i) {
          if (i) out.add(',');
          value(out, depth + 1);
        }
        out.add(']');
        return;
      }
      case kKnownRecord:
      case kNewRecord: {
        size_t shape;
        if (tag == kKnownRecord) {
          shape = varint();
          if (shape >= shapes_.size()) bad("a record of a shape not given before it");
        } else {
          text();  // the record's name: not in its JSON
          const uint64_t count = varint();
          if (count > left()) bad("a shape of more fields than bytes left");
          Shape& given = shapes_.emplace_back();
          given.fields.reserve(count);
          for (uint64_t i = 0; i < count; ++i) given.fields.push_back(text());
          shape = shapes_.size() - 1;
        }
        const size_t count = shapes_[shape].fields.size();
        if (count > 0 && depth >= kMaxCompactDepth) nested_too_deep();
        out.add('{');
        for (size_t i = 0; i < count; ++i) {
          if (i) out.add(',');
          append_string(out, shapes_[shape].fields[i]);  // shapes_ may grow below: index, not reference
          out.add(':');
          value(out, depth + 1);
        }
        out.add('}');
        return;
      }
      default: bad("a value of an unknown kind (" + std::to_string(tag) + ")");
    }
  }
  [[noreturn]] void nested_too_deep() const {
    bad("values nested deeper than " + std::to_string(kMaxCompactDepth) + " levels");
  }

  const unsigned char* at_;
  const unsigned char* end_;
  std::string_view place_;
  std::vector<Shape> shapes_;
};

void append_view(std::string& text, const RawView& value, const std::unordered_set<std::string_view>* exclude) {
  JsonOut out(text);
  if (!value.valid()) {
    out.need(4);
    out.put("null");
    return;
  }
  const RawNode& node = value.node();
  // The node array's start, from the first child's place (children are contiguous); a node
  // without children needs none.
  const RawNode* nodes = value.size() > 0 ? &value.child(0).node() - node.first_child : nullptr;
  append_node(out, nodes, node, exclude);
}

}  // namespace

void append_raw_json(std::string& out, const RawView& value) { append_view(out, value, nullptr); }

void append_raw_json(std::string& out, const RawView& record, const std::unordered_set<std::string_view>& exclude) {
  append_view(out, record, record.valid() && record.kind() == RawNode::Kind::Record ? &exclude : nullptr);
}

size_t max_raw_json_bytes(size_t stored_bytes) {
  constexpr size_t kPerByte = 64, kBase = size_t{1} << 20;
  return stored_bytes > (SIZE_MAX - kBase) / kPerByte ? SIZE_MAX : kPerByte * stored_bytes + kBase;
}

void append_stored_raw_json(std::string& out, std::string_view stored, bool blob, std::string_view place) {
  append_stored_raw_json(out, stored, blob, place, max_raw_json_bytes(stored.size()));
}

void append_stored_raw_json(std::string& out, std::string_view stored, bool blob, std::string_view place,
                            size_t max_bytes) {
  if (!blob) {
    out += stored;
    return;
  }
  JsonOut json(out, std::min(max_bytes, max_raw_json_bytes(stored.size())), place);
  CompactReader(stored, place).read(json);
}

void append_raw_compact(std::string& out, const RawView& record, const std::unordered_set<std::string_view>& exclude) {
  if (!record.valid()) return;
  JsonOut bytes(out);
  bytes.add(static_cast<char>(kCompactVersion));
  const RawNode& root = record.node();
  // The node array's start, as append_view finds it.
  const RawNode* nodes = record.size() > 0 ? &record.child(0).node() - root.first_child : nullptr;
  CompactWriter(bytes, nodes).value(root, root.kind == RawNode::Kind::Record ? &exclude : nullptr);
}

namespace {

void raw_json_function(sqlite3_context* context, int argc, sqlite3_value** argv) {
  if (argc < 1 || argc > 2) {
    sqlite3_result_error(context, "raw_json(raw [, alert_id]) takes one or two arguments", -1);
    return;
  }
  sqlite3_value* raw = argv[0];
  if (sqlite3_value_type(raw) != SQLITE_BLOB) {  // NULL, or JSON text stored as such
    sqlite3_result_value(context, raw);
    return;
  }
  const void* bytes = sqlite3_value_blob(raw);
  const std::string_view stored(static_cast<const char*>(bytes), static_cast<size_t>(sqlite3_value_bytes(raw)));
  std::string place = "alerts.raw";
  if (argc == 2) {
    const unsigned char* alert = sqlite3_value_text(argv[1]);
    place += std::string(" of alert ") + (alert ? reinterpret_cast<const char*>(alert) : "NULL");
  }
  try {
    std::string text;
    // No longer than this connection lets a value be (SQLite would refuse it after it was made).
    const int length_limit = sqlite3_limit(sqlite3_context_db_handle(context), SQLITE_LIMIT_LENGTH, -1);
    append_stored_raw_json(text, stored, true, place, static_cast<size_t>(std::max(length_limit, 0)));
    sqlite3_result_text64(context, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  } catch (const Fault& f) {
    const std::string message = "raw_json: " + f.place() + ": " + f.message();
    sqlite3_result_error(context, message.c_str(), static_cast<int>(message.size()));
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(context);
  } catch (...) {  // nothing may unwind through SQLite's C frames
    sqlite3_result_error(context, "raw_json: an unexpected error", -1);
  }
}

}  // namespace

void register_raw_json(sqlite3* db) {
  const int rc = sqlite3_create_function_v2(db, "raw_json", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                            nullptr, raw_json_function, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(sqlite3_db_filename(db, "main") ? sqlite3_db_filename(db, "main") : "",
                            std::string("cannot register raw_json: ") + sqlite3_errstr(rc));
}

}  // namespace ebs::repository
