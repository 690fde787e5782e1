// `notice-files`: GCN notices (JSON or VOEvent XML, one per file) from a file, a directory or a
// glob, as SkyEvent records in name order. Mock/test events are dropped unless `keep_test`;
// `significant_only` drops `significant: false`; unreadable or malformed notices become dead
// letters naming the file and the notice id.
#pragma once

#include <string>
#include <vector>

#include "engine/graph/actor_type.h"

namespace ebs::sources {

ActorType notice_files_source_type();

// The files a `path` (file, directory or glob) names, sorted; a Fault when none.
std::vector<std::string> notice_files(const std::string& path, const std::string& place);

}  // namespace ebs::sources
