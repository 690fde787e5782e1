#include "actors/sinks/repository/http_api.h"

#include <httplib.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "actors/common/angle_text.h"
#include "actors/common/repository/reader.h"
#include "actors/sinks/dashboard/web_assets.h"
#include "actors/sinks/repository/pages.h"
#include "actors/sinks/repository/query_forms.h"
#include "actors/sinks/repository/table_output.h"
#include "actors/common/filter_registry/filter_api.h"
#include "actors/common/http_limits.h"
#include "engine/util/http_access.h"

namespace ebs::repository {

namespace {

// A request parameter that is missing or malformed: answered with 400.
struct BadRequest {
  std::string message;
};

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

std::string param(const httplib::Request& req, const char* name, bool required) {
  if (!req.has_param(name)) {
    if (required) throw BadRequest{std::string("missing parameter '") + name + "'"};
    return {};
  }
  return req.get_param_value(name);
}

double number_param(const httplib::Request& req, const char* name, double min, double max, bool required,
                    double fallback = NAN) {
  std::string text = param(req, name, required);
  if (text.empty() && !required) return fallback;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v))
    throw BadRequest{std::string("parameter '") + name + "' is not a number: '" + text + "'"};
  if (v < min || v > max) {
    std::ostringstream m;
    m << "parameter '" << name << "' = " << text << " is outside [" << min << ", " << max << "]";
    throw BadRequest{m.str()};
  }
  return v;
}

// An alert id of a path (the route's pattern already holds it to digits and a sign): one beyond
// 64 bits is a bad request, never an unexpected error.
int64_t alert_id(const std::string& text) {
  int64_t id = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc() || end != text.data() + text.size())
    throw BadRequest{"alert id '" + text + "' is not a 64-bit integer"};
  return id;
}

// RA or Dec in degrees or sexagesimal (the parser `query --cone` and `catalog cone` use).
double angle_param(const httplib::Request& req, const char* name, bool is_ra) {
  const std::string text = param(req, name, true);
  try {
    return is_ra ? parse_ra_argument(text) : parse_dec_argument(text);
  } catch (const Fault& f) {
    throw BadRequest{std::string("parameter '") + name + "': " + f.message()};
  }
}

// `format=csv|votable|jsonl|table`: the answer as a table (TableWriter) instead of JSON.
std::optional<TableFormat> format_param(const httplib::Request& req) {
  if (!req.has_param("format")) return std::nullopt;
  try {
    return parse_table_format(req.get_param_value("format"), "format");
  } catch (const Fault& f) {
    throw BadRequest{"parameter 'format': " + f.message()};
  }
}

// Writes a table form into the response.
template <class Write>
void send_table(httplib::Response& res, TableFormat format, const std::string& description, Write write) {
  std::ostringstream body;
  TableOptions options;
  options.format = format;
  options.description = description;
  TableWriter writer(body, options);
  write(writer);
  res.status = 200;
  res.set_content(body.str(), std::string(content_type(format)));
}

std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

struct ApiServer::Impl {
  explicit Impl(ApiOptions o) : options(std::move(o)), server(options.http_limits) {}

  ApiOptions options;
  http_limits::Server server;
  filter_registry::FilterApi filter_api;  // users' filters: their own tokens, not the server's
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<Reader>> pool;  // one read-only connection per concurrent request

  std::unique_ptr<Reader> acquire() {
    {
      std::lock_guard lock(pool_mutex);
      if (!pool.empty()) {
        auto r = std::move(pool.back());
        pool.pop_back();
        return r;
      }
    }
    return std::make_unique<Reader>(options.database);
  }
  void release(std::unique_ptr<Reader> r) {
    std::lock_guard lock(pool_mutex);
    pool.push_back(std::move(r));
  }

  // Runs `body` with a pooled reader and turns faults into JSON answers.
  template <class F>
  httplib::Server::Handler handler(F body) {
    return [this, body](const httplib::Request& req, httplib::Response& res) {
      try {
        std::unique_ptr<Reader> reader = acquire();
        body(*reader, req, res);
        release(std::move(reader));
      } catch (const BadRequest& bad) {
        send_json(res, 400, {{"error", bad.message}});
      } catch (const Fault& f) {
        send_json(res, 503, {{"error", f.place() + ": " + f.message()}});
      } catch (const std::exception& e) {
        send_json(res, 500, {{"error", e.what()}});
      }
    };
  }

  int64_t limit(const httplib::Request& req) const {
    return static_cast<int64_t>(number_param(req, "limit", 1, static_cast<double>(options.max_limit), false, 100));
  }

  // The pages (pages.h): one HTML file whose script reads the path, and the JSON and images it asks for.
  void page_routes() {
    const auto page_file = [](std::string_view name) -> const dashboard::WebAsset* {
      for (const dashboard::WebAsset& asset : dashboard::web_assets())
        if (asset.name == name) return &asset;
      return nullptr;
    };
    const dashboard::WebAsset* html = page_file("repository.html");
    for (const char* path : {"/", R"(/objects/[^/]+)", R"(/events/[^/]+)", "/search"})
      server.Get(http_access::route(path), [html](const httplib::Request&, httplib::Response& res) {
        res.set_header("Cache-Control", "no-cache");
        res.set_content(html->body.data(), html->body.size(), std::string(html->content_type));
      });
    for (const char* name : {"repository.js", "dashboard.css"}) {
      const dashboard::WebAsset* asset = page_file(name);
      server.Get(http_access::route(std::string("/") + name), [asset](const httplib::Request&, httplib::Response& res) {
        res.set_header("Cache-Control", "no-cache");
        res.set_content(asset->body.data(), asset->body.size(), std::string(asset->content_type));
      });
    }
    server.Get(http_access::route("/api/recent"), handler([this](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 send_json(res, 200, recent_alerts(r, limit(req)));
               }));
    server.Get(http_access::route("/api/events"), handler([this](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 send_json(res, 200, sky_events(r, limit(req)));
               }));
    server.Get(http_access::route(R"(/api/objects/([^/]+))"),
               handler([](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 std::string id = req.matches[1];
                 nlohmann::json page = object_page(r, id);
                 if (page.is_null()) send_json(res, 404, {{"error", "no object '" + id + "'"}});
                 else send_json(res, 200, page);
               }));
    server.Get(http_access::route(R"(/api/events/([^/]+))"),
               handler([](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 std::string id = req.matches[1];
                 nlohmann::json page = event_page(r, id);
                 if (page.is_null()) send_json(res, 404, {{"error", "no sky event '" + id + "'"}});
                 else send_json(res, 200, page);
               }));
    server.Get(http_access::route(R"(/api/events/([^/]+)/moc)"),
               handler([](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 const std::string id = req.matches[1];
                 const double level = number_param(req, "level", 0, 1, false, 0.9);
                 auto moc = event_moc(r, id, level);
                 const std::string percent = std::to_string(std::lround(level * 100));
                 if (!moc)
                   return send_json(res, 404, {{"error", "sky event '" + id + "' has no stored MOC of its " + percent +
                                                             " % region (the repository stores 50 % and 90 %)"}});
                 res.set_header("Content-Disposition", "inline; filename=\"" + id + "-" + percent + ".moc.json\"");
                 res.set_content(*moc, "application/json");
               }));
    server.Get(http_access::route("/api/search"), handler([](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 const std::string q = param(req, "q", true);
                 try {
                   send_json(res, 200, search(r, q));
                 } catch (const Fault& f) {
                   throw BadRequest{"parameter 'q': " + f.place() + ": " + f.message()};
                 }
               }));
    server.Get(http_access::route(R"(/cutout/(-?[0-9]+)/([a-z]+)\.png)"),
               handler([](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 const std::string kind = req.matches[2];
                 if (kind != "science" && kind != "template" && kind != "difference")
                   throw BadRequest{"cutout kind '" + kind + "' is not science, template or difference"};
                 auto png = cutout_png(r, alert_id(req.matches[1]), kind);
                 if (!png) return send_json(res, 404, {{"error", "no " + kind + " cutout of alert " + std::string(req.matches[1])}});
                 res.set_header("Cache-Control", "max-age=3600");
                 res.set_content(*png, "image/png");
               }));
    server.Get(http_access::route(R"(/skymap/([^/]+)\.png)"),
               handler([](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 auto png = event_skymap_png(r, req.matches[1]);
                 if (!png) return send_json(res, 404, {{"error", "sky event '" + std::string(req.matches[1]) + "' has no sky map"}});
                 res.set_header("Cache-Control", "max-age=3600");
                 res.set_content(*png, "image/png");
               }));
  }

  void routes() {
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!options.filter_registry.empty() && filter_registry::FilterApi::owns(req.path))
        return httplib::Server::HandlerResponse::Unhandled;
      if (http_access::authorized(req.get_header_value("Authorization"), options.token))
        return httplib::Server::HandlerResponse::Unhandled;
      res.set_header("WWW-Authenticate", "Bearer");
      send_json(res, 401, {{"error", "this server needs 'Authorization: Bearer TOKEN'"}});
      return httplib::Server::HandlerResponse::Handled;
    });
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (res.body.empty()) send_json(res, res.status, {{"error", "no such resource: " + req.path}});
    });

    if (!options.filter_registry.empty()) {
      filter_api.open(options.filter_registry);
      filter_api.add_routes(server);
    }
    server.Get(http_access::route("/api/cone"), handler([this](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 double ra = angle_param(req, "ra", true);
                 double dec = angle_param(req, "dec", false);
                 double radius = number_param(req, "radius_arcsec", 0, 3 * 3600, true);
                 if (radius <= 0) throw BadRequest{"parameter 'radius_arcsec' must be positive"};
                 if (auto format = format_param(req))
                   send_table(res, *format, "alerts in a cone", [&](TableWriter& w) {
                     write_cone(r, ra, dec, radius, limit(req), w);
                   });
                 else
                   send_json(res, 200, r.cone(ra, dec, radius, limit(req)));
               }));
    server.Get(http_access::route(R"(/api/objects/([^/]+)/lightcurve)"),
               handler([](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 std::string id = req.matches[1];
                 if (auto format = format_param(req)) {
                   bool found = true;
                   send_table(res, *format, "light curve of " + id,
                              [&](TableWriter& w) { found = write_object(r, id, w); });
                   if (!found) send_json(res, 404, {{"error", "no object '" + id + "'"}});
                   return;
                 }
                 nlohmann::json lc = r.lightcurve(id);
                 if (lc.is_null()) send_json(res, 404, {{"error", "no object '" + id + "'"}});
                 else send_json(res, 200, lc);
               }));
    server.Get(http_access::route("/api/alerts"), handler([this](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 bool by_class = req.has_param("class"), by_score = req.has_param("score");
                 if (by_class == by_score) throw BadRequest{"give exactly one of 'class' or 'score'"};
                 if (by_class) {
                   std::string label = param(req, "class", true);
                   if (label.empty()) throw BadRequest{"parameter 'class' is empty"};
                   send_json(res, 200, r.alerts_by_class(label, number_param(req, "min", -1e300, 1e300, false), limit(req)));
                 } else {
                   std::string name = param(req, "score", true);
                   if (name.empty()) throw BadRequest{"parameter 'score' is empty"};
                   send_json(res, 200, r.alerts_by_score(name, number_param(req, "min", -1e300, 1e300, true), limit(req)));
                 }
               }));
    server.Get(http_access::route(R"(/api/events/([^/]+)/coincidences)"),
               handler([](Reader& r, const httplib::Request& req, httplib::Response& res) {
                 std::string id = req.matches[1];
                 const std::string history_text = param(req, "history", false);
                 if (history_text != "" && history_text != "0" && history_text != "1")
                   throw BadRequest{"parameter 'history' is 0 or 1, not '" + history_text + "'"};
                 const bool history = history_text == "1";
                 if (auto format = format_param(req)) {
                   bool found = true;
                   send_table(res, *format, "coincidences of " + id,
                              [&](TableWriter& w) { found = write_event(r, id, history, w); });
                   if (!found) send_json(res, 404, {{"error", "no sky event '" + id + "'"}});
                   return;
                 }
                 nlohmann::json e = r.event_coincidences(id, history);
                 if (e.is_null()) send_json(res, 404, {{"error", "no sky event '" + id + "'"}});
                 else send_json(res, 200, e);
               }));
    page_routes();
    server.Get(http_access::route("/metrics"), handler([](Reader& r, const httplib::Request&, httplib::Response& res) {
                 std::ostringstream m;
                 m << "# HELP ebs_repository_schema_version Layout version of the repository.\n"
                   << "# TYPE ebs_repository_schema_version gauge\n"
                   << "ebs_repository_schema_version " << r.version() << "\n"
                   << "# HELP ebs_repository_rows Rows per table.\n# TYPE ebs_repository_rows gauge\n";
                 for (const auto& [table, rows] : r.table_rows())
                   m << "ebs_repository_rows{table=\"" << table << "\"} " << rows << "\n";
                 struct Metric {
                   const char* column;
                   const char* name;
                   const char* type;
                   const char* help;
                 };
                 const Metric metrics[] = {
                     {"records", "ebs_repository_sink_records_total", "counter", "Records the sink committed."},
                     {"alerts", "ebs_repository_sink_alerts_total", "counter", "Alerts the sink committed."},
                     {"commits", "ebs_repository_sink_commits_total", "counter", "Transactions committed."},
                     {"busy_seconds", "ebs_repository_sink_busy_seconds_total", "counter",
                      "Seconds spent inside write transactions."},
                     {"records_per_second", "ebs_repository_sink_records_per_second", "gauge",
                      "Records per second between the last two commits."},
                     {"last_commit_unix", "ebs_repository_sink_last_commit_timestamp_seconds", "gauge",
                      "Unix time of the last commit."},
                 };
                 nlohmann::json sinks = r.sink_progress();
                 for (const Metric& metric : metrics) {
                   m << "# HELP " << metric.name << " " << metric.help << "\n# TYPE " << metric.name << " "
                     << metric.type << "\n";
                   for (const auto& s : sinks) {
                     const auto& v = s[metric.column];
                     m << metric.name << "{actor=\"" << label(s["actor"].get<std::string>()) << "\"} "
                       << (v.is_number() ? v.dump() : "NaN") << "\n";
                   }
                 }
                 res.set_content(m.str(), "text/plain; version=0.0.4");
               }));
  }
};

ApiServer::ApiServer(ApiOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->release(std::make_unique<Reader>(impl_->options.database));  // fails now if the file is not a repository
  impl_->routes();
}

ApiServer::~ApiServer() { stop(); }

int ApiServer::bind(const std::string& host, int port) {
  std::string bare = host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  int bound = impl_->server.bind(bare, port);
  if (bound < 0) fail(host + ":" + std::to_string(port), "cannot listen there (in use, or not an address of this host)");
  return bound;
}

void ApiServer::run() { impl_->server.listen_after_bind(); }
void ApiServer::stop() {
  if (impl_) impl_->server.stop();
}
bool ApiServer::running() const { return impl_->server.is_running(); }
void ApiServer::serve_connection(int fd) { impl_->server.serve_connection(fd); }
size_t ApiServer::open_connections() const { return impl_->server.open_connections(); }

}  // namespace ebs::repository
