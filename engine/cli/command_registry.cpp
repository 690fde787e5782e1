#include "engine/cli/command_registry.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <sstream>

#include "engine/util/fault.h"

namespace ebs {

static std::vector<std::string> split_words(const std::string& name) {
  std::istringstream in(name);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

void CommandRegistry::add(const std::string& name, std::string description, Configure configure) {
  commands_.push_back({split_words(name), std::move(description), std::move(configure)});
}

void CommandRegistry::describe_group(const std::string& name, std::string description) {
  groups_.emplace_back(name, std::move(description));
}

std::string CommandRegistry::group_description(const std::string& name) const {
  for (const auto& [group, text] : groups_)
    if (group == name) return text;
  return "";
}

int CommandRegistry::dispatch(CLI::App& app, int argc, char** argv) const {
  std::map<std::string, CLI::App*> groups;
  std::vector<std::pair<CLI::App*, Runner>> runners;
  app.require_subcommand(1);
  for (const Command& command : commands_) {
    CLI::App* parent = &app;
    std::string prefix;
    for (size_t i = 0; i + 1 < command.path.size(); ++i) {
      prefix += (prefix.empty() ? "" : " ") + command.path[i];
      auto it = groups.find(prefix);
      if (it == groups.end()) {
        CLI::App* group = parent->add_subcommand(command.path[i], group_description(prefix));
        group->require_subcommand(1);
        it = groups.emplace(prefix, group).first;
      }
      parent = it->second;
    }
    CLI::App* sub = parent->add_subcommand(command.path.back(), command.description);
    runners.emplace_back(sub, command.configure(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? exit_code::ok : exit_code::usage;
  }
  for (auto& [sub, runner] : runners) {
    if (sub->parsed()) {
      try {
        return runner();
      } catch (const Fault& fault) {
        std::cerr << fault.what() << "\n";
        return exit_code::failed;
      } catch (const std::exception& e) {
        std::cerr << "ebs-flow: " << e.what() << "\n";
        return exit_code::failed;
      }
    }
  }
  return exit_code::usage;
}

}  // namespace ebs
