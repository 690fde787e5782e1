// Whether this test binary runs on AddressSanitizer's heap: its quarantine and its own allocator
// change what malloc statistics (mallinfo2) and address reuse show, so tests that measure the
// heap say what they can check there.
#pragma once

namespace ebs::test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizedHeap = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitizedHeap = true;
#else
inline constexpr bool kSanitizedHeap = false;
#endif
#else
inline constexpr bool kSanitizedHeap = false;
#endif

}  // namespace ebs::test
