#include "actors/ml/ubjson_check.h"

#include <cstdint>

namespace ebs::ml {

namespace {

// Deeper than any model XGBoost writes (about ten levels), shallow enough for any stack.
constexpr int kMaxDepth = 256;

class Walker {
 public:
  explicit Walker(std::string_view bytes) : bytes_(bytes) {}

  std::string run() {
    if (!value(0)) return problem_;
    if (at_ != bytes_.size()) return "unexpected bytes after the document at byte " + std::to_string(at_);
    return "";
  }

 private:
  bool fail(const std::string& what) {
    problem_ = what + " at byte " + std::to_string(at_);
    return false;
  }
  size_t left() const { return bytes_.size() - at_; }
  bool take(size_t n) {
    if (n > left()) return fail("a value of " + std::to_string(n) + " bytes with " + std::to_string(left()) + " left");
    at_ += n;
    return true;
  }
  bool next(char& c) {
    if (left() == 0) return fail("the document ends early");
    c = bytes_[at_++];
    return true;
  }
  static size_t fixed_size(char marker) {
    switch (marker) {
      case 'Z': case 'N': case 'T': case 'F': return 0;
      case 'i': case 'U': case 'C': return 1;
      case 'I': return 2;
      case 'l': case 'd': return 4;
      case 'L': case 'D': return 8;
      default: return SIZE_MAX;
    }
  }
  // A length or count: an integer of its own marker, never negative.
  bool length(uint64_t& n) {
    char marker = 0;
    if (!next(marker)) return false;
    size_t size = 0;
    bool is_signed = true;
    switch (marker) {
      case 'i': size = 1; break;
      case 'U': size = 1; is_signed = false; break;
      case 'I': size = 2; break;
      case 'l': size = 4; break;
      case 'L': size = 8; break;
      default: --at_; return fail("a length must be an integer (marker '" + std::string(1, marker) + "')");
    }
    if (size > left()) return fail("a length of " + std::to_string(size) + " bytes with " + std::to_string(left()) + " left");
    uint64_t v = 0;
    for (size_t i = 0; i < size; ++i) v = (v << 8) | static_cast<unsigned char>(bytes_[at_ + i]);
    if (is_signed && (v >> (size * 8 - 1)) & 1) return fail("a negative length");
    at_ += size;
    n = v;
    return true;
  }
  bool string_body() {
    uint64_t n;
    return length(n) && take(n);
  }
  bool value_of(char marker, int depth) {
    if (size_t size = fixed_size(marker); size != SIZE_MAX) return take(size);
    switch (marker) {
      case 'S': case 'H': return string_body();
      case '[': return container(false, depth);
      case '{': return container(true, depth);
      default: --at_; return fail("an unknown marker '" + std::string(1, marker) + "'");
    }
  }
  bool value(int depth) {
    char marker = 0;
    return next(marker) && value_of(marker, depth);
  }
  bool container(bool object, int depth) {
    if (depth >= kMaxDepth) return fail("containers nested deeper than " + std::to_string(kMaxDepth));
    char type = 0;
    bool counted = false;
    uint64_t count = 0;
    if (left() > 0 && bytes_[at_] == '$') {
      ++at_;
      if (!next(type)) return false;
      if (fixed_size(type) == SIZE_MAX && std::string_view("SH[{").find(type) == std::string_view::npos) {
        --at_;
        return fail("an unknown marker '" + std::string(1, type) + "'");
      }
      if (left() == 0 || bytes_[at_] != '#') return fail("a typed container without a count");
    }
    if (left() > 0 && bytes_[at_] == '#') {
      ++at_;
      if (!length(count)) return false;
      counted = true;
      // Every element takes at least one byte (a key's length marker, or a marker), or its fixed
      // size when typed: a count that cannot fit is refused before anything is walked.
      size_t least = type ? fixed_size(type) : 1;
      if (least == SIZE_MAX) least = 1;
      if (object) least += 1;  // the key's length marker
      if (least > 0 && count > left() / least)
        return fail(std::to_string(count) + " elements with " + std::to_string(left()) + " bytes left");
    }
    if (counted && !object && type && fixed_size(type) == 0) return true;  // e.g. [$Z#L n: no bytes to walk
    for (uint64_t i = 0; !counted || i < count; ++i) {
      if (!counted) {
        if (left() == 0) return fail("the document ends inside a container");
        if (bytes_[at_] == (object ? '}' : ']')) {
          ++at_;
          return true;
        }
      }
      if (object && !string_body()) return false;
      if (!(type ? value_of(type, depth + 1) : value(depth + 1))) return false;
    }
    return true;
  }

  std::string_view bytes_;
  size_t at_ = 0;
  std::string problem_;
};

}  // namespace

std::string ubjson_problem(std::string_view bytes) { return Walker(bytes).run(); }

}  // namespace ebs::ml
