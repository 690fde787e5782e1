#include "actors/sinks/dashboard/dashboard_server.h"

#include <httplib.h>
#include <signal.h>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "actors/common/filter_registry/filter_api.h"
#include "actors/common/http_limits.h"
#include "actors/common/skymap/skymap.h"
#include "actors/sinks/dashboard/image_png.h"
#include "actors/sinks/dashboard/skymap_png.h"
#include "actors/sinks/dashboard/web_assets.h"
#include "engine/graph/actor_config.h"
#include "engine/graph/workflow.h"
#include "engine/model/alert_identity.h"
#include "engine/util/fault.h"

namespace ebs::dashboard {

namespace {

constexpr size_t kRateHistory = 120;  // one-second samples kept per actor for the sparklines
constexpr int kSkymapWidth = 720;

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

// Signals belong to the run's thread (it takes SIGINT/SIGTERM with sigtimedwait): the server's
// threads, and the worker threads httplib starts from them, must not take them.
void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::string cookie_value(const httplib::Request& req, const std::string& name) {
  std::string cookies = req.get_header_value("Cookie");
  size_t at = 0;
  while (at < cookies.size()) {
    size_t end = cookies.find(';', at);
    if (end == std::string::npos) end = cookies.size();
    std::string part = cookies.substr(at, end - at);
    part.erase(0, part.find_first_not_of(' '));
    if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
    at = end + 1;
  }
  return {};
}

}  // namespace

struct DashboardServer::Impl {
  Impl(const DashboardFeed& f, const http_limits::Settings& limits) : feed(f), server(limits) {}

  const DashboardFeed& feed;
  http_limits::Server server;
  std::string token;
  filter_registry::FilterApi filter_api;  // users' filters: their own tokens, not the dashboard's
  std::thread listener, sampler;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;

  // The run, under `mutex`.
  struct ActorSamples {
    uint64_t last_in = 0, last_out = 0;
    double rate_in = 0, rate_out = 0;
    std::deque<double> history;  // records in per second
  };
  std::string workflow_name, workflow_file;
  std::vector<LiveActor> actors;
  std::vector<ActorSamples> samples;
  std::chrono::steady_clock::time_point started_at, last_sample;
  std::string state = "waiting";
  double elapsed_s = 0;
  bool accounting_ok = false;
  std::vector<std::string> errors;

  // Rendered sky maps by (event id, sequence): a map loads in tens of milliseconds.
  std::mutex skymap_mutex;
  std::map<std::pair<std::string, uint32_t>, std::string> skymap_pngs;

  static uint64_t out_of(const ActorStats& s) {
    return ActorStats::get(s.forwarded) + ActorStats::get(s.filtered) + ActorStats::get(s.failed);
  }

  void sample_locked() {
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - last_sample).count();
    if (dt <= 0) return;
    for (size_t a = 0; a < actors.size(); ++a) {
      uint64_t in = 0, out = 0;
      for (const auto& s : actors[a].instances) in += ActorStats::get(s->in), out += out_of(*s);
      ActorSamples& s = samples[a];
      // A counter that went back (a cluster's replaced instance starts again from 0) moved by 0.
      s.rate_in = in >= s.last_in ? (in - s.last_in) / dt : 0;
      s.rate_out = out >= s.last_out ? (out - s.last_out) / dt : 0;
      s.last_in = in;
      s.last_out = out;
      s.history.push_back(s.rate_in);
      if (s.history.size() > kRateHistory) s.history.pop_front();
    }
    last_sample = now;
    if (state == "running") elapsed_s = std::chrono::duration<double>(now - started_at).count();
  }

  nlohmann::json graph_json() {
    std::lock_guard lock(mutex);
    nlohmann::json list = nlohmann::json::array();
    for (const LiveActor& a : actors) {
      nlohmann::json inputs = nlohmann::json::array();
      for (const auto& w : a.inputs) inputs.push_back({{"from", w.from_actor}, {"port", w.from_port}, {"to_port", w.to_port}});
      list.push_back({{"id", a.id},
                      {"type", a.type},
                      {"source", a.source},
                      {"parallelism", a.instances.size()},
                      {"nodes", a.nodes},  // a cluster run: each instance's node; empty in one process
                      {"outputs", a.output_ports},
                      {"inputs", inputs}});
    }
    return {{"workflow", workflow_name}, {"file", workflow_file}, {"actors", list}};
  }

  static bool measures_latency(const LiveActor& a) {
    for (const auto& s : a.instances)
      if (s->measures_latency) return true;
    return false;
  }
  static LatencyHistogram merged_latency(const LiveActor& a) {
    LatencyHistogram merged;
    for (const auto& s : a.instances)
      if (s->measures_latency) merged.merge(s->latency);
    return merged;
  }

  // Prometheus text exposition: per actor its counters, per sink its end-to-end latency as a
  // summary (quantiles 0.5, 0.9, 0.99 and 1 = max, in seconds; docs/performance.md).
  std::string metrics_text() {
    std::lock_guard lock(mutex);
    std::string out;
    auto line = [&out](const std::string& name, const std::string& labels, double value) {
      char number[64];
      std::snprintf(number, sizeof number, "%.9g", value);
      out += name + "{" + labels + "} " + number + "\n";
    };
    auto label = [](const std::string& text) {
      std::string quoted;
      for (char c : text) quoted += c == '"' || c == '\\' ? std::string("\\") + c : c == '\n' ? std::string("\\n") : std::string(1, c);
      return quoted;
    };
    out += "# HELP ebs_actor_records_total Records by actor and counter (in, forwarded, filtered, failed).\n";
    out += "# TYPE ebs_actor_records_total counter\n";
    for (const LiveActor& a : actors) {
      uint64_t in = 0, forwarded = 0, filtered = 0, failed = 0;
      for (const auto& s : a.instances) {
        in += ActorStats::get(s->in);
        forwarded += ActorStats::get(s->forwarded);
        filtered += ActorStats::get(s->filtered);
        failed += ActorStats::get(s->failed);
      }
      const std::string id = "actor=\"" + label(a.id) + "\"";
      line("ebs_actor_records_total", id + ",counter=\"in\"", static_cast<double>(in));
      line("ebs_actor_records_total", id + ",counter=\"forwarded\"", static_cast<double>(forwarded));
      line("ebs_actor_records_total", id + ",counter=\"filtered\"", static_cast<double>(filtered));
      line("ebs_actor_records_total", id + ",counter=\"failed\"", static_cast<double>(failed));
    }
    out += "# HELP ebs_sink_latency_seconds End-to-end latency from ingest to the sink's release (durably written).\n";
    out += "# TYPE ebs_sink_latency_seconds summary\n";
    for (const LiveActor& a : actors) {
      if (!measures_latency(a)) continue;
      LatencyHistogram merged = merged_latency(a);
      LatencySummary l = merged.summary();
      const std::string id = "actor=\"" + label(a.id) + "\"";
      line("ebs_sink_latency_seconds", id + ",quantile=\"0.5\"", l.p50_ms / 1000);
      line("ebs_sink_latency_seconds", id + ",quantile=\"0.9\"", l.p90_ms / 1000);
      line("ebs_sink_latency_seconds", id + ",quantile=\"0.99\"", l.p99_ms / 1000);
      line("ebs_sink_latency_seconds", id + ",quantile=\"1\"", l.max_ms / 1000);
      line("ebs_sink_latency_seconds_sum", id, l.mean_ms * static_cast<double>(l.records) / 1000);
      line("ebs_sink_latency_seconds_count", id, static_cast<double>(l.records));
    }
    return out;
  }

  nlohmann::json stats_json() {
    std::lock_guard lock(mutex);
    nlohmann::json list = nlohmann::json::array();
    for (size_t a = 0; a < actors.size(); ++a) {
      uint64_t in = 0, forwarded = 0, filtered = 0, failed = 0, dead = 0, queued = 0, peak = 0;
      nlohmann::json emitted = nlohmann::json::object();
      for (const auto& s : actors[a].instances) {
        in += ActorStats::get(s->in);
        forwarded += ActorStats::get(s->forwarded);
        filtered += ActorStats::get(s->filtered);
        failed += ActorStats::get(s->failed);
        dead += ActorStats::get(s->dead_letters);
        queued += ActorStats::get(s->queued_batches);
        peak = std::max(peak, ActorStats::get(s->peak_queued_batches));
        for (size_t p = 0; p < actors[a].output_ports.size() && p < s->emitted.size(); ++p)
          emitted[actors[a].output_ports[p]] = emitted.value(actors[a].output_ports[p], uint64_t{0}) +
                                               ActorStats::get(s->emitted[p]);
      }
      // A cluster run: each instance's node and its own counters.
      nlohmann::json instances = nlohmann::json::array();
      for (size_t i = 0; i < actors[a].nodes.size() && i < actors[a].instances.size(); ++i) {
        const ActorStats& st = *actors[a].instances[i];
        instances.push_back({{"node", actors[a].nodes[i]},
                             {"in", ActorStats::get(st.in)},
                             {"forwarded", ActorStats::get(st.forwarded)},
                             {"filtered", ActorStats::get(st.filtered)},
                             {"failed", ActorStats::get(st.failed)},
                             {"queued_batches", ActorStats::get(st.queued_batches)}});
      }
      const ActorSamples& s = samples[a];
      LatencySummary latency = merged_latency(actors[a]).summary();
      nlohmann::json latency_ms = nullptr;  // null: not a sink
      if (measures_latency(actors[a]))
        latency_ms = {{"records", latency.records}, {"p50", latency.p50_ms}, {"p90", latency.p90_ms},
                      {"p99", latency.p99_ms},      {"max", latency.max_ms}, {"mean", latency.mean_ms}};
      list.push_back({{"id", actors[a].id},
                      {"latency_ms", latency_ms},
                      {"in", in},
                      {"forwarded", forwarded},
                      {"filtered", filtered},
                      {"failed", failed},
                      {"dead_letters", dead},
                      {"emitted", emitted},
                      {"queued_batches", queued},
                      {"peak_queued_batches", peak},
                      {"rate_in", s.rate_in},
                      {"rate_out", s.rate_out},
                      {"history", s.history}});
      if (!instances.empty()) list.back()["instances"] = instances;
    }
    return {{"state", state},
            {"elapsed_s", elapsed_s},
            {"accounting_ok", accounting_ok},
            {"errors", errors},
            {"feed_records", feed.records_seen()},
            {"feed_not_shipped", feed.records_not_shipped()},
            {"actors", list}};
  }

  std::string skymap_png(const SkyEvent& event) {
    std::lock_guard lock(skymap_mutex);
    auto key = std::make_pair(event.event_id, event.sequence);
    if (auto it = skymap_pngs.find(key); it != skymap_pngs.end()) return it->second;
    auto map = skymap::Skymap::from_bytes(event.localization.skymap_fits, event.event_id);
    std::string png = mollweide_png(map, kSkymapWidth);
    if (skymap_pngs.size() > 64) skymap_pngs.clear();
    return skymap_pngs[key] = std::move(png);
  }

  template <class F>
  httplib::Server::Handler guarded(F body) {
    return [body](const httplib::Request& req, httplib::Response& res) {
      try {
        body(req, res);
      } catch (const Fault& f) {
        send_json(res, 422, {{"error", f.place() + ": " + f.message()}});
      } catch (const std::exception& e) {
        send_json(res, 500, {{"error", e.what()}});
      }
    };
  }

  void routes() {
    // Small responses: without it, Nagle's algorithm and delayed ACKs add ~40 ms to each.
    server.set_tcp_nodelay(true);
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (filter_registry::FilterApi::owns(req.path)) return httplib::Server::HandlerResponse::Unhandled;
      if (http_access::authorized(req.get_header_value("Authorization"), token) ||
          http_access::authorized("Bearer " + cookie_value(req, "ebs_token"), token))
        return httplib::Server::HandlerResponse::Unhandled;
      if (req.path == "/" && req.has_param("token") &&
          http_access::authorized("Bearer " + req.get_param_value("token"), token)) {
        res.set_header("Set-Cookie", "ebs_token=" + token + "; HttpOnly; SameSite=Strict; Path=/");
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.set_header("WWW-Authenticate", "Bearer");
      send_json(res, 401, {{"error", "this dashboard needs 'Authorization: Bearer TOKEN' (or open /?token=TOKEN)"}});
      return httplib::Server::HandlerResponse::Handled;
    });
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (res.body.empty()) send_json(res, res.status, {{"error", "no such resource: " + req.path}});
    });
    filter_api.add_routes(server);
    for (const WebAsset& asset : web_assets()) {
      std::string path = asset.name == "index.html" ? "/" : "/" + std::string(asset.name);
      server.Get(http_access::route(path), [&asset](const httplib::Request&, httplib::Response& res) {
        res.set_header("Cache-Control", "no-cache");
        res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
      });
    }
    server.Get(http_access::route("/api/graph"), guarded([this](const httplib::Request&, httplib::Response& res) {
                 send_json(res, 200, graph_json());
               }));
    server.Get(http_access::route("/api/stats"), guarded([this](const httplib::Request&, httplib::Response& res) {
                 send_json(res, 200, stats_json());
               }));
    server.Get(http_access::route("/metrics"), guarded([this](const httplib::Request&, httplib::Response& res) {
                 res.set_content(metrics_text(), "text/plain; version=0.0.4");
               }));
    server.Get(http_access::route("/api/alerts"), guarded([this](const httplib::Request&, httplib::Response& res) {
                 send_json(res, 200, feed.alerts_json());
               }));
    server.Get(http_access::route(R"(/api/alerts/([^/]+)/lightcurve)"), guarded([this](const httplib::Request& req, httplib::Response& res) {
                 auto id = parse_alert_id(req.matches[1].str());
                 if (!id) return send_json(res, 400, {{"error", "alert id '" + std::string(req.matches[1]) + "' is not a number"}});
                 nlohmann::json lc = feed.lightcurve_json(*id);
                 if (lc.is_null()) return send_json(res, 404, {{"error", "alert " + std::string(req.matches[1]) + " is not on the dashboard"}});
                 send_json(res, 200, lc);
               }));
    server.Get(http_access::route("/api/events"), guarded([this](const httplib::Request&, httplib::Response& res) {
                 send_json(res, 200, feed.events_json());
               }));
    server.Get(http_access::route("/api/coincidences"), guarded([this](const httplib::Request&, httplib::Response& res) {
                 send_json(res, 200, feed.coincidences_json());
               }));
    server.Get(http_access::route(R"(/cutout/([^/]+)/([a-z]+)\.png)"), guarded([this](const httplib::Request& req, httplib::Response& res) {
                 auto id = parse_alert_id(req.matches[1].str());
                 std::string kind = req.matches[2];
                 if (!id) return send_json(res, 400, {{"error", "alert id '" + std::string(req.matches[1]) + "' is not a number"}});
                 if (kind != "science" && kind != "template" && kind != "difference")
                   return send_json(res, 400, {{"error", "cutout kind '" + kind + "' is not science, template or difference"}});
                 auto alert = feed.alert(*id);
                 if (!alert) return send_json(res, 404, {{"error", "alert " + std::string(req.matches[1]) + " is not on the dashboard"}});
                 for (const Cutout& c : alert->core().cutouts) {
                   if (to_string(c.kind) != kind || (c.format != "fits.gz" && c.format != "fits")) continue;
                   std::string png = cutout_png(c.bytes, alert_place(alert->core()) + " " + kind + " cutout");
                   res.set_header("Cache-Control", "max-age=3600");
                   res.set_content(png, "image/png");
                   return;
                 }
                 send_json(res, 404, {{"error", "alert " + std::string(req.matches[1]) + " has no FITS " + kind + " cutout"}});
               }));
    server.Get(http_access::route(R"(/skymap/([^/]+)\.png)"), guarded([this](const httplib::Request& req, httplib::Response& res) {
                 std::string id = req.matches[1];
                 auto event = feed.event(id);
                 if (!event) return send_json(res, 404, {{"error", "sky event '" + id + "' is not on the dashboard"}});
                 if (event->localization.skymap_fits.empty())
                   return send_json(res, 404, {{"error", "sky event '" + id + "' has no sky map"}});
                 res.set_content(skymap_png(*event), "image/png");
               }));
  }
};

DashboardServer::DashboardServer(const DashboardFeed& feed, const http_limits::Settings& limits)
    : impl_(std::make_unique<Impl>(feed, limits)) {
  impl_->routes();
}

size_t DashboardServer::open_connections() const { return impl_->server.open_connections(); }

DashboardServer::~DashboardServer() { stop(); }

int DashboardServer::listen(const http_access::Address& address, const std::string& token) {
  impl_->token = token;
  int port = impl_->server.bind(address.host, address.port);
  if (port < 0)
    fail(address.host + ":" + std::to_string(address.port), "cannot listen there (in use, or not an address of this host)");
  impl_->listener = std::thread([this] {
    block_stop_signals();
    impl_->server.listen_after_bind();
  });
  impl_->sampler = std::thread([this] {
    block_stop_signals();
    std::unique_lock lock(impl_->mutex);
    while (!impl_->stopping) {
      impl_->wake.wait_for(lock, std::chrono::seconds(1));
      if (!impl_->stopping && impl_->state == "running") impl_->sample_locked();
    }
  });
  return port;
}

void DashboardServer::stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->server.stop();
  if (impl_->listener.joinable()) impl_->listener.join();
  if (impl_->sampler.joinable()) impl_->sampler.join();
}

void DashboardServer::on_start(const Workflow& workflow, std::vector<LiveActor> actors) {
  // The filter API serves the store of the run's `filters` actor, if it has one.
  for (const ActorSpec& spec : workflow.actors)
    if (spec.type && spec.type_name == "filters" && spec.config_node["registry"]) {
      impl_->filter_api.open(ActorConfig(spec.config_node, spec.file, &spec.type->config).input_path("registry"));
      break;
    }
  std::lock_guard lock(impl_->mutex);
  // Called again in a cluster run: a restart's new attempt, or a failover's new places. The run's
  // clock and rate history go on (a counter that went back moves by 0, see sample_locked).
  const bool again = impl_->state == "running" && impl_->samples.size() == actors.size();
  impl_->workflow_name = workflow.name;
  impl_->workflow_file = workflow.file;
  impl_->actors = std::move(actors);
  if (!again) {
    impl_->samples.assign(impl_->actors.size(), {});
    impl_->started_at = impl_->last_sample = std::chrono::steady_clock::now();
  }
  impl_->state = "running";
}

void DashboardServer::on_end(const RunResult& result) {
  std::lock_guard lock(impl_->mutex);
  impl_->sample_locked();
  impl_->state = result.interrupted ? "stopped" : "ended";
  impl_->elapsed_s = result.elapsed_s;
  impl_->accounting_ok = result.accounting_ok;
  impl_->errors = result.errors;
}

void DashboardServer::sample() {
  std::lock_guard lock(impl_->mutex);
  impl_->sample_locked();
}

}  // namespace ebs::dashboard
