// The profiles a source knows (the built-in ones from profiles/*.yaml plus any the workflow adds)
// and the choice of profile per record: automatic, by the writer schema's name, its fields and
// its version, or forced by name in the source config.
//
// The automatic choice is made once per writer schema (records of one schema share one root
// RecordShape); only a version check (e.g. ZTF `schemavsn`) is read per record.
//
// Not thread-safe: one ProfileSet per source instance.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/common/profiles/profile.h"

namespace ebs::profiles {

// The profiles shipped in the repository's profiles/ folder, compiled into the binary:
// {file name, YAML text}.
const std::vector<std::pair<std::string_view, std::string_view>>& builtin_profile_texts();

class ProfileSet {
 public:
  // The built-in profiles, parsed now (BuiltinProfiles parses them once for many sets).
  static ProfileSet builtin();

  // Adds a profile file, or every *.yaml/*.yml file of a directory. A profile with the name of
  // one already known replaces it (a workflow may override a built-in profile).
  void add_path(const std::filesystem::path& path);
  void add(std::unique_ptr<Profile> profile);

  const Profile* find(std::string_view name) const;
  std::vector<std::string> names() const;
  size_t size() const { return profiles_.size(); }

  // Forces one profile for every record (source config `profile: NAME`). Raises a Fault naming
  // `place` when no profile has that name.
  void force(std::string_view name, std::string_view place);
  // The source config's `profile:` as a list: keeps only the profiles named, and each record's
  // profile is chosen among them as usual (a source of ZTF alerts of both schema generations:
  // `[ztf-3, ztf-4]`; a list of one still refuses a record its profile does not take, where a
  // forced profile maps every record). Raises a Fault naming `place` for a name no profile has, or
  // for an empty list. A profile `add`ed afterwards joins the set again: limit last.
  void limit_to(const std::vector<std::string>& names, std::string_view place);

  // The profile for a decoded record and the node its alert is at: the record itself or, when
  // no profile takes that, a record nested in it (wrappers such as Spark's topLevelRecord, at any
  // depth up to 4). Raises a `failed` Fault at `place` when none matches, naming every profile
  // tried and why each refused.
  struct Choice {
    const Profile* profile;
    uint32_t root;
  };
  Choice choose(const RawRecord& record, std::string_view place);
  const Profile& select(const RawRecord& record, std::string_view place);

  // choose + map. `plan_that_decoded_record`: the DecodePlan that decoded `record`, kept beside
  // the records it decoded, or nullptr for a record decoded any other way (Profile::map's
  // contract: a wrong plan breaks it silently).
  std::shared_ptr<const AlertCore> map(RawRecord&& record, std::shared_ptr<const void> buffers,
                                       std::string_view place,
                                       std::shared_ptr<const UnreadCutouts> cutouts_not_read = nullptr,
                                       size_t kept_bytes = 0,
                                       const std::shared_ptr<const void>& plan_that_decoded_record = nullptr) {
    Choice choice = choose(record, place);
    return choice.profile->map(std::move(record), std::move(buffers), place, choice.root,
                               std::move(cutouts_not_read), kept_bytes, plan_that_decoded_record);
  }
  // The top-level raw fields any of the profiles reads cutouts from (Profile::cutout_fields).
  std::vector<std::string> cutout_fields() const;

 private:
  std::vector<const Profile*> candidates_at(RawView node) const;
  std::string known_names() const;  // "atlas, ebs-alert-1, ...", for refusals

  std::vector<std::unique_ptr<Profile>> profiles_;
  const Profile* forced_ = nullptr;
  // Root shape -> where the alert is (field positions from the root; empty: the root) and the
  // profiles whose schema rules take it, in load order. The entry keeps the shape's name and
  // fields to check a hit: a freed schema's address may be reused by another.
  struct Candidates {
    std::string name;
    std::vector<std::string> fields;
    std::vector<uint32_t> path;
    std::string inner_name;
    std::vector<const Profile*> profiles;
  };
  std::unordered_map<const RecordShape*, Candidates> by_shape_;
};

// The built-in profiles parsed once, on first use, and copied into each ProfileSet: parsing their
// YAML costs ~91 M instructions per set (callgrind), and a run made a set for validation, for the
// field check and for every source instance. A copy shares nothing mutable (a Profile's memos are
// copied empty). Thread-safe; one is shared by the source types registered together.
class BuiltinProfiles {
 public:
  ProfileSet set() const;

 private:
  mutable std::once_flag parsed_;
  mutable std::vector<std::unique_ptr<const Profile>> profiles_;
};

}  // namespace ebs::profiles
