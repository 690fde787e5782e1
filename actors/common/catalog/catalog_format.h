// Constants of the .ebscat container shared by the writer and the reader.
#pragma once

namespace ebs::catalog {

inline constexpr const char* kFormatName = "ebs-catalog";
inline constexpr int kFormatVersion = 1;
// Sources are sorted by nested HEALPix pixel at this order (the finest int64 order), which sorts
// them at every coarser order as well.
inline constexpr int kSortOrder = 29;
// The in-memory offsets table has 12 * 4^order entries; order 13 = 805M entries is the ceiling.
inline constexpr int kMaxIndexOrder = 13;
// SQLite column names of kept extra columns: "extra.<name>", so they never clash with core names.
inline constexpr const char* kExtraColumnPrefix = "extra.";

// Proper motions are held in memory as int32 multiples of this step (mas/yr): 8 bytes per source
// and 0.25 uas of error after 50 years. |pm| up to kMaxProperMotion fits (Barnard's star: 10,400).
inline constexpr double kProperMotionStep = 1e-5;
inline constexpr double kMaxProperMotion = 20000;

}  // namespace ebs::catalog
