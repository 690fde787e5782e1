// Local writer schemas for Confluent-framed streams (Rubin/LSST), loaded from a directory of
// .avsc files laid out as MAJOR/MINOR/ (e.g. lsst/schema/11/0/lsst.v11_0.alert.avsc). The files
// of one version reference each other's named types ("lsst.v11_0.diaSource"), which libavro does
// not resolve across files, so the loader inlines them: the version's root schema (the one no
// other file references) becomes one self-contained JSON text, each named type defined at its
// first use. Schema id = MAJOR*100 + MINOR (1100 for v11.0), as Rubin registers them.
//
// Immutable after load: safe to share between threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ebs::avro {

class SchemaDirectory {
 public:
  // Loads every MAJOR/MINOR folder holding .avsc files under `root` (`root` itself may be one
  // such folder). Raises a `failed` Fault naming the file on unreadable or invalid schemas.
  static SchemaDirectory load(const std::filesystem::path& root);

  // The inlined schema JSON for a Confluent schema id, if this directory has it.
  std::optional<std::string_view> schema_text(uint32_t id) const;
  std::vector<uint32_t> ids() const;

  // Inlines the named types of `files` (full name -> schema JSON text) into the schema named
  // `root_name`. Exposed for tests.
  static std::string inline_schemas(const std::map<std::string, std::string>& files,
                                    const std::string& root_name, const std::string& place);

 private:
  std::map<uint32_t, std::string> schemas_;
};

}  // namespace ebs::avro
