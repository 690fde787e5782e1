// The HTTP request paths of `ebs-flow serve` (the repository API and pages): a request, raw or as
// a request target (path and query string), goes through the limits of both servers
// (actors/common/http_limits.h), cpp-httplib's parser and our routes (query parameters, angles,
// limits, formats, alert and event ids) over a small real repository. Besides the rule of every
// target, an answer 500 is a finding: a bad request is the client's error (4xx), never an
// unexpected exception of ours.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "actors/common/repository/writer.h"
#include "actors/sinks/repository/http_api.h"
#include "fuzz/fuzz_target.h"
#include "test/support/repository_test_support.h"

namespace {

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;

ApiServer& server() {
  static TempDir* dir = new TempDir("http-api-fuzz");  // lives as long as the process
  static ApiServer* api = [] {
    const std::string path = dir->file("api.db");
    Writer writer(path);
    writer.begin();
    auto a1 = make_alert(11, "ZTF21abc", 150.0, 2.0, 60010.0, {detection(60000, "g", 19.5)});
    auto a2 = make_alert(12, "ZTF21abc", 150.0001, 2.0001, 60011.0);
    Annotation score;
    score.kind = Annotation::Kind::score;
    score.name = "kn";
    score.value = 0.9;
    writer.add(*a1->annotated(classification("SN", 0.8)));
    writer.add(*a2->annotated(score));
    auto co = std::make_shared<Coincidence>();
    co->event_id = "S230518h";
    co->alert_id = 12;
    co->object_id = "ZTF21abc";
    writer.add(*co);
    writer.commit(3, 2);
    ApiOptions options;
    options.database = path;
    auto* s = new ApiServer(options);
    s->bind("127.0.0.1", 0);  // bound, never listening: connections come from the fuzzer
    return s;
  }();
  return *api;
}

// A raw request when the input starts like one; otherwise a GET of the input as request target.
std::string request_of(std::string_view bytes) {
  for (const char* method : {"GET ", "POST ", "HEAD ", "PUT ", "OPTIONS ", "DELETE "})
    if (bytes.starts_with(method)) return std::string(bytes);
  std::string target;
  for (char c : bytes)
    if (c != '\r' && c != '\n' && c != ' ') target += c;
  if (target.empty() || target.front() != '/') target.insert(0, "/");
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
}

}  // namespace

EBS_FUZZ_ONE_INPUT(bytes) {
  ApiServer& api = server();
  const std::string request = request_of(bytes);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return;
  std::string answer;
  std::thread client([&] {
    for (size_t sent = 0; sent < request.size();) {
      ssize_t n = ::send(fds[0], request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    ::shutdown(fds[0], SHUT_WR);
    char buf[16384];
    for (ssize_t n; (n = ::recv(fds[0], buf, sizeof buf, 0)) > 0;)
      if (answer.size() < 4096) answer.append(buf, static_cast<size_t>(std::min<ssize_t>(n, 4096)));
  });
  api.serve_connection(fds[1]);
  client.join();
  ::close(fds[0]);
  static const bool verbose = std::getenv("EBS_FUZZ_VERBOSE") != nullptr;  // each answer's status line
  if (verbose) std::fprintf(stderr, "%s\n", answer.substr(0, answer.find('\r')).c_str());
  if (answer.find("HTTP/1.1 500") != std::string::npos) {
    std::fprintf(stderr, "answer 500 to:\n%s\n---\n%s\n", request.c_str(), answer.c_str());
    __builtin_trap();
  }
}
