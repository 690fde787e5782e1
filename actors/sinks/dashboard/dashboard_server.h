// The live dashboard of `ebs-flow run --http HOST:PORT`: one page (web/, embedded at build time)
// and its JSON endpoints, served by cpp-httplib beside the running workflow.
//   GET /                                   the page (index.html, dashboard.js, dashboard.css)
//   GET /api/graph                          actors, their ports and wires
//   GET /api/stats                          per actor: counters, records/s, queue depth, dead letters
//   GET /api/alerts                         the latest alerts of the dashboard sinks
//   GET /api/alerts/{id}/lightcurve         detections and upper limits of one of them
//   GET /api/events, /api/coincidences      the latest sky events (with their coincidences)
//   GET /cutout/{alert id}/{kind}.png       a FITS cutout, zscale-stretched (kind: science, template, difference)
//   GET /skymap/{event id}.png              a sky event's probability map, Mollweide
// Access: see engine/util/http_access.h. With a token, a browser opens `/?token=T` once; the
// server answers with an HttpOnly cookie so the page's own requests carry it.
#pragma once

#include <memory>

#include "actors/common/http_limits.h"
#include "actors/sinks/dashboard/dashboard_feed.h"
#include "engine/cli/workflow_commands.h"

namespace ebs::dashboard {

class DashboardServer final : public RunHttpServer {
 public:
  // `limits`: slow and greedy clients (docs/reliability.md, "HTTP servers").
  explicit DashboardServer(const DashboardFeed& feed, const http_limits::Settings& limits = {});
  ~DashboardServer() override;
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  int listen(const http_access::Address& address, const std::string& token) override;
  void stop() override;
  void on_start(const Workflow& workflow, std::vector<LiveActor> actors) override;
  void on_end(const RunResult& result) override;

  // Connections being served now (the per-address and slow-client limits count them).
  size_t open_connections() const;

  // Takes one rate sample now (the server does it every second by itself).
  void sample();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ebs::dashboard
