#include "engine/cluster/shipped_files.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "engine/cluster/messages.h"
#include "engine/util/sha256.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::cluster;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Sends `bytes` to `cache` the way the coordinator does: pieces in order, the last one marked.
std::string send(NodeFileCache& cache, const std::string& sha256, const std::string& bytes, size_t piece) {
  for (size_t offset = 0;; offset += piece) {
    const bool last = offset + piece >= bytes.size();
    std::string problem = cache.receive(sha256, offset, bytes.substr(offset, piece), last);
    if (!problem.empty() || last) return problem;
  }
}

}  // namespace

TEST_CASE("a node's cache takes a catalogue in pieces, checks it, lays it out at the coordinator's path, and "
          "fetches a damaged copy again") {
  const fs::path data = test::data_dir() / "catalogs" / "gcvs.csv";  // 2.7 MB: three pieces of 1 MiB
  const std::string bytes = read_all(data);
  REQUIRE(bytes.size() > 2 * kFilePieceBytes);
  const std::string sha256 = sha256_hex(bytes);
  const fs::path dir = fs::temp_directory_path() / ("ebs-node-cache-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  NodeFileCache cache(dir, "a");
  const std::vector<NeededFile> files{{"xm", "/catalogs/gcvs.csv", sha256}, {"xm2", "/other/gcvs.csv", sha256}};
  CHECK(manifest_problem(files).empty());
  CHECK(cache.missing(files) == std::vector<std::string>{sha256});  // one fetch for both names

  // Out of order, or bytes that do not hash to the name, are refused and nothing is kept.
  CHECK(cache.receive(sha256, kFilePieceBytes, bytes.substr(0, 10), false).find("out of order") != std::string::npos);
  CHECK(send(cache, sha256, bytes.substr(1) + "x", kFilePieceBytes).find("hash to") != std::string::npos);
  CHECK(cache.missing(files) == std::vector<std::string>{sha256});

  CHECK(send(cache, sha256, bytes, kFilePieceBytes).empty());
  CHECK(cache.missing(files).empty());
  const fs::path root = cache.lay_out(files);
  CHECK(read_all(under_root(root, "/catalogs/gcvs.csv")) == bytes);
  CHECK(read_all(under_root(root, "/other/gcvs.csv")) == bytes);

  // A damaged object is noticed, removed and asked for again.
  std::ofstream(dir / "objects" / sha256, std::ios::binary | std::ios::in | std::ios::out) << "damage";
  CHECK(cache.missing(files) == std::vector<std::string>{sha256});
  CHECK_FALSE(fs::exists(dir / "objects" / sha256));
  fs::remove_all(dir);
}

TEST_CASE("the list of files a coordinator ships cannot write outside the node's folders") {
  const std::string hash(64, 'a');
  CHECK(manifest_problem({{"x", "catalogs/a.csv", hash}}).find("absolute") != std::string::npos);
  CHECK(manifest_problem({{"x", "/catalogs/../../etc/a", hash}}).find("absolute") != std::string::npos);
  CHECK(manifest_problem({{"x", "/catalogs/a.csv", "../../x"}}).find("SHA-256") != std::string::npos);
  NodeFileCache cache(fs::temp_directory_path() / "ebs-unused-cache", "a");
  CHECK(cache.receive("../escape", 0, "x", true).find("SHA-256") != std::string::npos);
}

namespace {

// Puts `bytes` in `dir`'s cache as the object of their hash, last used `age` ago; its path.
fs::path put_object(const fs::path& dir, const std::string& bytes, std::chrono::hours age) {
  const fs::path path = dir / "objects" / sha256_hex(bytes);
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
  fs::last_write_time(path, fs::file_time_type::clock::now() - age);
  return path;
}

}  // namespace

TEST_CASE("a node's cache prune removes entries unused past keep_days, then above max_bytes those used longest "
          "ago, never one a run holds, and pieces only when their transfer ended") {
  const fs::path dir = fs::temp_directory_path() / ("ebs-node-prune-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  using std::chrono::hours;
  const fs::path old_object = put_object(dir, std::string(1000, 'a'), hours(30 * 24));
  const std::string held_bytes(1000, 'b');
  const fs::path held_object = put_object(dir, held_bytes, hours(1));
  const fs::path day_old = put_object(dir, std::string(3000, 'c'), hours(24));
  const fs::path two_days_old = put_object(dir, std::string(3000, 'd'), hours(48));
  const fs::path old_tree = dir / "trees" / "0123456789abcdef";
  fs::create_directories(old_tree / "catalogs");
  std::ofstream(old_tree / "catalogs" / "x.csv") << std::string(1000, 'e');
  fs::last_write_time(old_tree, fs::file_time_type::clock::now() - hours(10 * 24));
  const fs::path left_piece = dir / "objects" / (std::string(64, 'f') + ".a.1234.part");
  const fs::path live_piece = dir / "objects" / (std::string(64, 'f') + ".a.5678.part");
  std::ofstream(left_piece) << std::string(10, 'f');
  std::ofstream(live_piece) << std::string(10, 'f');
  fs::last_write_time(left_piece, fs::file_time_type::clock::now() - hours(2));
  const fs::path foreign = dir / "objects" / "README";
  std::ofstream(foreign) << "not an entry";

  // Another node's run uses the held object (found intact, so held), marked used long ago.
  NodeFileCache running(dir, "b");
  REQUIRE(running.missing({{"xm", "/cat/b.csv", sha256_hex(held_bytes)}}).empty());
  fs::last_write_time(held_object, fs::file_time_type::clock::now() - hours(30 * 24));

  NodeFileCache cache(dir, "a");
  const CachePrune pruned = cache.prune({7, 4500});  // of 9020 bytes
  CHECK_FALSE(fs::exists(old_object));
  CHECK_FALSE(fs::exists(old_tree));
  CHECK_FALSE(fs::exists(left_piece));
  CHECK_FALSE(fs::exists(two_days_old));  // over the cap, and used before the day-old one
  CHECK(fs::exists(held_object));
  CHECK(fs::exists(day_old));
  CHECK(fs::exists(live_piece));
  CHECK(fs::exists(foreign));
  CHECK(pruned.unused == 3);
  CHECK(pruned.over_cap == 1);
  CHECK(pruned.bytes_removed == 1000 + 1000 + 10 + 3000);
  CHECK(pruned.kept == 3);
  CHECK(pruned.bytes_kept == 1000 + 3000 + 10);
  CHECK(pruned.in_use_over_cap == 1);  // the held object was over the cap when its turn came
  fs::remove_all(dir);
}

TEST_CASE("the files a node's run laid out stay while it runs, whatever the limits, and go once it ended") {
  const fs::path dir = fs::temp_directory_path() / ("ebs-node-prune-run-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string bytes = "ra,dec\n1,2\n";
  const std::vector<NeededFile> files{{"xm", "/cat/x.csv", sha256_hex(bytes)}};
  fs::path root;
  {
    NodeFileCache run(dir, "a");
    REQUIRE(run.missing(files).size() == 1);
    REQUIRE(run.receive(files[0].sha256, 0, bytes, true).empty());
    root = run.lay_out(files);
    const CachePrune nothing = NodeFileCache(dir, "b").prune({0, 1});  // keep nothing unused, cap at 1 byte
    CHECK(nothing.unused + nothing.over_cap == 0);
    CHECK(nothing.in_use_over_cap == 2);
    CHECK(read_all(under_root(root, "/cat/x.csv")) == bytes);
    CHECK(fs::exists(dir / "objects" / files[0].sha256));
  }
  const CachePrune all = NodeFileCache(dir, "b").prune({0, 0});
  CHECK(all.unused == 2);
  CHECK_FALSE(fs::exists(root));
  CHECK_FALSE(fs::exists(dir / "objects" / files[0].sha256));
  fs::remove_all(dir);
}

TEST_CASE("a file received that another node already put in place does not replace it: the one there is used "
          "and held") {
  const fs::path dir = fs::temp_directory_path() / ("ebs-node-put-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string bytes = "ra,dec\n3,4\n";
  const std::string sha256 = sha256_hex(bytes);
  const std::vector<NeededFile> files{{"xm", "/cat/y.csv", sha256}};
  const fs::path object = dir / "objects" / sha256;
  auto inode = [](const fs::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : ino_t{0};
  };
  {
    NodeFileCache a(dir, "a");
    REQUIRE(a.missing(files).size() == 1);
    {
      // Both found it missing; b's copy arrives first, then a's.
      NodeFileCache b(dir, "b");
      REQUIRE(b.missing(files).size() == 1);
      REQUIRE(b.receive(sha256, 0, bytes, true).empty());
      const ino_t first = inode(object);
      REQUIRE(first != 0);
      REQUIRE(a.receive(sha256, 0, bytes, true).empty());
      CHECK(inode(object) == first);  // b's copy, which b holds, is still what the name is
      CHECK(read_all(object) == bytes);
      CHECK_FALSE(fs::exists(dir / "objects" / (sha256 + ".a." + std::to_string(::getpid()) + ".part")));
    }
    // b ended: a holds the copy b put in place, so no prune removes it.
    const CachePrune pruned = NodeFileCache(dir, "c").prune({0, 0});
    CHECK(pruned.unused == 0);
    CHECK(fs::exists(object));
  }
  CHECK(NodeFileCache(dir, "c").prune({0, 0}).unused == 1);
  CHECK_FALSE(fs::exists(object));
  fs::remove_all(dir);
}

TEST_CASE("the entries a run holds are marked used at each prune and when the node ends: a run longer than "
          "keep_days does not leave them looking unused") {
  const fs::path dir = fs::temp_directory_path() / ("ebs-node-long-run-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string bytes = "ra,dec\n5,6\n";
  const std::vector<NeededFile> files{{"xm", "/cat/z.csv", sha256_hex(bytes)}};
  const fs::path object = dir / "objects" / files[0].sha256;
  const auto long_ago = std::chrono::hours(8 * 24);
  auto recent = [](const fs::path& path) {
    return fs::file_time_type::clock::now() - fs::last_write_time(path) < std::chrono::hours(1);
  };
  fs::path root;
  {
    NodeFileCache run(dir, "a");
    REQUIRE(run.missing(files).size() == 1);
    REQUIRE(run.receive(files[0].sha256, 0, bytes, true).empty());
    root = run.lay_out(files);
    // Eight days into the run (its entries' times as they would be), this node prunes again.
    fs::last_write_time(object, fs::file_time_type::clock::now() - long_ago);
    fs::last_write_time(root, fs::file_time_type::clock::now() - long_ago);
    CHECK(run.prune({7, 0}).unused == 0);
    CHECK(recent(object));
    CHECK(recent(root));
    fs::last_write_time(object, fs::file_time_type::clock::now() - long_ago);
    fs::last_write_time(root, fs::file_time_type::clock::now() - long_ago);
  }
  // The node ended (then restarts): what its run used was used until its end.
  CHECK(recent(object));
  CHECK(recent(root));
  CHECK(NodeFileCache(dir, "a").prune({7, 0}).unused == 0);
  CHECK(fs::exists(object));
  CHECK(fs::exists(root));
  fs::remove_all(dir);
}
