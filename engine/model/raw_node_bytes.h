// RawRecord::bytes() by its definition: every node, and the text each String/Bytes node views.
// A record built from a span of nodes counts them so; a builder counts the same as it writes
// (RawRecordBuilder::count_text), and the tests check its count against this walk.
#pragma once

#include <cstddef>
#include <span>

#include "engine/model/raw_record.h"

namespace ebs {

inline size_t bytes_of_nodes(std::span<const RawNode> nodes) {
  size_t bytes = nodes.size() * sizeof(RawNode);
  for (const RawNode& node : nodes)
    if (node.kind == RawNode::Kind::String || node.kind == RawNode::Kind::Bytes) bytes += node.text.size();
  return bytes;
}

}  // namespace ebs
