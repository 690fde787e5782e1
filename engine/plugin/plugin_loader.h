// Loads actor plugins (shared libraries) into a registry. The loader keeps every library open for
// its own lifetime: registered types point into the library's code, so a loader must outlive
// every registry it loaded into (declare it first).
#pragma once

#include <string>
#include <vector>

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs {

class PluginLoader {
 public:
  PluginLoader() = default;
  PluginLoader(const PluginLoader&) = delete;
  PluginLoader& operator=(const PluginLoader&) = delete;
  ~PluginLoader();

  // A Fault (failed) naming the path when the file cannot be opened, is not an ebs-flow plugin,
  // or was built for another ABI. Loading the same path twice is a no-op.
  void load(const std::string& path, ActorRegistry& actors, CommandRegistry& commands);
  // Actor types only (a workflow's `plugins:`, `--plugin`): the command line is parsed already,
  // so the plugin's verbs go nowhere.
  void load(const std::string& path, ActorRegistry& actors);
  const std::vector<std::string>& loaded() const { return paths_; }

 private:
  std::vector<void*> handles_;
  std::vector<std::string> paths_;
};

}  // namespace ebs
