// A child process for tests that run ebs-flow beside another (`ebs-flow broker`, a run to kill):
// `command` through /bin/sh `exec` (so a signal reaches the program itself), stdout and stderr in
// files; and waiting for a condition with a time limit.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

namespace ebs::test {

struct Child {
  pid_t pid = -1;
  int exit_code = -1;  // once reaped (wait, stop, or running() seeing it end): as a shell shows it
  Child(const std::string& command, const std::filesystem::path& cwd, const std::filesystem::path& out,
        const std::filesystem::path& err) {
    pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      std::string full = "cd '" + cwd.string() + "' && exec " + command + " >'" + out.string() + "' 2>'" + err.string() + "'";
      ::execl("/bin/sh", "sh", "-c", full.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  int stop(int signal) {
    if (pid <= 0) return -1;
    ::kill(pid, signal);
    return wait();
  }
  int wait() {
    int status = 0;
    if (pid <= 0) return exit_code;
    ::waitpid(pid, &status, 0);
    pid = -1;
    exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code;
  }
  bool running() {
    int status = 0;
    if (pid <= 0) return false;
    if (::waitpid(pid, &status, WNOHANG) == 0) return true;
    pid = -1;
    exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  ~Child() {
    if (pid > 0) stop(SIGKILL);
  }
};

template <class Predicate>
bool wait_until(Predicate done, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace ebs::test
