#include "actors/common/profiles/profile_set.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "engine/util/fault.h"

namespace ebs::profiles {

ProfileSet ProfileSet::builtin() { return BuiltinProfiles().set(); }

ProfileSet BuiltinProfiles::set() const {
  std::call_once(parsed_, [this] {
    for (const auto& [file, text] : builtin_profile_texts())
      profiles_.push_back(Profile::parse_text(std::string(text), "profiles/" + std::string(file)));
  });
  ProfileSet set;
  for (const auto& profile : profiles_) set.add(std::make_unique<Profile>(*profile));
  return set;
}

void ProfileSet::add(std::unique_ptr<Profile> profile) {
  by_shape_.clear();
  for (auto& existing : profiles_) {
    if (existing->name() == profile->name()) {
      if (forced_ == existing.get()) forced_ = profile.get();
      existing = std::move(profile);
      return;
    }
  }
  profiles_.push_back(std::move(profile));
}

void ProfileSet::add_path(const std::filesystem::path& path) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      auto ext = entry.path().extension();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) fail(file.string(), "cannot read profile");
    std::stringstream text;
    text << in.rdbuf();
    add(Profile::parse_text(text.str(), file.string()));
  }
}

const Profile* ProfileSet::find(std::string_view name) const {
  for (const auto& p : profiles_)
    if (p->name() == name) return p.get();
  return nullptr;
}

std::vector<std::string> ProfileSet::cutout_fields() const {
  std::vector<std::string> fields;
  for (const auto& p : profiles_)
    if (!forced_ || p.get() == forced_)
      for (std::string& f : p->cutout_fields())
        if (std::find(fields.begin(), fields.end(), f) == fields.end()) fields.push_back(std::move(f));
  return fields;
}

std::vector<std::string> ProfileSet::names() const {
  std::vector<std::string> out;
  for (const auto& p : profiles_) out.push_back(p->name());
  return out;
}

void ProfileSet::force(std::string_view name, std::string_view place) {
  forced_ = find(name);
  if (!forced_) fail(std::string(place), "no profile named '" + std::string(name) + "' (known: " + known_names() + ")");
}

void ProfileSet::limit_to(const std::vector<std::string>& wanted, std::string_view place) {
  if (wanted.empty()) fail(std::string(place), "an empty list of profiles: name one or more, or leave `profile:` out");
  for (const std::string& name : wanted)
    if (!find(name)) fail(std::string(place), "no profile named '" + name + "' (known: " + known_names() + ")");
  forced_ = nullptr;
  by_shape_.clear();
  std::erase_if(profiles_, [&](const std::unique_ptr<Profile>& p) {
    return std::find(wanted.begin(), wanted.end(), p->name()) == wanted.end();
  });
}

std::string ProfileSet::known_names() const {
  std::string known;
  for (const std::string& n : names()) known += (known.empty() ? "" : ", ") + n;
  return known;
}

namespace {

// Alerts wrapped in other records (Spark's topLevelRecord with the alert in `value`, a broker's
// envelope) are looked for this deep, among at most this many record nodes: bounded work for any
// record.
constexpr size_t kMaxWrapperDepth = 4;
constexpr size_t kMaxNodesSearched = 64;

// " version 'x'" when the record says its version in a field of a known name.
std::string version_text(RawView node) {
  for (const char* field : {"schemavsn", "lsst_schema_version"})
    if (auto v = node.field(field).as_string()) return " version '" + std::string(*v) + "'";
  return "";
}

uint32_t node_index(const RawRecord& record, RawView view) {
  return static_cast<uint32_t>(&view.node() - record.nodes().data());
}

}  // namespace

std::vector<const Profile*> ProfileSet::candidates_at(RawView node) const {
  // Profiles that name the writer schema first, then those that take it by its fields (a Spark
  // re-serialization rule of rubin-v10 must not take a native lsst.v11_0.alert).
  std::vector<const Profile*> named, by_fields;
  for (const auto& p : profiles_)
    if (p->shape_matches(node)) (p->names_schema_of(node) ? named : by_fields).push_back(p.get());
  named.insert(named.end(), by_fields.begin(), by_fields.end());
  return named;
}

ProfileSet::Choice ProfileSet::choose(const RawRecord& record, std::string_view place) {
  RawView root = record.root();
  const RecordShape* shape =
      root.valid() && root.kind() == RawNode::Kind::Record ? root.node().shape : nullptr;
  if (forced_) return {forced_, 0};
  if (!shape) fail(std::string(place), "the record is not an Avro record: no profile applies");
  auto it = by_shape_.find(shape);
  if (it != by_shape_.end() && it->second.name == shape->name && it->second.fields == shape->fields) {
    // The same writer schema as before: the alert is where it was, unless a wrapper on the way
    // is null in this record (then search afresh).
    RawView node = root;
    for (uint32_t position : it->second.path) {
      if (node.kind() != RawNode::Kind::Record || position >= node.size()) break;
      node = node.child(position);
    }
    if (node.kind() == RawNode::Kind::Record && node.node().shape &&
        node.node().shape->name == it->second.inner_name) {
      for (const Profile* p : it->second.profiles)
        if (p->version_matches(node)) return {p, node_index(record, node)};
    }
  }
  // Breadth first from the root: the outermost record some profile's shape takes.
  struct Visit {
    RawView node;
    std::vector<uint32_t> path;
    std::string where;
  };
  std::vector<Visit> queue{{root, {}, "the record"}};
  std::vector<std::string> tried;
  for (size_t next = 0; next < queue.size() && next < kMaxNodesSearched; ++next) {
    Visit visit = queue[next];
    std::vector<const Profile*> profiles = candidates_at(visit.node);
    if (!profiles.empty()) {
      by_shape_.insert_or_assign(shape, Candidates{shape->name, shape->fields, visit.path,
                                                   visit.node.node().shape->name, profiles});
      for (const Profile* p : profiles)
        if (p->version_matches(visit.node)) return {p, node_index(record, visit.node)};
      std::string reasons;
      for (const Profile* p : profiles) reasons += (reasons.empty() ? "" : "; ") + p->name() + ": " + p->refusal(visit.node);
      fail(std::string(place), "no profile for writer schema '" + visit.node.node().shape->name + "'" +
                                   version_text(visit.node) + " (schema known, version not: " + reasons + ") in " +
                                   visit.where + ": add one (docs/ingestion.md) or force one with `profile:`");
    }
    std::string reasons;
    for (const auto& p : profiles_) reasons += "\n  " + p->name() + ": " + p->refusal(visit.node);
    tried.push_back(visit.where + " (writer schema '" + visit.node.node().shape->name + "'):" + reasons);
    if (visit.path.size() >= kMaxWrapperDepth) continue;
    for (size_t i = 0; i < visit.node.size(); ++i) {
      RawView child = visit.node.child(i);
      if (child.kind() != RawNode::Kind::Record || !child.node().shape) continue;
      Visit inner{child, visit.path, (visit.path.empty() ? "field " : visit.where + ".") +
                                         std::string(visit.node.field_name(i))};
      inner.path.push_back(static_cast<uint32_t>(i));
      queue.push_back(std::move(inner));
    }
  }
  std::string message = "no profile for writer schema '" + shape->name + "'" + version_text(root) + ": add one (docs/ingestion.md) or force one with `profile:`. Tried";
  for (const std::string& t : tried) message += "\n" + t;
  fail(std::string(place), message);
}

const Profile& ProfileSet::select(const RawRecord& record, std::string_view place) {
  return *choose(record, place).profile;
}

}  // namespace ebs::profiles
