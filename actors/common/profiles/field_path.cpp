#include "actors/common/profiles/field_path.h"

#include <charconv>

namespace ebs::profiles {

FieldPath::FieldPath(std::string_view dotted) : text_(dotted) {
  while (!dotted.empty()) {
    size_t dot = dotted.find('.');
    std::string_view part = dotted.substr(0, dot);
    Step step;
    step.name = std::string(part);
    int64_t index = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
    if (ec == std::errc() && end == part.data() + part.size() && index >= 0) step.list_index = index;
    steps_.push_back(std::move(step));
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
}

bool FieldPath::locate(const Step& step, const RecordShape* shape, uint64_t epoch) {
  if (shape == step.shape && epoch != 0 && step.checked_epoch == epoch) return step.position >= 0;
  // The memo is checked by name, not trusted by address: a schema's shapes may be freed and
  // another schema's allocated at the same address.
  bool memo_holds = shape == step.shape && step.position >= 0 &&
                    static_cast<size_t>(step.position) < shape->fields.size() &&
                    shape->fields[static_cast<size_t>(step.position)] == step.name;
  if (!memo_holds) {
    step.shape = shape;
    auto found = shape ? shape->find(step.name) : std::nullopt;
    step.position = found ? static_cast<int64_t>(*found) : -1;
  }
  step.checked_epoch = epoch;
  return step.position >= 0;
}

RawView FieldPath::resolve(RawView at) const {
  for (const Step& step : steps_) {
    if (!at.valid()) return {};
    const RawNode& node = at.node();
    if (node.kind == RawNode::Kind::Record) {
      if (!locate(step, node.shape, 0) || static_cast<uint32_t>(step.position) >= node.child_count) return {};
      at = at.child(static_cast<size_t>(step.position));
    } else if (node.kind == RawNode::Kind::List && step.list_index >= 0) {
      if (static_cast<uint64_t>(step.list_index) >= node.child_count) return {};
      at = at.child(static_cast<size_t>(step.list_index));
    } else {
      return {};
    }
  }
  return at;
}

const RawNode* FieldPath::resolve_slowly(const RawNode* base, const RawNode* at, uint64_t epoch) const {
  for (const Step& step : steps_) {
    if (at == nullptr) return nullptr;
    if (at->kind == RawNode::Kind::Record) {
      if (!locate(step, at->shape, epoch) || static_cast<uint32_t>(step.position) >= at->child_count)
        return nullptr;
      at = base + at->first_child + static_cast<uint32_t>(step.position);
    } else if (at->kind == RawNode::Kind::List && step.list_index >= 0) {
      if (static_cast<uint64_t>(step.list_index) >= at->child_count) return nullptr;
      at = base + at->first_child + static_cast<uint32_t>(step.list_index);
    } else {
      return nullptr;
    }
  }
  return at;
}

}  // namespace ebs::profiles
