// Credible-region MOCs (actors/common/skymap/credible_moc.h) as IVOA MOC 2.0 FITS files.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "actors/common/skymap/credible_moc.h"

namespace ebs::followup {

using skymap::Moc;

// MOC 2.0 FITS: a primary HDU and a BINTABLE with one column UNIQ (1J up to order 13, else 1K)
// and the standard's keywords (MOCVERS, MOCDIM, ORDERING, COORDSYS, MOCORD_S, and MOC 1.1's
// PIXTYPE, MOCORDER). `extra_keys` add numeric keywords (e.g. the level and the area).
void write_moc_fits(const Moc& moc, const std::filesystem::path& path,
                    const std::vector<std::pair<std::string, double>>& extra_keys = {});


}  // namespace ebs::followup
