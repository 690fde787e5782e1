#include "actors/common/elasticc/taxonomy.h"

#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "test/support/python_oracle.h"
#include "test/support/test_data.h"

using namespace ebs;

namespace {
// Executes the notebook's own code cells (treelib replaced by a minimal tree: only
// create_node/ancestor are used) and prints "id name" per class, in the notebook's order.
constexpr const char* kNotebookOracle = R"py(
import json, sys
class Tree:
    def __init__(self): self.parent = {}; self.tag = {}; self.order = []
    def create_node(self, tag, ident, parent=None):
        self.parent[ident] = parent; self.tag[ident] = tag; self.order.append(ident)
    def ancestor(self, n): return self.parent.get(n)
nb = json.load(open(sys.argv[1]))
cells = [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code']
code = '\n'.join(c for c in cells if 'treelib' not in c).replace('tree.show()', '')
scope = {'Tree': Tree}
exec(code, scope)
t = scope['tree']
for n in t.order[1:]:
    print(t.tag[n])
)py";
}  // namespace

TEST_CASE("the taxonomy's ids are what the ELAsTiCC notebook's code computes") {
  const auto notebook = test::data_dir() / "reference-schemas/elasticc/taxonomy.ipynb";
  std::istringstream lines(test::run_python_oracle(kNotebookOracle, {notebook.string()}));
  size_t i = 0;
  for (std::string line; std::getline(lines, line); ++i) {
    REQUIRE(i < elasticc::taxonomy().size());
    const auto& c = elasticc::taxonomy()[i];
    CHECK(line == std::to_string(c.id) + " " + std::string(c.name));
  }
  CHECK(i == elasticc::taxonomy().size());
}

TEST_CASE("classes by name or id; parents one level up") {
  CHECK(elasticc::parse_class("Ia") == 2222);
  CHECK(elasticc::parse_class("AGN") == 2332);
  CHECK(elasticc::parse_class("2232") == 2232);
  CHECK(!elasticc::parse_class("2229"));
  CHECK(!elasticc::parse_class("SN Ia"));
  CHECK(elasticc::class_name(2243) == "TDE");
  CHECK(elasticc::find_class(2222)->parent == 2220);
  CHECK(elasticc::find_class(2220)->parent == 2200);
  CHECK(elasticc::find_class(2200)->parent == 2000);
  CHECK(elasticc::class_name(7) == "unknown class");
}
