// The page's files (web/*.html, *.js, *.css), embedded in the binary at build time by
// embed_web_assets.cmake: the dashboard needs no files beside ebs-flow.
#pragma once

#include <span>
#include <string_view>

namespace ebs::dashboard {

struct WebAsset {
  std::string_view name;          // "index.html", "dashboard.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};

std::span<const WebAsset> web_assets();

}  // namespace ebs::dashboard
