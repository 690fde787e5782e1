// Records in their Cap'n Proto encodings (schemas/*.capnp): what crosses a node boundary, and the
// typed contract of every port.
#pragma once

#include <string>
#include <string_view>

#include "engine/model/record.h"

namespace ebs {

// A flat (single-segment-packed) Cap'n Proto message holding one record of any port type.
std::string encode_record(const Record& record);
// The inverse; `type` says which struct the bytes hold. A Fault (failed) names `place` when the
// bytes are not a valid message of that type.
RecordPtr decode_record(PortType type, std::string_view bytes, std::string_view place);

}  // namespace ebs
