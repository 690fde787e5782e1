// The public API for actor plugins. A plugin is a shared library that declares actor types
// (engine/graph/actor_type.h) and implements their logic (engine/runtime/actor_logic.h), then
// registers them, and any CLI verbs of its own (engine/cli/command_registry.h), into the
// registries it is handed: the same shape as a built-in family's register_module.
//
//   #include "engine/plugin/plugin_api.h"
//   static void register_module(ebs::ActorRegistry& actors, ebs::CommandRegistry& commands) {
//     actors.add(...);
//     commands.add("my-verb", "...", ...);  // optional
//   }
//   EBS_FLOW_PLUGIN("my-plugin", register_module)
//
// Load it with `plugins: [path/libmy.so]` in a workflow or `--plugin path/libmy.so` (actor types),
// or list it in EBS_FLOW_PLUGINS (colon-separated) to have its verbs on the command line too.
// The ABI check refuses a plugin built against another version of these headers.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"
#include "engine/runtime/actor_logic.h"

// Bump whenever ActorType, ActorLogic, Emitter, ActorContext, Batch, the records, CommandRegistry
// or PluginInfo change. 2: register_module gained the CommandRegistry (plugin CLI verbs).
// 3: ActorType gained needed_files (the files a cluster run ships to its nodes).
// 4: ActorType gained uses_cutouts and check_in_workflow, ActorContext the workflow, AlertCore
// cutouts_not_read and kept_bytes (avro-files reads no cutouts nothing uses).
#define EBS_FLOW_PLUGIN_ABI_VERSION 4

namespace ebs {

struct PluginInfo {
  int abi_version;
  const char* name;
  const char* compiler;  // C++ ABIs differ between compilers and standard libraries
  void (*register_module)(ActorRegistry&, CommandRegistry&);
};

#define EBS_FLOW_STRINGIFY2(x) #x
#define EBS_FLOW_STRINGIFY(x) EBS_FLOW_STRINGIFY2(x)
#define EBS_FLOW_COMPILER_ID "gcc-" EBS_FLOW_STRINGIFY(__GNUC__) "-cxxabi-" EBS_FLOW_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)

}  // namespace ebs

#define EBS_FLOW_PLUGIN(plugin_name, register_function)                                      \
  extern "C" const ebs::PluginInfo* ebs_flow_plugin_info() {                                 \
    static const ebs::PluginInfo info{EBS_FLOW_PLUGIN_ABI_VERSION, plugin_name,              \
                                      EBS_FLOW_COMPILER_ID, &register_function};             \
    return &info;                                                                            \
  }
