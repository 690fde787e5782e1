// `ebs-flow notice parse FILE...`: GCN notices as SkyEvent JSON lines.
#pragma once

#include "engine/cli/command_registry.h"

namespace ebs {

void register_notice_command(CommandRegistry& registry);

}  // namespace ebs
