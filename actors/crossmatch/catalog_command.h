// `ebs-flow catalog build|info|cone`: build an indexed catalogue from a YAML configuration,
// describe one, and run a cone search on one (JSON lines on stdout, problems on stderr).
#pragma once

namespace ebs {
class CommandRegistry;
}

namespace ebs::crossmatch {

// RA text for the command line and configs: decimal degrees, or h:m:s when it holds ':' or blanks.
double parse_ra_argument(const char* text);
// Dec text: decimal degrees or d:m:s.
double parse_dec_argument(const char* text);

}  // namespace ebs::crossmatch

namespace ebs {
void register_catalog_commands(CommandRegistry& registry);
}  // namespace ebs
