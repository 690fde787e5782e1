#include "engine/cluster/shipped_files.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "engine/util/fault.h"
#include "engine/util/hash.h"
#include "engine/util/sha256.h"
#include "engine/util/user_cache_dir.h"

namespace fs = std::filesystem;

namespace ebs::cluster {

namespace {

std::string absolute_normal(const std::string& path) {
  std::error_code ec;
  return fs::absolute(path, ec).lexically_normal().string();
}

bool is_sha256(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// A unique name beside `target` for writing it before the rename that puts it in place.
fs::path scratch_beside(const fs::path& target, const std::string& node) {
  return target.string() + "." + node + "." + std::to_string(::getpid()) + ".part";
}

}  // namespace

std::vector<std::string> plugin_paths(const Workflow& workflow, const std::vector<std::string>& command_line) {
  std::vector<std::string> out;
  for (const std::string& p : command_line) out.push_back(absolute_normal(p));
  for (const std::string& p : workflow.plugins) out.push_back(absolute_normal(p));
  return out;
}

std::vector<NeededFile> list_needed_files(const Workflow& workflow, const std::vector<std::string>& plugins) {
  std::vector<NeededFile> files;
  std::map<std::string, std::string> hashes;  // a file named twice is read once
  auto add = [&](const std::string& owner, const std::string& path) {
    const std::string where = absolute_normal(path);
    auto [it, fresh] = hashes.try_emplace(where);
    if (fresh) it->second = sha256_hex_of_file(where);
    files.push_back({owner, where, it->second});
  };
  for (const ActorSpec& spec : workflow.actors)
    if (spec.type && spec.type->needed_files)
      for (const std::string& path : spec.type->needed_files(spec.config())) add(spec.id, path);
  for (const std::string& p : plugins) add("", p);
  return files;
}

fs::path under_root(const fs::path& root, const std::string& coordinator_path) {
  return root / fs::path(coordinator_path).relative_path();
}

std::string default_cache_dir() {
  const fs::path user = user_cache_dir("node-files");
  return user.empty() ? ".ebs-flow-node-files" : user.string();
}

std::string manifest_problem(const std::vector<NeededFile>& files) {
  for (const NeededFile& f : files) {
    const fs::path p(f.path);
    if (!p.is_absolute() || p.lexically_normal() != p) return "'" + f.path + "' is not an absolute, normal path";
    for (const fs::path& part : p)
      if (part == "..") return "'" + f.path + "' climbs out of its folder";
    if (!is_sha256(f.sha256)) return "'" + f.sha256 + "' (for " + f.path + ") is not a SHA-256 in hex";
  }
  return "";
}

NodeFileCache::NodeFileCache(fs::path dir, std::string node) : dir_(std::move(dir)), node_(std::move(node)) {}

fs::path NodeFileCache::part(const std::string& sha256) const { return scratch_beside(object(sha256), node_); }

std::vector<std::string> NodeFileCache::missing(const std::vector<NeededFile>& files) {
  std::vector<std::string> out;
  std::map<std::string, bool> seen;
  for (const NeededFile& f : files) {
    if (seen.count(f.sha256)) continue;
    const fs::path held = object(f.sha256);
    bool intact = false;
    std::error_code ec;
    if (fs::exists(held, ec)) {
      try {
        intact = sha256_hex_of_file(held) == f.sha256;
      } catch (const Fault&) {
      }
      if (!intact) {
        spdlog::warn("node {}: the cached copy {} of {} no longer matches its hash: removed, fetched again", node_,
                     held.string(), f.path);
        fs::remove(held, ec);
      }
    }
    seen[f.sha256] = intact;
    if (!intact) out.push_back(f.sha256);
  }
  return out;
}

std::string NodeFileCache::receive(const std::string& sha256, uint64_t offset, const std::string& bytes, bool last) {
  if (!is_sha256(sha256)) return "'" + sha256 + "' is not a SHA-256 in hex";
  std::error_code ec;
  fs::create_directories(dir_ / "objects", ec);
  if (ec) return "cannot make the cache folder " + (dir_ / "objects").string() + ": " + ec.message();
  const fs::path scratch = part(sha256);
  const uint64_t held = offset == 0 ? 0 : fs::file_size(scratch, ec);
  if (ec || held != offset)
    return "a piece of " + sha256 + " at byte " + std::to_string(offset) + " came out of order";
  {
    std::ofstream out(scratch, offset == 0 ? std::ios::binary | std::ios::trunc : std::ios::binary | std::ios::app);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return "cannot write " + scratch.string();
  }
  if (!last) return "";
  std::string got;
  try {
    got = sha256_hex_of_file(scratch);
  } catch (const Fault& f) {
    return f.place() + ": " + f.message();
  }
  if (got != sha256) {
    fs::remove(scratch, ec);
    return "the bytes received hash to " + got + ", not " + sha256 + " (the file changed while it was sent?)";
  }
  fs::rename(scratch, object(sha256), ec);
  if (ec) return "cannot put " + object(sha256).string() + " in place: " + ec.message();
  return "";
}

fs::path NodeFileCache::lay_out(const std::vector<NeededFile>& files) {
  std::string identity;
  for (const NeededFile& f : files) identity += f.path + "\n" + f.sha256 + "\n";
  const fs::path root = dir_ / "trees" / hex64(fnv1a64(identity));
  for (const NeededFile& f : files) {
    const fs::path target = under_root(root, f.path);
    std::error_code ec;
    // A copy, not a link: an actor may write to what it opens (a model registry's shadow
    // results), and that must not change the cached object.
    if (fs::exists(target, ec) && sha256_hex_of_file(target) == f.sha256) continue;
    fs::create_directories(target.parent_path(), ec);
    const fs::path scratch = scratch_beside(target, node_);
    fs::copy_file(object(f.sha256), scratch, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(scratch, target, ec);
    if (ec) fail(target.string(), "cannot lay out the copy of " + f.path + " from the cache: " + ec.message());
  }
  return root;
}

std::vector<std::string> check_needed_files(const Workflow& workflow, const std::vector<NeededFile>& files,
                                            const fs::path& root, const std::string& node) {
  std::vector<std::string> problems;
  std::map<std::string, std::vector<const NeededFile*>> by_actor;
  std::vector<std::string> order;
  for (const NeededFile& f : files) {
    if (f.owner.empty()) continue;
    if (!by_actor.count(f.owner)) order.push_back(f.owner);
    by_actor[f.owner].push_back(&f);
  }
  for (const std::string& id : order) {
    const std::vector<const NeededFile*>& shipped = by_actor[id];
    const ActorSpec* spec = workflow.find(id);
    if (!spec || !spec->type || !spec->type->needed_files) {
      problems.push_back("node " + node + ": actor '" + id + "' reads no files here, but it did on the coordinator");
      continue;
    }
    std::vector<std::string> here;
    try {
      here = spec->type->needed_files(spec->config());
    } catch (const Fault& f) {
      problems.push_back("node " + node + ": " + f.place() + ": " + f.message());
      continue;
    }
    if (here.size() != shipped.size()) {
      problems.push_back("node " + node + ": actor '" + id + "' reads " + std::to_string(here.size()) +
                         " files here and " + std::to_string(shipped.size()) + " on the coordinator");
      continue;
    }
    for (size_t i = 0; i < here.size(); ++i) {
      const NeededFile& want = *shipped[i];
      const std::string path = absolute_normal(here[i]);
      const bool copy = path == under_root(root, want.path).string();
      std::error_code ec;
      if (!fs::exists(path, ec)) {
        problems.push_back("node " + node + ": actor '" + id + "' reads " + path +
                           ", which is not on this node (the coordinator's " + want.path + ", sha256 " + want.sha256 +
                           "; a path that is absolute, or made by a ${VARIABLE}, is read from the node's own disk: "
                           "make it relative to the workflow file to have it shipped)");
        continue;
      }
      std::string got;
      try {
        got = sha256_hex_of_file(path);
      } catch (const Fault& f) {
        problems.push_back("node " + node + ": " + f.place() + ": " + f.message());
        continue;
      }
      if (got != want.sha256)
        problems.push_back("node " + node + " holds a different " + path + " than the coordinator's " + want.path +
                           " (actor '" + id + "'): sha256 " + got + " on the node, " + want.sha256 +
                           " on the coordinator" + (copy ? " (its cached copy changed)" : ""));
    }
  }
  return problems;
}

}  // namespace ebs::cluster
