// `ebs-flow validate --connect`: can this machine reach a service a workflow needs? One answer
// per service, in ebs-flow's words, before a night's run instead of during it.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace ebs::reach {

// Why an HTTP(S) server (a schema registry, a webhook host) cannot be reached: DNS, TCP and TLS
// are tried (curl's connect-only mode, no request is sent); nothing when it can.
std::optional<std::string> http_unreachable(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace ebs::reach
