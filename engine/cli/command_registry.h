// The CLI registry: every subcommand (`run`, `validate`, `decode`, `catalog build`, ...) registers
// here; main() builds one registry object and hands it to each module's register function.
// Subcommands print results as JSON lines on stdout and problems as `PLACE: message` on stderr,
// and return 0 (ok), 1 (failed) or 2 (usage).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ebs {

namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failed = 1;
inline constexpr int usage = 2;
}  // namespace exit_code

class CommandRegistry {
 public:
  using Runner = std::function<int()>;
  // Declares the subcommand's options on `app` (capture option storage in the returned runner,
  // e.g. through a shared_ptr) and returns what runs it once the command line is parsed.
  using Configure = std::function<Runner(CLI::App& app)>;

  struct Command {
    std::vector<std::string> path;  // {"catalog", "build"}
    std::string description;
    Configure configure;
  };

  // `name` is a space-separated path: "run", "catalog build", "skymap at".
  void add(const std::string& name, std::string description, Configure configure);
  // Descriptions for command groups such as "catalog".
  void describe_group(const std::string& name, std::string description);

  const std::vector<Command>& commands() const { return commands_; }
  std::string group_description(const std::string& name) const;

  // Builds the CLI11 tree under `app`, parses argv and runs the chosen command.
  int dispatch(CLI::App& app, int argc, char** argv) const;

 private:
  std::vector<Command> commands_;
  std::vector<std::pair<std::string, std::string>> groups_;
};

}  // namespace ebs
