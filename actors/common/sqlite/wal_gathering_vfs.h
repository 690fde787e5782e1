// An SQLite VFS that writes a transaction's WAL frames with one write call per run of frames
// instead of two per frame (SQLite writes each frame's 24-byte header and its page apart: a
// repository commit of ~50 pages was ~100 pwrite calls, each a system call on the writer's
// thread). It wraps the default VFS; only the write-ahead log's appends are gathered.
//
// The durability contract, which a process killed at any moment must not break (synchronous=
// NORMAL promises that a committed transaction survives the process, not the machine):
//   - when the write of a commit frame's page returns, every byte of that transaction is in the
//     file (handed to the kernel), so COMMIT never returns with part of it in this buffer;
//   - a write that does not continue the gathered run (an overwrite of an earlier frame in place,
//     a checksum rewrite, the WAL header), and every read, sync, size, truncate, file control and
//     close of the WAL first writes what is gathered, then goes to the file;
//   - the database file's shared-memory barrier, which SQLite issues before it publishes frames to
//     readers, writes the connection's gathered WAL first (a net: the rules above leave nothing
//     gathered at a commit, with synchronous=FULL too, whose sync comes before the publication;
//     the tests check that the net never writes);
//   - the release of the WAL's write lock drops what is still gathered: a write transaction that
//     ends with frames gathered rolled back (frames a spill wrote), and writing them later would
//     overwrite what the next writer commits at the same offsets;
//   - at most kGatherBytes are held; past that the run is written.
// A write error met while writing the run is returned by the call that caused it; one met by the
// barrier (which cannot fail, and which should find nothing) by the next call on the WAL, which
// SQLite may ignore (a close): hence the barrier is a net, not the rule.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ebs::sqlite {

// The most a WAL file holds gathered before it writes the run: the default (unix) VFS takes at
// most 2^17 - 1 bytes in one write (its seekAndWrite masks the length to 17 bits; a longer
// write fails as SQLITE_FULL). 31 frames of 4 KiB pages a call.
inline constexpr size_t kGatherBytes = (size_t{1} << 17) - 1;

// The name to pass to sqlite3_open_v2 (or Database) for a connection that writes a WAL. Registers
// the VFS on first use: SQLite's VFS list is process-wide by SQLite's design, not ours.
const char* wal_gathering_vfs();

// What the VFS did, for tests and benchmarks (all connections of the process, relaxed counts).
struct WalGatheringStats {
  uint64_t wal_writes = 0;  // xWrite calls SQLite made on WAL files
  uint64_t file_writes = 0;  // write calls made on the WAL files underneath
  uint64_t barrier_writes = 0;  // runs the shared-memory barrier had to write (the net; expect 0)
  uint64_t dropped_runs = 0;  // runs dropped at the end of a write transaction (rolled back)
};
WalGatheringStats wal_gathering_stats();

}  // namespace ebs::sqlite
