#include "engine/util/sha256.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>

#include "engine/util/fault.h"

using namespace ebs;

TEST_CASE("sha256 of bytes and of a file larger than the read buffer, against Python's hashlib") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // 3 MiB + 17 bytes: three full 1 MiB reads and a short one. Expected value from
  // hashlib.sha256(bytes((i*7+3)%251 for i in range(3*1024*1024+17))).hexdigest().
  std::string bytes(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7 + 3) % 251);
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("ebs-sha256-" + std::to_string(::getpid()) + ".bin");
  std::ofstream(file, std::ios::binary) << bytes;
  const std::string expected = "b94a81035474d847a7b5f270ed72d10d51a5643254d6495dce93e2022aa22ac7";
  CHECK(sha256_hex(bytes) == expected);
  CHECK(sha256_hex_of_file(file) == expected);
  std::filesystem::remove(file);
  CHECK_THROWS_AS(sha256_hex_of_file(file), Fault);
}
