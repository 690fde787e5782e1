#include "actors/common/profiles/field_path.h"

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ebs::profiles {

namespace {

struct Shapes {
  RecordShape root{"t.root", {"id", "candidate", "list"}};
  RecordShape candidate{"t.candidate", {"ra", "dec"}};
  RecordShape other{"t.other", {"dec", "extra", "ra"}};
};

// {id: 7, candidate: {ra: 1.5, dec: -2.5}, list: [{ra: 10, dec: 20}, null]}
RawRecord make(const std::shared_ptr<Shapes>& s, const RecordShape* candidate_shape) {
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), &s->root);
  b.set_int(f, 7);
  uint32_t c = b.begin_record(f + 1, candidate_shape);
  if (candidate_shape == &s->candidate) {
    b.set_double(c, 1.5);
    b.set_double(c + 1, -2.5);
  } else {
    b.set_double(c, -2.5);
    b.set_null(c + 1);
    b.set_double(c + 2, 1.5);
  }
  uint32_t l = b.begin_list(f + 2, 2);
  uint32_t e = b.begin_record(l, &s->candidate);
  b.set_double(e, 10);
  b.set_double(e + 1, 20);
  b.set_null(l + 1);
  return b.finish(nullptr, s);
}

}  // namespace

TEST_CASE("a field path resolves fields, list elements, and reports what is missing") {
  auto shapes = std::make_shared<Shapes>();
  RawRecord r = make(shapes, &shapes->candidate);
  CHECK(FieldPath("id").resolve(r.root()).as_int() == 7);
  CHECK(FieldPath("candidate.dec").resolve(r.root()).as_double() == -2.5);
  CHECK(FieldPath("list.0.dec").resolve(r.root()).as_double() == 20);
  CHECK(FieldPath("list.1").resolve(r.root()).is_null());
  CHECK(FieldPath("list.1").present(r.root()));       // exists, null
  CHECK_FALSE(FieldPath("list.1.ra").present(r.root()));  // through a null
  CHECK_FALSE(FieldPath("list.2").present(r.root()));
  CHECK_FALSE(FieldPath("candidate.nope").present(r.root()));
  CHECK_FALSE(FieldPath("id.x").present(r.root()));
  CHECK(FieldPath("candidate.dec").text() == "candidate.dec");
}

TEST_CASE("a field path re-resolves when the record shape changes (another schema)") {
  auto shapes = std::make_shared<Shapes>();
  FieldPath ra("candidate.ra");
  RawRecord a = make(shapes, &shapes->candidate);
  RawRecord b = make(shapes, &shapes->other);
  for (int i = 0; i < 3; ++i) {
    CHECK(ra.resolve(a.root()).as_double() == 1.5);
    CHECK(ra.resolve(b.root()).as_double() == 1.5);  // same name at another position
  }
  CHECK_FALSE(FieldPath("candidate.extra").present(a.root()));
  CHECK(FieldPath("candidate.extra").present(b.root()));
}

TEST_CASE("node-level resolution trusts a shape within one epoch, and checks it again in the next") {
  auto shapes = std::make_shared<Shapes>();
  FieldPath ra("ra");
  FieldPath candidate_ra("candidate.ra");
  RawRecord a = make(shapes, &shapes->candidate);
  RawRecord b = make(shapes, &shapes->other);
  const RawNode* base_a = a.nodes().data();
  const RawNode* base_b = b.nodes().data();
  uint64_t epoch = 0;
  for (int i = 0; i < 3; ++i) {
    ++epoch;  // one record per epoch, as Profile::map does
    const RawNode* v = candidate_ra.resolve(base_a, base_a, epoch);
    REQUIRE(v != nullptr);
    CHECK(v->number == 1.5);
    ++epoch;
    v = candidate_ra.resolve(base_b, base_b, epoch);
    REQUIRE(v != nullptr);
    CHECK(v->number == 1.5);
  }
  // Two shapes met alternately within one epoch (a list of union branches).
  ++epoch;
  const RawNode* a_candidate = base_a + base_a[0].first_child + 1;
  const RawNode* b_candidate = base_b + base_b[0].first_child + 1;
  for (int i = 0; i < 3; ++i) {
    CHECK(ra.resolve(base_a, a_candidate, epoch)->number == 1.5);
    CHECK(ra.resolve(base_b, b_candidate, epoch)->number == 1.5);
  }
  CHECK(FieldPath("nope").resolve(base_a, a_candidate, epoch) == nullptr);
  CHECK(FieldPath("list.1").resolve(base_a, base_a, epoch)->kind == RawNode::Kind::Null);
  CHECK(FieldPath("list.2").resolve(base_a, base_a, epoch) == nullptr);
}

TEST_CASE("node-level resolution is not fooled by a new shape at a freed shape's address") {
  // The same storage holds one shape, then another with the fields in another order: what a
  // freed schema plan and a newly compiled one can look like to an address-keyed memo.
  auto storage = std::make_shared<std::optional<RecordShape>>();
  FieldPath dec("dec");
  auto one = [&](const std::vector<std::string>& fields, double first, double second) {
    storage->emplace("t.point", fields);
    RawRecordBuilder b;
    uint32_t f = b.begin_record(b.add_root(), &**storage);
    b.set_double(f, first);
    b.set_double(f + 1, second);
    return b.finish(nullptr, storage);
  };
  RawRecord first = one({"ra", "dec"}, 1, 2);
  CHECK(dec.resolve(first.nodes().data(), first.nodes().data(), 1)->number == 2);
  const RecordShape* address = &**storage;
  RawRecord second = one({"dec", "ra"}, 3, 4);
  REQUIRE(&**storage == address);  // same address, other fields
  CHECK(dec.resolve(second.nodes().data(), second.nodes().data(), 2)->number == 3);
}

}  // namespace ebs::profiles
