#include "engine/cluster/shipped_files.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "engine/util/byte_size.h"
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

bool is_hex(const std::string& text, size_t digits) {
  return text.size() == digits && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_sha256(const std::string& text) { return is_hex(text, 64); }

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
  // The host's name in it: a home folder shared between machines (NFS) must not give them one
  // cache (a prune's locks do not reach across machines).
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
  const fs::path user = user_cache_dir("node-files");
  return ((user.empty() ? fs::path(".ebs-flow-node-files") : user) / host).string();
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

NodeFileCache::~NodeFileCache() { mark_held_used(); }

void NodeFileCache::mark_held_used() {
  for (const auto& entry : holds_) mark_cache_use(entry.first);
}

fs::path NodeFileCache::part(const std::string& sha256) const { return scratch_beside(object(sha256), node_); }

std::vector<std::string> NodeFileCache::missing(const std::vector<NeededFile>& files) {
  std::vector<std::string> out;
  std::map<std::string, bool> seen;
  for (const NeededFile& f : files) {
    if (seen.count(f.sha256)) continue;
    const fs::path held = object(f.sha256);
    bool intact = false;
    // Held before it is read: nothing when it is not there, or a prune removed it meanwhile. This
    // node's own earlier hold is let go first: it would keep a damaged copy from being removed.
    holds_.erase(held);
    if (std::optional<CacheHold> hold = CacheHold::take(held)) {
      try {
        intact = sha256_hex_of_file(held) == f.sha256;
      } catch (const Fault&) {
      }
      if (intact) {
        mark_cache_use(held);
        this->hold(held, std::move(*hold));
      } else {
        // Removed only when it is still the copy read: not one another node put in place since.
        spdlog::warn("node {}: the cached copy {} of {} no longer matches its hash: {}, fetched again", node_,
                     held.string(), f.path,
                     hold->remove(held) == CacheRemoval::removed ? "removed" : "left (another node holds it)");
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
  return put_in_place(sha256, scratch);
}

std::string NodeFileCache::put_in_place(const std::string& sha256, const fs::path& scratch) {
  const fs::path target = object(sha256);
  holds_.erase(target);
  std::error_code ec;
  // Never over an object already there: another node (sharing the folder) may hold it, and a
  // prune that locked it would remove what the path names. So a link, made only when the name is
  // free; when it is not, the one there is used (held and checked), and ours dropped.
  for (int attempt = 1; attempt <= 3; ++attempt) {
    // Held before it is in place, so that no prune finds it unheld.
    std::optional<CacheHold> in_place = CacheHold::take(scratch);
    if (::link(scratch.c_str(), target.c_str()) == 0) {
      fs::remove(scratch, ec);
      if (in_place) hold(target, std::move(*in_place));
      return "";
    }
    if (errno != EEXIST) {
      const std::string why = std::strerror(errno);
      fs::remove(scratch, ec);
      return "cannot put " + target.string() + " in place: " + why;
    }
    if (std::optional<CacheHold> there = CacheHold::take(target)) {
      bool intact = false;
      try {
        intact = sha256_hex_of_file(target) == sha256;
      } catch (const Fault&) {
      }
      if (intact) {
        fs::remove(scratch, ec);
        mark_cache_use(target);
        hold(target, std::move(*there));
        return "";
      }
      there->remove(target);  // a corrupt copy: ours goes in its place
    }
    // Not there any more (a prune removed it, or it was corrupt): the name may be free now.
  }
  fs::remove(scratch, ec);
  return "cannot put " + target.string() +
         " in place: the copy there does not match its hash and another node holds it (or copies keep replacing it)";
}

fs::path NodeFileCache::lay_out(const std::vector<NeededFile>& files) {
  std::string identity;
  for (const NeededFile& f : files) identity += f.path + "\n" + f.sha256 + "\n";
  const fs::path root = dir_ / "trees" / hex64(fnv1a64(identity));
  // Made again when a prune removed it between its making and its hold (another node's, sharing
  // the folder: it is new, so only a cap below what runs use removes it).
  for (int attempt = 1;; ++attempt) {
    std::error_code ec;
    fs::create_directories(root, ec);
    if (std::optional<CacheHold> held = CacheHold::take(root)) {
      mark_cache_use(root);
      hold(root, std::move(*held));
      break;
    }
    if (attempt == 3)
      fail(root.string(), "cannot make the run's folder in the cache" + (ec ? ": " + ec.message() : std::string()));
  }
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

namespace {

// An entry of a node's cache, as a prune sees it.
struct CacheEntry {
  fs::path path;
  int64_t bytes = 0;
  fs::file_time_type used;
  bool piece = false;  // a file being received (or left by a node that ended mid-transfer)
};

int64_t bytes_under(const fs::path& folder) {
  int64_t bytes = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) bytes += static_cast<int64_t>(it->file_size(size_ec));
  }
  return bytes;
}

// objects/<sha256>, the pieces beside them (<sha256>.<node>.<pid>.part) and trees/<16 hex digits>;
// nothing else a user may have put there.
std::vector<CacheEntry> cache_entries(const fs::path& dir) {
  std::vector<CacheEntry> entries;
  std::error_code ec;
  for (fs::directory_iterator it(dir / "objects", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const bool piece = name.size() > 70 && is_sha256(name.substr(0, 64)) && name[64] == '.' &&
                       name.compare(name.size() - 5, 5, ".part") == 0;
    std::error_code stat_ec;
    if (!(piece || is_sha256(name)) || !it->is_regular_file(stat_ec)) continue;
    CacheEntry e{it->path(), static_cast<int64_t>(it->file_size(stat_ec)), it->last_write_time(stat_ec), piece};
    if (!stat_ec) entries.push_back(std::move(e));
  }
  for (fs::directory_iterator it(dir / "trees", ec = {}), end; !ec && it != end; it.increment(ec)) {
    std::error_code stat_ec;
    if (!is_hex(it->path().filename().string(), 16) || !it->is_directory(stat_ec)) continue;
    CacheEntry e{it->path(), bytes_under(it->path()), it->last_write_time(stat_ec), false};
    if (!stat_ec) entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace

CachePrune NodeFileCache::prune(const CacheLimits& limits) {
  // What this node's run uses is used now, however long ago it was laid out: another prune, or
  // this node's after a restart, must not find it unused.
  mark_held_used();
  CachePrune out;
  // flock on a network file system is local to a machine (NFS), or refused on a read-only
  // descriptor (EBADF): a run on another machine sharing the folder would not be seen.
  if (const std::string network = network_file_system(dir_); !network.empty()) {
    if (!network_warned_)
      spdlog::warn("node {}: cache {} is on a network file system ({}): not pruned, since a run on another "
                   "machine sharing it could not be seen; remove what no node uses by hand (stop the nodes, "
                   "then delete the folder), or give each machine a local --cache-dir",
                   node_, dir_.string(), network);
    network_warned_ = true;
    out.network_file_system = network;
    return out;
  }
  // A transfer writes a piece at every round trip: an hour without one is a transfer that ended.
  constexpr auto kPieceLeft = std::chrono::hours(1);
  const auto now = fs::file_time_type::clock::now();
  const auto keep = std::chrono::duration<double, std::ratio<86400>>(limits.keep_days);
  std::vector<CacheEntry> entries = cache_entries(dir_);
  std::sort(entries.begin(), entries.end(), [](const CacheEntry& a, const CacheEntry& b) { return a.used < b.used; });
  for (const CacheEntry& e : entries) out.bytes_kept += e.bytes;
  for (const CacheEntry& e : entries) {
    const auto unused_for = now - e.used;
    const bool unused = e.piece ? unused_for > kPieceLeft : unused_for > keep;
    const bool over_cap = !e.piece && limits.max_bytes > 0 && out.bytes_kept > limits.max_bytes;
    const CacheRemoval removal = unused || over_cap ? remove_unless_held(e.path) : CacheRemoval::held;
    if (removal == CacheRemoval::removed) {
      ++(unused ? out.unused : out.over_cap);
      out.bytes_removed += e.bytes;
      out.bytes_kept -= e.bytes;
    } else if (removal == CacheRemoval::gone) {
      out.bytes_kept -= e.bytes;  // another prune removed it meanwhile: counted there
    } else {
      ++out.kept;
      if (over_cap) ++out.in_use_over_cap;
    }
  }
  auto mib = [](int64_t bytes) {
    return bytes < (1 << 20) ? fmt::format("{} bytes", bytes)
                             : fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
  };
  if (out.unused + out.over_cap > 0)
    spdlog::info("node {}: cache {}: removed {} entries, {} ({} unused for over {} days{}); kept {} entries, {}", node_,
                 dir_.string(), out.unused + out.over_cap, mib(out.bytes_removed), out.unused, limits.keep_days,
                 limits.max_bytes > 0 ? fmt::format(", {} past --cache-max-bytes {}, used longest ago first",
                                                    out.over_cap, describe_bytes(limits.max_bytes))
                                      : std::string(),
                 out.kept, mib(out.bytes_kept));
  if (out.in_use_over_cap > 0)
    spdlog::warn("node {}: cache {} holds {}, over --cache-max-bytes {}: {} entries a run uses now are kept", node_,
                 dir_.string(), mib(out.bytes_kept), describe_bytes(limits.max_bytes), out.in_use_over_cap);
  return out;
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
