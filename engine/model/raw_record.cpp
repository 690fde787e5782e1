#include "engine/model/raw_record.h"

#include <charconv>

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

RawRecord::RawRecord(std::vector<RawNode> nodes, std::shared_ptr<const void> keep_alive,
                     std::shared_ptr<const void> shapes)
    : nodes_(std::move(nodes)), keep_alive_(std::move(keep_alive)), shapes_(std::move(shapes)) {}

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
  nodes_.clear();
  nodes_.emplace_back();
  return 0;
}

uint32_t RawRecordBuilder::reserve_children(uint32_t count) {
  auto first = static_cast<uint32_t>(nodes_.size());
  nodes_.resize(nodes_.size() + count);
  return first;
}

uint32_t RawRecordBuilder::begin_record(uint32_t node, const RecordShape* shape) {
  auto count = static_cast<uint32_t>(shape->fields.size());
  uint32_t first = reserve_children(count);
  RawNode& n = nodes_[node];
  n.kind = RawNode::Kind::Record;
  n.shape = shape;
  n.first_child = first;
  n.child_count = count;
  return first;
}

uint32_t RawRecordBuilder::begin_list(uint32_t node, uint32_t count) {
  uint32_t first = reserve_children(count);
  RawNode& n = nodes_[node];
  n.kind = RawNode::Kind::List;
  n.first_child = first;
  n.child_count = count;
  return first;
}

void RawRecordBuilder::set_null(uint32_t node) { nodes_[node].kind = RawNode::Kind::Null; }
void RawRecordBuilder::set_bool(uint32_t node, bool v) {
  nodes_[node].kind = RawNode::Kind::Bool;
  nodes_[node].boolean = v;
}
void RawRecordBuilder::set_int(uint32_t node, int64_t v) {
  nodes_[node].kind = RawNode::Kind::Int;
  nodes_[node].integer = v;
}
void RawRecordBuilder::set_double(uint32_t node, double v) {
  nodes_[node].kind = RawNode::Kind::Double;
  nodes_[node].number = v;
}
void RawRecordBuilder::set_string(uint32_t node, std::string_view v) {
  nodes_[node].kind = RawNode::Kind::String;
  nodes_[node].text = v;
}
void RawRecordBuilder::set_bytes(uint32_t node, std::string_view v) {
  nodes_[node].kind = RawNode::Kind::Bytes;
  nodes_[node].text = v;
}

RawRecord RawRecordBuilder::finish(std::shared_ptr<const void> keep_alive,
                                   std::shared_ptr<const void> shapes) {
  return RawRecord(std::move(nodes_), std::move(keep_alive), std::move(shapes));
}

}  // namespace ebs
