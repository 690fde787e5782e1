// The filter service's HTTP API (docs/filters.md), served by `run --http` beside the dashboard
// and by `serve`: every request carries a user's token (`Authorization: Bearer TOKEN`; a missing
// or unknown token is 401), a user sees and changes only their own filters (403 otherwise), an
// admin every filter and the users.
//   GET    /api/filters                 the caller's filters (an admin's: everyone's)
//   POST   /api/filters                 {name, where, outputs: [{kind: kafka|webhook|slack, target}]}
//   GET    /api/filters/ID              one filter
//   PUT    /api/filters/ID              {where?, outputs?}: a new version
//   POST   /api/filters/ID/pause        POST /api/filters/ID/resume
//   DELETE /api/filters/ID
//   GET    /api/filters/ID/effects      where each version took effect in the stream
//   GET    /api/users                   (admin) the users and their limits
//   POST   /api/users                   (admin) {name, admin?, limits?: {filters, alerts_per_second,
//                                       expression_cost, sql_filters, sql_steps}}
//   PATCH  /api/users/NAME              (admin) {limits: {...}}: the limits named change, the others
//                                       are kept (400 when it names none)
//   DELETE /api/users/NAME              (admin)
//   POST   /api/users/NAME/tokens       (admin) {rotate?}: a new token, shown in this answer only
//   DELETE /api/users/NAME/tokens       (admin) revokes every token of the user
// The store is opened when the server learns of it (a run's `filters` actor with `registry:`);
// until then the API answers 404.
#pragma once

#include <httplib.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "actors/common/filter_registry/filter_registry.h"

namespace ebs::filter_registry {

class FilterApi {
 public:
  // Adds the routes to `server`.
  void add_routes(httplib::Server& server);
  // The store to serve (opened now); an empty path serves nothing.
  void open(const std::string& registry_path);
  // Whether `path` belongs to this API: its requests carry a user's token, not the server's.
  static bool owns(const std::string& path);

 private:
  template <class Body>
  httplib::Server::Handler handler(Body body, bool admin_only);

  std::mutex mutex_;  // one SQLite connection for the server's threads
  std::optional<FilterRegistry> store_;
};

}  // namespace ebs::filter_registry
