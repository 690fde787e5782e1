// A finite double as the shortest text that reads back the same, byte for byte what
// `std::to_chars(first, last, value)` writes (libstdc++'s Ryu): the digits from Dragonbox ({fmt}'s
// `dragonbox::to_decimal`, about four times fewer instructions), fixed or scientific notation
// chosen as to_chars chooses (the shorter text; fixed when both are as long), exponents of two
// digits at least. The raw JSON of every stored alert writes ~100 doubles, and to_chars was 40 %
// of its instructions (docs/performance.md, "The repository's writer"). to_decimal is in {fmt}'s
// detail namespace, not its public API: a static_assert in the .cpp stops the build on another
// major version of {fmt} than 9 until the call is checked again.
#pragma once

#include <cstddef>

namespace ebs::repository {

// The longest text written: "-" + 17 digits + "." + "e-308" is 24 characters; fixed notation is
// chosen only when no longer than scientific.
inline constexpr size_t kShortestDoubleChars = 32;

// Writes a finite `value` to `out` (at least kShortestDoubleChars bytes) and returns the end.
char* write_shortest_double(char* out, double value);

}  // namespace ebs::repository
