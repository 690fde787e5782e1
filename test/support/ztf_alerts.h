// Real ZTF alerts (with their gzip-FITS cutouts) decoded the way the avro-files source does: the
// built-in profiles, not a test copy of their mapping. For the repository, PostgreSQL and
// dashboard tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "actors/common/ingest/message_ingester.h"
#include "test/support/test_data.h"

namespace ebs::test {

inline std::vector<std::shared_ptr<const Alert>> ztf_alerts(const std::string& folder = "ztf/fink-20200101-v3.3",
                                                            size_t limit = SIZE_MAX) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(data_dir() / folder))
    if (e.path().extension() == ".avro") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ingest::MessageIngester ingester({std::make_shared<avro::SchemaCache>(), nullptr, nullptr},
                                   profiles::ProfileSet::builtin());
  std::vector<std::shared_ptr<const Alert>> out;
  for (const auto& path : files) {
    if (out.size() >= limit) break;
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    std::vector<RecordPtr> alerts;
    std::vector<ingest::IngestFailure> failures;
    ingester.ingest(std::make_shared<const std::string>(s.str()), path.string(), alerts, failures);
    for (const RecordPtr& r : alerts) out.push_back(std::static_pointer_cast<const Alert>(r));
  }
  return out;
}

inline std::string_view cutout_bytes(const Alert& alert, Cutout::Kind kind) {
  for (const Cutout& c : alert.core().cutouts)
    if (c.kind == kind) return c.bytes;
  return {};
}

}  // namespace ebs::test
