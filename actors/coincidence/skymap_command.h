// `ebs-flow skymap info FILE` and `ebs-flow skymap at FILE RA DEC [RA DEC ...]`: FILE is a FITS sky
// map (multi-order or flat, plain or gzipped), a JSON GCN notice with an embedded base64 map, or
// an http(s) URL. Results are JSON lines on stdout.
#pragma once

#include <iosfwd>

#include "engine/cli/command_registry.h"

namespace ebs {

void register_skymap_commands(CommandRegistry& registry);

}  // namespace ebs

namespace ebs::skymap {
class Skymap;
}  // namespace ebs::skymap

namespace ebs::coincidence {

// The JSON lines the commands print, for callers and tests.
void write_skymap_info(const skymap::Skymap& map, std::ostream& out);
void write_skymap_lookup(const skymap::Skymap& map, double ra_deg, double dec_deg, std::ostream& out);

}  // namespace ebs::coincidence
