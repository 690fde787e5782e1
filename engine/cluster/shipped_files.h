// What a node needs reaches it (docs/cluster.md "What a node needs"): the files the workflow's
// actors read (ActorType::needed_files: catalogues and their data files, rule sets, models, model
// registries) and its plugins go from the coordinator to every node by content hash (SHA-256).
// A node keeps them in a cache folder, lays copies out under one folder at the paths they have
// on the coordinator (so that a catalogue config still finds its data file beside it), builds the
// workflow with those actors' paths resolved there, and checks every file its actors will read
// against the coordinator's hash before the run starts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/graph/workflow.h"
#include "engine/util/cache_use.h"

namespace ebs::cluster {

// One file of a run, as the coordinator has it.
struct NeededFile {
  std::string owner;   // the actor id whose instances read it; empty for a plugin
  std::string path;    // absolute and lexically normal, on the coordinator
  std::string sha256;  // lowercase hex
};

// Every file the workflow's actors name (in each actor's order) and the plugins, hashed. A Fault
// names a file that cannot be read. `plugins`: absolute paths (plugin_paths()).
std::vector<NeededFile> list_needed_files(const Workflow& workflow, const std::vector<std::string>& plugins);

// The plugins a run loads (--plugin and the workflow's `plugins:`), absolute: what the coordinator
// loaded is what every node loads.
std::vector<std::string> plugin_paths(const Workflow& workflow, const std::vector<std::string>& command_line);

// Where a coordinator path lies under a node's layout folder.
std::filesystem::path under_root(const std::filesystem::path& root, const std::string& coordinator_path);

// The cache folder of a node without --cache-dir: $XDG_CACHE_HOME/ebs-flow/node-files/<host> (when
// absolute), else ~/.cache/ebs-flow/node-files/<host>, else .ebs-flow-node-files/<host> in the
// working directory: one folder a machine, never shared with another (a home folder on NFS).
std::string default_cache_dir();

// What a node's cache keeps (`ebs-flow node --cache-keep-days, --cache-max-bytes`): entries no
// run used for `keep_days` are removed, and above `max_bytes` (0: no cap) those used longest ago,
// unless a run uses them now. A piece of a file being received is removed only after an hour
// without a new piece (a node that ended mid-transfer).
struct CacheLimits {
  double keep_days = 7;
  int64_t max_bytes = 0;
};

// What a prune removed, and what the cache holds after it.
struct CachePrune {
  size_t unused = 0;     // entries removed: not used for keep_days (or pieces left by a transfer)
  size_t over_cap = 0;   // ... past max_bytes, used longest ago first
  int64_t bytes_removed = 0;
  size_t kept = 0;
  int64_t bytes_kept = 0;
  size_t in_use_over_cap = 0;  // entries the cap would have removed, kept because a run uses them
  std::string network_file_system;  // not pruned: the cache is on this network file system
};

// A node's cache: objects/<sha256> (the bytes, checked against the name) and trees/<id>/ (the
// copies a run's actors open): its entries. Several nodes may share one folder (--local-cluster,
// or the default one): every file is written under a name of its own and renamed into place, and
// the entries a run uses are held (engine/util/cache_use.h) until the cache is destroyed (a node
// runs one workflow), so that a prune, this node's or another's, never removes them.
class NodeFileCache {
 public:
  NodeFileCache(std::filesystem::path dir, std::string node);
  // Marks the entries its run used as used now (a run may last longer than keep_days).
  ~NodeFileCache();
  NodeFileCache(const NodeFileCache&) = delete;
  NodeFileCache& operator=(const NodeFileCache&) = delete;

  const std::filesystem::path& dir() const { return dir_; }

  // The hashes of `files` not held intact. A held object whose bytes no longer hash to its name
  // (a damaged disk, an edit) is removed with a warning, and so fetched again.
  std::vector<std::string> missing(const std::vector<NeededFile>& files);

  // One piece of the object `sha256` at `offset` (pieces come in order); the last one checks the
  // whole object against its hash and puts it in place. A problem message, or empty.
  std::string receive(const std::string& sha256, uint64_t offset, const std::string& bytes, bool last);

  // Copies of `files` under one folder, each at its coordinator path below it; that folder. A
  // Fault when a file is not held or cannot be copied.
  std::filesystem::path lay_out(const std::vector<NeededFile>& files);

  // Marks the entries this node's run holds as used now, then removes what `limits` do not keep,
  // and logs what it removed and how much. Nothing on a network file system (network_file_system,
  // engine/util/cache_use.h): one warning saying why.
  CachePrune prune(const CacheLimits& limits);
  // Marks the entries this node's run holds as used now (at most daily, mark_cache_use).
  void mark_held_used();

 private:
  std::filesystem::path object(const std::string& sha256) const { return dir_ / "objects" / sha256; }
  std::filesystem::path part(const std::string& sha256) const;
  // Puts the received, checked `scratch` in place as objects/<sha256> and holds it; "" or why not.
  std::string put_in_place(const std::string& sha256, const std::filesystem::path& scratch);

  void hold(const std::filesystem::path& entry, CacheHold&& held) { holds_.insert_or_assign(entry, std::move(held)); }

  std::filesystem::path dir_;
  std::string node_;
  std::map<std::filesystem::path, CacheHold> holds_;  // the entries this node's run uses
  bool network_warned_ = false;
};

// Why `files` cannot be what the coordinator shipped (empty when they can): each path or hash that
// could break the node's folder (not absolute, "..", not a SHA-256).
std::string manifest_problem(const std::vector<NeededFile>& files);

// The node's check before the run: every actor of `files` names, on this node, files with the
// coordinator's hashes — its shipped copies under `root`, or (a path that is absolute on the
// coordinator, or made by a variable) the node's own file at the path it resolves, which must
// hold the same bytes. One message per problem, naming the node, the file and both hashes.
std::vector<std::string> check_needed_files(const Workflow& workflow, const std::vector<NeededFile>& files,
                                            const std::filesystem::path& root, const std::string& node);

}  // namespace ebs::cluster
