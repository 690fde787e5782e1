#include "actors/common/profiles/profile.h"

#include <fnmatch.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "engine/graph/actor_config.h"
#include "engine/model/alert_identity.h"
#include "engine/model/light_curve.h"
#include "engine/util/fault.h"

namespace ebs::profiles {

namespace {

constexpr double kMagErrPerRelativeFlux = 1.0857362047581294;  // 2.5 / ln(10)

// --- parsing ---------------------------------------------------------------------------------

struct Parser {
  std::string origin;

  std::string at(const YAML::Node& node) const { return place_of(origin, node); }

  void keys(const YAML::Node& node, std::initializer_list<std::string_view> allowed,
            std::string_view what) const {
    if (!node.IsMap()) fail(at(node), std::string(what) + " must be a map");
    for (const auto& entry : node) {
      std::string key = entry.first.as<std::string>();
      bool ok = false;
      std::string list;
      for (std::string_view a : allowed) {
        ok = ok || key == a;
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      if (!ok) fail(at(entry.first), "unknown key '" + key + "' in " + std::string(what) + " (allowed: " + list + ")");
    }
  }

  std::string scalar(const YAML::Node& node, std::string_view what) const {
    if (!node.IsScalar()) fail(at(node), std::string(what) + " must be a scalar");
    return node.Scalar();
  }

  std::vector<std::string> scalars(const YAML::Node& node, std::string_view what) const {
    std::vector<std::string> out;
    if (node.IsScalar()) {
      out.push_back(node.Scalar());
    } else if (node.IsSequence()) {
      for (const auto& item : node) out.push_back(scalar(item, what));
    } else {
      fail(at(node), std::string(what) + " must be a scalar or a list of scalars");
    }
    return out;
  }

  double number(const YAML::Node& node, std::string_view what) const {
    std::string text = scalar(node, what);
    double v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
      fail(at(node), std::string(what) + " must be a number, not '" + text + "'");
    return v;
  }

  bool boolean(const YAML::Node& node, std::string_view what) const {
    std::string text = scalar(node, what);
    if (text == "true") return true;
    if (text == "false") return false;
    fail(at(node), std::string(what) + " must be true or false, not '" + text + "'");
  }

  static double unit_scale(const std::string& unit) {
    if (unit == "nJy") return 1;
    if (unit == "uJy" || unit == "µJy") return 1e3;
    if (unit == "mJy") return 1e6;
    if (unit == "Jy") return 1e9;
    return 0;
  }

  ValueSpec value(const YAML::Node& node, std::string_view what) const {
    ValueSpec v;
    v.where = at(node);
    if (node.IsScalar() || node.IsSequence()) {
      for (const std::string& p : scalars(node, what)) v.paths.emplace_back(p);
      return v;
    }
    keys(node, {"path", "value", "null_values", "map", "unit", "zero_point", "negate", "scale"}, what);
    if (node["path"])
      for (const std::string& p : scalars(node["path"], what)) v.paths.emplace_back(p);
    if (node["value"]) v.constant = scalar(node["value"], what);
    if (v.paths.empty() && !v.constant) fail(at(node), std::string(what) + " needs 'path' or 'value'");
    if (node["null_values"]) {
      for (const std::string& text : scalars(node["null_values"], what)) {
        double d = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (ec == std::errc() && end == text.data() + text.size()) v.null_values.push_back(d);
        v.null_texts.push_back(text);
      }
    }
    if (node["scale"]) v.scale = number(node["scale"], what);
    if (node["unit"]) {
      std::string unit = scalar(node["unit"], what);
      if (unit == "DN") {
        if (!node["zero_point"]) fail(at(node["unit"]), std::string(what) + ": unit DN needs zero_point (a path)");
        v.zero_point = FieldPath(scalar(node["zero_point"], what));
      } else if (double s = unit_scale(unit); s > 0) {
        v.scale *= s;
      } else {
        fail(at(node["unit"]), std::string(what) + ": unknown unit '" + unit + "' (nJy, uJy, mJy, Jy, DN)");
      }
    } else if (node["zero_point"]) {
      fail(at(node["zero_point"]), std::string(what) + ": zero_point goes with unit: DN");
    }
    if (node["negate"]) v.negate = boolean(node["negate"], what);
    return v;
  }
};

// Value maps (`map: {1: g}`) take any keys.
std::map<std::string, std::string, std::less<>> parse_map(const Parser& p, const YAML::Node& node,
                                                          std::string_view what) {
  std::map<std::string, std::string, std::less<>> out;
  if (!node.IsMap()) fail(p.at(node), std::string(what) + " must be a map");
  for (const auto& entry : node) out[p.scalar(entry.first, what)] = p.scalar(entry.second, what);
  return out;
}

ValueSpec parse_value(const Parser& p, const YAML::Node& node, std::string_view what) {
  if (node.IsMap() && node["map"]) {
    YAML::Node copy = YAML::Clone(node);
    auto map = parse_map(p, node["map"], what);
    copy.remove("map");
    ValueSpec v = p.value(copy, what);
    v.where = p.at(node);
    v.map = std::move(map);
    return v;
  }
  return p.value(node, what);
}

Photometry::Kind parse_kind(const Parser& p, const YAML::Node& node) {
  std::string k = p.scalar(node, "kind");
  if (k == "detection") return Photometry::Kind::detection;
  if (k == "upper_limit") return Photometry::Kind::upper_limit;
  if (k == "forced") return Photometry::Kind::forced;
  fail(p.at(node), "kind must be detection, upper_limit or forced, not '" + k + "'");
}

Cutout::Kind parse_cutout_kind(const Parser& p, const YAML::Node& node) {
  std::string k = p.scalar(node, "kind");
  if (k == "science") return Cutout::Kind::science;
  if (k == "template") return Cutout::Kind::template_;
  if (k == "difference") return Cutout::Kind::difference;
  fail(p.at(node), "cutout kind must be science, template or difference, not '" + k + "'");
}

// Time keys shared by the alert's `time` and each history entry's (which inherits the rest).
void parse_time_keys(const Parser& p, const YAML::Node& node, TimeSpec& t) {
  if (node["path"]) t.value = p.value(node["path"], "time path");
  if (node["format"]) {
    std::string f = p.scalar(node["format"], "time format");
    if (f != "jd" && f != "mjd") fail(p.at(node["format"]), "time format must be jd or mjd, not '" + f + "'");
    t.is_jd = f == "jd";
  }
  if (node["scale"]) t.scale = time::parse_scale(p.scalar(node["scale"], "time scale"), p.at(node["scale"]));
  if (node["reference"]) {
    std::string r = p.scalar(node["reference"], "time reference");
    if (r != "start" && r != "middle")
      fail(p.at(node["reference"]), "time reference must be start or middle, not '" + r + "'");
    t.exposure_start = r == "start";
  }
  if (node["exposure_time"]) t.exposure_time = p.value(node["exposure_time"], "exposure_time");
  if (node["default_exposure_s"]) t.default_exposure_s = p.number(node["default_exposure_s"], "default_exposure_s");
}

const std::initializer_list<std::string_view> kTimeKeys = {
    "path", "format", "scale", "reference", "exposure_time", "default_exposure_s"};

// --- reading values --------------------------------------------------------------------------
// The mapping reads raw nodes directly (no RawView calls) through paths whose positions are
// memoized per shape and trusted by address within one record (FieldPath, `epoch`).

using Nodes = RecordNodes;

[[gnu::always_inline]] inline std::optional<double> number_of(const RawNode* n) {
  switch (n->kind) {
    case RawNode::Kind::Double: return n->number;
    case RawNode::Kind::Int: return static_cast<double>(n->integer);
    case RawNode::Kind::Bool: return n->boolean ? 1.0 : 0.0;
    default: return std::nullopt;
  }
}

[[gnu::always_inline]] inline bool is_text(const RawNode* n) { return n->kind == RawNode::Kind::String || n->kind == RawNode::Kind::Bytes; }

[[gnu::always_inline]] inline bool is_null_value(const ValueSpec& spec, const RawNode* v) {
  if (v == nullptr || v->kind == RawNode::Kind::Null) return true;
  if (spec.null_values.empty() && spec.null_texts.empty()) return false;
  if (auto d = number_of(v)) {
    for (double n : spec.null_values)
      if (*d == n) return true;
    return false;
  }
  if (is_text(v)) {
    for (const std::string& n : spec.null_texts)
      if (v->text == n) return true;
  }
  return false;
}

// Reads in list elements pass where their only path's field is (ElementFields: found once per
// record for the elements' shape); every other read passes kByPath and goes through the paths.
constexpr int32_t kByPath = FieldPath::kNotOneField;

// The node of a one-field path at `at`, by the field's position in at's shape (kByPath: through
// the path): what FieldPath::resolve gives, without its checks.
[[gnu::always_inline]] inline const RawNode* node_at(const FieldPath& path, const Nodes& nodes, const RawNode* at,
                                                     int32_t position) {
  if (position == kByPath) return nodes.at(path, at);
  if (position < 0 || static_cast<uint32_t>(position) >= at->child_count) return nullptr;
  return nodes.base + at->first_child + static_cast<uint32_t>(position);
}

// `position`: of the spec's only path (kByPath for a spec of several paths).
[[gnu::always_inline]] inline const RawNode* first_value(const ValueSpec& spec, const Nodes& nodes, const RawNode* at,
                                                         int32_t position = kByPath) {
  if (position != kByPath) {
    const RawNode* v = node_at(spec.paths.front(), nodes, at, position);
    return is_null_value(spec, v) ? nullptr : v;
  }
  for (const FieldPath& path : spec.paths) {
    const RawNode* v = nodes.at(path, at);
    if (!is_null_value(spec, v)) return v;
  }
  return nullptr;
}

// A position for first_value: the spec's only path's in records of `shape`, else kByPath.
int32_t value_position(const ValueSpec& spec, const RecordShape* shape, uint64_t epoch) {
  return spec.paths.size() == 1 ? spec.paths.front().position_in(shape, epoch) : kByPath;
}

// A spec read as its one path's number gives: no constant, sentinel or zero point.
bool plain_number(const ValueSpec& spec) {
  return !spec.constant && spec.paths.size() == 1 && spec.null_values.empty() && spec.null_texts.empty() &&
         spec.zero_point.empty();
}

// `position`: of the spec's only path, as for first_value; `zero_point_position`: of
// spec.zero_point; `plain`: the spec is plain_number's and `position` is its path's.
[[gnu::always_inline]] inline double read_number(const ValueSpec& spec, const Nodes& nodes, const RawNode* at,
                                                 int32_t position = kByPath, int32_t zero_point_position = kByPath,
                                                 bool plain = false) {
  if (plain) {  // what the general read below gives a number or a null, without its checks
    const RawNode* v = node_at(spec.paths.front(), nodes, at, position);
    if (v == nullptr) return NAN;
    switch (v->kind) {
      case RawNode::Kind::Double: return v->number * spec.scale;
      case RawNode::Kind::Int: return static_cast<double>(v->integer) * spec.scale;
      case RawNode::Kind::Null: return NAN;
      default: break;  // the general read
    }
  }
  if (spec.constant) {
    double d = NAN;
    std::from_chars(spec.constant->data(), spec.constant->data() + spec.constant->size(), d);
    return d * spec.scale;
  }
  if (spec.paths.empty()) return NAN;
  const RawNode* v = first_value(spec, nodes, at, position);
  if (v == nullptr) return NAN;
  std::optional<double> d = number_of(v);
  if (!d) {
    if (!is_text(v)) return NAN;
    std::string_view s = v->text;
    double parsed = NAN;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
    if (ec != std::errc() || end != s.data() + s.size()) return NAN;
    d = parsed;
  }
  double value = *d * spec.scale;
  if (!spec.zero_point.empty()) {
    const RawNode* zp_node = node_at(spec.zero_point, nodes, at, zero_point_position);
    std::optional<double> zp = zp_node ? number_of(zp_node) : std::nullopt;
    if (!zp) return NAN;
    // A forced point's flux and its error share one zero point: one pow for both (the same
    // argument gives the same result).
    ZeroPointFactor& last = *nodes.zero_point_factor;
    if (!(*zp == last.zero_point)) last = {*zp, std::pow(10.0, (kAbMagOfOneNanoJansky - *zp) / 2.5)};
    value *= last.factor;
  }
  return value;
}

// Text of a scalar: strings as they are, integers in decimal, booleans true/false; then the
// spec's `map`, then `extra` (the profile's band names), without allocating for short texts.
[[gnu::always_inline]] inline bool read_text(const ValueSpec& spec, const Nodes& nodes, const RawNode* at,
                                             std::string& out,
                                             const std::map<std::string, std::string, std::less<>>* extra = nullptr,
                                             int32_t position = kByPath) {
  char buf[32];
  std::string_view text;
  if (spec.constant) {
    text = *spec.constant;
  } else {
    if (spec.paths.empty()) return false;
    const RawNode* n = first_value(spec, nodes, at, position);
    if (n == nullptr) return false;
    switch (n->kind) {
      case RawNode::Kind::String:
      case RawNode::Kind::Bytes: text = n->text; break;
      case RawNode::Kind::Int: {
        bool small = n->integer >= 0 && n->integer < 32;
        auto bit = small ? uint32_t{1} << n->integer : 0;
        if (small && (spec.small_int_known & bit)) {
          out.assign(spec.small_int_texts[static_cast<size_t>(n->integer)]);
          return true;
        }
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n->integer);
        text = std::string_view(buf, static_cast<size_t>(end - buf));
        if (small) {
          std::string mapped(text);
          if (auto it = spec.map.find(mapped); it != spec.map.end()) mapped = it->second;
          if (extra) {
            if (auto it = extra->find(mapped); it != extra->end()) mapped = it->second;
          }
          spec.small_int_texts.resize(32);
          spec.small_int_texts[static_cast<size_t>(n->integer)] = mapped;
          spec.small_int_known |= bit;
          out = std::move(mapped);
          return true;
        }
        break;
      }
      case RawNode::Kind::Bool: text = n->boolean ? "true" : "false"; break;
      case RawNode::Kind::Double: {
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n->number);
        text = std::string_view(buf, static_cast<size_t>(end - buf));
        break;
      }
      default: return false;
    }
  }
  if (!spec.map.empty()) {
    if (auto it = spec.map.find(text); it != spec.map.end()) text = it->second;
  }
  if (extra && !extra->empty()) {
    if (auto it = extra->find(text); it != extra->end()) text = it->second;
  }
  out.assign(text);
  return true;
}

// Positive-subtraction flag: 't'/'1'/true/1.0 are positive, 'f'/'0'/false/0 negative.
[[gnu::always_inline]] inline std::optional<bool> read_flag(const ValueSpec& spec, const Nodes& nodes,
                                                            const RawNode* at, int32_t position = kByPath) {
  if (spec.empty()) return std::nullopt;
  std::optional<bool> flag;
  if (spec.constant) {
    flag = !(*spec.constant == "f" || *spec.constant == "0" || *spec.constant == "false");
  } else {
    const RawNode* n = first_value(spec, nodes, at, position);
    if (n == nullptr) return std::nullopt;
    switch (n->kind) {
      case RawNode::Kind::Bool: flag = n->boolean; break;
      case RawNode::Kind::Int: flag = n->integer != 0; break;
      case RawNode::Kind::Double: flag = n->number != 0; break;
      case RawNode::Kind::String: {
        std::string_view s = n->text;
        if (s.size() == 1) {  // ZTF's isdiffpos: one letter, compared without a call
          switch (s[0]) {
            case 't': case '1': case 'T': case '+': flag = true; break;
            case 'f': case '0': case 'F': case '-': flag = false; break;
            default: break;
          }
        } else if (s == "true") {
          flag = true;
        } else if (s == "false") {
          flag = false;
        }
        break;
      }
      default: break;
    }
  }
  if (flag && spec.negate) flag = !*flag;
  return flag;
}

// Fills the missing half of (mag, flux) from the other: AB magnitudes, fluxes in nJy; the
// magnitude of a negative subtraction is that of |flux|, as ZTF reports magpsf.
void complete_photometry(double& mag, double& mag_err, double& flux, double& flux_err, bool& positive,
                         bool flag_known) {
  if (!flag_known && std::isfinite(flux)) positive = flux >= 0;
  if (!std::isfinite(flux) && std::isfinite(mag)) {
    flux = std::pow(10.0, (kAbMagOfOneNanoJansky - mag) / 2.5) * (positive ? 1 : -1);
    if (std::isfinite(mag_err)) flux_err = std::abs(flux) * mag_err / kMagErrPerRelativeFlux;
  } else if (!std::isfinite(mag) && std::isfinite(flux) && flux != 0) {
    mag = kAbMagOfOneNanoJansky - 2.5 * std::log10(std::abs(flux));
    if (std::isfinite(flux_err)) mag_err = kMagErrPerRelativeFlux * flux_err / std::abs(flux);
  }
}

std::string cutout_format(std::string_view bytes) {
  if (bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f && static_cast<uint8_t>(bytes[1]) == 0x8b)
    return "fits.gz";
  if (bytes.substr(0, 6) == "SIMPLE") return "fits";
  if (bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xff && static_cast<uint8_t>(bytes[1]) == 0xd8)
    return "jpeg";
  return "bytes";
}

[[noreturn]] void mapping_error(std::string_view place, const std::string& profile, const std::string& message) {
  fail(std::string(place), "profile " + profile + ": " + message);
}

}  // namespace

std::string ValueSpec::describe() const {
  if (constant) return "'" + *constant + "'";
  if (paths.size() == 1) return paths[0].text();
  std::string out = "[";
  for (size_t i = 0; i < paths.size(); ++i) out += (i ? ", " : "") + paths[i].text();
  return out + "]";
}

namespace {

// Whether `selector` takes `element` (a list element), inlined into the light-curve loop;
// `positions`, when given, were found for the element's shape (ElementFields).
[[gnu::always_inline]] inline bool selector_accepts(const Selector& selector, const RawNode* base, const RawNode* element,
                                                    uint64_t epoch, const ElementFields* positions) {
  const auto& [present, absent, equals] = selector;
  auto is_null = [](const RawNode* n) { return n == nullptr || n->kind == RawNode::Kind::Null; };
  const RecordNodes nodes{base, epoch, nullptr, nullptr};
  auto position = [&](const std::vector<int32_t> ElementFields::*list, size_t i) {
    return positions ? (positions->*list)[i] : kByPath;
  };
  for (size_t i = 0; i < present.size(); ++i)
    if (is_null(node_at(present[i], nodes, element, position(&ElementFields::present, i)))) return false;
  for (size_t i = 0; i < absent.size(); ++i)
    if (!is_null(node_at(absent[i], nodes, element, position(&ElementFields::absent, i)))) return false;
  for (size_t i = 0; i < equals.size(); ++i) {
    const auto& [path, values] = equals[i];
    const RawNode* v = node_at(path, nodes, element, position(&ElementFields::equals, i));
    if (v == nullptr) return false;
    char buf[24];
    std::string_view text;
    if (is_text(v)) {
      text = v->text;
    } else if (v->kind == RawNode::Kind::Int || v->kind == RawNode::Kind::Bool) {
      int64_t number = v->kind == RawNode::Kind::Int ? v->integer : (v->boolean ? 1 : 0);
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, number);
      text = std::string_view(buf, static_cast<size_t>(end - buf));
    } else {
      return false;
    }
    bool any = false;
    for (const std::string& value : values) any = any || value == text;
    if (!any) return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<Profile> Profile::parse_text(const std::string& text, const std::string& origin) {
  YAML::Node document;
  try {
    document = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail(place_of(origin, e.mark), std::string("invalid YAML: ") + e.msg);
  }
  return parse(document, origin);
}

std::unique_ptr<Profile> Profile::parse(const YAML::Node& doc, const std::string& origin) {
  Parser p{origin};
  std::unique_ptr<Profile> profile(new Profile());
  Profile& out = *profile;
  out.origin_ = origin;
  p.keys(doc, {"profile", "survey", "description", "match", "schema_version", "bands", "time", "alert", "history", "cutouts",
                "fields"},
         "a profile");
  for (const char* required : {"profile", "survey", "match", "time", "alert"})
    if (!doc[required]) fail(p.at(doc), std::string("profile needs '") + required + "'");
  out.name_ = p.scalar(doc["profile"], "profile");
  out.survey_ = p.scalar(doc["survey"], "survey");
  if (YAML::Node fields = doc["fields"]) {
    if (!fields.IsSequence()) fail(p.at(fields), "fields: a list of raw field paths");
    for (const YAML::Node& f : fields) out.fields_.push_back(p.scalar(f, "fields"));
  }

  std::vector<YAML::Node> rules;
  if (doc["match"].IsMap()) {
    rules.push_back(doc["match"]);
  } else if (doc["match"].IsSequence()) {
    for (const auto& rule : doc["match"]) rules.push_back(rule);
  }
  if (rules.empty()) fail(p.at(doc["match"]), "match must be a rule or a list of rules");
  for (const YAML::Node& rule_node : rules) {
    p.keys(rule_node, {"schema", "has_fields", "lacks_fields", "nullable_fields", "non_null_fields", "version_field", "versions"},
           "a match rule");
    MatchRule rule;
    if (rule_node["schema"]) rule.schemas = p.scalars(rule_node["schema"], "schema");
    if (rule_node["has_fields"])
      for (const std::string& f : p.scalars(rule_node["has_fields"], "has_fields")) rule.has_fields.emplace_back(f);
    if (rule_node["lacks_fields"])
      for (const std::string& f : p.scalars(rule_node["lacks_fields"], "lacks_fields")) rule.lacks_fields.emplace_back(f);
    for (auto [key, list] : {std::pair{"nullable_fields", &rule.nullable_fields}, std::pair{"non_null_fields", &rule.non_null_fields}}) {
      if (!rule_node[key]) continue;
      for (const std::string& f : p.scalars(rule_node[key], key)) {
        auto dot = f.rfind('.');
        list->push_back({FieldPath(dot == std::string::npos ? "" : f.substr(0, dot)),
                         dot == std::string::npos ? f : f.substr(dot + 1), f});
      }
    }
    if (rule_node["version_field"]) rule.version_field = FieldPath(p.scalar(rule_node["version_field"], "version_field"));
    if (rule_node["versions"]) rule.versions = p.scalars(rule_node["versions"], "versions");
    if (rule.version_field.empty() != rule.versions.empty())
      fail(p.at(rule_node), "version_field and versions go together");
    if (rule.schemas.empty() && rule.has_fields.empty())
      fail(p.at(rule_node), "a match rule needs 'schema' or 'has_fields'");
    out.match_.push_back(std::move(rule));
  }

  if (YAML::Node v = doc["schema_version"]) {
    if (v.IsMap()) {
      p.keys(v, {"path", "default"}, "schema_version");
      out.schema_version_field_ = FieldPath(p.scalar(v["path"], "schema_version path"));
      if (v["default"]) out.schema_version_ = p.scalar(v["default"], "schema_version default");
    } else {
      out.schema_version_ = p.scalar(v, "schema_version");
    }
  }
  if (doc["bands"]) out.bands_ = parse_map(p, doc["bands"], "bands");

  YAML::Node t = doc["time"];
  p.keys(t, kTimeKeys, "time");
  if (!t["path"] || !t["format"] || !t["scale"])
    fail(p.at(t), "time needs path, format (jd|mjd) and scale (utc|tai|tt|gps)");
  parse_time_keys(p, t, out.time_);
  if (out.time_.exposure_start && out.time_.exposure_time.empty() && out.time_.default_exposure_s == 0)
    fail(p.at(t), "reference: start needs exposure_time or default_exposure_s to reach the exposure's middle");

  YAML::Node a = doc["alert"];
  p.keys(a, {"alert_id", "alert_id_kind", "alert_key", "object_id", "ra", "dec", "band", "mag", "mag_err", "flux", "flux_err",
             "is_diff_pos", "real_bogus", "limit_mag"},
         "alert");
  if (a["alert_id"]) {
    // Every profile says how its survey's id is read: a wrong guess loses alerts (ATLAS ids
    // such as 02a59543o0040o_006230 once parsed as the integer 2).
    if (!a["alert_id_kind"]) fail(p.at(a), "alert_id needs alert_id_kind: integer or text");
    std::string kind = p.scalar(a["alert_id_kind"], "alert_id_kind");
    if (kind == "integer") out.alert_id_kind_ = AlertIdKind::integer;
    else if (kind == "text") out.alert_id_kind_ = AlertIdKind::text;
    else fail(p.at(a["alert_id_kind"]), "alert_id_kind must be integer or text, not '" + kind + "'");
  }
  for (const char* required : {"object_id", "ra", "dec"})
    if (!a[required]) fail(p.at(a), std::string("alert needs '") + required + "'");
  auto opt = [&](const char* key, ValueSpec& target) {
    if (a[key]) target = parse_value(p, a[key], key);
  };
  opt("alert_id", out.alert_id_);
  opt("object_id", out.object_id_);
  opt("ra", out.ra_);
  opt("dec", out.dec_);
  opt("band", out.band_);
  opt("mag", out.mag_);
  opt("mag_err", out.mag_err_);
  opt("flux", out.flux_);
  opt("flux_err", out.flux_err_);
  opt("is_diff_pos", out.is_diff_pos_);
  opt("real_bogus", out.real_bogus_);
  opt("limit_mag", out.limit_mag_);
  opt("alert_key", out.alert_key_);
  if (a["alert_key"] && !a["alert_id"]) fail(p.at(a["alert_key"]), "alert_key goes with alert_id");

  if (YAML::Node h = doc["history"]) {
    if (!h.IsSequence()) fail(p.at(h), "history must be a list of entries");
    for (const auto& e : h) {
      p.keys(e, {"list", "kind", "where", "time", "band", "mag", "mag_err", "flux", "flux_err", "limit_mag",
                 "is_diff_pos"},
             "a history entry");
      if (!e["list"] || !e["kind"] || !e["time"]) fail(p.at(e), "a history entry needs list, kind and time");
      HistorySpec spec;
      spec.list = FieldPath(p.scalar(e["list"], "list"));
      spec.kind = parse_kind(p, e["kind"]);
      if (YAML::Node w = e["where"]) {
        p.keys(w, {"present", "absent", "equals"}, "where");
        if (w["present"])
          for (const std::string& f : p.scalars(w["present"], "present")) spec.selector.present.emplace_back(f);
        if (w["absent"])
          for (const std::string& f : p.scalars(w["absent"], "absent")) spec.selector.absent.emplace_back(f);
        if (w["equals"]) {
          if (!w["equals"].IsMap()) fail(p.at(w["equals"]), "equals must map paths to values");
          for (const auto& entry : w["equals"])
            spec.selector.equals.emplace_back(FieldPath(p.scalar(entry.first, "equals")),
                                              p.scalars(entry.second, "equals"));
        }
      }
      spec.time = out.time_;  // format, scale and reference inherited; the path is the element's
      spec.time.exposure_time = {};
      if (e["time"].IsMap()) {
        p.keys(e["time"], kTimeKeys, "time");
        if (!e["time"]["path"]) fail(p.at(e["time"]), "time needs a path");
        parse_time_keys(p, e["time"], spec.time);
      } else {
        spec.time.value = p.value(e["time"], "time");
      }
      auto hopt = [&](const char* key, ValueSpec& target) {
        if (e[key]) target = parse_value(p, e[key], key);
      };
      hopt("band", spec.band);
      hopt("mag", spec.mag);
      hopt("mag_err", spec.mag_err);
      hopt("flux", spec.flux);
      hopt("flux_err", spec.flux_err);
      hopt("limit_mag", spec.limit_mag);
      hopt("is_diff_pos", spec.is_diff_pos);
      out.history_.push_back(std::move(spec));
    }
  }

  if (YAML::Node c = doc["cutouts"]) {
    if (!c.IsSequence()) fail(p.at(c), "cutouts must be a list");
    for (const auto& e : c) {
      p.keys(e, {"kind", "path", "format"}, "a cutout");
      if (!e["kind"] || !e["path"]) fail(p.at(e), "a cutout needs kind and path");
      CutoutSpec spec;
      spec.kind = parse_cutout_kind(p, e["kind"]);
      spec.bytes = p.value(e["path"], "cutout path");
      if (e["format"]) spec.format = p.scalar(e["format"], "format");
      out.cutouts_.push_back(std::move(spec));
    }
  }
  return profile;
}

bool Profile::shape_matches(RawView node) const { return accepts(node, false, nullptr); }

bool Profile::names_schema_of(RawView node) const {
  if (!node.valid() || node.kind() != RawNode::Kind::Record || !node.node().shape) return false;
  for (const MatchRule& rule : match_)
    for (const std::string& s : rule.schemas)
      if (s == node.node().shape->name) return true;
  return false;
}
bool Profile::version_matches(RawView node) const { return accepts(node, true, nullptr); }
bool Profile::shape_matches(const RawRecord& record) const { return shape_matches(record.root()); }
bool Profile::version_matches(const RawRecord& record) const { return version_matches(record.root()); }

std::string Profile::refusal(RawView node) const {
  std::string why;
  accepts(node, true, &why);
  return why;
}

bool Profile::accepts(RawView node, bool check_version, std::string* why) const {
  if (!node.valid() || node.kind() != RawNode::Kind::Record || !node.node().shape) {
    if (why) *why = "not a record";
    return false;
  }
  const std::string& schema = node.node().shape->name;
  auto refuse = [&](const std::string& reason) {
    if (why) *why += (why->empty() ? "" : "; ") + reason;
  };
  for (const MatchRule& rule : match_) {
    bool name_ok = rule.schemas.empty();
    for (const std::string& s : rule.schemas) name_ok = name_ok || s == schema;
    if (!name_ok) {
      if (why) {
        std::string names;
        for (const std::string& s : rule.schemas) names += (names.empty() ? "" : " or ") + s;
        refuse("writer schema '" + schema + "' is not " + names);
      }
      continue;
    }
    const FieldPath* missing = nullptr;
    for (const FieldPath& f : rule.has_fields)
      if (!missing && !f.present(node)) missing = &f;
    if (missing) {
      refuse("no field " + missing->text());
      continue;
    }
    const FieldPath* extra = nullptr;
    for (const FieldPath& f : rule.lacks_fields)
      if (!extra && f.present(node)) extra = &f;
    if (extra) {
      refuse("has field " + extra->text());
      continue;
    }
    // Whether the writer type of a field admits null; nothing when unknown (no such record or
    // field, or a writer without types).
    auto nullable = [&](const MatchRule::Nullability& n) -> std::optional<bool> {
      RawView record = n.record.empty() ? node : n.record.resolve(node);
      if (!record.valid() || record.kind() != RawNode::Kind::Record || !record.node().shape) return std::nullopt;
      const RecordShape& shape = *record.node().shape;
      std::optional<uint32_t> position = shape.find(n.field);
      if (!position || *position >= shape.nullable.size()) return std::nullopt;
      return static_cast<bool>(shape.nullable[*position]);
    };
    std::string nullability;
    for (const MatchRule::Nullability& n : rule.nullable_fields)
      if (nullability.empty() && nullable(n) != true)
        nullability = "field " + n.text + (nullable(n) ? " is not nullable in the writer schema" : " has no known writer type");
    for (const MatchRule::Nullability& n : rule.non_null_fields)
      if (nullability.empty() && nullable(n) != false)
        nullability = "field " + n.text + (nullable(n) ? " is nullable in the writer schema" : " has no known writer type");
    if (!nullability.empty()) {
      refuse(nullability);
      continue;
    }
    if (!check_version || rule.version_field.empty()) return true;
    auto text = rule.version_field.resolve(node).as_string();
    if (!text) {
      refuse("no " + rule.version_field.text() + " text");
      continue;
    }
    if (!rule.last_version_known || rule.last_version != *text) {
      rule.last_version.assign(*text);
      rule.last_version_matches = false;
      for (const std::string& pattern : rule.versions)
        rule.last_version_matches =
            rule.last_version_matches || fnmatch(pattern.c_str(), rule.last_version.c_str(), 0) == 0;
      rule.last_version_known = true;
    }
    if (rule.last_version_matches) return true;
    if (why) {
      std::string patterns;
      for (const std::string& v : rule.versions) patterns += (patterns.empty() ? "" : ", ") + v;
      refuse(rule.version_field.text() + " '" + std::string(*text) + "' is not " + patterns);
    }
  }
  return false;
}

// `mjd_utc` within [1960, ERFA's calendar's end] (convert_time bounds it): its day casts.
double Profile::tai_minus_utc_days(double mjd_utc, std::string_view place) const {
  auto day = static_cast<int64_t>(std::floor(mjd_utc));
  if (day >= steady_from_ && day <= steady_to_) return steady_offset_;
  double days;
  if (auto it = offset_days_.find(day); it != offset_days_.end()) {
    days = it->second;
  } else {
    // A day whose next day has the same offset has one offset throughout; a leap-second day
    // goes through ERFA every time (NaN here).
    double offset = time::tai_minus_utc_seconds(static_cast<double>(day), place);
    double next = time::tai_minus_utc_seconds(static_cast<double>(day + 1), place);
    days = offset == next ? offset / time::kSecondsPerDay : NAN;
    if (offset_days_.size() > 100000) offset_days_.clear();  // bounded: a hostile stream's dates
    offset_days_.emplace(day, days);
  }
  // Since 1972 TAI-UTC only grows, by whole leap seconds: two days with one offset have it on
  // every day between them (a leap second between would have raised the later one). A light
  // curve then costs a compare per point instead of a hash lookup.
  constexpr int64_t kMjd1972 = 41317;
  if (std::isfinite(days) && day >= kMjd1972) {
    if (days == steady_offset_ && steady_from_ <= steady_to_) {
      steady_from_ = std::min(steady_from_, day);
      steady_to_ = std::max(steady_to_, day);
    } else {
      steady_from_ = steady_to_ = day;
      steady_offset_ = days;
    }
  }
  return days;
}

// Inlined into the light-curve loop (once per point).
[[gnu::always_inline]] inline double Profile::convert_time(const TimeSpec& spec, const RecordNodes& nodes,
                                                           const RawNode* at, std::string_view place, bool required,
                                                           int32_t value_position, int32_t exposure_position,
                                                           uint32_t plain) const {
  double value = read_number(spec.value, nodes, at, value_position, kByPath, plain & ElementFields::time_plain);
  if (!std::isfinite(value)) {
    if (required) mapping_error(place, name_, "time (" + spec.value.describe() + ") is missing or not finite");
    return NAN;
  }
  double mjd = spec.is_jd ? time::jd_to_mjd(value) : value;
  if (spec.exposure_start) {
    // One rule for the alert's own point and its history's: an exposure time that is missing,
    // null or not positive (three real ZTF alerts carry exptime 0) is the profile's default.
    double exposure = spec.exposure_time.empty()
                          ? NAN
                          : read_number(spec.exposure_time, nodes, at, exposure_position, kByPath,
                                        plain & ElementFields::exposure_plain);
    if (!(exposure > 0)) exposure = spec.default_exposure_s;
    mjd += exposure / 2 / time::kSecondsPerDay;
  }
  if (mjd < 36934) {  // 1960: no UTC before
    if (required) mapping_error(place, name_, "time (" + spec.value.describe() + ") " + std::to_string(value) + " is before 1960");
    return NAN;
  }
  // ERFA's calendar ends at JD 1e9 (eraJd2cal). Bounded here, once, so that the day's cast to an
  // integer below and in tai_minus_utc_days is defined (a hostile jd 1e300 would not be), and an
  // exposure that made the time infinite is caught too.
  constexpr double kLastMjd = 1e9 - 2400000.5;
  if (!(mjd <= kLastMjd)) {
    if (required) {
      char text[32];
      auto end = std::to_chars(text, text + sizeof text, value).ptr;
      mapping_error(place, name_,
                    "time (" + spec.value.describe() + ") " + std::string(text, end) + " is past ERFA's calendar (JD 1e9)");
    }
    return NAN;
  }
  if (spec.scale == time::Scale::utc) {
    // The usual case first, without a call: a day of the steady span (tai_minus_utc_days).
    const auto day = static_cast<int64_t>(std::floor(mjd));
    double offset = day >= steady_from_ && day <= steady_to_ ? steady_offset_ : tai_minus_utc_days(mjd, place);
    if (std::isfinite(offset)) return mjd + offset;
  }
  return time::to_mjd_tai(mjd, spec.scale, false, place);
}

void Profile::map_history(const HistorySpec& spec, const RecordNodes& nodes, AlertCore& core, std::string_view place) const {
  const RawNode* list = nodes.at(spec.list, nodes.root);
  if (list == nullptr || list->kind != RawNode::Kind::List) return;
  const RawNode* element = nodes.base + list->first_child;
  // The fields' positions in the first record element's shape (elements of one schema share it;
  // checked by name once per epoch, as every path is): kept from the record before when its
  // first element had the same shape in the same epoch (the same shape, see FieldPath).
  ElementFields& fields = spec.fields;
  const RawNode* first = element;
  while (first != element + list->child_count && (first->kind != RawNode::Kind::Record || first->shape == nullptr))
    ++first;
  const bool known = first != element + list->child_count && fields.shape == first->shape &&
                     fields.epoch == nodes.epoch && nodes.epoch != 0;
  if (!known) fields.shape = nullptr;
  for (uint32_t i = static_cast<uint32_t>(first - element); !known && i < list->child_count; ++i) {
    if (element[i].kind != RawNode::Kind::Record || element[i].shape == nullptr) continue;
    const RecordShape* shape = element[i].shape;
    const uint64_t epoch = nodes.epoch;
    auto positions = [&](const std::vector<FieldPath>& paths, std::vector<int32_t>& out) {
      out.clear();
      for (const FieldPath& path : paths) out.push_back(path.position_in(shape, epoch));
    };
    positions(spec.selector.present, fields.present);
    positions(spec.selector.absent, fields.absent);
    fields.equals.clear();
    for (const auto& entry : spec.selector.equals) fields.equals.push_back(entry.first.position_in(shape, epoch));
    fields.time = value_position(spec.time.value, shape, epoch);
    fields.exposure_time = value_position(spec.time.exposure_time, shape, epoch);
    fields.band = value_position(spec.band, shape, epoch);
    fields.mag = value_position(spec.mag, shape, epoch);
    fields.mag_err = value_position(spec.mag_err, shape, epoch);
    fields.flux = value_position(spec.flux, shape, epoch);
    fields.flux_zero_point = spec.flux.zero_point.position_in(shape, epoch);
    fields.flux_err = value_position(spec.flux_err, shape, epoch);
    fields.flux_err_zero_point = spec.flux_err.zero_point.position_in(shape, epoch);
    fields.limit_mag = value_position(spec.limit_mag, shape, epoch);
    fields.is_diff_pos = value_position(spec.is_diff_pos, shape, epoch);
    fields.plain = 0;
    auto plain = [&](const ValueSpec& value, int32_t position, uint32_t bit) {
      if (position != kByPath && plain_number(value)) fields.plain |= bit;
    };
    plain(spec.time.value, fields.time, ElementFields::time_plain);
    plain(spec.time.exposure_time, fields.exposure_time, ElementFields::exposure_plain);
    plain(spec.mag, fields.mag, ElementFields::mag_plain);
    plain(spec.mag_err, fields.mag_err, ElementFields::mag_err_plain);
    plain(spec.flux, fields.flux, ElementFields::flux_plain);
    plain(spec.flux_err, fields.flux_err, ElementFields::flux_err_plain);
    plain(spec.limit_mag, fields.limit_mag, ElementFields::limit_mag_plain);
    fields.shape = shape;
    fields.epoch = epoch;
    break;
  }
  static const ElementFields kByPaths = [] {
    ElementFields f;
    f.time = f.exposure_time = f.band = f.mag = f.mag_err = f.flux = f.flux_zero_point = f.flux_err =
        f.flux_err_zero_point = f.limit_mag = f.is_diff_pos = kByPath;
    return f;
  }();
  for (uint32_t i = 0; i < list->child_count; ++i, ++element) {
    if (element->kind == RawNode::Kind::Null) continue;
    const bool by_position =
        element->kind == RawNode::Kind::Record && fields.shape != nullptr && element->shape == fields.shape;
    const ElementFields& at = by_position ? fields : kByPaths;
    if (!selector_accepts(spec.selector, nodes.base, element, nodes.epoch, by_position ? &fields : nullptr)) continue;
    double mjd_tai = convert_time(spec.time, nodes, element, place, false, at.time, at.exposure_time, at.plain);
    if (!std::isfinite(mjd_tai)) continue;  // a light-curve point without a time says nothing
    Photometry& point = core.history.emplace_back();
    point.kind = spec.kind;
    point.mjd_tai = mjd_tai;
    read_text(spec.band, nodes, element, point.band, &bands_, at.band);
    point.mag = read_number(spec.mag, nodes, element, at.mag, kByPath, at.plain & ElementFields::mag_plain);
    point.mag_err =
        read_number(spec.mag_err, nodes, element, at.mag_err, kByPath, at.plain & ElementFields::mag_err_plain);
    point.flux = read_number(spec.flux, nodes, element, at.flux, at.flux_zero_point, at.plain & ElementFields::flux_plain);
    point.flux_err = read_number(spec.flux_err, nodes, element, at.flux_err, at.flux_err_zero_point,
                                 at.plain & ElementFields::flux_err_plain);
    point.limit_mag =
        read_number(spec.limit_mag, nodes, element, at.limit_mag, kByPath, at.plain & ElementFields::limit_mag_plain);
    std::optional<bool> flag = read_flag(spec.is_diff_pos, nodes, element, at.is_diff_pos);
    point.is_diff_pos = flag.value_or(true);
    if (spec.kind != Photometry::Kind::upper_limit)
      complete_photometry(point.mag, point.mag_err, point.flux, point.flux_err, point.is_diff_pos, flag.has_value());
  }
}

std::vector<std::string> Profile::cutout_fields() const {
  std::vector<std::string> fields;
  for (const CutoutSpec& spec : cutouts_)
    for (const FieldPath& path : spec.bytes.paths) {
      const std::string& text = path.text();
      fields.push_back(text.substr(0, text.find('.')));
    }
  return fields;
}

std::shared_ptr<const AlertCore> Profile::map(RawRecord&& raw, std::shared_ptr<const void> buffers,
                                              std::string_view place, uint32_t root,
                                              std::shared_ptr<const UnreadCutouts> cutouts_not_read,
                                              size_t kept_bytes,
                                              const std::shared_ptr<const void>& plan_that_decoded_raw) const {
  // A new epoch unless the record's shapes are those held since the last one (see profile.h).
  if (plan_that_decoded_raw == nullptr || plan_that_decoded_raw != shapes_held_) {
    ++epoch_;
    shapes_held_ = plan_that_decoded_raw;
  }
  auto core = std::make_shared<AlertCore>();
  core->cutouts_not_read = std::move(cutouts_not_read);
  core->kept_bytes = kept_bytes;
  core->raw = std::move(raw);
  core->buffers = std::move(buffers);
  try {
    map_values(*core, place, root, epoch_);
  } catch (const Fault&) {
    raw = std::move(core->raw);
    throw;
  }
  return core;
}

// The profile's declared id kind decides: integers stay signed and whole (a text that is not one
// is an error, never a partial parse), texts keep their bytes and get the documented hash.
void Profile::map_alert_id(AlertCore& core, const RecordNodes& nodes, std::string_view place) const {
  map_alert_id_value(core, nodes, place);
  // A format that carries both (ebs.alert 1.1): the key as written, when there is one.
  std::string key;
  if (!alert_key_.empty() && read_text(alert_key_, nodes, nodes.root, key) && !key.empty()) core.alert_key = std::move(key);
}

void Profile::map_alert_id_value(AlertCore& core, const RecordNodes& nodes, std::string_view place) const {
  const RawNode* v = alert_id_.paths.empty() ? nullptr : first_value(alert_id_, nodes, nodes.root);
  std::string_view text;
  if (alert_id_.constant) {
    text = *alert_id_.constant;
  } else if (v == nullptr) {
    mapping_error(place, name_, "alert_id (" + alert_id_.describe() + ") is missing");
  } else if (v->kind == RawNode::Kind::Int) {
    core.alert_id = v->integer;
    core.alert_key = std::to_string(v->integer);
    if (alert_id_kind_ == AlertIdKind::text) core.alert_id = alert_id_of_text(core.alert_key);
    return;
  } else if (is_text(v)) {
    text = v->text;
  } else {
    mapping_error(place, name_, "alert_id (" + alert_id_.describe() + ") is neither an integer nor a text");
  }
  core.alert_key.assign(text);
  if (alert_id_kind_ == AlertIdKind::text) {
    core.alert_id = alert_id_of_text(text);
  } else if (auto id = parse_alert_id(text)) {
    core.alert_id = *id;
  } else {
    mapping_error(place, name_, "alert_id (" + alert_id_.describe() + ") '" + std::string(text) +
                                    "' is not a 64-bit integer (a text id needs alert_id_kind: text)");
  }
}

void Profile::map_values(AlertCore& out, std::string_view place, uint32_t root_node, uint64_t epoch) const {
  AlertCore* core = &out;
  if (core->raw.empty() || root_node >= core->raw.nodes().size()) mapping_error(place, name_, "the record is empty");
  const RecordNodes nodes{core->raw.nodes().data(), epoch, core->raw.nodes().data() + root_node, &zero_point_factor_};
  const RawNode* root = nodes.root;
  core->survey = survey_;

  if (!schema_version_field_.empty()) {
    const RawNode* v = nodes.at(schema_version_field_, root);
    if (v && is_text(v)) core->schema_version.assign(v->text);
    else core->schema_version = schema_version_;  // the field's `default`, when the schema lacks it
  } else {
    core->schema_version = schema_version_;
  }
  if (!alert_id_.empty()) map_alert_id(*core, nodes, place);
  if (!read_text(object_id_, nodes, root, core->object_id) || core->object_id.empty())
    mapping_error(place, name_, "object_id (" + object_id_.describe() + ") is missing");
  core->ra = read_number(ra_, nodes, root);
  core->dec = read_number(dec_, nodes, root);
  if (!std::isfinite(core->ra) || core->ra < 0 || core->ra >= 360)
    mapping_error(place, name_, "ra (" + ra_.describe() + ") is " + std::to_string(core->ra) + ", not in [0, 360)");
  if (!std::isfinite(core->dec) || core->dec < -90 || core->dec > 90)
    mapping_error(place, name_, "dec (" + dec_.describe() + ") is " + std::to_string(core->dec) + ", not in [-90, 90]");
  core->mjd_tai = convert_time(time_, nodes, root, place, true);
  read_text(band_, nodes, root, core->band, &bands_);
  core->mag = read_number(mag_, nodes, root);
  core->mag_err = read_number(mag_err_, nodes, root);
  core->flux = read_number(flux_, nodes, root);
  core->flux_err = read_number(flux_err_, nodes, root);
  std::optional<bool> flag = read_flag(is_diff_pos_, nodes, root);
  core->is_diff_pos = flag.value_or(true);
  complete_photometry(core->mag, core->mag_err, core->flux, core->flux_err, core->is_diff_pos, flag.has_value());
  core->real_bogus = read_number(real_bogus_, nodes, root);
  core->limit_mag = read_number(limit_mag_, nodes, root);

  // One allocation for the light curve: at most every element of every listed history.
  size_t points = 0;
  for (const HistorySpec& spec : history_) {
    const RawNode* list = nodes.at(spec.list, root);
    if (list && list->kind == RawNode::Kind::List) points += list->child_count;
  }
  core->history.reserve(points);
  for (const HistorySpec& spec : history_) map_history(spec, nodes, *core, place);
  remove_duplicate_points(*core);  // the one duplicate rule (engine/model/light_curve.h)
  count_history_detections(*core);

  core->cutouts.reserve(cutouts_.size());
  for (const CutoutSpec& spec : cutouts_) {
    const RawNode* v = spec.bytes.paths.empty() ? nullptr : first_value(spec.bytes, nodes, root);
    if (v == nullptr || !is_text(v) || v->text.empty()) continue;
    Cutout& cutout = core->cutouts.emplace_back();
    cutout.kind = spec.kind;
    cutout.bytes = v->text;
    cutout.format = spec.format == "auto" ? cutout_format(v->text) : spec.format;
  }
}

}  // namespace ebs::profiles
