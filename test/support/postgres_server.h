// A private PostgreSQL 15 server for tests and benchmarks: Debian's binaries
// (/usr/lib/postgresql/15/bin), a fresh cluster in a temporary folder, listening on 127.0.0.1 at a
// free port and on a Unix socket in that folder. initdb refuses to run as root, so as root the
// server runs as the `postgres` user (runuser). The cluster is stopped and removed on destruction.
// stop() and start() let a test take the server away under a client and bring it back.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "test/support/subprocess.h"

namespace ebs::test {

class PostgresServer {
 public:
  static constexpr const char* kBinaries = "/usr/lib/postgresql/15/bin";

  // `settings`: extra server settings ("-c name=value ..."). fsync is off by default: a test
  // cluster need not survive a power loss.
  explicit PostgresServer(std::string settings = "-c fsync=off") : settings_(std::move(settings)) {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("ebs-pg-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    if (::geteuid() == 0) {
      const passwd* user = ::getpwnam("postgres");
      if (!user) throw std::runtime_error("no 'postgres' user: install Debian's postgresql package");
      if (::chown(dir_.c_str(), user->pw_uid, user->pw_gid) != 0)
        throw std::runtime_error("cannot chown " + dir_.string() + " to postgres");
      as_user_ = "runuser -u postgres -- ";
    }
    port_ = free_port();
    run(as_user_ + kBinaries + "/initdb -D '" + data_dir() + "' -A trust -U postgres --no-sync -E UTF8 --no-locale",
        "initdb");
    start();
  }
  ~PostgresServer() {
    if (running_) run_command(as_user_ + kBinaries + "/pg_ctl -D '" + data_dir() + "' -m immediate -w stop", dir_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  void start() {
    run(as_user_ + kBinaries + "/pg_ctl -D '" + data_dir() + "' -l '" + (dir_ / "server.log").string() +
            "' -w -t 60 -o \"-k '" + dir_.string() + "' -p " + std::to_string(port_) +
            " -c listen_addresses=127.0.0.1 " + settings_ + "\" start",
        "pg_ctl start");
    running_ = true;
  }
  // `immediate`: the server drops every connection at once, as a crash would.
  void stop(bool immediate = true) {
    run(as_user_ + kBinaries + "/pg_ctl -D '" + data_dir() + "' -m " + (immediate ? "immediate" : "fast") +
            " -w stop",
        "pg_ctl stop");
    running_ = false;
  }

  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string url(const std::string& database = "postgres") const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }
  // A new empty database on this server; returns its URL.
  std::string create_database(const std::string& name) {
    psql("postgres", "CREATE DATABASE \"" + name + "\"");
    return url(name);
  }
  // Runs SQL with Debian's psql client; returns its unaligned, tuples-only output.
  std::string psql(const std::string& database, const std::string& sql) const {
    CommandResult r = run_command("psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " + std::to_string(port_) +
                                      " -U postgres -d '" + database + "' -c \"" + sql + "\"",
                                  dir_);
    if (r.exit_code != 0) throw std::runtime_error("psql: " + sql + ": " + r.err);
    return r.out;
  }

 private:
  std::string data_dir() const { return (dir_ / "data").string(); }

  void run(const std::string& command, const std::string& what) const {
    CommandResult r = run_command(command, dir_);
    if (r.exit_code != 0)
      throw std::runtime_error(what + " failed (" + std::to_string(r.exit_code) + "): " + r.err + r.out +
                               read_file(dir_ / "server.log"));
  }

  // A port the kernel has just handed out and nobody holds now.
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("no free loopback port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
  }

  std::string settings_;
  std::filesystem::path dir_;
  std::string as_user_;
  int port_ = 0;
  bool running_ = false;
};

// One server for a whole test binary (started on first use): each test makes its own database.
inline PostgresServer& shared_postgres_server() {
  static PostgresServer server;
  return server;
}

// A fresh database on the shared server, named after the test and a counter.
inline std::string fresh_postgres_database(const std::string& name) {
  static std::atomic<int> counter{0};
  return shared_postgres_server().create_database(name + "_" + std::to_string(counter++));
}

}  // namespace ebs::test
