#include "actors/sinks/postgres/pg_connection.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "engine/util/url_display.h"

namespace ebs::postgres {

namespace {

// libpq's messages span lines ("...\n\tIs the server running..."): one line for logs and stderr.
std::string one_line(std::string message) {
  std::string out;
  for (char ch : message) {
    if (ch == '\n' || ch == '\t' || ch == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += ch;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

bool is_postgres_url(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

std::string server_place(std::string_view url) {
  if (url.find("://") == std::string_view::npos) return std::string(url);
  // Options (sslmode, passwords) stay out of messages, and so does the user's password.
  const std::string shown = url_without_credentials(url, "");
  return "postgresql://" + shown.substr(shown.find("://") + 3);
}

FaultKind fault_kind(std::string_view sqlstate) {
  if (sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03")
    return FaultKind::disconnected;
  // Out of resources, or a deadlock / serialization failure between concurrent writers: the same
  // transaction may well succeed a moment later.
  if (sqlstate.starts_with("53") || sqlstate == "40001" || sqlstate == "40P01") return FaultKind::overloaded;
  return FaultKind::failed;
}

Params& Params::add(int64_t value) {
  char buffer[24];
  auto r = std::to_chars(buffer, buffer + sizeof buffer, value);
  text_.emplace_back(buffer, r.ptr);
  null_.push_back(false);
  return *this;
}

Params& Params::add(double value) {
  if (std::isnan(value)) return add_null();
  if (std::isinf(value)) {
    text_.emplace_back(value > 0 ? "Infinity" : "-Infinity");
  } else {
    char buffer[32];
    auto r = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest text that reads back exactly
    text_.emplace_back(buffer, r.ptr);
  }
  null_.push_back(false);
  return *this;
}

Params& Params::add(std::string_view text) {
  text_.emplace_back(text);
  null_.push_back(false);
  return *this;
}

Params& Params::add_null() {
  text_.emplace_back();
  null_.push_back(true);
  return *this;
}

void Params::clear() {
  text_.clear();
  null_.clear();
}

const char* const* Params::values() const {
  pointers_.resize(text_.size());
  for (size_t i = 0; i < text_.size(); ++i) pointers_[i] = null_[i] ? nullptr : text_[i].c_str();
  return pointers_.data();
}

Connection::Connection(const std::string& url, const std::string& application) : place_(server_place(url)) {
  const char* keys[] = {"dbname", "application_name", "connect_timeout", nullptr};
  const char* values[] = {url.c_str(), application.c_str(), "10", nullptr};
  connection_.reset(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (!connection_) disconnected(place_, "out of memory connecting");
  if (PQstatus(connection_.get()) != CONNECTION_OK) {
    std::string message = one_line(PQerrorMessage(connection_.get()));
    // A refused or dropped connection is worth retrying; bad credentials or a missing database are not.
    bool retry = message.find("Connection refused") != std::string::npos ||
                 message.find("No such file") != std::string::npos ||
                 // "the database system is starting up / shutting down / in recovery mode / not yet
                 // accepting connections": a server on its way up or down.
                 message.find("the database system is") != std::string::npos ||
                 message.find("timeout") != std::string::npos ||
                 message.find("terminated") != std::string::npos;
    throw Fault(retry ? FaultKind::disconnected : FaultKind::failed, place_, "cannot connect: " + message);
  }
  // Quiet NOTICEs (e.g. "relation already exists, skipping") stay out of stderr.
  PQsetNoticeProcessor(connection_.get(), [](void*, const char*) {}, nullptr);
}

Result Connection::execute(const std::string& sql) const { return check(PQexec(connection_.get(), sql.c_str()), sql); }

Result Connection::execute(const std::string& sql, const Params& params) const {
  return check(PQexecParams(connection_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                            params.values(), nullptr, nullptr, 0),
               sql);
}

Result Connection::check(PGresult* raw, std::string_view sql) const {
  Result result(raw);
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) return result;
  std::string message = one_line(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(connection_.get()));
  const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
  FaultKind kind = !alive() ? FaultKind::disconnected : state ? fault_kind(state) : FaultKind::failed;
  std::string statement(sql.substr(0, 60));
  if (sql.size() > 60) statement += "...";
  throw Fault(kind, place_, message + (state ? " (SQLSTATE " + std::string(state) + ")" : "") + " in: " + statement);
}

double number(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return NAN;
  return std::strtod(PQgetvalue(result, row, column), nullptr);
}

int64_t integer(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return 0;
  return std::strtoll(PQgetvalue(result, row, column), nullptr, 10);
}

std::string_view text(const PGresult* result, int row, int column) {
  return {PQgetvalue(result, row, column), static_cast<size_t>(PQgetlength(result, row, column))};
}

}  // namespace ebs::postgres
