// The held batches a link out keeps as their acknowledgement tokens only (past its held cap,
// engine/cluster/link.h): each one's tokens by the link's sequence number, no batch, and the heap
// bytes they cost, counted against a bound of their own so that the link's memory stays bounded in
// bytes however many batches the receiving node holds (docs/cluster.md "What crosses a link").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "engine/runtime/ack.h"

namespace ebs::cluster {

// A heap block as glibc's malloc spends it on a 64-bit machine for `request` bytes: the request
// and an 8-byte header, rounded up to 16 bytes, 32 at least.
int64_t heap_block_bytes(size_t request);
// The heap block of a std::map or std::set node holding a `value_bytes` value (libstdc++'s
// red-black tree: a colour and three links before the value), as heap_block_bytes counts it.
int64_t tree_node_bytes(size_t value_bytes);

class HeldTokens {
 public:
  struct Entry {
    uint64_t records = 0;  // the batch's, counted if it is abandoned unreplayed
    std::vector<AckRef> tokens;
  };

  // What an entry of these tokens costs the heap (glibc's malloc on a 64-bit machine: blocks
  // rounded up with their headers): its map node, its token vector, and the tokens it keeps alive,
  // each counted whole although other holders may share it. held_tokens_test measures it.
  static int64_t entry_bytes(const std::vector<AckRef>& tokens);
  // The part of it that is the tokens: their vector and what they keep alive.
  static int64_t tokens_bytes(const std::vector<AckRef>& tokens);

  explicit HeldTokens(int64_t max_bytes) : max_bytes_(max_bytes) {}

  // Whether an entry of `tokens` fits within the bound.
  bool fits(const std::vector<AckRef>& tokens) const { return bytes_ + entry_bytes(tokens) <= max_bytes_; }
  // Keeps `tokens` (copied into a vector of their own size) for the batch `seq`.
  void add(uint64_t seq, uint64_t records, const std::vector<AckRef>& tokens);
  // Removes and returns the entry of `seq`; none when it is not kept here.
  std::optional<Entry> take(uint64_t seq);
  // Removes and returns every entry, oldest first.
  std::vector<Entry> take_all();

  bool contains(uint64_t seq) const { return entries_.count(seq) > 0; }
  size_t size() const { return entries_.size(); }
  int64_t bytes() const { return bytes_; }
  int64_t max_bytes() const { return max_bytes_; }

 private:
  std::map<uint64_t, Entry> entries_;
  int64_t bytes_ = 0;
  int64_t max_bytes_;
};

}  // namespace ebs::cluster
