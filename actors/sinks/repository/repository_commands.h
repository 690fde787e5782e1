// The repository's commands:
//   ebs-flow query DB "SELECT ..." [--param name=value]   read-only SQL, JSON lines out
//   ebs-flow serve DB [--http 127.0.0.1:8080] [--token T]  the HTTP JSON API (http_api.h)
//   ebs-flow repository info DB                           schema version and rows per table
//   ebs-flow repository archive DB --older-than-days N [--delete] [--archive-dir DIR]
#pragma once

#include "engine/cli/command_registry.h"

namespace ebs {

void register_repository_commands(CommandRegistry& registry);

}  // namespace ebs
