#include "engine/util/user_cache_dir.h"

#include <cstdlib>

namespace ebs {

std::filesystem::path user_cache_dir(const std::string& leaf) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg && std::filesystem::path(xdg).is_absolute()) return std::filesystem::path(xdg) / "ebs-flow" / leaf;
  const char* home = std::getenv("HOME");
  if (home && *home) return std::filesystem::path(home) / ".cache" / "ebs-flow" / leaf;
  return {};
}

}  // namespace ebs
