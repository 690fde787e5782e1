// Faults: the only exceptions ebs-flow throws. A small set of kinds maps onto supervision:
//   failed        -> the record or request is bad: dead-letter it / exit 1, do not retry
//   overloaded    -> back off and retry later
//   disconnected  -> reconnect, then retry
//   unimplemented -> give up: the capability is absent
// Every fault names its place (FILE:LINE:COL, topic/partition/offset, file row, ...).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace ebs {

enum class FaultKind { failed, overloaded, disconnected, unimplemented };

std::string_view to_string(FaultKind kind);

class Fault : public std::runtime_error {
 public:
  Fault(FaultKind kind, std::string place, std::string message);

  FaultKind kind() const { return kind_; }
  const std::string& place() const { return place_; }
  const std::string& message() const { return message_; }

 private:
  FaultKind kind_;
  std::string place_;
  std::string message_;
};

// Any exception as a Fault (an actor never lets one end a source): a Fault stays itself; anything
// else — std::length_error or std::bad_alloc from a size a poisoned input declared, a library's
// own exception — becomes a `failed` Fault at `place` saying what escaped.
Fault to_fault(const std::exception& error, std::string place);

[[noreturn]] void fail(std::string place, std::string message);
[[noreturn]] void overloaded(std::string place, std::string message);
[[noreturn]] void disconnected(std::string place, std::string message);
[[noreturn]] void unimplemented(std::string place, std::string message);

}  // namespace ebs
