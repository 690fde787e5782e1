// The messages of a cluster run (docs/cluster.md): between a coordinator and its nodes, and on the
// links that carry one edge of the graph from one node to another. Only serializable types cross:
// records travel as their Cap'n Proto encodings, never as BatchView.
#pragma once

#include <caf/all.hpp>

#include <string>

#include "engine/util/hash.h"

namespace ebs::cluster {

// (records, seq, in_port, batch type, record types, encodings, ingest wall-clock ns, last): one
// part of batch `seq` (a batch is split so that no message exceeds kMaxMessageBytes).
using records_atom = caf::atom_constant<caf::atom("records")>;
// (released, seq, abandoned): every record of batch `seq` was handled on the receiving node (or,
// abandoned, was not): the sender lets go of the batch's acknowledgement tokens.
using released_atom = caf::atom_constant<caf::atom("released")>;
using peer_atom = caf::atom_constant<caf::atom("peer")>;  // (peer, link in): where a link out sends

// Coordinator -> node.
using hello_atom = caf::atom_constant<caf::atom("hello")>;      // -> (name, version)
using prepare_atom = caf::atom_constant<caf::atom("prepare")>;  // spawn the placed instances
using peers_atom = caf::atom_constant<caf::atom("peers")>;      // connect to these nodes directly
using wire_atom = caf::atom_constant<caf::atom("wire")>;        // the links in of every node
using collect_atom = caf::atom_constant<caf::atom("collect")>;  // -> the instances' books (JSON)

// BASP frames a message with a 32-bit length; a batch's records are sent in parts well below it.
// Parts of 256 KiB: CAF 0.17's BASP moved 4 MB messages at 10 MB/s on loopback and 128 KB ones at
// 40 MB/s (docs/cluster.md "Figures"). A record larger than this goes alone.
inline constexpr size_t kMaxMessageBytes = size_t{256} << 10;

// (collect, node name, JSON): a node's answer to collect, every local instance's books.

// What the coordinator ships with the workflow's text: nodes refuse a text that does not match.
inline std::string workflow_hash(const std::string& text) { return hex64(fnv1a64(text)); }

}  // namespace ebs::cluster
