// A bounds check of a UBJSON document (the format XGBoost saves models in, ubjson.org draft 12)
// before XGBoost reads it. XGBoost's reader trusts every length and count it finds: a truncated
// or corrupt model makes it read past the end of the buffer and allocate whatever size it read
// there (a 2-byte file "{L" asked for 141 TB under the sanitizers). This walks the document once,
// without allocating, and refuses any value that would not fit in what is left.
#pragma once

#include <string>
#include <string_view>

namespace ebs::ml {

// Empty when `bytes` is one well-formed UBJSON value with nothing after it, otherwise what is
// wrong and at which byte.
std::string ubjson_problem(std::string_view bytes);

}  // namespace ebs::ml
