#include "engine/util/http_access.h"

#include <doctest/doctest.h>

#include <regex>

#include "engine/util/fault.h"

using namespace ebs::http_access;

TEST_CASE("loopback hosts") {
  CHECK(is_loopback("127.0.0.1"));
  CHECK(is_loopback("127.1.2.3"));
  CHECK(is_loopback("localhost"));
  CHECK(is_loopback("::1"));
  CHECK(!is_loopback("0.0.0.0"));
  CHECK(!is_loopback("192.168.1.10"));
  CHECK(!is_loopback("::"));
  CHECK(!is_loopback("example.org"));
}

TEST_CASE("addresses parse as HOST:PORT, with brackets for IPv6") {
  Address a = parse_address("127.0.0.1:8080");
  CHECK(a.host == "127.0.0.1");
  CHECK(a.port == 8080);
  Address v6 = parse_address("[::1]:0");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 0);
  CHECK_THROWS_WITH_AS(parse_address("8080"), "--http 8080: expected HOST:PORT", ebs::Fault);
  CHECK_THROWS_WITH_AS(parse_address("localhost:http"), "--http localhost:http: 'http' is not a port number",
                       ebs::Fault);
  CHECK_THROWS_AS(parse_address("localhost:70000"), ebs::Fault);
}

TEST_CASE("beyond loopback a token is required") {
  CHECK(!exposure_problem({"127.0.0.1", 8080}, ""));
  CHECK(!exposure_problem({"0.0.0.0", 8080}, "secret"));
  auto problem = exposure_problem({"0.0.0.0", 8080}, "");
  REQUIRE(problem);
  CHECK(problem->find("--http 0.0.0.0:8080: serving beyond the loopback interface needs --token") == 0);
}

TEST_CASE("bearer tokens") {
  CHECK(authorized("", ""));
  CHECK(authorized("anything", ""));
  CHECK(authorized("Bearer s3cret", "s3cret"));
  CHECK(!authorized("Bearer s3cre", "s3cret"));
  CHECK(!authorized("Bearer s3cret!", "s3cret"));
  CHECK(!authorized("bearer s3cret", "s3cret"));
  CHECK(!authorized("", "s3cret"));
}

TEST_CASE("routes match a printed URL with a path appended") {
  const std::regex pattern(route("/api/stats"));
  CHECK(std::regex_match("/api/stats", pattern));
  CHECK(std::regex_match("//api/stats", pattern));  // "http://host:port/" + "/api/stats"
  CHECK(!std::regex_match("/xapi/stats", pattern));
  CHECK(route("/") == "/+");
}
