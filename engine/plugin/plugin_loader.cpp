#include "engine/plugin/plugin_loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "engine/plugin/plugin_api.h"
#include "engine/util/fault.h"

namespace ebs {

PluginLoader::~PluginLoader() {
  for (void* h : handles_) dlclose(h);
}

void PluginLoader::load(const std::string& path, ActorRegistry& actors) {
  CommandRegistry too_late;
  load(path, actors, too_late);
}

void PluginLoader::load(const std::string& path, ActorRegistry& actors, CommandRegistry& commands) {
  std::string canonical = path;
  std::error_code ec;
  if (auto c = std::filesystem::canonical(path, ec); !ec) canonical = c.string();
  if (std::find(paths_.begin(), paths_.end(), canonical) != paths_.end()) return;
  if (!std::filesystem::exists(path)) fail(path, "plugin file not found");
  void* handle = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) fail(path, std::string("cannot load plugin: ") + dlerror());
  using InfoFunction = const PluginInfo* (*)();
  auto info_function = reinterpret_cast<InfoFunction>(dlsym(handle, "ebs_flow_plugin_info"));
  if (!info_function) {
    dlclose(handle);
    fail(path, "not an ebs-flow plugin (no ebs_flow_plugin_info; use EBS_FLOW_PLUGIN)");
  }
  const PluginInfo* info = info_function();
  // Build the message before dlclose: `info` lives inside the library.
  std::string problem;
  if (info->abi_version != EBS_FLOW_PLUGIN_ABI_VERSION) {
    problem = "plugin '" + std::string(info->name) + "' was built for plugin ABI " +
              std::to_string(info->abi_version) + ", this ebs-flow has ABI " +
              std::to_string(EBS_FLOW_PLUGIN_ABI_VERSION) + ": rebuild it against these headers";
  } else if (std::strcmp(info->compiler, EBS_FLOW_COMPILER_ID) != 0) {
    problem = "plugin '" + std::string(info->name) + "' was built with " + info->compiler +
              ", this ebs-flow with " EBS_FLOW_COMPILER_ID ": rebuild it with the same compiler";
  }
  if (!problem.empty()) {
    dlclose(handle);
    fail(path, problem);
  }
  try {
    info->register_module(actors, commands);
  } catch (const std::exception& e) {
    // Types it registered before failing stay, so the library must stay loaded.
    handles_.push_back(handle);
    paths_.push_back(canonical);
    fail(path, std::string("plugin registration failed: ") + e.what());
  }
  handles_.push_back(handle);
  paths_.push_back(canonical);
}

}  // namespace ebs
