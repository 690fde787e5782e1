// Sizes in bytes as users write them — "4096", "64 KiB", "64KiB", "8 MiB", "1.5 GiB", "8 MB" — read
// by one parser for every byte setting (a workflow's `defaults:`, actors' configs, `run` flags), so
// that each takes the same forms and refuses the same way (docs/workflow-format.md "Sizes").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ebs {

// The units: B (one byte); KiB, MiB, GiB, TiB (powers of 1024); kB, MB, GB, TB (powers of 1000, as
// SI and disk makers mean them: 8 MB = 8,000,000 bytes). Case does not matter ("mib", "KB"). Space
// between the number and its unit is optional. A decimal fraction is taken when it makes a whole
// number of bytes ("1.5 KiB" = 1536; "1.3 KiB" is refused). Refused: a sign, bare K/M/G and
// Ki/Mi/Gi (bytes or bits? 1000 or 1024?), more than 2^63 - 1 bytes.
struct ByteSize {
  std::optional<int64_t> bytes;  // set when the text is a size
  std::string problem;           // otherwise why not, ending with the forms taken (byte_size_forms)
};

// `plain_unit`: what a number without a unit counts: 1 (bytes), or 1 << 20 for a key named in MiB
// (`page_cache_mb`).
ByteSize parse_byte_size(std::string_view text, int64_t plain_unit = 1);

// The forms taken, for messages and help: "4096, 64 KiB, 8 MiB or 1 GiB (KiB, MiB, GiB, TiB: powers
// of 1024; kB, MB, GB, TB: of 1000)", saying what a plain number counts when it is not bytes.
std::string byte_size_forms(int64_t plain_unit = 1);

// "8388608 (8 MiB)": the bytes, and in the largest binary unit that divides them when there is one
// (KiB or above); "1000000" alone otherwise.
std::string describe_bytes(int64_t bytes);

}  // namespace ebs
