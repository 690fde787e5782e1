// The repository's HTTP JSON API (cpp-httplib), read-only:
//   GET /api/cone?ra=&dec=&radius_arcsec=[&limit=]       alerts in a cone, nearest first (RA/Dec in
//                                                         degrees or sexagesimal)
//   GET /api/objects/{id}/lightcurve                      an object and its light curve
//   GET /api/alerts?class=SN[&min=0.8][&limit=]           latest alerts of a class
//   GET /api/alerts?score=name&min=0.8[&limit=]           latest alerts scored at least `min`
//   GET /api/events/{id}/coincidences[?history=1]         a sky event's notices and candidates (current
//                                                         state of each; every row with history=1)
//   GET /metrics                                          Prometheus text: rows per table, sink rates
// The cone, light-curve and coincidence answers take `format=csv|votable|jsonl|table` for the
// tables `query --cone/--object/--event` writes. Bad parameters get 400 with {"error": "..."}; unknown objects and events 404. With a token,
// every request must carry `Authorization: Bearer TOKEN` (401 otherwise). Values reach SQL only
// as bound parameters.
#pragma once

#include <memory>
#include <string>

#include "actors/common/http_limits.h"

namespace ebs::repository {

struct ApiOptions {
  std::string database;
  std::string token;  // empty: no authentication (loopback only: engine/util/http_access.h, enforced by `serve`)
  size_t max_limit = 10000;
  http_limits::Settings http_limits{};  // slow and greedy clients (docs/reliability.md, "HTTP servers")
  std::string filter_registry{};  // non-empty: also serve the filter API over this store (docs/filters.md)
};

class ApiServer {
 public:
  explicit ApiServer(ApiOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds `host:port` (port 0: any free port); returns the port, or raises a Fault.
  int bind(const std::string& host, int port);
  // Serves until stop() (from any thread).
  void run();
  void stop();
  bool running() const;
  // Serves one connected socket on the calling thread, then closes it (after bind()).
  void serve_connection(int fd);
  // Connections being served now (the per-address and slow-client limits count them).
  size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ebs::repository
