// Runs a command for tests and captures its exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ebs::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Text for /bin/sh inside '...': a ' is written '\''.
inline std::string sh_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char ch : text) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return quoted + "'";
}

// `command` is passed to /bin/sh; it runs in `cwd`.
inline CommandResult run_command(const std::string& command, const std::filesystem::path& cwd) {
  static int counter = 0;
  auto tmp = std::filesystem::temp_directory_path() /
             ("ebs-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(tmp);
  std::string full = "cd '" + cwd.string() + "' && " + command + " >'" + (tmp / "out").string() + "' 2>'" +
                     (tmp / "err").string() + "'";
  int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(tmp / "out");
  r.err = read_file(tmp / "err");
  std::filesystem::remove_all(tmp);
  return r;
}

}  // namespace ebs::test
