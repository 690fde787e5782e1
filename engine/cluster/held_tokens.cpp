#include "engine/cluster/held_tokens.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "engine/runtime/source_sequence.h"

namespace ebs::cluster {

int64_t heap_block_bytes(size_t request) {
  return std::max<int64_t>(32, static_cast<int64_t>((request + 8 + 15) / 16 * 16));
}

int64_t tree_node_bytes(size_t value_bytes) { return heap_block_bytes(4 * sizeof(void*) + value_bytes); }

namespace {

// A token a source made (std::make_shared): one block, a control block (a vtable pointer and two
// counts) and the token.
int64_t source_token_bytes() { return heap_block_bytes(2 * sizeof(void*) + sizeof(AckToken)); }

// A link in's stand-in for a batch from another node (engine/cluster/link.cpp, stand_in_token):
// the token; a control block holding its pointer and its deleter; and the deleter's function's
// captures (an actor handle, the scope's pointer, two numbers), on the heap past std::function's
// 16 bytes of its own.
int64_t stand_in_token_bytes() {
  constexpr size_t kCaptures = sizeof(void*) + 2 * sizeof(void*) + 2 * sizeof(uint64_t);
  return heap_block_bytes(sizeof(AckToken)) + heap_block_bytes(3 * sizeof(void*) + sizeof(StandInRelease)) +
         heap_block_bytes(kCaptures);
}

}  // namespace

int64_t HeldTokens::entry_bytes(const std::vector<AckRef>& tokens) {
  return tree_node_bytes(sizeof(std::pair<const uint64_t, Entry>)) + tokens_bytes(tokens);
}

int64_t HeldTokens::tokens_bytes(const std::vector<AckRef>& tokens) {
  int64_t bytes = 0;
  if (!tokens.empty()) bytes += heap_block_bytes(tokens.size() * sizeof(AckRef));
  for (const AckRef& token : tokens)
    bytes += std::get_deleter<StandInRelease>(token) ? stand_in_token_bytes() : source_token_bytes();
  return bytes;
}

void HeldTokens::add(uint64_t seq, uint64_t records, const std::vector<AckRef>& tokens) {
  auto [it, added] = entries_.try_emplace(seq);
  assert(added);  // a batch is unkept once
  Entry& entry = it->second;
  entry.records = records;
  entry.tokens.assign(tokens.begin(), tokens.end());
  bytes_ += entry_bytes(entry.tokens);
}

std::optional<HeldTokens::Entry> HeldTokens::take(uint64_t seq) {
  auto it = entries_.find(seq);
  if (it == entries_.end()) return std::nullopt;
  Entry entry = std::move(it->second);
  entries_.erase(it);
  bytes_ -= entry_bytes(entry.tokens);
  return entry;
}

std::vector<HeldTokens::Entry> HeldTokens::take_all() {
  std::vector<Entry> all;
  all.reserve(entries_.size());
  for (auto& [seq, entry] : entries_) all.push_back(std::move(entry));
  entries_.clear();
  bytes_ = 0;
  return all;
}

}  // namespace ebs::cluster
