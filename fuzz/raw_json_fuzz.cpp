// alerts.raw's compact form as a repository row holds it (actors/common/repository/raw_json.h): a
// BLOB read back as JSON text by every reader (row_to_json, query --format, archive, raw_json() in
// SQL). A damaged or crafted row must be a Fault naming its place; what reads must be JSON (UTF-8
// aside: strings' bytes are copied as stored) and no longer than max_raw_json_bytes, however few
// bytes stand for it (a reference to a shape repeats its field names).
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/common/repository/raw_json.h"
#include "fuzz/fuzz_target.h"

EBS_FUZZ_ONE_INPUT(bytes) {
  std::string out;
  ebs::repository::append_stored_raw_json(out, bytes, true, "fuzz");
  if (out.size() > ebs::repository::max_raw_json_bytes(bytes.size())) {
    std::cerr << bytes.size() << " stored bytes read as " << out.size() << " bytes of text\n";
    std::abort();
  }
  // Bytes from 0x80 appear only inside strings: replaced, the text must be JSON.
  std::replace_if(out.begin(), out.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }, 'a');
  if (!nlohmann::json::accept(out)) {
    std::cerr << "not JSON:\n" << out.substr(0, 2000) << "\n";
    std::abort();
  }
}
