// Hand-made compact alerts.raw values (actors/common/repository/raw_json.h, version 1) that a
// reader must refuse within its output bound, shared by raw_json_test and the fuzz target's seeds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ebs::test {

// A list: a record whose one field's name is `name_bytes` long (its value null), then
// `references` records of that shape, three bytes each (a reference, its number, null): the
// JSON it expands to grows with references x name length, not with its own size.
inline std::string repeated_name_raw_blob(size_t name_bytes, size_t references) {
  auto varint = [](std::string& out, uint64_t v) {
    for (; v >= 0x80; v >>= 7) out += static_cast<char>(v | 0x80);
    out += static_cast<char>(v);
  };
  std::string blob{'\x01', '\x07'};  // version 1, a list
  varint(blob, references + 1);
  blob += "\x09\x01t\x01";  // a new shape named "t" of one field
  varint(blob, name_bytes);
  blob += std::string(name_bytes, 'n');
  blob += '\0';
  for (size_t i = 0; i < references; ++i) blob += std::string("\x08\x00\x00", 3);
  return blob;
}

}  // namespace ebs::test
