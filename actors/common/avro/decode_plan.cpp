#include "actors/common/avro/decode_plan.h"

#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "engine/util/fault.h"

namespace ebs::avro {

using json = nlohmann::json;
using Op = PlanType::Op;

namespace {

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  auto head = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!head(name[0])) return false;
  for (char c : name)
    if (!head(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

bool valid_full_name(std::string_view full) {
  size_t start = 0;
  while (true) {
    size_t dot = full.find('.', start);
    if (!valid_name(full.substr(start, dot == std::string_view::npos ? dot : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

const std::unordered_map<std::string_view, Op>& primitives() {
  static const std::unordered_map<std::string_view, Op> table = {
      {"null", Op::Null},     {"boolean", Op::Boolean}, {"int", Op::Int},
      {"long", Op::Long},     {"float", Op::Float},     {"double", Op::Double},
      {"bytes", Op::Bytes},   {"string", Op::String}};
  return table;
}

}  // namespace

// Turns schema JSON into the plan's type table. Named types get their id before their fields are
// compiled, so recursive types resolve.
class SchemaCompiler {
 public:
  SchemaCompiler(DecodePlan& plan, std::string_view place) : plan_(plan), place_(place) {}

  uint32_t compile(const json& schema, const std::string& space, int depth) {
    if (depth > 200) bad("schema nested deeper than 200 levels");
    if (schema.is_string()) return from_name(schema.get_ref<const std::string&>(), space);
    if (schema.is_array()) return compile_union(schema, space, depth);
    if (!schema.is_object()) bad("a schema must be a name, an object or an array: " + schema.dump());
    auto type_it = schema.find("type");
    if (type_it == schema.end()) bad("schema object without \"type\": " + excerpt(schema));
    if (!type_it->is_string()) return compile(*type_it, space, depth + 1);
    const std::string& type = type_it->get_ref<const std::string&>();
    if (auto p = primitives().find(type); p != primitives().end()) return primitive(p->second);
    if (type == "record" || type == "error") return compile_record(schema, space, depth);
    if (type == "enum") return compile_enum(schema, space);
    if (type == "fixed") return compile_fixed(schema, space);
    if (type == "array") {
      uint32_t id = add(Op::Array);
      uint32_t items = compile(required(schema, "items"), space, depth + 1);
      plan_.types_[id].first = items;
      return id;
    }
    if (type == "map") {
      uint32_t id = add(Op::Map);
      uint32_t values = compile(required(schema, "values"), space, depth + 1);
      plan_.types_[id].first = values;
      plan_.types_[id].shape = &entry_shape();
      return id;
    }
    return from_name(type, space);
  }

  void compute_min_sizes() {
    std::vector<uint8_t> state(plan_.types_.size(), 0);  // 0 new, 1 in progress, 2 done
    for (uint32_t id = 0; id < plan_.types_.size(); ++id) min_size(id, state);
  }

 private:
  [[noreturn]] void bad(const std::string& message) const {
    ebs::fail(std::string(place_), "invalid Avro schema: " + message);
  }

  static std::string excerpt(const json& j) {
    std::string s = j.dump();
    return s.size() > 120 ? s.substr(0, 120) + "..." : s;
  }

  const json& required(const json& schema, const char* key) const {
    auto it = schema.find(key);
    if (it == schema.end()) bad(std::string("missing \"") + key + "\" in " + excerpt(schema));
    return *it;
  }

  uint32_t add(Op op) {
    plan_.types_.push_back(PlanType{.op = op, .step = PlanType::step_of(op)});
    return static_cast<uint32_t>(plan_.types_.size() - 1);
  }

  uint32_t primitive(Op op) {
    auto& slot = primitive_ids_[static_cast<size_t>(op)];
    if (slot == 0) slot = add(op) + 1;
    return slot - 1;
  }

  const RecordShape& entry_shape() {
    if (!entry_shape_)
      entry_shape_ = &plan_.shapes_.emplace_back(std::string(kMapEntryShapeName),
                                                 std::vector<std::string>{"key", "value"});
    return *entry_shape_;
  }

  uint32_t from_name(const std::string& name, const std::string& space) {
    if (auto p = primitives().find(name); p != primitives().end()) return primitive(p->second);
    if (name.find('.') == std::string::npos && !space.empty()) {
      if (auto it = named_.find(space + "." + name); it != named_.end()) return it->second;
    }
    if (auto it = named_.find(name); it != named_.end()) return it->second;
    bad("unknown type name \"" + name + "\"");
  }

  // Full name and namespace of a named type definition.
  std::pair<std::string, std::string> define_name(const json& schema, const std::string& space) {
    const json& name_json = required(schema, "name");
    if (!name_json.is_string()) bad("a name must be a string: " + excerpt(schema));
    std::string name = name_json.get<std::string>();
    std::string full, own_space;
    if (name.find('.') != std::string::npos) {
      full = name;
      own_space = name.substr(0, name.rfind('.'));
    } else {
      own_space = space;
      if (auto ns = schema.find("namespace"); ns != schema.end() && !ns->is_null()) {
        if (!ns->is_string()) bad("a namespace must be a string: " + excerpt(schema));
        own_space = ns->get<std::string>();
      }
      full = own_space.empty() ? name : own_space + "." + name;
    }
    if (!valid_full_name(full)) bad("invalid name \"" + full + "\"");
    if (primitives().count(full)) bad("a named type cannot be called \"" + full + "\"");
    if (named_.count(full)) bad("type \"" + full + "\" is defined twice");
    return {full, own_space};
  }

  uint32_t compile_record(const json& schema, const std::string& space, int depth) {
    auto [full, own_space] = define_name(schema, space);
    uint32_t id = add(Op::Record);
    named_.emplace(full, id);
    if (plan_.types_.size() == 1) plan_.root_name_ = full;
    const json& fields = required(schema, "fields");
    if (!fields.is_array()) bad("\"fields\" of " + full + " must be an array");
    std::vector<std::string> names;
    std::vector<uint32_t> field_types;
    std::unordered_set<std::string> seen;
    for (const json& field : fields) {
      if (!field.is_object()) bad("a field of " + full + " must be an object");
      const json& field_name = required(field, "name");
      if (!field_name.is_string()) bad("a field name of " + full + " must be a string");
      std::string fname = field_name.get<std::string>();
      if (!valid_name(fname)) bad("invalid field name \"" + fname + "\" in " + full);
      if (!seen.insert(fname).second) bad("duplicate field name \"" + fname + "\" in " + full);
      field_types.push_back(compile(required(field, "type"), own_space, depth + 1));
      names.push_back(std::move(fname));
    }
    PlanType& t = plan_.types_[id];
    t.first = static_cast<uint32_t>(plan_.members_.size());
    t.count = static_cast<uint32_t>(field_types.size());
    plan_.members_.insert(plan_.members_.end(), field_types.begin(), field_types.end());
    RecordShape& shape = plan_.shapes_.emplace_back(full, std::move(names));
    for (uint32_t type : field_types) shape.nullable.push_back(admits_null(type));
    plan_.types_[id].shape = &shape;
    return id;
  }

  bool admits_null(uint32_t id) const {
    const PlanType& t = plan_.types_[id];
    if (t.op == Op::Null) return true;
    if (t.op != Op::Union) return false;
    for (uint32_t i = 0; i < t.count; ++i)
      if (plan_.types_[plan_.members_[t.first + i]].op == Op::Null) return true;
    return false;
  }

  uint32_t compile_enum(const json& schema, const std::string& space) {
    auto [full, own_space] = define_name(schema, space);
    const json& symbols = required(schema, "symbols");
    if (!symbols.is_array() || symbols.empty()) bad("enum " + full + " needs a list of symbols");
    uint32_t id = add(Op::Enum);
    named_.emplace(full, id);
    PlanType& t = plan_.types_[id];
    t.first = static_cast<uint32_t>(plan_.symbols_.size());
    std::unordered_set<std::string> seen;
    for (const json& s : symbols) {
      if (!s.is_string() || !valid_name(s.get_ref<const std::string&>()))
        bad("invalid symbol " + s.dump() + " in enum " + full);
      if (!seen.insert(s.get<std::string>()).second)
        bad("duplicate symbol " + s.dump() + " in enum " + full);
      plan_.symbols_.push_back(s.get<std::string>());
    }
    t.count = static_cast<uint32_t>(symbols.size());
    return id;
  }

  uint32_t compile_fixed(const json& schema, const std::string& space) {
    auto [full, own_space] = define_name(schema, space);
    const json& size = required(schema, "size");
    if (!size.is_number_integer() || size.get<int64_t>() < 0 || size.get<int64_t>() > (1 << 30))
      bad("fixed " + full + " needs a size in [0, 2^30]");
    uint32_t id = add(Op::Fixed);
    named_.emplace(full, id);
    plan_.types_[id].count = size.get<uint32_t>();
    return id;
  }

  uint32_t compile_union(const json& schema, const std::string& space, int depth) {
    if (schema.empty()) bad("a union needs at least one branch");
    std::vector<uint32_t> branches;
    std::unordered_set<std::string> keys;  // unnamed types by kind, named types by full name
    for (const json& branch : schema) {
      uint32_t b = compile(branch, space, depth + 1);
      const PlanType& t = plan_.types_[b];
      if (t.op == Op::Union) bad("a union cannot directly contain a union: " + excerpt(schema));
      std::string key = (t.op == Op::Record || t.op == Op::Enum || t.op == Op::Fixed)
                            ? "named:" + name_of(b)
                            : "kind:" + std::to_string(static_cast<int>(t.op));
      if (!keys.insert(key).second) bad("a union lists the same type twice: " + excerpt(schema));
      branches.push_back(b);
    }
    uint32_t id = add(Op::Union);
    PlanType& t = plan_.types_[id];
    t.first = static_cast<uint32_t>(plan_.members_.size());
    t.count = static_cast<uint32_t>(branches.size());
    plan_.members_.insert(plan_.members_.end(), branches.begin(), branches.end());
    if (branches.size() == 2) {
      const uint8_t null_branch = plan_.types_[branches[0]].op == Op::Null ? 0 : 1;
      if (plan_.types_[branches[null_branch]].op == Op::Null) {
        PlanType::Step step = nullable_step(plan_.types_[branches[1 - null_branch]].op);
        PlanType& u = plan_.types_[id];
        if (step != PlanType::Step::Union) {
          u.step = step;
          u.null_branch = null_branch;
        }
      }
    }
    return id;
  }

  // The fused step of a union of null and `value`; Union when there is none.
  static PlanType::Step nullable_step(Op value) {
    using Step = PlanType::Step;
    switch (value) {
      case Op::Boolean: return Step::NullOrBoolean;
      case Op::Int: return Step::NullOrInt;
      case Op::Long: return Step::NullOrLong;
      case Op::Float: return Step::NullOrFloat;
      case Op::Double: return Step::NullOrDouble;
      case Op::String: return Step::NullOrString;
      case Op::Bytes: return Step::NullOrBytes;
      default: return Step::Union;
    }
  }

  std::string name_of(uint32_t id) const {
    for (const auto& [name, i] : named_)
      if (i == id) return name;
    return {};
  }

  uint32_t min_size(uint32_t id, std::vector<uint8_t>& state) {
    if (state[id] == 2) return plan_.types_[id].min_size;
    if (state[id] == 1) return 0;  // recursive type: 0 is still a lower bound
    state[id] = 1;
    PlanType& t = plan_.types_[id];
    uint64_t size = 0;
    switch (t.op) {
      case Op::Null: size = 0; break;
      case Op::Boolean: case Op::Int: case Op::Long: case Op::Enum: size = 1; break;
      case Op::String: case Op::Bytes: case Op::Array: case Op::Map: case Op::Union: size = 1; break;
      case Op::Float: size = 4; break;
      case Op::Double: size = 8; break;
      case Op::Fixed: size = t.count; break;
      case Op::Record:
        for (uint32_t i = 0; i < t.count; ++i)
          size += min_size(plan_.members_[t.first + i], state);
        break;
    }
    // `t` may not move: min_size() adds no types.
    t.min_size = static_cast<uint32_t>(std::min<uint64_t>(size, 1u << 30));
    state[id] = 2;
    return t.min_size;
  }

  DecodePlan& plan_;
  std::string_view place_;
  std::unordered_map<std::string, uint32_t> named_;
  uint32_t primitive_ids_[16] = {};
  const RecordShape* entry_shape_ = nullptr;
};

std::shared_ptr<const DecodePlan> DecodePlan::compile(std::string_view schema_json,
                                                      std::string_view place) {
  json schema = json::parse(schema_json, nullptr, /*allow_exceptions=*/false);
  if (schema.is_discarded()) ebs::fail(std::string(place), "invalid Avro schema: not valid JSON");
  auto plan = std::make_shared<DecodePlan>();
  SchemaCompiler compiler(*plan, place);
  plan->root_ = compiler.compile(schema, "", 0);
  compiler.compute_min_sizes();
  plan->member_steps_.reserve(plan->members_.size());
  for (uint32_t type : plan->members_)
    plan->member_steps_.push_back({plan->types_[type].step, plan->types_[type].null_branch});
  return plan;
}

}  // namespace ebs::avro
