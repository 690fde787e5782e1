#include "engine/util/url_display.h"

#include <doctest/doctest.h>

using ebs::url_without_credentials;

TEST_CASE("a URL without its user information, query and fragment") {
  CHECK(url_without_credentials("https://user:pw@example.org/in?token=s3cret#x", "?...") == "https://example.org/in?...");
  CHECK(url_without_credentials("postgresql://ebs:secret@db.example:5433/alerts?sslmode=require", "") ==
        "postgresql://db.example:5433/alerts");
  CHECK(url_without_credentials("http://127.0.0.1:8080/hook", "?...") == "http://127.0.0.1:8080/hook");
  // A fragment alone is dropped too; an '@' in the path or query is not user information.
  CHECK(url_without_credentials("https://example.org/a#secret", "?...") == "https://example.org/a?...");
  CHECK(url_without_credentials("https://example.org/u@x/in", "") == "https://example.org/u@x/in");
  CHECK(url_without_credentials("https://example.org/in?mail=a@b", "") == "https://example.org/in");
  // A password holding '@' (not percent-encoded): everything up to the last '@' before the host's end.
  CHECK(url_without_credentials("postgres://ebs:p@ss@db/alerts", "") == "postgres://db/alerts");
  // No scheme: taken as starting at the host.
  CHECK(url_without_credentials("u:p@host:5432/db?x=1", "") == "host:5432/db");
  CHECK(url_without_credentials("", "?...") == "");
}
