// What every fuzz target shares: the libFuzzer entry point and the one rule they check.
//
// The rule (docs/reliability.md, "Fuzzing"): bad input is a Fault naming its place, nothing
// else. Any other exception escaping (std::length_error, std::bad_alloc, a JSON or YAML library
// error), a crash, a sanitizer report, or memory beyond -rss_limit_mb / -malloc_limit_mb is a
// finding. `EBS_FUZZ_ONE_INPUT` defines the target's body; a Fault is caught around it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/util/fault.h"

#define EBS_FUZZ_ONE_INPUT(bytes_name)                                               \
  static void ebs_fuzz_one_input(std::string_view bytes_name);                       \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {          \
    try {                                                                            \
      ebs_fuzz_one_input(std::string_view(reinterpret_cast<const char*>(data), size)); \
    } catch (const ebs::Fault&) {                                                    \
    }                                                                                \
    return 0;                                                                        \
  }                                                                                  \
  static void ebs_fuzz_one_input(std::string_view bytes_name)
