// `ebs-flow run | validate | graph | actors`: the workflow commands.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"
#include "engine/plugin/plugin_loader.h"

namespace ebs {

// The registry and loader belong to main(); the commands keep references to them.
void register_workflow_commands(CommandRegistry& commands, ActorRegistry& actors, PluginLoader& plugins);

}  // namespace ebs
