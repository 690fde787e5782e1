// The sinks family: jsonl, count, repository (and `repository ...`, `query`, `serve` commands),
// postgres-repository, kafka-sink, webhook. The `dashboard` sink is registered by app/main.cpp
// with the page's feed, which must outlive the registry (dashboard/dashboard_sink.h).
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs::sinks {

void register_module(ActorRegistry& actors, CommandRegistry& commands);

}  // namespace ebs::sinks
