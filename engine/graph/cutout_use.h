// Whether anything downstream of a source uses alerts' cutouts (ZTF's three ~20 KB stamps, most
// of a message's bytes), so that the source may leave them unread (avro-files `cutouts: auto`,
// docs/performance.md "Reading no cutouts").
//
// The walk follows every output of the source and of each actor it reaches, except outputs whose
// records hold no alert (sky events, coincidences, classifications) and dead letters (an alert
// that fails downstream is written with `cutouts_not_read`, and the source's file still holds
// them). Each actor reached uses cutouts when its type says so (ActorType::uses_cutouts), when it
// reads a raw field that holds them (a filter on `cutoutScience.fileName`), or when nothing says
// it does not: an unknown type, a plugin type that does not declare, a declaration that throws.
#pragma once

#include <string>
#include <vector>

#include "engine/graph/workflow.h"

namespace ebs {

struct CutoutUse {
  bool used = true;
  std::string why;  // which actor uses them and how; empty when none does
};

// `cutout_fields`: the top-level raw fields the source's profiles read cutouts from.
CutoutUse cutout_use_downstream(const Workflow& workflow, const std::string& source,
                                const std::vector<std::string>& cutout_fields);

}  // namespace ebs
