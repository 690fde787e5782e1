#include "actors/common/repository/file_store.h"

namespace ebs::repository {

std::filesystem::path stored_file_path(const std::string& database_path, std::string_view written) {
  std::filesystem::path path{std::string(written)};
  if (path.is_relative() && !std::filesystem::exists(path))
    path = std::filesystem::path(database_path).parent_path() / path;
  return path;
}

}  // namespace ebs::repository
