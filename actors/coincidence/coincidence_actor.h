// The `coincidence` actor: matches survey alerts against active multi-messenger sky events
// (gravitational waves, neutrinos, GRBs, X-ray transients) and emits Coincidence records carrying
// every term of their significance (docs/coincidence.md).
//
// Inputs: `alerts` (Alert), `events` (SkyEvent). Outputs: `coincidences` (emitted), `alerts`
// (every input alert, forwarded unchanged) and `live` (at the end of the stream, every
// coincidence not withdrawn). GW events are also paired with GRB and neutrino events inside
// RAVEN's windows (Coincidence::other_event_id), with temporal and sky-coupled false-alarm rates
// and, for neutrinos, a LLAMA-like odds ratio. Arrival order does not matter: a new alert is matched
// against the active events, a new event against a bounded window of recent alerts. UPDATEs
// supersede the event's localization and re-check (update or withdraw) what it produced;
// RETRACTIONs withdraw everything. Events expire once the stream time (the latest alert time)
// passes their window. The actor holds the acknowledgements of the events it keeps, so a source
// such as Kafka does not commit past an event that is still active.
#pragma once

#include <memory>

#include "engine/graph/actor_registry.h"
#include "engine/runtime/actor_logic.h"

namespace ebs::coincidence {

ActorType coincidence_actor_type();

}  // namespace ebs::coincidence
