#include "actors/sources/profiles/field_path.h"

#include <doctest/doctest.h>

#include <memory>

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

}  // namespace ebs::profiles
