#include "engine/util/fault.h"

#include <new>

namespace ebs {

std::string_view to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::failed: return "failed";
    case FaultKind::overloaded: return "overloaded";
    case FaultKind::disconnected: return "disconnected";
    case FaultKind::unimplemented: return "unimplemented";
  }
  return "failed";
}

static std::string describe(const std::string& place, const std::string& message) {
  return place.empty() ? message : place + ": " + message;
}

Fault::Fault(FaultKind kind, std::string place, std::string message)
    : std::runtime_error(describe(place, message)),
      kind_(kind),
      place_(std::move(place)),
      message_(std::move(message)) {}

Fault to_fault(const std::exception& error, std::string place) {
  if (const auto* fault = dynamic_cast<const Fault*>(&error)) return *fault;
  std::string what = error.what();
  if (dynamic_cast<const std::bad_alloc*>(&error)) what = "out of memory (" + what + ")";
  return Fault(FaultKind::failed, std::move(place), "unexpected error: " + what);
}

void fail(std::string place, std::string message) {
  throw Fault(FaultKind::failed, std::move(place), std::move(message));
}
void overloaded(std::string place, std::string message) {
  throw Fault(FaultKind::overloaded, std::move(place), std::move(message));
}
void disconnected(std::string place, std::string message) {
  throw Fault(FaultKind::disconnected, std::move(place), std::move(message));
}
void unimplemented(std::string place, std::string message) {
  throw Fault(FaultKind::unimplemented, std::move(place), std::move(message));
}

}  // namespace ebs
