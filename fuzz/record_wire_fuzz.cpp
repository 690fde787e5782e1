// Records in their Cap'n Proto encodings as a link receives them from a peer (engine/model/
// record_wire.h, RecordDecoder): the first byte says how many records (1 + byte % 8), the next
// bytes their port types (byte % 5), the rest is their encodings laid end to end. What decodes
// must encode again and decode to records written the same (a link forwards what it received).
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "engine/model/record_json.h"
#include "engine/model/record_wire.h"
#include "fuzz/fuzz_target.h"

EBS_FUZZ_ONE_INPUT(bytes) {
  if (bytes.empty()) return;
  const size_t count = 1 + static_cast<uint8_t>(bytes[0]) % 8;
  if (bytes.size() < 1 + count) return;
  std::string types;
  for (size_t i = 0; i < count; ++i) types.push_back(static_cast<char>(static_cast<uint8_t>(bytes[1 + i]) % 5));
  std::vector<ebs::RecordPtr> records;
  ebs::RecordDecoder().decode(types, bytes.substr(1 + count), "fuzz", records);

  ebs::RecordEncoder encoder;
  std::string again;
  for (const ebs::RecordPtr& record : records) encoder.append(*record, again);
  std::vector<ebs::RecordPtr> back;
  ebs::RecordDecoder().decode(types, again, "fuzz, encoded again", back);
  if (back.size() != records.size()) std::abort();
  for (size_t i = 0; i < records.size(); ++i) {
    // Compared as written (NaN is null there, and never equal to itself as a value).
    const auto written = [](const ebs::Record& r) {
      return ebs::to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    const std::string first = written(*records[i]), second = written(*back[i]);
    if (first != second) {
      std::cerr << "record " << i << " decoded:\n" << first << "\nencoded and decoded again:\n" << second << "\n";
      std::abort();
    }
  }
}
