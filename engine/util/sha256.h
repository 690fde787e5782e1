// SHA-256 of bytes and of files, as lowercase hex: content hashes that name a file the same way on
// every machine (catalogue provenance, the files a cluster run ships to its nodes).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace ebs {

std::string sha256_hex(std::string_view bytes);

// Bytes as lowercase hex, two digits each (digests, random tokens).
std::string lowercase_hex(const unsigned char* bytes, size_t size);

// A Fault (failed) naming the file when it cannot be read.
std::string sha256_hex_of_file(const std::filesystem::path& path);

}  // namespace ebs
