// ProgramSet: the shared graph of many expressions and its column-wise evaluation (program_set.h).
// The operations are bytecode.h's, the ones the single Program applies, so the answers agree.
#include "engine/expr/program_set.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "engine/expr/bytecode.h"
#include "engine/expr/parser.h"
#include "engine/expr/program.h"
#include "engine/util/fault.h"

namespace ebs::expr {

using namespace bytecode;

namespace {

enum class NodeKind : uint8_t {
  constant,
  field,
  cut,         // field OP number, OP one of < <= > >=: evaluated by the field's sweeps
  compare,     // any other comparison of two children
  arithmetic,  // + - * / % of two children
  negate,
  function,
  logical_and,
  logical_or,
  logical_not,
};

struct GraphNode {
  NodeKind kind = NodeKind::constant;
  Operator op = Operator::equal;
  Function function = Function::abs;
  uint32_t field = 0;
  Slot constant = null_slot();  // constant; a cut's threshold
  std::vector<uint32_t> children;
  int bits_at = -1;   // index of its (true, false) bitsets in the batch's bit arena, or none
  int slots_at = -1;  // index of its value column in the batch's slot arena, or none
  bool used = false;  // reached from an expression's root (a cut's threshold constant is not)
  // Whether anything reads its false bitset. An expression's result is its true bitset, and an
  // `and` of cuts is true from its terms' true bitsets alone: the false ones of most nodes (cuts,
  // and/or) are neither computed nor written.
  bool falsity_used = false;
  // and/or: where its terms' bit indexes start in Graph::terms (they are read without touching the
  // terms' nodes: a thousand filters' nodes are a quarter of a megabyte).
  uint32_t terms_at = 0;
  // An and/or that only answers expressions (no parent reads it, nor its false bitset): it is
  // written straight into the answers' rows, never into the batch's bitsets.
  bool answer_only = false;
};

bool natural_bits(const GraphNode& node) {
  switch (node.kind) {
    case NodeKind::cut:
    case NodeKind::compare:
    case NodeKind::logical_and:
    case NodeKind::logical_or:
    case NodeKind::logical_not: return true;
    case NodeKind::function: return node.function == Function::exists || node.function == Function::is_null;
    default: return false;
  }
}

bool consumes_bits(const GraphNode& node) {
  return node.kind == NodeKind::logical_and || node.kind == NodeKind::logical_or ||
         node.kind == NodeKind::logical_not;
}

// A cut as a bound on a record's rank among the field's thresholds (FieldSweeps): "above" cuts
// pass the records of rank >= bound, "below" cuts those of rank < bound.
struct SweepCut {
  double threshold;
  Operator op;
  uint32_t bound = 0;
  bool above = false;
  uint32_t segment = 0;  // the first segment at or above `bound` (FieldSweeps::segment_of_rank)
  // The node's, kept here: a thousand cuts' nodes are read from a quarter of a megabyte otherwise.
  uint32_t bits_at = 0;
  bool falsity_used = false;
};

// The cuts on one field. A record's rank places its value among the field's distinct thresholds
// t_0 < t_1 < ...: rank 2i when t_(i-1) < value < t_i, rank 2i+1 when value = t_i. Records of one
// rank compare alike with every threshold, and so do the records of one *segment*: the ranks
// between two consecutive distinct bounds of the field's cuts. A batch's records are dropped
// into their segment's bitset (one bit set per record and field, no sorting); an "above" (> >=)
// cut at the j-th bound passes the records of segments j and up, a "below" (< <=) cut those of
// the segments under j: the above cuts are swept from the top segment down and the below ones from
// segment 0 up, each cut's bitset the previous one's ORed with the segments between them.
struct FieldSweeps {
  uint32_t field = 0;
  std::vector<double> thresholds;  // distinct, ascending
  std::vector<SweepCut> cuts;      // while laid out; then:
  std::vector<SweepCut> above;     // > >=, by segment, highest first
  std::vector<SweepCut> below;     // < <=, by segment, lowest first
  // The sweeps as steps of one shape, for a loop without a branch on the data: each ORs two
  // segments into the running union of its direction and stores it as cut bitset `out` (a
  // bits_at). Segment `segments + 1` is empty: a cut with one segment or none between it and the
  // previous one reads it; one with more takes several steps, the first ones storing into the
  // scratch bitset (Graph::scratch_bits). The first `above_steps` are the above cuts' (top segment
  // down), the rest the below cuts' (segment 0 up); each direction starts from an empty union.
  // (A loop over each cut's 0-2 segments branched on the data: these steps took a fifth less.)
  struct Step {
    uint32_t out = 0, a = 0, b = 0;
  };
  std::vector<Step> steps;
  size_t above_steps = 0;
  bool falsity_used = false;       // any cut's false bitset is read
  // segment_of_rank[k]: how many distinct bounds are <= rank k (segments 0 .. segments - 1).
  std::vector<uint32_t> segment_of_rank;
  uint32_t segments = 1;
  // A guide to a value's place among the thresholds, instead of a binary search per record (a
  // dozen fields' searches were a quarter of the evaluation): [first, last threshold] is cut into
  // equal cells, and guide[c] counts the thresholds in the cells before c. A value in cell c has
  // its lower bound in [guide[c], guide[c + 1]]: a threshold in an earlier cell is below it, one
  // in a later cell above (cell() is monotonic, rounding included). Users' thresholds spread
  // over a field's range, so that range holds one or two.
  std::vector<uint32_t> guide;  // cells + 1 entries; empty with fewer than two thresholds (or an infinite range)
  double low = 0, scale = 0;
  // Per cell of the guide, what places a value in it without a search: a cell holds no threshold
  // (most cells: four per threshold) or one, and a value's segment is then one of three, by how it
  // compares with that threshold (below, equal, above; all three alike in a cell without one).
  // One table read and two comparisons, no branch on the data: the records of a stream fall
  // anywhere, and a branch per record (a table of segments for the empty cells only, lower_bound()
  // for the others) was mispredicted a fifth of the time, half of the sweeps' time (perf).
  // A cell with two or more thresholds has segments[0] = kNoSegment: lower_bound() places a value
  // there. With a single threshold, one cell (low = scale = 0) holds it.
  static constexpr uint32_t kNoSegment = UINT32_MAX;
  struct Cell {
    double threshold = std::numeric_limits<double>::infinity();
    uint32_t segments[3] = {kNoSegment, 0, 0};
  };
  std::vector<Cell> cells;  // empty: lower_bound() places every value (an infinite range)
  double last_cell = 0;

  // The segment of a number (not NaN).
  uint32_t segment(double value) const {
    if (!cells.empty()) {
      // Below the first threshold (or -inf): cell 0; above the last (or +inf, or inf * 0): the last.
      double x = (value - low) * scale;
      x = x > 0 ? x : 0;
      x = x < last_cell ? x : last_cell;
      const Cell& cell = cells[static_cast<size_t>(x)];
      if (cell.segments[0] != kNoSegment)
        return cell.segments[static_cast<size_t>(value >= cell.threshold) + static_cast<size_t>(value > cell.threshold)];
    }
    const uint32_t i = lower_bound(value);
    const bool equal = i < thresholds.size() && thresholds[i] == value;
    return segment_of_rank[2 * i + (equal ? 1 : 0)];
  }

  size_t cell(double value) const {
    return std::min(guide.size() - 2, static_cast<size_t>((value - low) * scale));
  }
  // The first threshold >= value (value a number, not NaN).
  uint32_t lower_bound(double value) const {
    const auto count = static_cast<uint32_t>(thresholds.size());
    size_t from = 0, to = count;  // where to search
    if (!guide.empty()) {
      if (!(value > low)) return 0;  // at or below the first
      if (value > thresholds.back()) return count;
      const size_t c = cell(value);
      from = guide[c];
      to = guide[c + 1];
    }
    // Branch-free lower bound in [from, to).
    const double* at = thresholds.data() + from;
    for (size_t n = to - from; n > 0;) {
      size_t half = n / 2;
      bool right = at[half] < value;
      at += right ? half + 1 : 0;
      n = right ? n - half - 1 : half;
    }
    return static_cast<uint32_t>(at - thresholds.data());
  }
};

Slot apply_function(Function function, const Slot& x, const Slot& y) {
  switch (function) {
    case Function::abs: return math<Function::abs>(x);
    case Function::log10: return math<Function::log10>(x);
    case Function::sqrt: return math<Function::sqrt>(x);
    case Function::min: return math<Function::min>(x, y);
    case Function::max: return math<Function::max>(x, y);
    case Function::exists: return bool_slot(x.kind != Kind::null);
    case Function::is_null: return bool_slot(x.kind == Kind::null);
  }
  return null_slot();
}

Function function_named(std::string_view name) {
  for (const auto& info : kFunctions)
    if (info.name == name) return info.function;
  fail("expression", "unknown function '" + std::string(name) + "' after a successful compile");
}

}  // namespace

struct ProgramSet::Graph {
  std::vector<std::string> fields;
  std::vector<GraphNode> nodes;  // children before parents
  std::vector<uint32_t> roots;   // one per expression
  std::vector<std::unique_ptr<std::string>> texts;  // text constants point in here
  std::vector<FieldSweeps> sweeps;
  std::vector<uint32_t> terms;  // and/or nodes' terms' bits_at, each node's together
  // The nodes evaluate() has work for, in order (not cuts: the sweeps fill them; not the
  // answer_only ones), and per expression what writing its answer needs: a thousand filters'
  // nodes are a quarter of a megabyte, not read per batch.
  std::vector<uint32_t> evaluated;
  // The expressions' answers by shape, for loops without a branch on the data: answer_only `and`s
  // of 2-5 terms (most users' filters) in and_answers[terms] as (expression, its terms' bits_at...);
  // the others (an `or`, more terms, a root's own bitset copied) in other_answers as (expression,
  // 1 for `and` / 0 for `or`, count, bits_at...).
  static constexpr uint32_t kGroupedTerms = 5;
  std::vector<uint32_t> and_answers[kGroupedTerms + 1];
  std::vector<uint32_t> other_answers;
  uint32_t scratch_bits = 0;  // a bitset past the nodes' (FieldSweeps::steps)
  size_t bit_nodes = 0, slot_nodes = 0, unshared_nodes = 0, swept_cuts = 0;
};

namespace {

class GraphBuilder {
 public:
  explicit GraphBuilder(ProgramSet::Graph& graph) : graph_(graph) {}

  uint32_t build(const Node& node) {
    ++graph_.unshared_nodes;
    switch (node.kind) {
      case Node::Kind::null_literal: return constant(null_slot());
      case Node::Kind::bool_literal: return constant(bool_slot(node.boolean));
      case Node::Kind::number_literal: return constant(number_slot(node.number));
      case Node::Kind::text_literal: return text_constant(node.name);
      case Node::Kind::field: return field(node.name);
      case Node::Kind::unary: {
        uint32_t child = build(*node.children[0]);
        bool negate = node.op == Operator::negate;
        if (is_constant(child)) {
          const Slot& x = graph_.nodes[child].constant;
          return constant(negate ? (x.kind == Kind::number ? number_slot(-x.number) : null_slot()) : logical_not(x));
        }
        GraphNode n;
        n.kind = negate ? NodeKind::negate : NodeKind::logical_not;
        n.children = {child};
        return intern(std::move(n));
      }
      case Node::Kind::binary: return build_binary(node);
      case Node::Kind::call: return build_call(node);
    }
    return constant(null_slot());
  }

 private:
  uint32_t build_binary(const Node& node) {
    if (node.op == Operator::logical_and || node.op == Operator::logical_or) {
      std::vector<const Node*> terms;
      collect_terms(node, node.op, terms);
      GraphNode n;
      n.kind = node.op == Operator::logical_and ? NodeKind::logical_and : NodeKind::logical_or;
      bool all_constant = true;
      for (const Node* term : terms) {
        n.children.push_back(build(*term));
        all_constant = all_constant && is_constant(n.children.back());
      }
      if (all_constant) {
        Slot value = graph_.nodes[n.children[0]].constant;
        for (size_t i = 1; i < n.children.size(); ++i)
          value = apply_binary(node.op, value, graph_.nodes[n.children[i]].constant);
        return constant(value);
      }
      // Three-valued and/or are commutative and idempotent: order and deduplicate the terms so that
      // "a and b" and "b and a" are one node.
      std::sort(n.children.begin(), n.children.end());
      n.children.erase(std::unique(n.children.begin(), n.children.end()), n.children.end());
      return intern(std::move(n));
    }
    uint32_t left = build(*node.children[0]);
    uint32_t right = build(*node.children[1]);
    if (is_constant(left) && is_constant(right))
      return constant(apply_binary(node.op, graph_.nodes[left].constant, graph_.nodes[right].constant));
    GraphNode n;
    n.op = node.op;
    if (is_comparison(node.op)) {
      bool ordering = node.op == Operator::less || node.op == Operator::less_equal ||
                      node.op == Operator::greater || node.op == Operator::greater_equal;
      if (ordering && is_field(left) && is_number_constant(right))
        return cut(graph_.nodes[left].field, node.op, graph_.nodes[right].constant.number);
      if (ordering && is_number_constant(left) && is_field(right))
        return cut(graph_.nodes[right].field, mirrored(node.op), graph_.nodes[left].constant.number);
      n.kind = NodeKind::compare;
    } else {
      n.kind = NodeKind::arithmetic;
    }
    n.children = {left, right};
    return intern(std::move(n));
  }

  uint32_t build_call(const Node& node) {
    GraphNode n;
    n.kind = NodeKind::function;
    n.function = function_named(node.name);
    bool all_constant = true;
    for (const auto& argument : node.children) {
      n.children.push_back(build(*argument));
      all_constant = all_constant && is_constant(n.children.back());
    }
    if (all_constant && n.function != Function::exists) {
      const Slot& x = graph_.nodes[n.children[0]].constant;
      return constant(apply_function(n.function, x, n.children.size() > 1 ? graph_.nodes[n.children[1]].constant : x));
    }
    return intern(std::move(n));
  }

  static void collect_terms(const Node& node, Operator op, std::vector<const Node*>& terms) {
    if (node.kind == Node::Kind::binary && node.op == op) {
      collect_terms(*node.children[0], op, terms);
      collect_terms(*node.children[1], op, terms);
    } else {
      terms.push_back(&node);
    }
  }

  bool is_constant(uint32_t i) const { return graph_.nodes[i].kind == NodeKind::constant; }
  bool is_field(uint32_t i) const { return graph_.nodes[i].kind == NodeKind::field; }
  bool is_number_constant(uint32_t i) const {
    return is_constant(i) && graph_.nodes[i].constant.kind == Kind::number;
  }

  uint32_t constant(Slot value) {
    GraphNode n;
    n.kind = NodeKind::constant;
    n.constant = value;
    return intern(std::move(n));
  }

  uint32_t text_constant(const std::string& text) {
    auto it = texts_.find(text);
    if (it == texts_.end()) {
      graph_.texts.push_back(std::make_unique<std::string>(text));
      it = texts_.emplace(text, graph_.texts.back().get()).first;
    }
    return constant(text_slot(*it->second));
  }

  uint32_t field(const std::string& path) {
    auto [it, inserted] = field_slots_.emplace(path, static_cast<uint32_t>(graph_.fields.size()));
    if (inserted) graph_.fields.push_back(path);
    GraphNode n;
    n.kind = NodeKind::field;
    n.field = it->second;
    return intern(std::move(n));
  }

  uint32_t cut(uint32_t field, Operator op, double threshold) {
    GraphNode n;
    n.kind = NodeKind::cut;
    n.field = field;
    n.op = op;
    n.constant = number_slot(threshold);
    return intern(std::move(n));
  }

  // Equal nodes (same kind, operator, field, constant and children) are one node.
  uint32_t intern(GraphNode node) {
    std::string key;
    key.reserve(32 + 4 * node.children.size());
    auto put = [&key](const void* data, size_t size) { key.append(static_cast<const char*>(data), size); };
    put(&node.kind, sizeof node.kind);
    put(&node.op, sizeof node.op);
    put(&node.function, sizeof node.function);
    put(&node.field, sizeof node.field);
    put(&node.constant.kind, sizeof node.constant.kind);
    put(&node.constant.boolean, sizeof node.constant.boolean);
    put(&node.constant.number, sizeof node.constant.number);
    put(&node.constant.data, sizeof node.constant.data);  // texts are interned: equal text, equal pointer
    for (uint32_t child : node.children) put(&child, sizeof child);
    auto [it, inserted] = interned_.emplace(std::move(key), static_cast<uint32_t>(graph_.nodes.size()));
    if (inserted) graph_.nodes.push_back(std::move(node));
    return it->second;
  }

  ProgramSet::Graph& graph_;
  std::unordered_map<std::string, uint32_t> interned_;
  std::unordered_map<std::string, const std::string*> texts_;
  std::unordered_map<std::string, uint32_t> field_slots_;
};

// Decides which nodes keep bitsets and which keep value columns, and orders each field's cuts for
// its sweeps.
void lay_out(ProgramSet::Graph& graph) {
  std::vector<bool> needs_bits(graph.nodes.size(), false), needs_slots(graph.nodes.size(), false);
  std::vector<bool> has_parent(graph.nodes.size(), false);
  for (uint32_t root : graph.roots) {
    needs_bits[root] = true;
    graph.nodes[root].used = true;
  }
  for (size_t i = graph.nodes.size(); i-- > 0;) {  // parents come after their children
    const GraphNode& node = graph.nodes[i];
    if (!node.used) continue;
    for (uint32_t child : node.children) {
      (consumes_bits(node) ? needs_bits : needs_slots)[child] = true;
      has_parent[child] = true;
      graph.nodes[child].used = true;
    }
  }
  // and: true = all terms true, false = any term false; or: true = any true, false = all false;
  // not: true = its term's false. A node turned into a value column needs both.
  for (size_t i = graph.nodes.size(); i-- > 0;) {
    GraphNode& node = graph.nodes[i];
    if (!node.used) continue;
    node.falsity_used = node.falsity_used || (natural_bits(node) && needs_slots[i]);
    bool is_and_or = node.kind == NodeKind::logical_and || node.kind == NodeKind::logical_or;
    if ((is_and_or && node.falsity_used) || node.kind == NodeKind::logical_not)
      for (uint32_t child : node.children) graph.nodes[child].falsity_used = true;
  }
  std::unordered_map<uint32_t, size_t> sweep_of_field;
  for (uint32_t i = 0; i < graph.nodes.size(); ++i) {
    GraphNode& node = graph.nodes[i];
    if (!node.used) continue;
    node.answer_only = (node.kind == NodeKind::logical_and || node.kind == NodeKind::logical_or) && !has_parent[i] &&
                       !needs_slots[i] && !node.falsity_used;
    if ((natural_bits(node) || needs_bits[i]) && !node.answer_only) node.bits_at = static_cast<int>(graph.bit_nodes++);
    if (!natural_bits(node) || needs_slots[i]) node.slots_at = static_cast<int>(graph.slot_nodes++);
    if (node.kind == NodeKind::logical_and || node.kind == NodeKind::logical_or) {
      node.terms_at = static_cast<uint32_t>(graph.terms.size());
      for (uint32_t child : node.children) graph.terms.push_back(static_cast<uint32_t>(graph.nodes[child].bits_at));
    }
    if (node.kind != NodeKind::cut) continue;
    auto [it, inserted] = sweep_of_field.emplace(node.field, graph.sweeps.size());
    if (inserted) {
      graph.sweeps.emplace_back();
      graph.sweeps.back().field = node.field;
    }
    FieldSweeps& sweeps = graph.sweeps[it->second];
    bool above = node.op == Operator::greater || node.op == Operator::greater_equal;
    sweeps.cuts.push_back({node.constant.number, node.op, 0, above, 0, static_cast<uint32_t>(node.bits_at), node.falsity_used});
    ++graph.swept_cuts;
  }
  for (uint32_t i = 0; i < graph.nodes.size(); ++i) {
    const GraphNode& node = graph.nodes[i];
    bool swept_only = node.kind == NodeKind::cut && node.slots_at < 0;  // no value column to fill
    if (node.used && !node.answer_only && !swept_only) graph.evaluated.push_back(i);
  }
  for (uint32_t p = 0; p < graph.roots.size(); ++p) {
    const GraphNode& node = graph.nodes[graph.roots[p]];
    const bool all = node.kind == NodeKind::logical_and;
    const auto terms = static_cast<uint32_t>(node.children.size());
    const uint32_t* term_bits = graph.terms.data() + node.terms_at;
    if (node.answer_only && all && terms >= 2 && terms <= ProgramSet::Graph::kGroupedTerms) {
      std::vector<uint32_t>& group = graph.and_answers[terms];
      group.push_back(p);
      group.insert(group.end(), term_bits, term_bits + terms);
    } else if (node.answer_only) {
      graph.other_answers.insert(graph.other_answers.end(), {p, all ? 1u : 0u, terms});
      graph.other_answers.insert(graph.other_answers.end(), term_bits, term_bits + terms);
    } else {
      graph.other_answers.insert(graph.other_answers.end(), {p, 1u, 1u, static_cast<uint32_t>(node.bits_at)});
    }
  }
  graph.scratch_bits = static_cast<uint32_t>(graph.bit_nodes);
  for (FieldSweeps& sweeps : graph.sweeps) {
    for (const SweepCut& cut : sweeps.cuts) sweeps.thresholds.push_back(cut.threshold);
    std::sort(sweeps.thresholds.begin(), sweeps.thresholds.end());
    sweeps.thresholds.erase(std::unique(sweeps.thresholds.begin(), sweeps.thresholds.end()), sweeps.thresholds.end());
    const std::vector<double>& t = sweeps.thresholds;
    const double range = t.size() >= 2 ? t.back() - t.front() : 0;
    if (t.size() >= 2 && std::isfinite(range) && range > 0) {
      // Four cells per threshold: most cells then hold none, the rest one.
      const size_t cells = std::min<size_t>(4 * t.size(), 1 << 16);
      sweeps.low = t.front();
      sweeps.scale = static_cast<double>(cells) / range;
      sweeps.guide.assign(cells + 1, 0);
      for (double threshold : t) ++sweeps.guide[sweeps.cell(threshold) + 1];
      for (size_t c = 1; c <= cells; ++c) sweeps.guide[c] += sweeps.guide[c - 1];
    }
    std::vector<uint32_t> bounds;
    for (SweepCut& cut : sweeps.cuts) {
      auto i = static_cast<uint32_t>(std::lower_bound(sweeps.thresholds.begin(), sweeps.thresholds.end(), cut.threshold) -
                                     sweeps.thresholds.begin());
      // > t_i: ranks from 2i+2; >= t_i: from 2i+1; < t_i: below 2i+1; <= t_i: below 2i+2.
      cut.bound = cut.op == Operator::greater         ? 2 * i + 2
                  : cut.op == Operator::greater_equal ? 2 * i + 1
                  : cut.op == Operator::less          ? 2 * i + 1
                                                      : 2 * i + 2;
      bounds.push_back(cut.bound);
    }
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    const size_t ranks = 2 * t.size() + 1;
    sweeps.segment_of_rank.assign(ranks, 0);
    for (size_t k = 0; k < ranks; ++k)
      sweeps.segment_of_rank[k] =
          static_cast<uint32_t>(std::upper_bound(bounds.begin(), bounds.end(), k) - bounds.begin());
    sweeps.segments = static_cast<uint32_t>(bounds.size() + 1);
    // A cell without a threshold: every value in it has the first threshold of the next cells as
    // its lower bound and equals none (rank 2 * guide[c]); with one threshold t_i, a value below it
    // has rank 2i, equal 2i+1, above 2i+2 (the next threshold is in a later cell).
    auto segments_around = [&sweeps](size_t i) {
      FieldSweeps::Cell cell;
      cell.threshold = sweeps.thresholds[i];
      for (size_t k = 0; k < 3; ++k) cell.segments[k] = sweeps.segment_of_rank[2 * i + k];
      return cell;
    };
    if (!sweeps.guide.empty()) {
      const size_t cells = sweeps.guide.size() - 1;
      sweeps.cells.assign(cells, {});
      for (size_t c = 0; c < cells; ++c) {
        const uint32_t first = sweeps.guide[c], count = sweeps.guide[c + 1] - first;
        if (count == 1) sweeps.cells[c] = segments_around(first);
        if (count == 0) std::fill(std::begin(sweeps.cells[c].segments), std::end(sweeps.cells[c].segments),
                                  sweeps.segment_of_rank[2 * first]);
      }
      sweeps.last_cell = static_cast<double>(cells - 1);
    } else if (t.size() == 1) {
      sweeps.cells.assign(1, segments_around(0));
      sweeps.low = sweeps.scale = sweeps.last_cell = 0;
    }
    // A bound's records are those of its segment and above.
    for (SweepCut& cut : sweeps.cuts)
      cut.segment = static_cast<uint32_t>(std::lower_bound(bounds.begin(), bounds.end(), cut.bound) - bounds.begin()) + 1;
    for (const SweepCut& cut : sweeps.cuts) {
      (cut.above ? sweeps.above : sweeps.below).push_back(cut);
      sweeps.falsity_used = sweeps.falsity_used || cut.falsity_used;
    }
    sweeps.cuts.clear();
    std::sort(sweeps.above.begin(), sweeps.above.end(),
              [](const SweepCut& a, const SweepCut& b) { return a.segment > b.segment; });
    std::sort(sweeps.below.begin(), sweeps.below.end(),
              [](const SweepCut& a, const SweepCut& b) { return a.segment < b.segment; });
    // above: segments [cut.segment, next) join the union, from the top; below: [next, cut.segment).
    const uint32_t empty = sweeps.segments + 1;
    auto add_steps = [&](uint32_t out, uint32_t first, uint32_t end) {
      for (; end - first > 2; first += 2) sweeps.steps.push_back({graph.scratch_bits, first, first + 1});
      sweeps.steps.push_back({out, first < end ? first : empty, end - first == 2 ? first + 1 : empty});
    };
    uint32_t next = sweeps.segments;
    for (const SweepCut& cut : sweeps.above) {
      add_steps(cut.bits_at, cut.segment, next);
      next = cut.segment;
    }
    sweeps.above_steps = sweeps.steps.size();
    next = 0;
    for (const SweepCut& cut : sweeps.below) {
      add_steps(cut.bits_at, next, cut.segment);
      next = cut.segment;
    }
  }
}

}  // namespace

namespace {

// The sweeps' scratch: one bitset per segment of a field, and the bitset being swept.
struct SweepMemory {
  std::vector<uint64_t> segments, known;
};

}  // namespace

struct ProgramSet::Workspace::Memory {
  std::vector<uint64_t> bits, false_bits;
  std::vector<Slot> slots;
  SweepMemory sweeps;
  Matches matches;  // the last batch's answers (a thousand filters' are 128 KiB: not allocated per batch)
  std::vector<const Value*> block_columns;  // each field's values in the block
  size_t block_words = 4;                   // words of bits per block: 64 records each
};

bool ProgramSet::Workspace::wide_blocks() {
  static const bool wide = [] {
    __builtin_cpu_init();  // in case this runs before libgcc's constructor has filled in the CPU model
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return wide;
}

ProgramSet::Workspace::Workspace(size_t block_words) : memory_(std::make_unique<Memory>()) {
  if (block_words == 0) block_words = wide_blocks() ? 8 : 4;
  if (block_words != 4 && !(block_words == 8 && wide_blocks()))
    fail("filter set", "blocks of " + std::to_string(block_words) +
                           " words asked for: 4, or 8 where the CPU has AVX-512 (this one " +
                           (wide_blocks() ? "has" : "has not") + ")");
  memory_->block_words = block_words;
}
ProgramSet::Workspace::~Workspace() = default;
ProgramSet::Workspace::Workspace(Workspace&&) noexcept = default;
ProgramSet::Workspace& ProgramSet::Workspace::operator=(Workspace&&) noexcept = default;

namespace {

// One block's view of the working memory: every bit node's true and false bitsets and every slot
// node's column. Not cleared: each node clears or overwrites its own before filling them (the
// bitsets of 1,000 filters are most of a megabyte). The true bitsets are together, apart from the
// false ones, which most nodes never write: the ones read stay dense in cache.
class BatchMemory {
 public:
  // `words` per bitset (the block's, whatever its records): the bits past `records` stay 0.
  BatchMemory(const ProgramSet::Graph& graph, size_t records, size_t words, std::vector<uint64_t>& bits,
              std::vector<uint64_t>& false_bits, std::vector<Slot>& slots)
      : records_(records), words_(words), bits_(bits), false_bits_(false_bits), slots_(slots) {
    bits_.resize((graph.bit_nodes + 1) * words_);  // + Graph::scratch_bits
    false_bits_.resize(graph.bit_nodes * words_);
    slots_.resize(graph.slot_nodes * records);
  }

  uint64_t* truth(const GraphNode& n) { return truth_at(static_cast<uint32_t>(n.bits_at)); }
  uint64_t* falsity(const GraphNode& n) { return falsity_at(static_cast<uint32_t>(n.bits_at)); }
  const uint64_t* truth_of(const GraphNode& n) const { return bits_.data() + static_cast<size_t>(n.bits_at) * words_; }
  const uint64_t* falsity_of(const GraphNode& n) const { return false_bits_.data() + static_cast<size_t>(n.bits_at) * words_; }
  uint64_t* truth_at(uint32_t bits_at) { return bits_.data() + static_cast<size_t>(bits_at) * words_; }
  uint64_t* falsity_at(uint32_t bits_at) { return false_bits_.data() + static_cast<size_t>(bits_at) * words_; }
  Slot* slots(const GraphNode& n) { return slots_.data() + static_cast<size_t>(n.slots_at) * records_; }

  size_t records() const { return records_; }
  size_t words() const { return words_; }

 private:
  size_t records_, words_;
  std::vector<uint64_t>& bits_;
  std::vector<uint64_t>& false_bits_;
  std::vector<Slot>& slots_;
};

void set_bit(uint64_t* words, size_t i) { words[i / 64] |= uint64_t{1} << (i % 64); }
bool bit(const uint64_t* words, size_t i) { return (words[i / 64] >> (i % 64)) & 1; }

// Four words per step. The build targets plain x86-64 at -O2, where GCC vectorises no loop whose
// length it does not know (its "very cheap" cost model): the word loops below, most of a thousand
// filters' evaluation, ran one word at a time (perf: a scalar `or` was 30 % of
// ProgramSet::evaluate). A GCC/clang vector of four words is one AVX2 register in the functions
// cloned for AVX2 (EBS_WORD_CLONES: the loader picks the clone for the CPU), two SSE2 registers in
// the others. Only functions of this file are cloned (clang 14 leaves a cloned member function's
// symbol undefined). (GCC notes that such a vector returned by a function changes the ABI without AVX:
// a helper or lambda that takes or returns one is marked always_inline, so no call passes one, at
// -O0 too, where a call would return it in memory to a caller that reads a register.)
using WordQuad = uint64_t __attribute__((vector_size(32)));
#define EBS_WORD_CLONES __attribute__((target_clones("avx2", "default")))
#pragma GCC diagnostic ignored "-Wpsabi"  // GCC's and clang's

template <class V>
inline __attribute__((always_inline)) V load_words(const uint64_t* at) {
  V v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

// out[w] = f(in[w]...) for w < words; f takes words or vectors of words alike (| & ~ apply to both).
template <class F, class... In>
inline __attribute__((always_inline)) void map_words(size_t words, uint64_t* out, F f, const In*... in) {
  size_t w = 0;
  for (; w + 4 <= words; w += 4) {
    const WordQuad v = f(load_words<WordQuad>(in + w)...);
    std::memcpy(out + w, &v, sizeof v);
  }
  for (; w < words; ++w) out[w] = f(in[w]...);
}

void bits_from_slots(const Slot* slots, size_t records, uint64_t* truth, uint64_t* falsity) {
  for (size_t r = 0; r < records; ++r) {
    if (is_true(slots[r])) set_bit(truth, r);
    if (is_false(slots[r])) set_bit(falsity, r);
  }
}

// Each record with a number into its segment's bitset (`bits`, `words` per segment); a record
// without one (null, text, NaN) into none: every cut on it is null.
// (Not inlined: its own line in a profile; called once per field and block.)
__attribute__((noinline)) void place_records(const FieldSweeps& sweeps, const Value* column, size_t records,
                                             uint64_t* bits, size_t words) {
  if (sweeps.cells.empty()) {
    for (size_t r = 0; r < records; ++r) {
      const double* number = std::get_if<double>(&column[r].v);
      if (!number || *number != *number) continue;
      set_bit(bits + sweeps.segment(*number) * words, r);
    }
    return;
  }
  // FieldSweeps::segment() with the field's guide in locals: ten thousand records and fields per
  // batch, and the members were reloaded for each (the conversion through int64_t is one
  // instruction; to size_t it is a branch).
  // Fewer branches on the data: a record without a number (null, text, NaN) goes through the same
  // steps as NaN into the bitset past the field's segments, which no sweep reads (`bits` holds one
  // more), instead of being skipped; and the clamp to the first cell is a max (GCC had made
  // `x > 0 ? x : 0` a branch, taken by every value under the first threshold). 1,000 filters
  // +5-7 %, one filter unchanged (docs/filters.md, "fourth pass").
  static constexpr double kNoNumber = std::numeric_limits<double>::quiet_NaN();
  const FieldSweeps::Cell* cells = sweeps.cells.data();
  const double low = sweeps.low, scale = sweeps.scale, last_cell = sweeps.last_cell;
  const uint32_t none = sweeps.segments;
  for (size_t r = 0; r < records; ++r) {
    const double* number = std::get_if<double>(&column[r].v);
    const double value = *(number ? number : &kNoNumber);
    double x = (value - low) * scale;
    x = std::max(0.0, x);  // (0 < x ? x : 0): NaN (no number) -> 0
    x = std::min(x, last_cell);
    const FieldSweeps::Cell& cell = cells[static_cast<int64_t>(x)];
    uint32_t segment = cell.segments[static_cast<size_t>(value >= cell.threshold) + static_cast<size_t>(value > cell.threshold)];
    segment = value == value ? segment : none;
    if (cell.segments[0] == FieldSweeps::kNoSegment && segment != none) segment = sweeps.segment(value);
    set_bit(bits + segment * words, r);
  }
}

// A block's bitset of K words (a multiple of 4), as one vector: GCC keeps it in registers (an
// array of WordQuads went through the stack).
// (GCC ignores a vector_size that depends on a template parameter: one type per size.)
template <size_t K>
struct BlockVector;
template <>
struct BlockVector<4> {
  using type = uint64_t __attribute__((vector_size(32)));
};
template <>
struct BlockVector<8> {
  using type = uint64_t __attribute__((vector_size(64)));
};
template <size_t K>
using BlockBits = typename BlockVector<K>::type;
static_assert(sizeof(BlockBits<4>) == 32 && sizeof(BlockBits<8>) == 64);

template <size_t K>
inline __attribute__((always_inline)) BlockBits<K> load_block(const uint64_t* at) {
  return load_words<BlockBits<K>>(at);
}

template <size_t K>
inline __attribute__((always_inline)) void store_block(uint64_t* at, const BlockBits<K>& b) {
  std::memcpy(at, &b, sizeof b);
}

// Every cut bitset of one field from its segments (FieldSweeps::steps), the running union of a
// direction in registers: two loads and `or`s and a store per step.
template <size_t K>
inline __attribute__((always_inline)) void sweep_steps(const FieldSweeps::Step* steps, size_t above, size_t count,
                                                       const uint64_t* segments, uint64_t* truth) {
  for (size_t i = 0, end = above; i < count; end = count) {
    BlockBits<K> running{};
    for (; i < end; ++i) {
      const FieldSweeps::Step step = steps[i];
      running |= load_block<K>(segments + static_cast<size_t>(step.a) * K) |
                 load_block<K>(segments + static_cast<size_t>(step.b) * K);
      store_block<K>(truth + static_cast<size_t>(step.out) * K, running);
    }
  }
}

EBS_WORD_CLONES void sweep_steps_4(const FieldSweeps::Step* steps, size_t above, size_t count, const uint64_t* segments,
                                   uint64_t* truth) {
  sweep_steps<4>(steps, above, count, segments, truth);
}

// The 8-word blocks' functions, called only where the CPU has AVX-512 (Workspace::wide_blocks).
#define EBS_AVX512 __attribute__((target("avx512f")))
EBS_AVX512 void sweep_steps_8(const FieldSweeps::Step* steps, size_t above, size_t count, const uint64_t* segments,
                              uint64_t* truth) {
  sweep_steps<8>(steps, above, count, segments, truth);
}

void run_sweeps(const ProgramSet::Graph& graph, std::span<const Value* const> columns, BatchMemory& work,
                SweepMemory& memory) {
  const size_t words = work.words(), records = work.records();
  std::vector<uint64_t>& known = memory.known;
  known.resize(words);
  for (const FieldSweeps& sweeps : graph.sweeps) {
    const Value* column = columns[sweeps.field];
    std::vector<uint64_t>& segments = memory.segments;
    // Past the field's segments: records without a number (place_records), and an empty one (steps).
    segments.assign((sweeps.segments + 2) * words, 0);
    place_records(sweeps, column, records, segments.data(), words);
    // "above" cuts from the top segment down, "below" cuts from segment 0 up: each cut's bitset
    // is the previous one's of its direction ORed with the segments between them.
    if (words == 8)
      sweep_steps_8(sweeps.steps.data(), sweeps.above_steps, sweeps.steps.size(), segments.data(), work.truth_at(0));
    else
      sweep_steps_4(sweeps.steps.data(), sweeps.above_steps, sweeps.steps.size(), segments.data(), work.truth_at(0));
    if (!sweeps.falsity_used) continue;
    // A cut's false records: those with a number that it does not pass.
    std::fill(known.begin(), known.end(), 0);
    for (size_t segment = 0; segment < sweeps.segments; ++segment)
      map_words(
          words, known.data(), [](auto x, auto y) __attribute__((always_inline)) { return x | y; }, known.data(),
          segments.data() + segment * words);
    for (const std::vector<SweepCut>* cuts : {&sweeps.above, &sweeps.below})
      for (const SweepCut& cut : *cuts) {
        if (!cut.falsity_used) continue;
        const uint64_t* truth = work.truth_at(cut.bits_at);
        uint64_t* falsity = work.falsity_at(cut.bits_at);
        map_words(
            words, falsity, [](auto x, auto y) __attribute__((always_inline)) { return x & ~y; }, known.data(), truth);
      }
  }
}

// out = the and (all) or the or of an and/or node's terms' bitsets on one side (true or false;
// each side's bitsets are one array with a node's at bits_at * words). Up to four terms are read in
// one pass over the words (map_words). A term repeated to fill a pass changes nothing (a & a = a).
EBS_WORD_CLONES void combine_terms(const uint32_t* terms, size_t count, bool all, const uint64_t* side, size_t words,
                                   uint64_t* out) {
  auto term = [&](size_t i) { return side + static_cast<size_t>(terms[std::min(i, count - 1)]) * words; };
  auto both = [](auto p, auto q, auto r, auto s) __attribute__((always_inline)) { return (p & q) & (r & s); };
  auto either = [](auto p, auto q, auto r, auto s) __attribute__((always_inline)) { return (p | q) | (r | s); };
  for (size_t i = 0; i < count;) {
    const bool first = i == 0;
    const uint64_t* a = first ? term(i++) : out;
    const uint64_t* b = term(i++);
    const uint64_t* c = term(i++);
    const uint64_t* d = term(i++);
    if (all)
      map_words(words, out, both, a, b, c, d);
    else
      map_words(words, out, either, a, b, c, d);
  }
}

// Every expression's answer for one block (K words of each row from word `at`; `valid` of them
// in the rows, fewer in a batch's last block), and the union of the block's answers into
// united[at ..]. An answer_only root's terms are combined in registers, the union too: a load
// per term and a store per answer.
template <size_t K, bool kPartial>
inline __attribute__((always_inline)) void block_answers(const ProgramSet::Graph& graph, const uint64_t* truth,
                                                         uint64_t* rows, size_t row_words, size_t at, size_t valid,
                                                         uint64_t* united) {
  BlockBits<K> any{};
  auto put = [&](uint32_t p, const BlockBits<K>& answer) __attribute__((always_inline)) {
    any |= answer;
    uint64_t* out = rows + p * row_words + at;
    if constexpr (kPartial) {
      uint64_t whole[K];
      store_block<K>(whole, answer);
      std::memcpy(out, whole, valid * sizeof(uint64_t));
    } else {
      store_block<K>(out, answer);
    }
  };
  auto term = [&](uint32_t bits_at) __attribute__((always_inline)) {
    return load_block<K>(truth + static_cast<size_t>(bits_at) * K);
  };
  auto and_group = [&]<uint32_t kTerms>(std::integral_constant<uint32_t, kTerms>) __attribute__((always_inline)) {
    const std::vector<uint32_t>& group = graph.and_answers[kTerms];
    for (const uint32_t *at = group.data(), *end = at + group.size(); at < end; at += kTerms + 1) {
      BlockBits<K> answer = term(at[1]);
      for (uint32_t t = 2; t <= kTerms; ++t) answer &= term(at[t]);
      put(at[0], answer);
    }
  };
  and_group(std::integral_constant<uint32_t, 2>{});
  and_group(std::integral_constant<uint32_t, 3>{});
  and_group(std::integral_constant<uint32_t, 4>{});
  and_group(std::integral_constant<uint32_t, 5>{});
  static_assert(ProgramSet::Graph::kGroupedTerms == 5);
  for (const uint32_t *at = graph.other_answers.data(), *end = at + graph.other_answers.size(); at < end;) {
    const uint32_t p = at[0], terms = at[2];
    const bool all = at[1] != 0;
    at += 3;
    BlockBits<K> answer = term(at[0]);
    for (uint32_t t = 1; t < terms; ++t) answer = all ? answer & term(at[t]) : answer | term(at[t]);
    at += terms;
    put(p, answer);
  }
  uint64_t whole[K];
  store_block<K>(whole, any);
  std::memcpy(united + at, whole, valid * sizeof(uint64_t));
}

EBS_WORD_CLONES void write_answers_4(const ProgramSet::Graph& graph, const uint64_t* truth, uint64_t* rows,
                                     size_t row_words, size_t at, size_t valid, uint64_t* united) {
  if (valid == 4)
    block_answers<4, false>(graph, truth, rows, row_words, at, valid, united);
  else  // a batch's last block, its rows shorter
    block_answers<4, true>(graph, truth, rows, row_words, at, valid, united);
}

EBS_AVX512 void write_answers_8(const ProgramSet::Graph& graph, const uint64_t* truth, uint64_t* rows,
                                size_t row_words, size_t at, size_t valid, uint64_t* united) {
  if (valid == 8)
    block_answers<8, false>(graph, truth, rows, row_words, at, valid, united);
  else
    block_answers<8, true>(graph, truth, rows, row_words, at, valid, united);
}

// Per record, how many of `count` rows of `words` words have its bit: the rows are added into
// bit-sliced counters (slice l holds bit l of every record's count, a carry rippling up the
// slices), four words at a time. Counting each row's bits one by one (ctz, an increment) was a
// thousand filters' ~90 matches per alert, one dependent memory increment each.
template <class V>
inline __attribute__((always_inline)) void count_into_slices(const uint64_t* rows, size_t count, size_t words, size_t w,
                                                             unsigned levels, V* slices) {
  for (unsigned l = 0; l < levels; ++l) slices[l] = V{} ;
  for (size_t p = 0; p < count; ++p) {
    V x = load_words<V>(rows + p * words + w);
    for (unsigned l = 0; l < levels; ++l) {
      const V carry = slices[l] & x;
      slices[l] ^= x;
      x = carry;
    }
  }
}

EBS_WORD_CLONES void count_rows(const uint64_t* rows, size_t count, size_t words, size_t records, uint32_t* counts) {
  const auto levels = static_cast<unsigned>(std::bit_width(count));  // slices for counts up to `count`
  uint64_t slices[64][4];
  for (size_t w = 0; w < words; w += 4) {
    const size_t n = std::min<size_t>(4, words - w);
    if (n == 4) {
      WordQuad quads[64];
      count_into_slices(rows, count, words, w, levels, quads);
      for (unsigned l = 0; l < levels; ++l) std::memcpy(slices[l], &quads[l], sizeof quads[l]);
    } else {
      for (size_t k = 0; k < n; ++k) {
        uint64_t single[64];
        count_into_slices(rows, count, words, w + k, levels, single);
        for (unsigned l = 0; l < levels; ++l) slices[l][k] = single[l];
      }
    }
    for (size_t k = 0; k < n; ++k)
      for (size_t bit = 0; bit < 64 && (w + k) * 64 + bit < records; ++bit) {
        uint32_t c = 0;
        for (unsigned l = 0; l < levels; ++l) c |= static_cast<uint32_t>((slices[l][k] >> bit) & 1) << l;
        counts[(w + k) * 64 + bit] = c;
      }
  }
}

// any |= each of `rows` rows of `words` words.
EBS_WORD_CLONES void or_rows(const uint64_t* rows, size_t count, size_t words, uint64_t* any) {
  auto either = [](auto x, auto y) __attribute__((always_inline)) { return x | y; };
  for (size_t p = 0; p < count; ++p) map_words(words, any, either, any, rows + p * words);
}

void evaluate_node(const GraphNode& node, const ProgramSet::Graph& graph, std::span<const Value* const> columns,
                   BatchMemory& work) {
  const size_t records = work.records(), words = work.words();
  auto child = [&](size_t i) -> const GraphNode& { return graph.nodes[node.children[i]]; };
  // Nodes that set bits one record at a time start from cleared bitsets; a cut's were written by
  // its sweep, and/or/not write theirs whole.
  bool writes_whole_bitsets = node.kind == NodeKind::cut || node.kind == NodeKind::logical_and ||
                              node.kind == NodeKind::logical_or || node.kind == NodeKind::logical_not;
  if (node.bits_at >= 0 && !writes_whole_bitsets) {
    std::fill(work.truth(node), work.truth(node) + words, 0);
    std::fill(work.falsity(node), work.falsity(node) + words, 0);
  }
  switch (node.kind) {
    case NodeKind::constant: {
      Slot* out = work.slots(node);
      std::fill(out, out + records, node.constant);
      break;
    }
    case NodeKind::field: {
      Slot* out = work.slots(node);
      const Value* column = columns[node.field];
      for (size_t r = 0; r < records; ++r) out[r] = load(column[r]);
      break;
    }
    case NodeKind::cut: break;  // run_sweeps filled it
    case NodeKind::compare: {
      const Slot* a = work.slots(child(0));
      const Slot* b = work.slots(child(1));
      uint64_t* truth = work.truth(node);
      uint64_t* falsity = work.falsity(node);
      for (size_t r = 0; r < records; ++r) {
        Slot s = apply_binary(node.op, a[r], b[r]);
        if (is_true(s)) set_bit(truth, r);
        if (is_false(s)) set_bit(falsity, r);
      }
      break;
    }
    case NodeKind::arithmetic: {
      const Slot* a = work.slots(child(0));
      const Slot* b = work.slots(child(1));
      Slot* out = work.slots(node);
      for (size_t r = 0; r < records; ++r) out[r] = apply_binary(node.op, a[r], b[r]);
      break;
    }
    case NodeKind::negate: {
      const Slot* a = work.slots(child(0));
      Slot* out = work.slots(node);
      for (size_t r = 0; r < records; ++r)
        out[r] = a[r].kind == Kind::number ? number_slot(-a[r].number) : null_slot();
      break;
    }
    case NodeKind::function: {
      const Slot* a = work.slots(child(0));
      const Slot* b = node.children.size() > 1 ? work.slots(child(1)) : a;
      if (natural_bits(node)) {
        uint64_t* truth = work.truth(node);
        uint64_t* falsity = work.falsity(node);
        for (size_t r = 0; r < records; ++r) set_bit(is_true(apply_function(node.function, a[r], b[r])) ? truth : falsity, r);
      } else {
        Slot* out = work.slots(node);
        for (size_t r = 0; r < records; ++r) out[r] = apply_function(node.function, a[r], b[r]);
      }
      break;
    }
    case NodeKind::logical_and:
    case NodeKind::logical_or: {
      // and: true when every term is true, false when any is; or: the converse.
      const bool is_and = node.kind == NodeKind::logical_and;
      const uint32_t* terms = graph.terms.data() + node.terms_at;
      combine_terms(terms, node.children.size(), is_and, work.truth_at(0), words, work.truth(node));
      if (node.falsity_used)
        combine_terms(terms, node.children.size(), !is_and, work.falsity_at(0), words, work.falsity(node));
      break;
    }
    case NodeKind::logical_not: {
      const GraphNode& x = child(0);
      std::memcpy(work.truth(node), work.falsity(x), words * sizeof(uint64_t));
      std::memcpy(work.falsity(node), work.truth(x), words * sizeof(uint64_t));
      break;
    }
  }
  // The other form, for parents that read it.
  if (natural_bits(node) && node.slots_at >= 0) {
    const uint64_t* truth = work.truth(node);
    const uint64_t* falsity = work.falsity(node);
    Slot* out = work.slots(node);
    for (size_t r = 0; r < records; ++r)
      out[r] = bit(truth, r) ? bool_slot(true) : bit(falsity, r) ? bool_slot(false) : null_slot();
  } else if (!natural_bits(node) && node.bits_at >= 0) {
    bits_from_slots(work.slots(node), records, work.truth(node), work.falsity(node));
  }
}

}  // namespace

Matches::Matches(size_t programs, size_t records)
    : programs_(programs), records_(records), words_((records + 63) / 64), bits_(programs * words_, 0) {}

void Matches::reset(size_t programs, size_t records) { reset(programs, records, 0); }

void Matches::reset(size_t programs, size_t records, size_t cleared_from) {
  programs_ = programs;
  records_ = records;
  words_ = (records + 63) / 64;
  united_rows_ = 0;
  bits_.resize(programs * words_);
  std::fill(bits_.begin() + static_cast<std::ptrdiff_t>(std::min(cleared_from, programs) * words_), bits_.end(), 0);
}

std::vector<uint32_t> Matches::passed(size_t program) const {
  std::vector<uint32_t> out;
  for (size_t w = 0; w < words_; ++w)
    for (uint64_t word = bits_[program * words_ + w]; word; word &= word - 1)
      out.push_back(static_cast<uint32_t>(w * 64 + std::countr_zero(word)));
  return out;
}

std::vector<uint32_t> Matches::passed_counts() const {
  std::vector<uint32_t> counts(records_, 0);
  if (programs_ > 0) count_rows(bits_.data(), programs_, words_, records_, counts.data());
  return counts;
}

size_t Matches::count(size_t program) const {
  size_t n = 0;
  for (size_t w = 0; w < words_; ++w) n += std::popcount(bits_[program * words_ + w]);
  return n;
}

std::span<uint64_t> Matches::words(size_t program) {
  if (program < united_rows_)
    fail("filter set", "row " + std::to_string(program) + " was written by the evaluation: it is not to be changed");
  return {bits_.data() + program * words_, words_};
}

std::vector<uint32_t> Matches::passed_any() const {
  std::vector<uint64_t> any(words_, 0);
  if (united_rows_ > 0) any = united_;
  or_rows(bits_.data() + united_rows_ * words_, programs_ - united_rows_, words_, any.data());
  std::vector<uint32_t> out;
  for (size_t w = 0; w < words_; ++w)
    for (uint64_t word = any[w]; word; word &= word - 1)
      out.push_back(static_cast<uint32_t>(w * 64 + std::countr_zero(word)));
  return out;
}

std::variant<ProgramSet, std::vector<ProgramErrors>> ProgramSet::compile(const std::vector<std::string>& texts) {
  std::vector<ProgramErrors> errors;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto compiled = Program::compile(texts[i]);
    if (auto* e = std::get_if<std::vector<CompileError>>(&compiled)) errors.push_back({i, std::move(*e)});
  }
  if (!errors.empty()) return errors;
  auto graph = std::make_shared<Graph>();
  GraphBuilder builder(*graph);
  for (const std::string& text : texts) {
    ParseResult parsed = parse(text);
    graph->roots.push_back(builder.build(*parsed.root));
  }
  lay_out(*graph);
  return ProgramSet(std::move(graph));
}

size_t ProgramSet::size() const { return graph_->roots.size(); }

const std::vector<std::string>& ProgramSet::fields() const { return graph_->fields; }

ProgramSet::Shape ProgramSet::shape() const {
  size_t used = 0;
  for (const GraphNode& node : graph_->nodes) used += node.used;
  return {used, graph_->unshared_nodes, graph_->swept_cuts};
}

Matches ProgramSet::evaluate(std::span<const std::vector<Value>> columns, size_t records) const {
  ProgramSet::Workspace workspace;
  return evaluate(columns, records, workspace);
}

Matches& ProgramSet::evaluate(std::span<const std::vector<Value>> columns, size_t records,
                              ProgramSet::Workspace& workspace, size_t extra_rows) const {
  if (columns.size() < graph_->fields.size())
    fail("filter set", "given " + std::to_string(columns.size()) + " field columns, needs " +
                           std::to_string(graph_->fields.size()));
  for (size_t f = 0; f < graph_->fields.size(); ++f)
    if (columns[f].size() < records)
      fail("filter set", "the column of '" + graph_->fields[f] + "' has " + std::to_string(columns[f].size()) +
                             " values for " + std::to_string(records) + " records");
  Matches& matches = workspace.memory_->matches;
  // Every expression's row is written whole below: only the caller's rows start cleared.
  matches.reset(graph_->roots.size() + extra_rows, records, graph_->roots.size());
  std::vector<const Value*>& block_columns = workspace.memory_->block_columns;
  block_columns.resize(graph_->fields.size());
  std::vector<uint64_t>& united = matches.united_;
  united.assign(matches.words_, 0);
  // Block by block, each bitset of a block one register wide (256 records in AVX2, 512 in
  // AVX-512): a sweep step and an answer are a few loads and one store, the running unions and
  // the answers' union stay in registers, and a block's cut bitsets (a thousand filters' ~1,900:
  // 60 or 119 KiB) are read back from the first- or second-level cache soon after they were
  // written. Blocks of a whole batch's 1,024 records (bitsets of two 512-bit registers, 238 KiB
  // per batch) ran slower: the sweeps' stores went to the second-level cache.
  const size_t words = workspace.memory_->block_words, block_records = 64 * words;
  for (size_t first = 0; first < records; first += block_records) {
    const size_t block = std::min(block_records, records - first);
    for (size_t f = 0; f < graph_->fields.size(); ++f) block_columns[f] = columns[f].data() + first;
    BatchMemory work(*graph_, block, words, workspace.memory_->bits, workspace.memory_->false_bits,
                     workspace.memory_->slots);
    run_sweeps(*graph_, block_columns, work, workspace.memory_->sweeps);
    for (uint32_t node : graph_->evaluated) evaluate_node(graph_->nodes[node], *graph_, block_columns, work);
    const size_t at = first / 64;  // the block's first word in a row
    (words == 8 ? write_answers_8 : write_answers_4)(*graph_, work.truth_at(0), matches.bits_.data(), matches.words_,
                                                     at, std::min(words, matches.words_ - at), united.data());
  }
  matches.united_rows_ = graph_->roots.size();
  return matches;
}

}  // namespace ebs::expr
