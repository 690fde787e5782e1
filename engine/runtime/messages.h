// The messages of the batch/credit/acknowledgement protocol between node actors
// (docs/architecture.md describes the protocol).
#pragma once

#include <caf/all.hpp>

#include "engine/runtime/batch.h"

namespace ebs::msg {

// (data, in_port, BatchView, ingest): ingest is when the batch's oldest record entered the engine
// (steady-clock nanoseconds; docs/performance.md), carried beside the batch to every actor.
using data_atom = caf::atom_constant<caf::atom("data")>;
using credit_atom = caf::atom_constant<caf::atom("credit")>;    // (credit, batches, bytes)
using eos_atom = caf::atom_constant<caf::atom("eos")>;          // end of stream from one upstream
// (streamtime, in_port, mjd_tai): the stream's clock after a keyed batch (ActorLogic::on_stream_time)
using stream_time_atom = caf::atom_constant<caf::atom("streamtime")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;        // sources: finish in-flight, end
using produce_atom = caf::atom_constant<caf::atom("produce")>;  // sources: self-scheduling
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using done_atom = caf::atom_constant<caf::atom("done")>;        // (done, instance index) to the run
// (fault, instance index, what, abort) to the run: an actor failed outside any one record (a
// source's produce, a sink's flush); the run goes on draining and ends with exit 1 — or, with
// abort (Emitter::abort_run), is torn down at once.
using fault_atom = caf::atom_constant<caf::atom("fault")>;
// (locality, remote) from a link that stands for a downstream instance (engine/cluster/link.h) to
// its upstream: it now reaches an instance on another node, or (after a failover put the
// replacement on this node) one on this node: `any` edges prefer local ones (partition.h).
using locality_atom = caf::atom_constant<caf::atom("locality")>;

}  // namespace ebs::msg

// Batches are shared pointers to immutable data: inside one process they are passed by
// reference, never serialized (engine/cluster encodes records with Cap'n Proto instead).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ebs::BatchView)
