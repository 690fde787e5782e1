// The messages of a cluster run (docs/cluster.md): between a coordinator and its nodes, and on the
// links that carry one edge of the graph from one node to another. Only serializable types cross:
// records travel as their Cap'n Proto encodings, never as BatchView.
//
// Every message on a link carries the epoch of the link's binding. The coordinator raises the
// run's epoch each time it declares a node lost; links rebound then (to a replacement) carry the
// new epoch, and a link in refuses anything of an older epoch: a node declared lost that comes back
// (a SIGSTOP/SIGCONT) is fenced, nothing it sends is accepted.
#pragma once

#include <caf/all.hpp>

#include <chrono>
#include <string>

#include "engine/util/hash.h"

namespace ebs::cluster {

// (records, epoch, seq, in_port, batch type, record types, encodings, ingest wall-clock ns, source
// sequence, last): one part of batch `seq` (a batch is split so that no message exceeds
// kMaxMessageBytes); its records' encodings laid end to end in one string (RecordEncoder), one type
// byte per record; the batch's source sequence (engine/runtime/source_sequence.h; 0: none), which
// the receiving node's token keeps.
using records_atom = caf::atom_constant<caf::atom("records")>;
// (released, epoch, seq, abandoned): every record of batch `seq` was handled on the receiving node
// (or, abandoned, was not): the sender lets go of the batch's acknowledgement tokens.
using released_atom = caf::atom_constant<caf::atom("released")>;
using link_credit_atom = caf::atom_constant<caf::atom("lcredit")>;  // (lcredit, epoch, batches)
using link_time_atom = caf::atom_constant<caf::atom("ltime")>;      // (ltime, epoch, in_port, mjd)
using link_eos_atom = caf::atom_constant<caf::atom("leos")>;        // (leos, epoch)
// Node -> link out: (peer, handle, epoch, local): where it sends from now on; `local`: a local
// instance (batches pass as they are), else a link in on another node. A rebind replays every
// batch not yet released.
using peer_atom = caf::atom_constant<caf::atom("peer")>;
using abandon_atom = caf::atom_constant<caf::atom("abandon")>;  // node -> link out: its peer is gone for good
// Node -> link in: (fence, epoch); coordinator -> its own request server: (fence, node id), below.
using fence_atom = caf::atom_constant<caf::atom("fence")>;
// Link out -> node: (drained, bool): whether everything it was sent is released and its upstream ended.
using drained_atom = caf::atom_constant<caf::atom("drained")>;

// Coordinator -> node.
using hello_atom = caf::atom_constant<caf::atom("hello")>;      // -> (name, version)
// (stage, owners, paths, sha256s, elsewhere): the files of the actors placed on the node
// (engine/cluster/shipped_files.h) and the actors whose files it does not get -> (ok, the hashes
// the node's cache lacks, or the problems).
using stage_atom = caf::atom_constant<caf::atom("stage")>;
// (fpiece, sha256, offset, bytes, last) -> (ok, problem): one piece of a file the node lacks. The
// coordinator waits for each answer before the next piece: one piece in flight per node.
using file_piece_atom = caf::atom_constant<caf::atom("fpiece")>;
using prepare_atom = caf::atom_constant<caf::atom("prepare")>;  // spawn the placed instances
using peers_atom = caf::atom_constant<caf::atom("peers")>;      // connect to these nodes directly
using wire_atom = caf::atom_constant<caf::atom("wire")>;        // (wire, keys, handles, epoch): the links in of every node
using collect_atom = caf::atom_constant<caf::atom("collect")>;  // -> the instances' books (JSON)
// (replace, epoch, lost node, indices, link keys, link handles) to each survivor that takes some of a
// lost node's instances: it spawns them and answers (keys, handles) of its new links in.
using replace_atom = caf::atom_constant<caf::atom("replace")>;
// (failover, epoch, lost node, replaced indices, the node that took each, link keys, link handles) to every
// survivor: rebind the links to and from the lost instances, fence those from the lost node.
using failover_atom = caf::atom_constant<caf::atom("failover")>;

// (restart, epoch) to every survivor (workflow on_node_loss: restart): tear this attempt down
// (every token still held abandoned, so no Kafka source commits past what was written), wait for
// its instances to end, and answer (restart, node name) once ready to prepare the next attempt.
using restart_atom = caf::atom_constant<caf::atom("restart")>;

// Node -> coordinator: (books, epoch, node name, JSON): every local instance's books so far
// (engine/cluster/instance_books.h), every kBooksInterval while the run goes; `epoch` is that of
// the attempt (its wire), so that a torn-down attempt's books are dropped after a restart.
using books_atom = caf::atom_constant<caf::atom("books")>;
inline constexpr std::chrono::milliseconds kBooksInterval{500};
// Coordinator -> node: (feed): the coordinator serves `run --http`: ship what this node's
// `dashboard` sinks keep. Node -> coordinator: (feed, node name, state, types, encodings), a
// FeedPart (engine/cluster/feed_relay.h), every kBooksInterval while its feed moves, before its
// books at collect or a drain cut, and after a drain cut once its instances ended (before its
// abandoned count): the newest kept records not shipped yet, at most the workflow's
// dashboard_shipment_bytes of them a time (dashboard_final_shipment_bytes before the books; the
// older over it skipped for good, counted in the part's state), in parts of
// kMaxMessageBytes. Each part's state carries its attempt's epoch: an earlier attempt's is dropped.
// The coordinator answers each part with (feedack); a node sends its next shipment only once the
// previous one's parts are all acknowledged: at most one shipment in transit per node (CAF's
// write buffers and mailboxes are unbounded).
using feed_atom = caf::atom_constant<caf::atom("feed")>;
using feed_ack_atom = caf::atom_constant<caf::atom("feedack")>;
// The budgets (engine/graph/workflow.h, 2 MiB and four times that by default: 4 MiB/s at most
// from a node, ~150 ZTF alerts of 2020, 27.5 kB as shipped with cutouts, a second; a sink's
// default 50 alerts fit in one shipment) reach each node in the workflow text prepare carries.
// (draincut) to every node: the drain ran out of time (drain_timeout_s). The node abandons every
// token it holds (nothing more is acknowledged, so no Kafka source commits past what was written),
// reports its books at once (collect's answer) and stops its instances.
using drain_cut_atom = caf::atom_constant<caf::atom("draincut")>;
// Node -> coordinator after a drain cut: (abandoned, node name, records, whole): the records its
// acknowledgement scope abandoned, counted once its instances and links ended (whole) or when the
// node stopped waiting for them (not whole). Each record counts on the node that read it: the
// stand-in tokens of batches from other nodes are left out.
using abandoned_atom = caf::atom_constant<caf::atom("abandoned")>;
// Coordinator -> node: (reportack, collect) its books arrived, (reportack, abandoned) its abandoned
// count (after a drain cut) arrived: the node's last message. The node exits only then (or once the coordinator is gone, or
// after kReportAckWait): closing its connection with the coordinator's messages unread would reset
// it, and the kernel would drop what the node had not sent yet (its report behind a feed shipment).
using report_ack_atom = caf::atom_constant<caf::atom("reportack")>;
inline constexpr std::chrono::seconds kReportAckWait{10};
// Node -> the coordinator's request server (engine/cluster/coordinator_requests.h): (service, name,
// attempt epoch, request text) from an asker of its own (one per request), answered by a message to
// it, (answer, ok, answer text or why not): not a CAF response, which the asker could only wait for,
// so that the asker, monitoring the server, also learns at once that the coordinator was lost (CAF
// 0.17 drops a request to a lost peer without an error). The server's handle reaches each node with prepare.
using service_atom = caf::atom_constant<caf::atom("service")>;
using service_answer_atom = caf::atom_constant<caf::atom("svcanswer")>;
// fence_atom and restart_atom (above) also go coordinator -> its own request server, from its process only:
// (fence, node id) a node declared lost, its requests refused; (restart, epoch) earlier attempts' refused.

// The revision of what the processes of a cluster say to each other: the messages in this file,
// and records as link.cpp encodes them (schemas/alert.capnp, ...). It is part of the BASP
// application identifier (cluster_app_identifier): two builds of one version that differ here
// refuse each other at the handshake instead of misreading each other. Raise it with any change.
// 3: raw payloads flat (Alert.rawFlat); 4: batches keep their source sequence; 5: the abandoned
// records counted after a drain cut, credit across a link given back when a batch is taken; 6: the
// filters service's claim answers {points, claimed_through, applied_revision}; effects carry
// instance and revision (the requests of services through service_atom count as messages here);
// a replay paced by the replacement's credit, held batches past the cap kept as tokens only
// (never a stall) and counted when not replayable (collect), the abandoned records counted at the
// cut; the dashboard feed (feed, feedack) shipped from nodes to the coordinator; 7: the filters
// service's claim carries the claimant's batch and its answer at most 16 points with `skipped` and
// `next_point` (a bounded answer), and effects are logged under the attempt of their request; the
// request server answers with svcanswer messages (the asker monitors it) instead of responses;
// a node's books carry each instance's side_work (a filters output's deliveries: drain progress);
// 8: Alert.cutoutsNotRead/cutoutsFile (cutouts not read by avro-files); 9: a node's books carry each
// instance's output_dead_letters (a filters output's undelivered messages, dead-lettered); 10: a
// dashboard feed part's state carries its attempt's epoch and the records not shipped, the newest
// go first, and a node ships again after a drain cut; the coordinator acknowledges a node's report
// and abandoned count (reportack); 11: the filters service's `counts` request (an instance's
// outputs' delivered/dead-lettered/lost counts); 12: prepare carries each link out's bound on held
// batches kept as tokens only (RunOptions::held_tokens_bytes) after the credit byte window; 13: the
// filters service's `counts` request carries each output's rate_limited (six fields, not five); 14:
// prepare carries the run's dashboard budgets (shipment, final) after that bound (`run
// --dashboard-shipment-bytes`; before, each node read its workflow's).
inline constexpr int kClusterProtocolRevision = 14;

// The epoch of the links wired before the run starts; each node loss raises the run's epoch by one.
inline constexpr uint64_t kFirstEpoch = 1;

// BASP frames a message with a 32-bit length; a batch's records are sent in parts well below it.
// Parts of 256 KiB: CAF 0.17's BASP moved 4 MB messages at 10 MB/s on loopback and 128 KB ones at
// 40 MB/s (docs/cluster.md "Figures"). A record larger than this goes alone.
inline constexpr size_t kMaxMessageBytes = size_t{256} << 10;

// The pieces a shipped file crosses in: far below BASP's 32-bit frame, large enough that the wait
// for each piece's answer costs little.
inline constexpr size_t kFilePieceBytes = size_t{1} << 20;

// (collect, node name, JSON): a node's answer to collect, every local instance's books.

// What the coordinator ships with the workflow's text: nodes refuse a text that does not match.
inline std::string workflow_hash(const std::string& text) { return hex64(fnv1a64(text)); }

}  // namespace ebs::cluster
