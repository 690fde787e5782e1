// The repository's file store (a repository sink's `cutouts_dir`): where the files it wrote are
// found again by those who read the database later (the dashboard's pages, `model suggest`).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace ebs::repository {

// A path the `cutouts` table (or another) holds: as written when it exists (absolute, or relative
// to the run directory the reader is in), else relative to the database's folder.
std::filesystem::path stored_file_path(const std::string& database_path, std::string_view written);

}  // namespace ebs::repository
