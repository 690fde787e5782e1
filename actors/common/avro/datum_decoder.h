// Walks Avro binary data with a decode plan and builds RawRecords. Values map onto RawNode kinds:
//   null -> Null; boolean -> Bool; int, long -> Int; float, double -> Double;
//   string -> String; bytes, fixed -> Bytes (views into the buffer, not copies);
//   enum -> String (the symbol; the view points into the plan);
//   union -> the chosen branch's value (a null branch is Null);
//   record -> Record (the plan's RecordShape); array -> List;
//   map -> List of Records {key, value} (shape "avro.map.entry"), in encoded order.
// Every read is bounds-checked; bad data raises a Fault at INPUT:byte N.
#pragma once

#include <memory>

#include "actors/common/avro/byte_reader.h"
#include "actors/common/avro/decode_plan.h"
#include "engine/model/raw_record.h"

namespace ebs::avro {

class DatumDecoder {
 public:
  // Decodes one datum of the plan's root type at the reader's cursor. `keep_alive` owns the
  // bytes the reader walks (String/Bytes nodes point into them).
  RawRecord decode(const std::shared_ptr<const DecodePlan>& plan, ByteReader& reader,
                   std::shared_ptr<const void> keep_alive);
  // The same, but of a root record only its first `root_fields` fields: the others are Null and
  // their bytes are neither read nor checked (the reader stops where they start). A source that
  // leaves out the cutouts, which survey schemas put last (avro-files, docs/performance.md).
  RawRecord decode_head(const std::shared_ptr<const DecodePlan>& plan, ByteReader& reader,
                        std::shared_ptr<const void> keep_alive, uint32_t root_fields);
  // Nodes reserved for the next record (see below); never more than a quarter over
  // kMaxReservedNodes, whatever was decoded before.
  size_t next_reserve() const;
  // Records of more nodes do not enter the reserve window (a ZTF alert has ~2,000 nodes): one
  // huge record, up to kMaxNodes in the .cpp, would otherwise make each of the next 64-127
  // records ask for as much (up to ~10 GiB: bad_alloc on good records, or an mmap each). A
  // record that large grows its own nodes by doubling. 1 << 17 nodes are 4 MiB.
  static constexpr size_t kMaxReservedNodes = size_t{1} << 17;

 private:
  void start(const std::shared_ptr<const DecodePlan>& plan, ByteReader& reader);
  RawRecord finish(const std::shared_ptr<const DecodePlan>& plan, std::shared_ptr<const void> keep_alive);
  struct Cursor;  // the record loop's reads (datum_decoder.cpp)
  bool decode_flat(PlanType::Step step, uint8_t null_branch, uint32_t type_id, RawNode& n, Cursor& cur,
                   size_t& text);
  void decode_value(uint32_t type_id, uint32_t node, int depth);
  void decode_fields(uint32_t members_first, uint32_t count, uint32_t first, int depth);
  void decode_record(const PlanType& t, uint32_t node, int depth);
  void decode_blocks(const PlanType& t, uint32_t node, int depth);
  void decode_items(const PlanType& t, uint32_t first, int64_t count, int depth);
  void decode_entry(const PlanType& t, uint32_t node, int depth);
  void skip_value(uint32_t type_id, int depth);
  [[noreturn]] __attribute__((noinline)) void fail_union_branch(const char* at, int64_t index,
                                                                uint32_t count) const;
  [[noreturn]] __attribute__((noinline)) void fail_enum_index(const char* at, int64_t index,
                                                              uint32_t count) const;
  int64_t read_block_count(const PlanType& t, int64_t* block_bytes);

  const DecodePlan* plan_ = nullptr;
  const PlanType* types_ = nullptr;
  const uint32_t* members_ = nullptr;
  const DecodePlan::MemberStep* member_steps_ = nullptr;
  ByteReader* in_ = nullptr;
  RawRecordBuilder builder_;
  // The next record's nodes are reserved in one allocation as large as the largest record of the
  // last two windows of kReserveWindow (a quarter more): records of one stream vary with their
  // light curves, and one that outgrew the last record's size was regrown, often by a copy (15 %
  // of ZTF alerts). finish() gives back what a record did not use, in place.
  static constexpr size_t kReserveWindow = 64;
  size_t window_largest_ = 0, previous_window_largest_ = 0, window_records_ = 0;
};

}  // namespace ebs::avro
