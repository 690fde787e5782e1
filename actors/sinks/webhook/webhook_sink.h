// `webhook`: POSTs every record as JSON to an HTTP endpoint (libcurl), or as a Slack-compatible
// message ({"text": "..."}). A record counts as delivered (and its acknowledgement is released)
// only on a 2xx answer. Failures (connection errors, timeouts, 5xx, 408, 429) are retried with
// exponential back-off; after the last retry, or at once on another 4xx, the record becomes a
// dead letter naming the URL, the status and the answer.
#pragma once

#include <string>

#include "engine/graph/actor_registry.h"
#include "engine/model/record.h"

namespace ebs {

void register_webhook_sink(ActorRegistry& registry);

// The Slack message for a record: one line naming what it is.
std::string slack_text(const Record& record);

}  // namespace ebs
