#include "actors/common/profiles/profile_set.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "engine/util/fault.h"

namespace ebs::profiles {

ProfileSet ProfileSet::builtin() {
  ProfileSet set;
  for (const auto& [file, text] : builtin_profile_texts())
    set.add(Profile::parse_text(std::string(text), "profiles/" + std::string(file)));
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

std::vector<std::string> ProfileSet::names() const {
  std::vector<std::string> out;
  for (const auto& p : profiles_) out.push_back(p->name());
  return out;
}

void ProfileSet::force(std::string_view name, std::string_view place) {
  forced_ = find(name);
  if (!forced_) {
    std::string known;
    for (const std::string& n : names()) known += (known.empty() ? "" : ", ") + n;
    fail(std::string(place), "no profile named '" + std::string(name) + "' (known: " + known + ")");
  }
}

const Profile& ProfileSet::select(const RawRecord& record, std::string_view place) {
  if (forced_) return *forced_;
  RawView root = record.root();
  const RecordShape* shape =
      root.valid() && root.kind() == RawNode::Kind::Record ? root.node().shape : nullptr;
  if (!shape) fail(std::string(place), "the record is not an Avro record: no profile applies");
  auto it = by_shape_.find(shape);
  if (it == by_shape_.end() || it->second.name != shape->name || it->second.fields != shape->fields) {
    Candidates candidates{shape->name, shape->fields, {}};
    for (const auto& p : profiles_)
      if (p->shape_matches(record)) candidates.profiles.push_back(p.get());
    it = by_shape_.insert_or_assign(shape, std::move(candidates)).first;
  }
  for (const Profile* p : it->second.profiles)
    if (p->version_matches(record)) return *p;
  std::string version;
  for (const char* field : {"schemavsn", "lsst_schema_version"})
    if (auto v = root.field(field).as_string()) version = " version '" + std::string(*v) + "'";
  fail(std::string(place), "no profile for writer schema '" + shape->name + "'" + version +
                               (it->second.profiles.empty() ? "" : " (schema known, version not)") +
                               ": add one (docs/ingestion.md) or force one with `profile:`");
}

}  // namespace ebs::profiles
