// Angles written by people: sexagesimal text ("10:23:45.6", "10h23m45.6s", "-05 02 03") and the
// RA/Dec arguments that `catalog cone`, `query --cone` and the repository's HTTP API take
// (decimal degrees, or h:m:s / d:m:s). The one parser for every family.
#pragma once

#include <string_view>

namespace ebs {

// "10:23:45.6", "10 23 45.6", "10h23m45.6s", "-05:02:03", "-00 30 00", "10 23.5" or a plain
// number: returns the value in the first component's unit (hours or degrees), sign applied to the
// whole. Raises a Fault (place "angle") describing the problem.
double parse_sexagesimal(std::string_view text);

// RA text: decimal degrees, or h:m:s when it holds ':', blanks or h/d/m letters; in [0, 360).
// A bad value raises a `failed` Fault at "RA".
double parse_ra_argument(std::string_view text);
// Dec text: decimal degrees or d:m:s; in [-90, 90]. A bad value raises a Fault at "DEC".
double parse_dec_argument(std::string_view text);

}  // namespace ebs
