// The questions astronomers ask a repository without writing SQL, shared by `query` and `serve`:
// a cone (alerts near a position, nearest first), an object (its light curve), a sky event (its
// coincidences with alerts and with other events). Each writes one table through a TableWriter.
#pragma once

#include <string>

#include "actors/common/repository/reader.h"
#include "actors/sinks/repository/table_output.h"

namespace ebs::repository {

// A cone radius in arcsec as text: a positive number up to 3 degrees (10800"); a Fault at "RADIUS" else.
double parse_radius_arcsec(std::string_view text);

// Alerts within `radius_arcsec` of (ra, dec) in degrees, nearest first, with `sep_arcsec`.
void write_cone(const Reader& reader, double ra, double dec, double radius_arcsec, int64_t limit, TableWriter& out);
// The object's light-curve points (detections, upper limits, forced photometry), oldest first.
// False (and nothing written) when the repository does not hold the object.
bool write_object(const Reader& reader, const std::string& object_id, TableWriter& out);
// The sky event's coincidences: alerts in its region (with the alert's position, magnitude and
// time) and pairs with other sky events; each candidate's current state, or every row with
// `history` (Reader::event_coincidences). False when the repository does not hold the event.
bool write_event(const Reader& reader, const std::string& event_id, bool history, TableWriter& out);

}  // namespace ebs::repository
