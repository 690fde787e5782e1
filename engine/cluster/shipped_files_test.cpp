#include "engine/cluster/shipped_files.h"

#include <doctest/doctest.h>
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
