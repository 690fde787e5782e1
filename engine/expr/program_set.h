// Many filter expressions evaluated together over a batch of records: the `filters` actor's
// evaluator (docs/filters.md, "Scale"). Users write filters that look alike (2-5 cuts over the same
// dozen fields with their own thresholds), so evaluating them one by one per record repeats most
// of the work. A ProgramSet compiles all expressions into one graph in which equal subexpressions
// are one node (hash-consed; `and`/`or` chains flattened and ordered), then evaluates that graph
// column-wise over a whole batch:
//   - each field is read once per record, whatever the number of filters reading it;
//   - a boolean node's result is two bitsets over the batch (true, false; neither = null), so
//     `and`/`or`/`not` of whole batches are word operations;
//   - the cuts "field OP number" (OP one of < <= > >=) on one field are sorted by threshold: one
//     sweep over the batch's records, bucketed by their rank among the thresholds (a counting
//     sort), fills every cut's bitset, each from the previous one, instead of comparing every
//     record with every threshold;
//   - a false bitset is only computed where something reads it (an expression's answer is its
//     true bitset; an `and` of cuts is true from its terms' true bitsets alone).
// The answers are the single Program's (same three-valued logic, same null rules): a record passes
// a filter only when its expression is true. Every expression is checked by Program::compile first,
// so the errors are the `filter` actor's.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "engine/expr/compile_error.h"
#include "engine/expr/value.h"

namespace ebs::expr {

// Which records passed which expression, for one batch: a bitset over the batch's records per
// expression.
class Matches {
 public:
  Matches() = default;
  Matches(size_t programs, size_t records);
  // As Matches(programs, records), keeping the memory.
  void reset(size_t programs, size_t records);
  // As reset(programs, records), but only the rows from `cleared_from` on are cleared: the ones
  // before hold whatever the memory held, for a caller that writes each of them whole.
  void reset(size_t programs, size_t records, size_t cleared_from);

  size_t programs() const { return programs_; }
  size_t records() const { return records_; }
  bool passes(size_t program, size_t record) const {
    return (bits_[program * words_ + record / 64] >> (record % 64)) & 1;
  }
  // The positions of the records that passed `program`, ascending.
  std::vector<uint32_t> passed(size_t program) const;
  // Calls f(record) for each record that passed `program`, ascending, without allocating.
  template <class F>
  void each_passed(size_t program, F&& f) const {
    for (size_t w = 0; w < words_; ++w)
      for (uint64_t word = bits_[program * words_ + w]; word; word &= word - 1)
        f(static_cast<uint32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(word))));
  }
  size_t count(size_t program) const;
  // The records that passed at least one expression, ascending.
  std::vector<uint32_t> passed_any() const;
  // Per record, how many expressions it passed.
  std::vector<uint32_t> passed_counts() const;

  // A row to write. The rows a ProgramSet evaluation wrote are not to be changed: their union
  // was taken as they were written (passed_any() does not read them again), and asking for one
  // of them here is a fault. The caller's own rows (evaluate's extra_rows) are free.
  std::span<uint64_t> words(size_t program);
  // Bit r % 64 of word r / 64: whether record r passed `program`.
  std::span<const uint64_t> words(size_t program) const { return {bits_.data() + program * words_, words_}; }

 private:
  friend class ProgramSet;
  size_t programs_ = 0, records_ = 0, words_ = 0;
  std::vector<uint64_t> bits_;
  // The union of rows [0, united_rows_), taken by the evaluation that wrote them: a thousand rows
  // read again for passed_any() were a pass over 128 KiB per batch.
  std::vector<uint64_t> united_;
  size_t united_rows_ = 0;
};

// One expression's compile errors, by its position in the list given to compile().
struct ProgramErrors {
  size_t index = 0;
  std::vector<CompileError> errors;
};

class ProgramSet {
 public:
  // Compiles every text; when any is wrong, returns the errors of each wrong one.
  static std::variant<ProgramSet, std::vector<ProgramErrors>> compile(const std::vector<std::string>& texts);

  size_t size() const;
  // Distinct field paths read by any expression; columns are passed in this order.
  const std::vector<std::string>& fields() const;

  // Working memory of evaluate(), kept between batches so that a batch does not allocate (and
  // fault in) a megabyte of bitsets afresh. One per thread evaluating.
  class Workspace {
   public:
    // A batch is evaluated in blocks of 64 * block_words records (see evaluate): 0 is the CPU's
    // choice, 8 (one 512-bit register per bitset) where it has AVX-512, else 4; tests ask for
    // either (8 is refused without AVX-512).
    explicit Workspace(size_t block_words = 0);
    // Whether this CPU has AVX-512 (blocks of 8 words).
    static bool wide_blocks();
    ~Workspace();
    Workspace(Workspace&&) noexcept;
    Workspace& operator=(Workspace&&) noexcept;

   private:
    friend class ProgramSet;
    struct Memory;
    std::unique_ptr<Memory> memory_;
  };

  // columns[f][r]: the value of fields()[f] in record r (null when absent); every column has
  // `records` values. Text views must outlive the call only.
  // The batch is evaluated block by block (256 or 512 records: Workspace), each bitset of a block
  // one register wide.
  Matches evaluate(std::span<const std::vector<Value>> columns, size_t records) const;
  // The answers live in `workspace` until its next evaluation. `extra_rows` more rows follow the
  // expressions' (rows size() .. size() + extra_rows - 1), all false, for the caller's own answers
  // of the batch (the `filters` actor's SQL filters), so that one Matches holds every filter's.
  Matches& evaluate(std::span<const std::vector<Value>> columns, size_t records, Workspace& workspace,
                    size_t extra_rows = 0) const;

  // What sharing bought, for docs and tests: nodes of the shared graph, the nodes the expressions
  // would have had each on their own, and the "field OP number" cuts evaluated by sweeps.
  struct Shape {
    size_t nodes = 0, unshared_nodes = 0, swept_cuts = 0;
  };
  Shape shape() const;

  struct Graph;  // defined in program_set.cpp

 private:
  explicit ProgramSet(std::shared_ptr<const Graph> graph) : graph_(std::move(graph)) {}
  std::shared_ptr<const Graph> graph_;
};

}  // namespace ebs::expr
