// What the `webhook` sink sends to the community (docs/exchange.md):
//  - `community-event`: a sky event, a coincidence or an alert as an event in an
//    Astro-COLIBRI-like shape (time, position, error, type, source, links), one JSON per record;
//  - `tns-report`: an alert as a Transient Name Server AT report in the bulk-report layout
//    ({"at_report": {"0": {...}}}), sent as TNS's bulk-report API takes it (form fields api_key
//    and data, a tns_marker User-Agent).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/model/record.h"

namespace ebs::community {

struct EventOptions {
  std::string discoverer = "ebs-flow";  // who publishes
  // Link templates: {object_id}, {event_id}, {alert_id} are replaced. Empty: no link.
  std::string object_url;
  std::string event_url;
};

// The event JSON of a SkyEvent, Coincidence or Alert; a Fault for other records.
nlohmann::json community_event(const Record& record, const EventOptions& options);

struct TnsSettings {
  std::string api_key;
  std::string bot_id;
  std::string bot_name;
  std::string reporting_group_id;
  std::string discovery_data_source_id;
  std::string reporter;
  std::string at_type = "1";  // TNS: 1 = PSN (possible supernova)
  std::string instrument;     // TNS instrument id (ZTF-Cam: 196)
  std::map<std::string, std::string> filters;  // band -> TNS filter id (ZTF g 110, r 111, i 112)
  std::string observer = "Robot";
  std::string remarks;
};

// TNS defaults for ZTF alerts (instrument, filter ids as TNS lists them).
TnsSettings ztf_tns_defaults();

// The bulk-report JSON for one alert: its positive detections (history and the alert's own) as photometry
// in AB mag, its last upper limit before the first detection as the non-detection (else an
// archival remark), the first detection's time as the discovery date. A Fault naming the alert
// when it has no positive detection with a magnitude, or a band without a TNS filter id.
nlohmann::json tns_at_report(const Alert& alert, const TnsSettings& settings);
// The request body: api_key=...&data=<the report JSON>, form-encoded.
std::string tns_form_body(const nlohmann::json& report, const TnsSettings& settings);
// The User-Agent TNS asks of bots: tns_marker{"tns_id": ID, "type": "bot", "name": NAME}.
std::string tns_user_agent(const TnsSettings& settings);

}  // namespace ebs::community
