// `ebs-flow catalog build|info|cone`: build an indexed catalogue from a YAML configuration,
// describe one, and run a cone search on one (JSON lines on stdout, problems on stderr).
#pragma once

#include "actors/common/angle_text.h"

namespace ebs {
class CommandRegistry;
}

namespace ebs::crossmatch {

// RA/Dec arguments: one parser for every command (actors/common/angle_text.h).
using ebs::parse_dec_argument;
using ebs::parse_ra_argument;

}  // namespace ebs::crossmatch

namespace ebs {
void register_catalog_commands(CommandRegistry& registry);
}  // namespace ebs
