// An Avro container file read from disk one block at a time (the avro-files source): memory holds
// the file's header and one block, plus the records still in flight (each keeps its own block
// alive), whatever the size of the file, so that a source can cut a 20,000-record container into
// batches of `batch_size` records and a bounded number of bytes.
//
// Records are decoded and mapped as MessageIngester does for a whole message. What fails keeps its
// original bytes as an Avro container of its own, which `avro-files` reads and `replay` sends:
//  - a record no profile can map: the writer schema and that record's bytes (null codec);
//  - a block that does not decode: the writer schema, the codec and that block (records of the
//    block decoded before the fault still flow: a replay duplicates them, never loses them);
//  - a file whose framing breaks (truncated, a wrong sync marker, an impossible block size): the
//    header and the rest of the file from the failing block (at most kMaxRestBytes); the file
//    ends there.
#pragma once

#include <cstdint>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "actors/common/ingest/message_ingester.h"

namespace ebs::ingest {

struct IngestItem {
  RecordPtr alert;                      // either an alert
  std::optional<IngestFailure> failure; // or what became of a record that is none
};

class ContainerFileStream {
 public:
  // A header (schema included) beyond this is refused: no survey writes one, a hostile file may.
  static constexpr size_t kMaxHeaderBytes = size_t{64} << 20;
  // The part of a broken file a dead letter keeps, from the failing block on.
  static constexpr size_t kMaxRestBytes = size_t{64} << 20;
  // A file no larger than this (a ZTF or Rubin alert of its own: ~70 KB) is read once, whole, with
  // one sized read; its header and blocks are views into that buffer. Larger files are read a
  // block at a time.
  static constexpr size_t kWholeFileBytes = size_t{1} << 20;

  // Opens `path` (which starts with the container magic) and reads its header. A bad header is
  // not thrown: it is the stream's one failure (the whole file, up to kMaxHeaderBytes).
  ContainerFileStream(std::string path, MessageIngester& ingester);
  // The same over a file the caller read whole (`bytes`, kept alive by `owner`): no file is
  // opened again.
  ContainerFileStream(std::string path, std::shared_ptr<const void> owner, std::string_view bytes,
                      MessageIngester& ingester);

  // The next record of the file (decoding the next block when the current one is used up), or
  // nothing at its end.
  std::optional<IngestItem> next();

  // Where the file is, for progress: bytes read so far and the file's size.
  uint64_t position() const { return position_; }
  uint64_t size() const { return size_; }

 private:
  void read_header();
  void read_block();
  // The framing broke at `position_`: one failure holding the rest of the file, and the end.
  void fail_rest(const std::exception& error);
  // Bytes of the file and what keeps them alive (the whole file's buffer, or a block's own).
  struct Bytes {
    std::shared_ptr<const void> owner;
    std::string_view view;
  };
  // `length` bytes at `offset`: a view into the whole file when it was read whole, else one
  // sized read into a buffer of its own (not zero-filled first).
  Bytes read_at(uint64_t offset, size_t length);

  std::string path_;
  MessageIngester& ingester_;
  std::ifstream file_;
  uint64_t size_ = 0;
  uint64_t position_ = 0;
  bool ended_ = false;
  Bytes whole_;                         // the whole file, when it is small (kWholeFileBytes)
  Bytes header_bytes_;                  // the file's header; `header_` views into it
  avro::ContainerHeader header_;
  std::shared_ptr<const avro::DecodePlan> plan_;
  size_t records_seen_ = 0;            // index of the next record in the file, for its place
  std::deque<IngestItem> pending_;
};

}  // namespace ebs::ingest
