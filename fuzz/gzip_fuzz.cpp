// gzip-compressed inputs: a ZTF cutout's gzipped FITS (cut at its declared size, 4 MiB ceiling)
// and plain gzip under a small ceiling. Neither may inflate past its limit.
#include <string>

#include "actors/common/gzip.h"
#include "fuzz/fuzz_target.h"

EBS_FUZZ_ONE_INPUT(bytes) {
  static const ebs::InflateLimit cutout = ebs::fits_inflate_limit(ebs::kCutoutInflateCeiling);
  static const ebs::InflateLimit plain{std::size_t{1} << 20, 0, nullptr};
  const std::string place = "fuzz";
  try {
    std::string fits = ebs::gunzip(bytes, place, cutout);
    if (fits.size() > ebs::kCutoutInflateCeiling) __builtin_trap();
  } catch (const ebs::Fault&) {
  }
  std::string out = ebs::gunzip(bytes, place, plain);
  if (out.size() > plain.ceiling) __builtin_trap();
}
