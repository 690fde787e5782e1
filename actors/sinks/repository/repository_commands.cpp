#include "actors/sinks/repository/repository_commands.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <charconv>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "actors/sinks/postgres/pg_connection.h"
#include "actors/sinks/postgres/pg_query.h"
#include "actors/sinks/repository/archive.h"
#include "actors/common/angle_text.h"
#include "actors/sinks/repository/http_api.h"
#include "actors/common/repository/reader.h"
#include "actors/sinks/repository/query_forms.h"
#include "engine/util/http_access.h"

namespace ebs {

namespace {

struct QueryOptions {
  std::string database, sql;
  std::vector<std::string> params;
  std::vector<std::string> cone;  // RA DEC RADIUS_ARCSEC
  std::string object, event, format;
  int64_t limit = 1000;
  bool tai_only = false;
  bool history = false;  // --event: every row, not each candidate's current state
};

struct ServeOptions {
  std::string database;
  std::string http = "127.0.0.1:8080";
  std::string token;
  std::string filters;
};

struct ArchiveCommandOptions {
  std::string database;
  double older_than_days = -1;
  bool delete_only = false;
  std::string archive_dir;
};

// "name=value": numbers bind as numbers, the rest as text.
nlohmann::json parse_params(const std::vector<std::string>& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const std::string& p : params) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) fail("--param " + p, "expected name=value");
    std::string name = p.substr(0, eq), value = p.substr(eq + 1);
    int64_t integer = 0;
    double number = 0;
    const char* end = value.data() + value.size();
    if (auto r = std::from_chars(value.data(), end, integer); r.ec == std::errc() && r.ptr == end) out[name] = integer;
    else if (auto d = std::from_chars(value.data(), end, number); d.ec == std::errc() && d.ptr == end && !value.empty())
      out[name] = number;
    else out[name] = value;
  }
  return out;
}

int run_query(const QueryOptions& o) {
  const bool form = !o.cone.empty() || !o.object.empty() || !o.event.empty();
  if (!form && o.sql.empty()) {
    std::cerr << "query: give one SQL statement, or --cone RA DEC RADIUS_ARCSEC, --object ID or --event ID\n";
    return exit_code::usage;
  }
  if (postgres::is_postgres_url(o.database)) {
    if (form || !o.format.empty())
      fail(o.database, "--cone, --object, --event and --format read SQLite repositories; PostgreSQL prints JSON lines");
    postgres::query(o.database, o.sql, parse_params(o.params), [](const nlohmann::json& row) {
      std::cout << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    });
    std::cout.flush();
    return exit_code::ok;
  }
  repository::TableOptions options;
  options.format = o.format.empty() ? (::isatty(STDOUT_FILENO) ? repository::TableFormat::table
                                                               : repository::TableFormat::jsonl)
                                    : repository::parse_table_format(o.format);
  options.utc_times = !o.tai_only;
  if (!o.cone.empty())
    options.description = "alerts within " + o.cone[2] + " arcsec of RA " + o.cone[0] + " Dec " + o.cone[1];
  else if (!o.object.empty())
    options.description = "light curve of " + o.object;
  else if (!o.event.empty())
    options.description = "coincidences of " + o.event;
  else
    options.description = o.sql;
  const repository::Reader reader(o.database);
  repository::TableWriter writer(std::cout, options);
  if (!o.cone.empty()) {
    const double ra = parse_ra_argument(o.cone[0]), dec = parse_dec_argument(o.cone[1]);
    repository::write_cone(reader, ra, dec, repository::parse_radius_arcsec(o.cone[2]), o.limit, writer);
  } else if (!o.object.empty()) {
    if (!repository::write_object(reader, o.object, writer)) fail(o.database, "no object '" + o.object + "'");
  } else if (!o.event.empty()) {
    if (!repository::write_event(reader, o.event, o.history, writer)) fail(o.database, "no sky event '" + o.event + "'");
  } else {
    reader.query_rows(
        o.sql, parse_params(o.params),
        [&](const repository::Statement& s) { writer.begin(repository::statement_columns(s)); },
        [&](const repository::Statement& s) { writer.row(repository::statement_cells(s)); });
    writer.end();
  }
  std::cout.flush();
  return exit_code::ok;
}

int serve(const ServeOptions& o) {
  http_access::Address address = http_access::parse_address(o.http);
  if (auto problem = http_access::exposure_problem(address, o.token)) {
    std::cerr << *problem << "\n";
    return exit_code::usage;
  }
  const std::string host = address.host.find(':') != std::string::npos ? "[" + address.host + "]" : address.host;
  const int port = address.port;
  // Signals are taken by one thread with sigwait; the server's threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  repository::ApiOptions api{o.database, o.token};
  api.filter_registry = o.filters;
  repository::ApiServer server(api);
  int bound = server.bind(host, port);
  std::cout << nlohmann::json{{"serving", "http://" + host + ":" + std::to_string(bound)}, {"database", o.database}}.dump()
            << std::endl;
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    timespec tick{0, 200 * 1000 * 1000};
    while (!done.load()) {
      if (sigtimedwait(&signals, nullptr, &tick) > 0) {
        server.stop();
        return;
      }
    }
  });
  server.run();
  done = true;
  waiter.join();
  return exit_code::ok;
}

}  // namespace

void register_repository_commands(CommandRegistry& registry) {
  registry.add("query",
               "Query a repository: one read-only SQL statement, or --cone / --object / --event; "
               "an aligned table, CSV, JSON lines or VOTable",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto o = std::make_shared<QueryOptions>();
                 app.add_option("database", o->database, "the repository: an SQLite file or a postgresql:// URL")
                     ->required();
                 auto* sql = app.add_option("sql", o->sql, "one SELECT; :name parameters come from --param");
                 app.add_option("--param", o->params, "name=value for a :name parameter (repeatable)");
                 auto* cone = app.add_option("--cone", o->cone,
                                             "RA DEC RADIUS_ARCSEC: alerts in a cone, nearest first (RA, Dec in "
                                             "degrees or h:m:s d:m:s)")
                                  ->expected(3)
                                  ->allow_extra_args(false);
                 auto* object = app.add_option("--object", o->object, "an object's light curve");
                 auto* event = app.add_option("--event", o->event,
                                              "a sky event's candidates: each one's current state (its row of the "
                                              "latest notice)");
                 app.add_flag("--history", o->history, "--event: every row, every notice and change");
                 sql->excludes(cone)->excludes(object)->excludes(event);
                 cone->excludes(object)->excludes(event);
                 object->excludes(event);
                 app.add_option("--limit", o->limit, "--cone: at most this many alerts")
                     ->capture_default_str()
                     ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
                 app.add_option("--format", o->format,
                                "table, csv, jsonl or votable (default: table on a terminal, else jsonl)");
                 app.add_flag("--tai-only", o->tai_only, "no ISO/JD UTC columns beside the MJD TAI ones");
                 return [o] { return run_query(*o); };
               });

  registry.add("serve", "Serve a repository's HTTP JSON API (cone search, light curves, classes, metrics)",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto o = std::make_shared<ServeOptions>();
                 app.add_option("database", o->database, "the repository (SQLite file)")->required();
                 app.add_option("--http", o->http, "HOST:PORT to listen on (loopback unless --token)")
                     ->capture_default_str();
                 app.add_option("--token", o->token, "require 'Authorization: Bearer TOKEN' on every request");
                 app.add_option("--filters", o->filters,
                                "also serve the filter API (/api/filters, /api/users) over this store: the `registry` of "
                                "a running `filters` actor (docs/filters.md)");
                 return [o] { return serve(*o); };
               });

  registry.describe_group("repository", "The alert repository: information and retention");
  registry.add("repository info", "A repository's schema version, rows per table and sink progress",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto path = std::make_shared<std::string>();
                 app.add_option("database", *path, "the repository (SQLite file)")->required();
                 return [path] {
                   repository::Reader reader(*path);
                   nlohmann::json rows = nlohmann::json::object();
                   for (const auto& [table, n] : reader.table_rows()) rows[table] = n;
                   std::cout << nlohmann::json{{"database", *path},
                                               {"schema_version", reader.version()},
                                               {"rows", rows},
                                               {"sinks", reader.sink_progress()}}
                                    .dump()
                             << "\n";
                   return exit_code::ok;
                 };
               });
  registry.add("repository archive",
               "Move rows older than N days into gzip JSON-lines archives (or delete them with --delete)",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto o = std::make_shared<ArchiveCommandOptions>();
                 app.add_option("database", o->database, "the repository (SQLite file)")->required();
                 app.add_option("--older-than-days", o->older_than_days, "age (by alert time, MJD TAI) of what moves")
                     ->required()
                     ->check(CLI::NonNegativeNumber);
                 app.add_flag("--delete", o->delete_only, "delete the old rows instead of archiving them");
                 app.add_option("--archive-dir", o->archive_dir, "where archives go (default: DATABASE.archive)");
                 return [o] {
                   repository::ArchiveOptions options;
                   options.older_than_days = o->older_than_days;
                   options.delete_only = o->delete_only;
                   options.archive_dir = o->archive_dir;
                   repository::ArchiveResult r = repository::archive(o->database, options);
                   std::cout << nlohmann::json{{"database", o->database},
                                               {"cutoff_mjd_tai", r.cutoff_mjd_tai},
                                               {o->delete_only ? "deleted" : "archived", r.rows},
                                               {"files", r.files}}
                                    .dump()
                             << "\n";
                   return exit_code::ok;
                 };
               });
}

}  // namespace ebs
