#include "actors/common/elasticc/broker_classification.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "engine/util/fault.h"
#include "test/support/python_oracle.h"
#include "test/support/test_data.h"

using namespace ebs;

namespace {
Classification sample() {
  Classification c;
  c.alert_id = 1105460320515015000;
  c.dia_source_id = 1105460320515015000;
  c.alert_timestamp_ms = 1577880000123;
  c.ingest_timestamp_ms = 1577880100456;
  c.broker_name = "ebs";
  c.broker_version = "0.1.0";
  c.classifier_name = "xgboost-score sn-ia@2";
  c.classifier_params = "{\"features\":\"lc-basic/1\"}";
  c.classes = {{2222, 0.8125f}, {200, 0.1875f}};
  return c;
}
}  // namespace

TEST_CASE("a brokerClassification datum: python3-avro reads it with the ELAsTiCC schema file; we read it back") {
  elasticc::BrokerClassificationCodec codec;
  Classification c = sample();
  std::string datum = codec.encode(c);
  const auto file = std::filesystem::temp_directory_path() / ("ebs-elasticc-" + std::to_string(::getpid()));
  { std::ofstream(file, std::ios::binary) << datum; }
  // The reference schema file, not ours: the two must be the same text.
  const auto schema = test::data_dir() / "reference-schemas/elasticc/elasticc.v0_9_1.brokerClassification.avsc";
  std::string out = test::run_python_oracle(R"py(
import io, sys, avro.schema, avro.io
schema = avro.schema.parse(open(sys.argv[1]).read())
data = open(sys.argv[2], 'rb').read()
buf = io.BytesIO(data)
m = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(buf))
assert buf.tell() == len(data)
ts = lambda v: v if isinstance(v, int) or v is None else int(v.timestamp() * 1000 + 0.5)
print(m['alertId'], m['diaSourceId'], ts(m['elasticcPublishTimestamp']), ts(m['brokerIngestTimestamp']))
print(m['brokerName'], m['brokerVersion'], m['classifierName'], m['classifierParams'])
print(' '.join('%d:%.4f' % (x['classId'], x['probability']) for x in m['classifications']))
)py", {schema.string(), file.string()});
  std::filesystem::remove(file);
  CHECK(out == "1105460320515015000 1105460320515015000 1577880000123 1577880100456\n"
               "ebs 0.1.0 xgboost-score sn-ia@2 {\"features\":\"lc-basic/1\"}\n"
               "2222:0.8125 200:0.1875\n");

  auto back = codec.decode(datum, "test");
  CHECK(back->alert_id == c.alert_id);
  CHECK(back->dia_source_id == c.dia_source_id);
  CHECK(back->alert_timestamp_ms == c.alert_timestamp_ms);
  CHECK(back->ingest_timestamp_ms == c.ingest_timestamp_ms);
  CHECK(back->broker_name == "ebs");
  CHECK(back->classifier_params == c.classifier_params);
  REQUIRE(back->classes.size() == 2);
  CHECK(back->classes[0].class_id == 2222);
  CHECK(back->classes[0].probability == 0.8125f);

  c.ingest_timestamp_ms.reset();
  CHECK(!codec.decode(codec.encode(c), "test")->ingest_timestamp_ms);
  CHECK(std::string(elasticc::broker_classification_schema()).find("\"brokerClassfication\"") != std::string::npos);
}

TEST_CASE("bad brokerClassification bytes are faults naming the place") {
  elasticc::BrokerClassificationCodec codec;
  std::string datum = codec.encode(sample());
  CHECK_THROWS_WITH_AS(codec.decode(datum.substr(0, datum.size() - 3), "fink/0/17"),
                       doctest::Contains("fink/0/17"), Fault);
  CHECK_THROWS_WITH_AS(codec.decode(datum + "xx", "fink/0/18"), doctest::Contains("followed by 2 more"), Fault);
  Classification bad = sample();
  bad.classes[0].probability = 1.5f;
  CHECK_THROWS_WITH_AS(codec.decode(codec.encode(bad), "fink/0/19"), doctest::Contains("not within 0-1"), Fault);
}
