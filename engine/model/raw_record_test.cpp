#include "engine/model/raw_record.h"

#include <doctest/doctest.h>
#include <malloc.h>

#include "engine/model/raw_node_bytes.h"

using namespace ebs;

namespace {
// {"objectId": "ZTF1", "candidate": {"rb": 0.9, "fid": 2}, "prv": [{"jd": 1.5}, null]}
struct Sample {
  std::shared_ptr<std::vector<std::unique_ptr<RecordShape>>> shapes =
      std::make_shared<std::vector<std::unique_ptr<RecordShape>>>();
  std::shared_ptr<std::string> buffer = std::make_shared<std::string>("ZTF1");
  RawRecord record;

  Sample() {
    shapes->push_back(std::make_unique<RecordShape>(
        "alert", std::vector<std::string>{"objectId", "candidate", "prv"}));
    shapes->push_back(std::make_unique<RecordShape>("candidate", std::vector<std::string>{"rb", "fid"}));
    shapes->push_back(std::make_unique<RecordShape>("prv", std::vector<std::string>{"jd"}));
    RawRecordBuilder b;
    uint32_t root = b.add_root();
    uint32_t f = b.begin_record(root, (*shapes)[0].get());
    b.set_string(f, *buffer);
    uint32_t c = b.begin_record(f + 1, (*shapes)[1].get());
    b.set_double(c, 0.9);
    b.set_int(c + 1, 2);
    uint32_t l = b.begin_list(f + 2, 2);
    uint32_t p = b.begin_record(l, (*shapes)[2].get());
    b.set_double(p, 1.5);
    b.set_null(l + 1);
    record = b.finish(buffer, shapes);
  }
};
}  // namespace

TEST_CASE("raw record paths reach nested fields and list elements") {
  Sample s;
  CHECK(s.record.path("objectId").as_string() == "ZTF1");
  CHECK(s.record.path("candidate.rb").as_double() == doctest::Approx(0.9));
  CHECK(s.record.path("candidate.fid").as_int() == 2);
  CHECK(s.record.path("prv.0.jd").as_double() == doctest::Approx(1.5));
  CHECK(s.record.path("prv.1").is_null());
  CHECK(s.record.path("prv.1").valid());
}

TEST_CASE("missing fields and bad indices read as null") {
  Sample s;
  CHECK_FALSE(s.record.path("candidate.drb").valid());
  CHECK(s.record.path("candidate.drb").is_null());
  CHECK_FALSE(s.record.path("prv.7.jd").valid());
  CHECK_FALSE(s.record.path("prv.x").valid());
  CHECK_FALSE(s.record.path("objectId.deeper").valid());
  CHECK_FALSE(s.record.path("candidate.rb").as_string().has_value());
}

TEST_CASE("record shapes find fields by name, small and large") {
  RecordShape small("s", {"a", "b"});
  CHECK(small.find("b") == 1u);
  CHECK_FALSE(small.find("c"));
  std::vector<std::string> many;
  for (int i = 0; i < 100; ++i) many.push_back("f" + std::to_string(i));
  RecordShape large("l", many);
  CHECK(large.find("f73") == 73u);
  CHECK_FALSE(large.find("g"));
}

TEST_CASE("a copied record owns its nodes and reads the same") {
  Sample s;
  RawRecord copy = s.record;
  s.record = RawRecord();
  CHECK(s.record.empty());
  REQUIRE(copy.nodes().size() == 9);
  CHECK(copy.path("objectId").as_string() == "ZTF1");
  CHECK(copy.path("prv.0.jd").as_double() == doctest::Approx(1.5));
  RawRecord from_span(copy.nodes(), nullptr, nullptr);
  CHECK(from_span.path("candidate.fid").as_int() == 2);
  CHECK(from_span.nodes().data() != copy.nodes().data());
}

TEST_CASE("unset slots are whole nodes once set; null slots start as Null with no children") {
  RecordShape shape("r", {"a", "b", "c"});
  RawRecordBuilder b;
  b.reserve(2);  // grows past this while building
  uint32_t f = b.begin_record(b.add_root(), &shape, RawRecordBuilder::Slots::unset);
  b.set_int(f, -7);
  b.set_string(f + 1, "x");
  uint32_t l = b.begin_list(f + 2, 3);
  b.set_bool(l + 1, true);
  RawRecord r = b.finish(nullptr, nullptr);
  REQUIRE(r.nodes().size() == 7);
  CHECK(r.path("a").as_int() == -7);
  CHECK(r.path("b").as_string() == "x");
  CHECK(r.path("c.0").is_null());
  CHECK(r.path("c.1").as_int() == 1);
  for (const RawNode& n : r.nodes())
    if (n.kind != RawNode::Kind::List && n.kind != RawNode::Kind::Record) {
      CHECK(n.first_child == 0);
      CHECK(n.child_count == 0);
    }
  // The builder starts afresh after finish.
  CHECK(b.size() == 0);
  b.add_root();
  CHECK(b.finish(nullptr, nullptr).root().is_null());
}

TEST_CASE("a finished record holds its nodes, not the builder's growth room") {
  // A record lives as long as its batch is in flight, and the credit windows count its nodes
  // (RawRecord::bytes): the builder's doubling (or a decoder's reserve) must not ride along.
  RecordShape shape("r", {"values"});
  RawRecordBuilder b;
  b.reserve(4096);  // a decoder's guess for a big record
  uint32_t f = b.begin_record(b.add_root(), &shape);
  uint32_t l = b.begin_list(f, 98);  // 100 nodes in all
  for (uint32_t i = 0; i < 98; ++i) b.set_int(l + i, i);
  RawRecord r = b.finish(nullptr, nullptr);
  REQUIRE(r.nodes().size() == 100);
  CHECK(r.path("values.97").as_int() == 97);
  // glibc's usable size of the node array: 100 nodes and the chunk's rounding (a page, for a
  // chunk that was mapped), not the 4096 reserved.
  CHECK(malloc_usable_size(const_cast<RawNode*>(r.nodes().data())) <= 4096);
  CHECK(r.bytes() == 100 * sizeof(RawNode));
}

TEST_CASE("a built record's bytes count its nodes and the texts set_string and set_bytes gave it") {
  // The JSON ingest and the simulator build with set_*; the count is kept as they write and must
  // equal the walk. A build abandoned half-way (a decoder that threw) counts nothing toward the
  // next one.
  RecordShape shape("r", {"s", "b", "n"});
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), &shape);
  b.set_string(f, std::string_view("abandoned, never finished"));
  b.set_bytes(f + 1, std::string_view("\x00\x01", 2));

  f = b.begin_record(b.add_root(), &shape);
  b.set_string(f, "héllo");  // 6 bytes
  b.set_bytes(f + 1, std::string_view("\x00\xff\x10", 3));
  b.set_int(f + 2, 7);
  RawRecord r = b.finish(nullptr, nullptr);
  CHECK(r.bytes() == bytes_of_nodes(r.nodes()));
  CHECK(r.bytes() == 4 * sizeof(RawNode) + 6 + 3);
}
