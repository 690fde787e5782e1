// Helpers shared by the Avro tests: reading the shared real data and hand-encoding Avro bytes.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "actors/common/avro/container_file.h"
#include "test/support/test_data.h"

namespace ebs::avro::testing {

inline std::shared_ptr<const std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return std::make_shared<const std::string>(std::move(buffer).str());
}

// Every .avro file under data_dir()/relative, sorted.
inline std::vector<std::filesystem::path> avro_files(const std::string& relative) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(ebs::test::data_dir() / relative))
    if (e.is_regular_file() && e.path().extension() == ".avro") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Avro binary encoding, for hand-made inputs.
inline std::string zigzag(int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  std::string out;
  while (u >= 0x80) {
    out += static_cast<char>((u & 0x7f) | 0x80);
    u >>= 7;
  }
  out += static_cast<char>(u);
  return out;
}

inline std::string encode_string(std::string_view s) { return zigzag(static_cast<int64_t>(s.size())) + std::string(s); }

inline std::string big_endian32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  return out;
}

// A container file with the given schema, codec and blocks ({object count, block bytes}).
inline std::string make_container(std::string_view schema, std::string_view codec,
                                  const std::vector<std::pair<int64_t, std::string>>& blocks,
                                  std::string_view sync = "0123456789abcdef") {
  std::string out("Obj\x01", 4);
  out += zigzag(2) + encode_string("avro.schema") + encode_string(schema) + encode_string("avro.codec") +
         encode_string(codec) + zigzag(0);
  out += sync;
  for (const auto& [count, data] : blocks) out += zigzag(count) + encode_string(data) + std::string(sync);
  return out;
}

}  // namespace ebs::avro::testing

namespace ebs::avro::testing {

// The Avro body of the single record of a null-codec container file (e.g. Rubin's fakeAlert.avro).
inline std::string single_record_body(const std::string& container) {
  ContainerHeader header = read_container_header(container, "container");
  ContainerBlocks blocks(container, header, "container");
  ContainerBlock block;
  if (!blocks.next(block) || block.object_count != 1) throw std::runtime_error("not one record");
  return std::string(block.data);
}

// Confluent wire format: 0, big-endian schema id, Avro body.
inline std::string confluent_frame(uint32_t schema_id, std::string_view body) {
  return std::string(1, '\0') + big_endian32(schema_id) + std::string(body);
}

inline std::filesystem::path rubin_fake_alert(int major) {
  return ebs::test::data_dir() / "lsst" / "schema" / std::to_string(major) / "0" / "sample_data" /
         "fakeAlert.avro";
}

}  // namespace ebs::avro::testing
