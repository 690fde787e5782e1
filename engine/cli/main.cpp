// ebs-flow: real-time astronomical alert workflows. main() builds the registries (no globals)
// and hands them to each module.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "actors/builtin.h"
#include "actors/coincidence/coincidence_registry.h"
#include "actors/ml/model_commands.h"
#include "actors/coincidence/skymap_command.h"
#include "actors/crossmatch/catalog_command.h"
#include "actors/followup/followup_command.h"
#include "actors/sinks/dashboard/dashboard_server.h"
#include "actors/sinks/dashboard/dashboard_sink.h"
#include "actors/sinks/repository/repository_commands.h"
#include "actors/sources/kafka/ingestion.h"
#include "actors/sources/kafka/kafka_tools.h"
#include "actors/sources/avro/decode_command.h"
#include "engine/cli/command_registry.h"
#include "engine/cli/workflow_commands.h"
#include "engine/expr/expr_commands.h"
#include "engine/time/time_commands.h"
#include "engine/graph/actor_registry.h"
#include "engine/plugin/plugin_loader.h"

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
  ebs::register_builtin_actors(actors);
  ebs::register_dashboard_actors(actors, dashboard_feed);
  ebs::dashboard::DashboardServer dashboard(dashboard_feed);

  ebs::CommandRegistry commands;
  ebs::register_workflow_commands(commands, actors, plugins, &dashboard);
  ebs::register_expr_commands(commands);
  ebs::register_time_commands(commands);
  ebs::register_model_commands(commands);
  ebs::register_catalog_commands(commands);
  ebs::register_repository_commands(commands);
  ebs::register_ingestion_commands(commands);
  ebs::kafka::register_kafka_tool_commands(commands);
  ebs::register_coincidence_commands(commands);
  ebs::register_skymap_commands(commands);
  ebs::register_followup_commands(commands);
  ebs::register_decode_commands(commands);

  CLI::App app{"ebs-flow: real-time astronomical alert workflows (European Broker Services)", "ebs-flow"};
  app.set_version_flag("--version", std::string("ebs-flow ") + EBS_FLOW_VERSION);
  return commands.dispatch(app, argc, argv);
}
