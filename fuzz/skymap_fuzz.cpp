// FITS sky maps, plain and gzip-compressed, through the reader the coincidence actor, the notice
// parser and the dashboard use (multi-order NUNIQ and flat RING/NESTED maps): a map that loads is
// then looked up, ranked and integrated as a coincidence would.
#include <cstdint>
#include <span>

#include "actors/common/skymap/skymap.h"
#include "fuzz/fuzz_target.h"

EBS_FUZZ_ONE_INPUT(bytes) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  ebs::skymap::Skymap map = ebs::skymap::Skymap::from_bytes(std::span(data, bytes.size()), "fuzz");
  (void)map.at(150.0, 2.0);
  (void)map.credible_area(0.9);
  (void)map.peak();
  (void)map.distance_mean();
}
