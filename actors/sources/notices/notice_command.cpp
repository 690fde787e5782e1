#include "actors/sources/notices/notice_command.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "actors/common/notices/notice.h"
#include "actors/sources/notices/notice_files_source.h"
#include "engine/model/record_json.h"
#include "engine/util/fault.h"

namespace ebs {

void register_notice_command(CommandRegistry& registry) {
  registry.describe_group("notice", "GCN notices: parse them into sky events");
  registry.add("notice parse", "GCN notices (JSON or VOEvent XML files, dirs, globs) as SkyEvent JSON lines",
               [](CLI::App& app) {
                 auto paths = std::make_shared<std::vector<std::string>>();
                 auto keep_test = std::make_shared<bool>(true);
                 app.add_option("files", *paths, "notice files, directories or globs")->required();
                 app.add_flag("--drop-test,!--keep-test", *keep_test, "drop mock/test events (default: keep, flagged)");
                 return CommandRegistry::Runner([paths, keep_test] {
                   int status = exit_code::ok;
                   for (const std::string& path : *paths) {
                     std::vector<std::string> files;
                     try {
                       files = sources::notice_files(path, path);
                     } catch (const Fault& f) {
                       std::cerr << f.place() << ": " << f.message() << "\n";
                       status = exit_code::failed;
                       continue;
                     }
                     for (const std::string& file : files) {
                       std::ifstream in(file, std::ios::binary);
                       std::stringstream text;
                       text << in.rdbuf();
                       try {
                         for (const auto& event : notices::parse_notice(text.str(), file)) {
                           if (!*keep_test && event->test) continue;
                           auto json = to_json(*event);
                           json["file"] = file;
                           std::cout << json.dump() << "\n";
                         }
                       } catch (const Fault& f) {
                         std::cerr << f.place() << ": " << f.message() << "\n";
                         status = exit_code::failed;
                       }
                     }
                   }
                   return status;
                 });
               });
}

}  // namespace ebs
