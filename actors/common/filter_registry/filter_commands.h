// `ebs-flow filters ...`: users manage their filters through the HTTP API of a running service
// (add, list, update, pause, resume, rm; --url and --token, or EBS_FILTERS_URL and
// EBS_FILTERS_TOKEN), and whoever holds the store's file creates users and issues tokens on it
// directly (`filters user add`, `filters token`): how the first admin gets a token.
#pragma once

#include "engine/cli/command_registry.h"

namespace ebs::filter_registry {

void register_filter_commands(CommandRegistry& commands);

}  // namespace ebs::filter_registry
