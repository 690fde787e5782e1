// CPU per file (this thread's user + system time) of ways to read the first bytes of many small
// files, as `avro-files` reads an alert file up to its cutouts (docs/performance.md, "Reading
// files: a first read sized by the file"). Each way reads every file of the folders given, then the
// bytes read are summed (a decoder reads them all); rounds alternate the ways and the best round
// of each counts (the machine is shared). The page cache is warm after the first round.
//
// Usage: read_files_bench FOLDER [prefix bytes, default 49152] [rounds, default 5] [--busy]
//   FOLDER holds the files, or folders of them (one level), as bench/e2e/unique_alerts.py writes.
//   --busy: a second thread spins meanwhile, as the engine's other workers do (an munmap must then
//   shoot down that CPU's TLB too).
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Folder {
  std::string path;
  std::vector<std::string> names;
};

std::vector<std::string> sorted_entries(const std::string& path, bool folders) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return names;
  while (const dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.' && (e->d_type == DT_DIR) == folders) names.emplace_back(e->d_name);
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

double thread_cpu_s() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// One byte of each cache line: the memory traffic of a decoder reading them all, without its work.
uint64_t sum_bytes(const char* bytes, size_t n) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i += 64) sum += static_cast<unsigned char>(bytes[i]);
  return sum;
}

void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

size_t read_fully(int fd, char* buffer, size_t n) {
  size_t have = 0;
  while (have < n) {
    const ssize_t got = ::read(fd, buffer + have, n - have);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    have += static_cast<size_t>(got);
  }
  return have;
}

struct Way {
  const char* name;
  // Reads the file `name` of `folder` (dir_fd open on it); returns a sum of the bytes read.
  std::function<uint64_t(const Folder& folder, int dir_fd, const std::string& name)> read;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: read_files_bench FOLDER [prefix bytes] [rounds] [--busy]\n");
    return 2;
  }
  const std::string top = argv[1];
  size_t prefix = 49152;
  int rounds = 5;
  bool busy = false;
  int positional = 0;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--busy") == 0) busy = true;
    else if (positional++ == 0) prefix = std::strtoull(argv[i], nullptr, 10);
    else rounds = std::atoi(argv[i]);
  }
  if (rounds < 1) {
    std::fprintf(stderr, "read_files_bench: rounds must be a whole number of at least 1\n");
    return 2;
  }
  std::vector<Folder> folders;
  for (const std::string& sub : sorted_entries(top, true))
    folders.push_back({top + "/" + sub, sorted_entries(top + "/" + sub, false)});
  if (folders.empty()) folders.push_back({top, sorted_entries(top, false)});
  size_t files = 0;
  for (const Folder& f : folders) files += f.names.size();
  if (files == 0) {
    std::fprintf(stderr, "%s: no files\n", top.c_str());
    return 1;
  }

  std::unique_ptr<char[]> reused(new char[prefix]);
  std::vector<std::unique_ptr<char[]>> ring(2000);
  size_t next_in_ring = 0;
  auto full_path = [](const Folder& folder, const std::string& name) { return folder.path + "/" + name; };
  // What avro-files did before: the full path, fstat for the size, a new buffer, read, close.
  auto open_fstat_read = [&](int fd, const std::string& what, char* buffer) {
    if (fd < 0) die(what);
    struct stat st {};
    if (::fstat(fd, &st) != 0) die(what);
    const size_t n = read_fully(fd, buffer, std::min<size_t>(prefix, static_cast<size_t>(st.st_size)));
    ::close(fd);
    return sum_bytes(buffer, n);
  };
  // The prefix mapped (MAP_PRIVATE | `flags`) instead of read, then unmapped.
  auto mapped_sum = [&](int dir_fd, const std::string& name, int flags) {
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die(name);
    struct stat st {};
    if (::fstat(fd, &st) != 0) die(name);
    const size_t n = std::min<size_t>(prefix, static_cast<size_t>(st.st_size));
    if (n == 0) {  // an empty file, or a prefix of 0: nothing to map (mmap refuses a length of 0)
      ::close(fd);
      return uint64_t{0};
    }
    void* map = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE | flags, fd, 0);
    if (map == MAP_FAILED) die(name);
    ::close(fd);
    const uint64_t sum = sum_bytes(static_cast<const char*>(map), n);
    ::munmap(map, n);
    return sum;
  };
  std::vector<Way> ways = {
      {"no read: the reused buffer summed (the loop's own cost)",
       [&](const Folder&, int, const std::string&) { return sum_bytes(reused.get(), prefix); }},
      {"open path, fstat, read, new buffer",
       [&](const Folder& folder, int, const std::string& name) {
         const std::string path = full_path(folder, name);
         std::unique_ptr<char[]> buffer(new char[prefix]);
         return open_fstat_read(::open(path.c_str(), O_RDONLY | O_CLOEXEC), path, buffer.get());
       }},
      {"open path, fstat, read, reused buffer",
       [&](const Folder& folder, int, const std::string& name) {
         const std::string path = full_path(folder, name);
         return open_fstat_read(::open(path.c_str(), O_RDONLY | O_CLOEXEC), path, reused.get());
       }},
      {"openat folder, fstat, read, a ring of 2,000 buffers (alerts in flight keep theirs)",
       [&](const Folder&, int dir_fd, const std::string& name) {
         std::unique_ptr<char[]>& buffer = ring[next_in_ring++ % ring.size()];
         if (!buffer) buffer.reset(new char[prefix]);
         return open_fstat_read(::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC), name, buffer.get());
       }},
      {"openat folder, fstat, read, new buffer",
       [&](const Folder&, int dir_fd, const std::string& name) {
         std::unique_ptr<char[]> buffer(new char[prefix]);
         return open_fstat_read(::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC), name, buffer.get());
       }},
      {"openat folder O_NOATIME, fstat, read, new buffer",
       [&](const Folder&, int dir_fd, const std::string& name) {
         std::unique_ptr<char[]> buffer(new char[prefix]);
         return open_fstat_read(::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME), name, buffer.get());
       }},
      {"openat folder, read (no fstat), new buffer",
       [&](const Folder&, int dir_fd, const std::string& name) {
         std::unique_ptr<char[]> buffer(new char[prefix]);
         const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC);
         if (fd < 0) die(name);
         const size_t n = read_fully(fd, buffer.get(), prefix);
         ::close(fd);
         return sum_bytes(buffer.get(), n);
       }},
      {"openat folder, fstat, fadvise NOREUSE, read, new buffer",
       [&](const Folder&, int dir_fd, const std::string& name) {
         std::unique_ptr<char[]> buffer(new char[prefix]);
         const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC);
         if (fd < 0) die(name);
         ::posix_fadvise(fd, 0, 0, POSIX_FADV_NOREUSE);
         return open_fstat_read(fd, name, buffer.get());
       }},
      {"openat folder, fstat, mmap prefix (MAP_POPULATE), munmap",
       [&](const Folder&, int dir_fd, const std::string& name) { return mapped_sum(dir_fd, name, MAP_POPULATE); }},
      {"openat folder, fstat, mmap prefix (faults), munmap",
       [&](const Folder&, int dir_fd, const std::string& name) { return mapped_sum(dir_fd, name, 0); }},
  };

  std::atomic<bool> stop{false};
  std::thread spinner;
  if (busy)
    spinner = std::thread([&] {
      volatile uint64_t x = 0;
      while (!stop.load(std::memory_order_relaxed)) x = x + 1;
    });

  std::vector<double> best(ways.size(), 1e300);
  uint64_t check = 0;
  for (int round = 0; round < rounds; ++round) {
    for (size_t w = 0; w < ways.size(); ++w) {
      const double start = thread_cpu_s();
      for (const Folder& folder : folders) {
        const int dir_fd = ::open(folder.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) die(folder.path);
        for (const std::string& name : folder.names) check += ways[w].read(folder, dir_fd, name);
        ::close(dir_fd);
      }
      best[w] = std::min(best[w], thread_cpu_s() - start);
    }
  }
  stop = true;
  if (spinner.joinable()) spinner.join();
  std::printf("%zu files, first %zu bytes of each, best of %d rounds%s (checksum %llu)\n", files, prefix, rounds,
              busy ? ", another thread spinning" : "", static_cast<unsigned long long>(check % 1000));
  for (size_t w = 0; w < ways.size(); ++w)
    std::printf("  %6.2f us/file  %s\n", best[w] / static_cast<double>(files) * 1e6, ways[w].name);
  return 0;
}
