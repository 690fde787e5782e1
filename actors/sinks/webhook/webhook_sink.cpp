#include "actors/sinks/webhook/webhook_sink.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "actors/common/reachability.h"
#include "actors/sinks/webhook/community_payloads.h"
#include "engine/model/record_json.h"
#include "engine/runtime/ack.h"
#include "engine/runtime/actor_logic.h"
#include "engine/runtime/teardown.h"
#include "engine/util/backoff.h"

namespace ebs {

namespace {

struct CurlCleanup {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct HeaderListCleanup {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

size_t collect_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() < 2048) body->append(data, std::min(size * count, 2048 - body->size()));
  return size * count;
}

std::string format(const char* pattern, double a, double b) {
  char text[96];
  std::snprintf(text, sizeof text, pattern, a, b);
  return text;
}

struct Attempt {
  long status = 0;          // 0: no HTTP answer
  std::string error;        // curl's message when there was no answer
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
  // Worth another try: no answer, a server error, a timeout or rate limit.
  bool retryable() const { return status == 0 || status >= 500 || status == 408 || status == 429; }
};

class WebhookSink final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    // libcurl's global state, once per process, before any handle (curl_global_init is not
    // thread-safe and every webhook instance runs on its own thread).
    static std::once_flag curl_initialised;
    std::call_once(curl_initialised, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    url_ = c.string("url");
    url_place_ = c.place("url");
    format_ = c.boolean("slack") ? "slack" : c.string("format");
    events_.discoverer = c.string("discoverer");
    if (c.has("object_url")) events_.object_url = c.string("object_url");
    if (c.has("event_url")) events_.event_url = c.string("event_url");
    if (format_ == "tns-report") tns_ = tns_settings(c);
    options_.with_raw = c.boolean("with_raw");
    retries_ = static_cast<int>(c.integer("retries"));
    backoff_ = std::chrono::milliseconds(c.integer("backoff_ms"));
    max_backoff_ = std::chrono::milliseconds(c.integer("max_backoff_ms"));
    curl_.reset(curl_easy_init());
    if (!curl_) fail(url_place_, "cannot create a libcurl handle");
    // TNS's bulk-report API takes form fields (api_key, data) and names bots by their User-Agent.
    curl_slist* list = curl_slist_append(nullptr, format_ == "tns-report" ? "Content-Type: application/x-www-form-urlencoded"
                                                                          : "Content-Type: application/json");
    if (format_ == "tns-report") list = curl_slist_append(list, ("User-Agent: " + community::tns_user_agent(tns_)).c_str());
    if (c.has("headers"))
      for (const auto& [name, value] : c.string_map("headers")) list = curl_slist_append(list, (name + ": " + value).c_str());
    headers_.reset(list);
    curl_easy_setopt(curl_.get(), CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl_.get(), CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(curl_.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(c.integer("timeout_ms")));
    curl_easy_setopt(curl_.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl_.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl_.get(), CURLOPT_ERRORBUFFER, error_);
    // A run torn down (a fault, a drain that ran out of time) must not wait for a hanging
    // endpoint: the request in progress is cut, the rest of the batch abandoned.
    scope_ = context.acks;
    curl_easy_setopt(curl_.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl_.get(), CURLOPT_XFERINFOFUNCTION, abort_when_torn_down);
    curl_easy_setopt(curl_.get(), CURLOPT_XFERINFODATA, scope_.get());
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    size_t delivered = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (torn_down()) return;  // what is left is abandoned with the run; nothing to count
      std::string payload;
      try {
        payload = payload_of(batch[i]);
      } catch (const Fault& fault) {  // a record this format cannot say (a TNS report without a detection, ...)
        out.failed(batch.record(i), fault, batch.acks());
        continue;
      }
      Attempt last;
      Backoff backoff(backoff_, max_backoff_);
      for (int attempt = 0; attempt <= retries_; ++attempt) {
        if (attempt > 0) sleep_unless_torn_down(*scope_, backoff.next());  // its own thread: blocks nobody else
        if (torn_down()) return;
        last = post(payload);
        if (last.ok() || !last.retryable()) break;
      }
      if (last.ok()) {
        ++delivered;
        continue;
      }
      std::string reason = last.status == 0 ? "no answer: " + last.error
                                            : "HTTP " + std::to_string(last.status) + ": " + last.body;
      if (last.retryable()) reason += " (after " + std::to_string(retries_ + 1) + " attempts)";
      out.failed(batch.record(i), Fault(last.status == 0 ? FaultKind::disconnected : FaultKind::failed, url_, reason),
                 batch.acks());
    }
    out.delivered(delivered);
    // Returning drops the batch: everything in it was delivered or is now a dead letter.
  }

  std::string output() const override { return url_; }

 private:
  std::string payload_of(const Record& record) const {
    const auto dump = [](const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
    if (format_ == "slack") return nlohmann::json{{"text", slack_text(record)}}.dump();
    if (format_ == "community-event") return dump(community::community_event(record, events_));
    if (format_ == "tns-report") {
      if (record.type() != PortType::alert) fail(url_, "a TNS report is made of an alert, not a " + std::string(to_string(record.type())));
      return community::tns_form_body(community::tns_at_report(static_cast<const Alert&>(record), tns_), tns_);
    }
    return dump(to_json(record, options_));
  }

  static community::TnsSettings tns_settings(const ActorConfig& c) {
    community::TnsSettings s = community::ztf_tns_defaults();
    if (!c.has("tns")) return s;
    YAML::Node node = c.node("tns");
    auto text = [&](const char* key, std::string& to) {
      if (node[key]) to = node[key].as<std::string>();
    };
    text("api_key", s.api_key);
    text("bot_id", s.bot_id);
    text("bot_name", s.bot_name);
    text("reporting_group_id", s.reporting_group_id);
    text("discovery_data_source_id", s.discovery_data_source_id);
    text("reporter", s.reporter);
    text("at_type", s.at_type);
    text("instrument", s.instrument);
    text("observer", s.observer);
    text("remarks", s.remarks);
    if (node["filters"])
      for (const auto& kv : node["filters"]) s.filters[kv.first.as<std::string>()] = kv.second.as<std::string>();
    return s;
  }

  bool torn_down() const { return scope_ && scope_->torn_down(); }
  static int abort_when_torn_down(void* scope, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return scope && static_cast<const AckScope*>(scope)->torn_down() ? 1 : 0;
  }

  Attempt post(const std::string& payload) {
    Attempt a;
    error_[0] = '\0';
    curl_easy_setopt(curl_.get(), CURLOPT_POSTFIELDS, payload.data());
    curl_easy_setopt(curl_.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEDATA, &a.body);
    CURLcode rc = curl_easy_perform(curl_.get());
    if (rc != CURLE_OK) {
      a.error = error_[0] ? error_ : curl_easy_strerror(rc);
      return a;
    }
    curl_easy_getinfo(curl_.get(), CURLINFO_RESPONSE_CODE, &a.status);
    return a;
  }

  std::string url_, url_place_;
  std::string format_ = "json";
  community::EventOptions events_;
  community::TnsSettings tns_;
  JsonOptions options_;
  int retries_ = 5;
  std::chrono::milliseconds backoff_{200}, max_backoff_{10000};
  std::shared_ptr<const AckScope> scope_;
  std::unique_ptr<CURL, CurlCleanup> curl_;
  std::unique_ptr<curl_slist, HeaderListCleanup> headers_;
  char error_[CURL_ERROR_SIZE] = {};
};

}  // namespace

std::string slack_text(const Record& record) {
  switch (record.type()) {
    case PortType::alert: {
      const auto& alert = static_cast<const Alert&>(record);
      const AlertCore& c = alert.core();
      std::string text = c.survey + " " + c.object_id + " alert " + std::to_string(c.alert_id) +
             format(" at RA %.5f Dec %+.5f", c.ra, c.dec);
      if (std::isfinite(c.mag)) text += format(", mag %.2f", c.mag, 0) + " (" + c.band + ")";
      for (const Annotation* a : alert.annotations().list()) {
        text += "; " + std::string(to_string(a->kind)) + " " + a->name;
        if (std::isfinite(a->value)) text += format(" %.3g", a->value, 0);
      }
      return text;
    }
    case PortType::sky_event: {
      const auto& e = static_cast<const SkyEvent&>(record);
      return std::string(to_string(e.kind)) + " " + e.event_id + " #" + std::to_string(e.sequence) +
             (e.retracted ? " retracted" : "") + format(", FAR %.3g Hz", e.far_hz, 0);
    }
    case PortType::coincidence: {
      const auto& co = static_cast<const Coincidence&>(record);
      return "coincidence of " + co.object_id + " (alert " + std::to_string(co.alert_id) + ") with " + co.event_id +
             format(", %.0f s apart", co.time_difference_s, 0);
    }
    default: return to_json(record).dump();
  }
}

void register_webhook_sink(ActorRegistry& registry) {
  ActorType t;
  t.name = "webhook";
  t.description = "POSTs records as JSON (or Slack messages) to a URL; delivered only on 2xx, retried, then dead-lettered";
  t.version = "1.0";
  t.inputs = {{"in", PortType::any, "records of any type"}};
  t.blocking = true;
  t.config = {
      {"url", ValueKind::string, true, "", "http:// or https:// endpoint"},
      {"slack", ValueKind::boolean, false, "false", "send {\"text\": ...} messages (Slack incoming webhooks); the same as format: slack"},
      {"format", ValueKind::string, false, "json", "json (the record), slack, community-event (Astro-COLIBRI-like event of a sky event, coincidence or alert) or tns-report (a TNS AT report of an alert, bulk-report layout); docs/exchange.md"},
      {"discoverer", ValueKind::string, false, "ebs-flow", "community-event: who publishes"},
      {"object_url", ValueKind::string, false, "", "community-event: link template, {object_id} {alert_id} replaced"},
      {"event_url", ValueKind::string, false, "", "community-event: link template, {event_id} replaced"},
      {"tns", ValueKind::map, false, "", "tns-report: {api_key, bot_id, bot_name, reporting_group_id, discovery_data_source_id, reporter, at_type, instrument, filters: {band: id}, observer, remarks}"},
      {"with_raw", ValueKind::boolean, false, "false", "include the raw survey record in the JSON"},
      {"headers", ValueKind::map, false, "", "extra HTTP headers, e.g. {Authorization: Bearer ...}"},
      {"timeout_ms", ValueKind::integer, false, "5000", "per request"},
      {"retries", ValueKind::integer, false, "5", "retries after the first attempt"},
      {"backoff_ms", ValueKind::integer, false, "200", "first wait before a retry; doubles each time"},
      {"max_backoff_ms", ValueKind::integer, false, "10000", "longest wait between retries"},
  };
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    std::string url = c.string("url");
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
      problems.push_back({c.place("url"), "the URL must start with http:// or https://"});
    for (const char* key : {"timeout_ms", "backoff_ms", "max_backoff_ms"})
      if (c.integer(key) < 1) problems.push_back({c.place(key), "must be at least 1"});
    if (c.integer("retries") < 0) problems.push_back({c.place("retries"), "must not be negative"});
    const std::string format = c.string("format");
    if (format != "json" && format != "slack" && format != "community-event" && format != "tns-report")
      problems.push_back({c.place("format"), "format must be json, slack, community-event or tns-report, not '" + format + "'"});
    if (format == "tns-report") {
      YAML::Node tns = c.has("tns") ? c.node("tns") : YAML::Node();
      for (const char* key : {"api_key", "bot_id", "bot_name", "reporting_group_id", "discovery_data_source_id", "reporter"})
        if (!tns.IsMap() || !tns[key] || !tns[key].IsScalar() || tns[key].Scalar().empty())
          problems.push_back({c.place("tns"), std::string("format tns-report needs tns.") + key});
      if (tns.IsMap())
        for (const auto& kv : tns) {
          static const std::set<std::string> known{"api_key", "bot_id", "bot_name", "reporting_group_id", "discovery_data_source_id",
                                                   "reporter", "at_type", "instrument", "filters", "observer", "remarks"};
          if (!known.count(kv.first.as<std::string>()))
            problems.push_back({place_of(c.file(), kv.first), "unknown tns key '" + kv.first.as<std::string>() + "'"});
        }
    }
  };
  t.check_connect = [](const ActorConfig& c, std::vector<Problem>& problems) {
    if (auto why = reach::http_unreachable(c.string("url"), std::chrono::milliseconds(c.integer("timeout_ms"))))
      problems.push_back({c.place("url"), "cannot reach the webhook host of " + c.string("url") + ": " + *why});
  };
  t.create = [](const ActorContext&) { return std::make_unique<WebhookSink>(); };
  // Alerts are posted whole (JSON with the cutouts' length).
  t.uses_cutouts = [](const ActorConfig&, const std::vector<std::string>&) { return true; };
  registry.add(std::move(t));
}

}  // namespace ebs
