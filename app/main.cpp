// ebs-flow: real-time astronomical alert workflows. main() builds the registries (no globals)
// and hands them to each module.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "actors/common/filter_registry/switch_store.h"
#include "actors/sinks/dashboard/dashboard_server.h"
#include "actors/sinks/dashboard/dashboard_sink.h"
#include "app/allocator.h"
#include "app/builtin_modules.h"
#include "engine/cli/command_registry.h"
#include "engine/cli/workflow_commands.h"
#include "engine/cluster/coordinator_requests.h"
#include "engine/expr/expr_commands.h"
#include "engine/graph/actor_registry.h"
#include "engine/time/time_commands.h"
#include "engine/plugin/plugin_loader.h"
#include "engine/util/fault.h"

#ifndef EBS_FLOW_VERSION
#define EBS_FLOW_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  // Logs go to stderr: stdout carries results (JSON lines, dot).
  spdlog::set_default_logger(spdlog::stderr_color_mt("ebs-flow"));
  spdlog::set_pattern("%H:%M:%S.%e %^%l%$ %v");

  // What `dashboard` sinks keep for the page of `run --http`; outlives the registry and server.
  ebs::dashboard::DashboardFeed dashboard_feed;
  // The loader outlives the registry: registered plugin types point into the plugins' code.
  ebs::PluginLoader plugins;
  ebs::ActorRegistry actors;
  ebs::CommandRegistry commands;
  ebs::dashboard::DashboardServer dashboard(dashboard_feed);
  // What the instances on a cluster run's nodes ask its coordinator: the `filters` actor's switch
  // points, agreed on the coordinator's filter registry (docs/filters.md, "In a cluster run").
  ebs::cluster::CoordinatorRequests coordinator_requests;
  ebs::filter_registry::serve_switch_stores(coordinator_requests);
  // A cluster run's nodes ship what their dashboard sinks keep to the coordinator's feed.
  ebs::register_workflow_commands(commands, actors, plugins, &dashboard, EBS_FLOW_VERSION, &coordinator_requests,
                                  &dashboard_feed);
  ebs::register_expr_commands(commands);
  ebs::register_time_commands(commands);
  ebs::register_builtin_modules(actors, commands, &coordinator_requests);
  // The dashboard sink writes into main()'s feed, which the server of `run --http` reads.
  ebs::register_dashboard_actors(actors, dashboard_feed);
  // Plugins in EBS_FLOW_PLUGINS (colon-separated) add their types and verbs before the command
  // line is parsed (a workflow's `plugins:` and `--plugin` come too late for verbs).
  if (const char* list = std::getenv("EBS_FLOW_PLUGINS")) {
    std::stringstream paths(list);
    for (std::string path; std::getline(paths, path, ':');) {
      if (path.empty()) continue;
      try {
        plugins.load(path, actors, commands);
      } catch (const ebs::Fault& f) {
        std::cerr << f.place() << ": " << f.message() << "\n";
        return ebs::exit_code::failed;
      }
    }
  }

  CLI::App app{"ebs-flow: real-time astronomical alert workflows (European Broker Services)", "ebs-flow"};
  app.set_version_flag("--version", std::string("ebs-flow ") + EBS_FLOW_VERSION + "\nallocator: " + ebs::allocator_description());
  return commands.dispatch(app, argc, argv);
}
