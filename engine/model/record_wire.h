// Records in their Cap'n Proto encodings (schemas/*.capnp): what crosses a node boundary, and the
// typed contract of every port.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/record.h"

namespace capnp {
class word;
}

namespace ebs {

// A flat (single-segment-packed) Cap'n Proto message holding one record of any port type.
std::string encode_record(const Record& record);
// The inverse; `type` says which struct the bytes hold. A Fault (failed) names `place` when the
// bytes are not a valid message of that type.
RecordPtr decode_record(PortType type, std::string_view bytes, std::string_view place);

// Encodes record after record into one buffer (a batch's records crossing to another node), each
// as encode_record would: a flat message says itself where it ends. Its builder's memory is
// reused from one record to the next.
class RecordEncoder {
 public:
  RecordEncoder();
  ~RecordEncoder();
  RecordEncoder(const RecordEncoder&) = delete;
  RecordEncoder& operator=(const RecordEncoder&) = delete;
  // Appends the record's encoding to `out`; returns its size in bytes.
  size_t append(const Record& record, std::string& out);

 private:
  // 256 KiB: a ZTF alert with its cutouts (~140 KB encoded) fits in one segment.
  static constexpr size_t kScratchWords = size_t{32} << 10;
  std::unique_ptr<capnp::word[]> scratch_;
};

// Decodes what RecordEncoder laid end to end. The record shapes of raw payloads are made once
// per decoder and shared by the records it decodes (a stream has a handful), not made per record.
class RecordDecoder {
 public:
  struct Shapes;
  RecordDecoder();
  ~RecordDecoder();
  RecordDecoder(const RecordDecoder&) = delete;
  RecordDecoder& operator=(const RecordDecoder&) = delete;
  // Appends to `out` one record per byte of `types` (a PortType each), read in order from
  // `bytes`. A Fault (failed) names `place` when the bytes do not hold exactly such records.
  void decode(std::string_view types, std::string_view bytes, std::string_view place, std::vector<RecordPtr>& out);

 private:
  std::unique_ptr<Shapes> shapes_;
};

}  // namespace ebs
