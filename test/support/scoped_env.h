// An environment variable set (or, given nullptr, unset) for one scope and restored after: for
// tests of code that reads the environment (cache folders, data paths).
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace ebs::test {

struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string variable, const char* value) : name(std::move(variable)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    if (value) ::setenv(name.c_str(), value, 1);
    else ::unsetenv(name.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

}  // namespace ebs::test
