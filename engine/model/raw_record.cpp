#include "engine/model/raw_record.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <new>

#include "engine/model/raw_node_bytes.h"

namespace ebs {

RecordShape::RecordShape(std::string record_name, std::vector<std::string> field_names)
    : name(std::move(record_name)), fields(std::move(field_names)) {
  for (uint32_t i = 0; i < fields.size(); ++i) index.emplace(fields[i], i);
}

std::optional<uint32_t> RecordShape::find(std::string_view field) const {
  // Small records: a linear scan avoids hashing a temporary string.
  if (fields.size() <= 8) {
    for (uint32_t i = 0; i < fields.size(); ++i)
      if (fields[i] == field) return i;
    return std::nullopt;
  }
  auto it = index.find(std::string(field));
  if (it == index.end()) return std::nullopt;
  return it->second;
}

namespace {
detail::NodeArray allocate_nodes(size_t count) {
  if (count == 0) return nullptr;
  auto* nodes = static_cast<RawNode*>(std::malloc(count * sizeof(RawNode)));
  if (nodes == nullptr) throw std::bad_alloc();
  return detail::NodeArray(nodes);
}

// A node of `kind` with every other member zero (so no stale bytes of an unset slot remain).
RawNode blank(RawNode::Kind kind) {
  RawNode node;
  node.kind = kind;
  return node;
}

detail::NodeArray copy_nodes(std::span<const RawNode> nodes) {
  detail::NodeArray copy = allocate_nodes(nodes.size());
  if (!nodes.empty()) std::memcpy(copy.get(), nodes.data(), nodes.size_bytes());
  return copy;
}

}  // namespace

RawRecord::RawRecord(std::span<const RawNode> nodes, std::shared_ptr<const void> keep_alive,
                     std::shared_ptr<const void> shapes)
    : nodes_(copy_nodes(nodes)), size_(nodes.size()), keep_alive_(std::move(keep_alive)),
      shapes_(std::move(shapes)), bytes_(bytes_of_nodes(nodes)) {}

RawRecord::RawRecord(detail::NodeArray nodes, size_t size, std::shared_ptr<const void> keep_alive,
                     std::shared_ptr<const void> shapes, size_t bytes)
    : nodes_(std::move(nodes)), size_(size), keep_alive_(std::move(keep_alive)),
      shapes_(std::move(shapes)), bytes_(bytes) {}

RawRecord::RawRecord(const RawRecord& other)
    : nodes_(copy_nodes(other.nodes())), size_(other.size_), keep_alive_(other.keep_alive_),
      shapes_(other.shapes_), bytes_(other.bytes_) {}

RawRecord& RawRecord::operator=(const RawRecord& other) {
  if (this != &other) *this = RawRecord(other);
  return *this;
}

const RawNode& RawView::node() const { return record_->nodes_[node_]; }

RawNode::Kind RawView::kind() const { return valid() ? node().kind : RawNode::Kind::Null; }

RawView RawView::field(std::string_view name) const {
  if (!valid()) return {};
  const RawNode& n = node();
  if (n.kind != RawNode::Kind::Record || n.shape == nullptr) return {};
  auto i = n.shape->find(name);
  if (!i || *i >= n.child_count) return {};
  return RawView(record_, n.first_child + *i);
}

RawView RawView::path(std::string_view dotted) const {
  RawView at = *this;
  while (at.valid() && !dotted.empty()) {
    size_t dot = dotted.find('.');
    std::string_view step = dotted.substr(0, dot);
    dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
    if (at.kind() == RawNode::Kind::List) {
      size_t index = 0;
      auto [p, ec] = std::from_chars(step.data(), step.data() + step.size(), index);
      if (ec != std::errc() || p != step.data() + step.size()) return {};
      at = at.child(index);
    } else {
      at = at.field(step);
    }
  }
  return at;
}

size_t RawView::size() const {
  if (!valid()) return 0;
  const RawNode& n = node();
  return (n.kind == RawNode::Kind::List || n.kind == RawNode::Kind::Record) ? n.child_count : 0;
}

RawView RawView::child(size_t i) const {
  if (i >= size()) return {};
  return RawView(record_, node().first_child + static_cast<uint32_t>(i));
}

std::string_view RawView::field_name(size_t i) const {
  if (!valid() || kind() != RawNode::Kind::Record || i >= size()) return {};
  return node().shape->fields[i];
}

std::optional<double> RawView::as_double() const {
  switch (kind()) {
    case RawNode::Kind::Double: return node().number;
    case RawNode::Kind::Int: return static_cast<double>(node().integer);
    case RawNode::Kind::Bool: return node().boolean ? 1.0 : 0.0;
    default: return std::nullopt;
  }
}

std::optional<int64_t> RawView::as_int() const {
  switch (kind()) {
    case RawNode::Kind::Int: return node().integer;
    case RawNode::Kind::Bool: return node().boolean ? 1 : 0;
    default: return std::nullopt;
  }
}

std::optional<std::string_view> RawView::as_string() const {
  auto k = kind();
  if (k == RawNode::Kind::String || k == RawNode::Kind::Bytes) return node().text;
  return std::nullopt;
}

uint32_t RawRecordBuilder::add_root() {
  reset();
  reserve_children(1, Slots::null);
  return 0;
}

void RawRecordBuilder::grow_to(size_t count) {
  size_t capacity = std::max({count, capacity_ * 2, size_t{64}});
  auto* grown = static_cast<RawNode*>(std::realloc(nodes_.get(), capacity * sizeof(RawNode)));
  if (grown == nullptr) throw std::bad_alloc();
  (void)nodes_.release();  // realloc freed or kept it; `grown` owns the nodes now
  nodes_.reset(grown);
  capacity_ = capacity;
}

uint32_t RawRecordBuilder::reserve_children(uint32_t count, Slots slots) {
  auto first = static_cast<uint32_t>(size_);
  if (size_ + count > capacity_) grow_to(size_ + count);
  if (slots == Slots::null)
    for (uint32_t i = 0; i < count; ++i) nodes_[first + i] = RawNode{};
  size_ += count;
  return first;
}

uint32_t RawRecordBuilder::begin_record(uint32_t node, const RecordShape* shape, Slots slots) {
  auto count = static_cast<uint32_t>(shape->fields.size());
  uint32_t first = reserve_children(count, slots);
  RawNode& n = nodes_[node] = blank(RawNode::Kind::Record);
  n.first_child = first;
  n.child_count = count;
  n.shape = shape;
  return first;
}

uint32_t RawRecordBuilder::begin_list(uint32_t node, uint32_t count, Slots slots) {
  uint32_t first = reserve_children(count, slots);
  RawNode& n = nodes_[node] = blank(RawNode::Kind::List);
  n.first_child = first;
  n.child_count = count;
  return first;
}

void RawRecordBuilder::set_null(uint32_t node) { nodes_[node] = RawNode{}; }
void RawRecordBuilder::set_bool(uint32_t node, bool v) {
  (nodes_[node] = blank(RawNode::Kind::Bool)).boolean = v;
}
void RawRecordBuilder::set_int(uint32_t node, int64_t v) {
  (nodes_[node] = blank(RawNode::Kind::Int)).integer = v;
}
void RawRecordBuilder::set_double(uint32_t node, double v) {
  (nodes_[node] = blank(RawNode::Kind::Double)).number = v;
}
void RawRecordBuilder::set_string(uint32_t node, std::string_view v) {
  (nodes_[node] = blank(RawNode::Kind::String)).text = v;
  text_bytes_ += v.size();
}
void RawRecordBuilder::set_bytes(uint32_t node, std::string_view v) {
  (nodes_[node] = blank(RawNode::Kind::Bytes)).text = v;
  text_bytes_ += v.size();
}

RawRecord RawRecordBuilder::finish(std::shared_ptr<const void> keep_alive,
                                   std::shared_ptr<const void> shapes) {
  size_t size = size_;
  // The record lives as long as its batch is in flight: give back the growth room (up to half
  // of a doubled buffer, or a decoder's reserve) so that it holds what record_bytes counts.
  // Shrinking in place is cheap (glibc splits the chunk).
  if (size > 0 && size < capacity_) {
    auto* fitted = static_cast<RawNode*>(std::realloc(nodes_.get(), size * sizeof(RawNode)));
    if (fitted != nullptr) {
      (void)nodes_.release();
      nodes_.reset(fitted);
    }
  }
  const size_t bytes = size * sizeof(RawNode) + text_bytes_;
  reset();
  capacity_ = 0;
  return RawRecord(std::move(nodes_), size, std::move(keep_alive), std::move(shapes), bytes);
}

}  // namespace ebs
