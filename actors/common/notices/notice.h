// GCN notices -> SkyEvent records.
//
// Understood formats (docs/notices.md):
//   - LVK `igwn.gwalert` JSON (EARLYWARNING, PRELIMINARY, INITIAL, UPDATE, RETRACTION) with its
//     base64 multi-order sky map in `event.skymap` (decoded and validated here);
//   - GCN Kafka JSON notices built on core/Localization (IceCube gold/bronze/cascade tracks,
//     KM3NeT, Swift BAT-GUANO, Fermi GBM, Einstein Probe WXT, SVOM, Super-K, CHIME/FRB) and the
//     IceCube LVK neutrino track search (one SkyEvent per coincident neutrino);
//   - GraceDB superevent records (`t_0` in GPS seconds; no sky map);
//   - classic VOEvent 2.0 XML (IceCube GOLD/BRONZE/CASCADE), parsed with libxml2.
// Times are converted once, here, to MJD TAI. Bad input raises ebs::Fault (failed) naming
// `source` and the notice id; a notice without a localization (and not a retraction) is such a
// fault too, with the reason "not a localization notice".
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/record.h"

namespace ebs::notices {

// One notice may describe several sky events (the LVK neutrino track search).
std::vector<std::shared_ptr<SkyEvent>> parse_notice(std::string_view text, const std::string& source);

// Why a default workflow drops this event, or "" to keep it: mock/test/injection events unless
// `keep_test`; `significant: false` when `significant_only`.
std::string drop_reason(const SkyEvent& event, bool keep_test, bool significant_only);

// LVK superevent ids of mock/test/MDC events: "MS...", "TS..." (GraceDB's test prefixes).
bool is_mock_superevent_id(std::string_view superevent_id);

}  // namespace ebs::notices
