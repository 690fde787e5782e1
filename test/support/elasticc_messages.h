// Test support for the exchange tests (header only, tests only): ELAsTiCC brokerClassification
// messages written and read by python3-avro with the reference schema file, and the two other
// brokers' classifications (ALeRCE-like and Fink-like) the consensus tests join and combine.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "test/support/python_oracle.h"
#include "test/support/test_data.h"

namespace ebs::test {

inline std::string elasticc_schema() {
  return (data_dir() / "reference-schemas/elasticc/elasticc.v0_9_1.brokerClassification.avsc").string();
}

// Each message (a bare brokerClassification datum) read by python3-avro with the ELAsTiCC schema
// file, as JSON (timestamps in ms since 1970); `dir` holds the messages as files meanwhile.
inline std::vector<nlohmann::json> read_elasticc_messages(const std::vector<std::string>& messages,
                                                          const std::filesystem::path& dir) {
  static constexpr const char* kReadOracle = R"py(
import io, json, os, sys, avro.schema, avro.io
schema = avro.schema.parse(open(sys.argv[1]).read())
reader = avro.io.DatumReader(schema)
ts = lambda v: v if isinstance(v, int) or v is None else int(round(v.timestamp() * 1000))
for name in sorted(os.listdir(sys.argv[2])):
    data = open(os.path.join(sys.argv[2], name), 'rb').read()
    buf = io.BytesIO(data)
    m = reader.read(avro.io.BinaryDecoder(buf))
    assert buf.tell() == len(data), name
    m['elasticcPublishTimestamp'] = ts(m['elasticcPublishTimestamp'])
    m['brokerIngestTimestamp'] = ts(m['brokerIngestTimestamp'])
    print(json.dumps(m))
)py";
  std::filesystem::create_directories(dir);
  for (size_t i = 0; i < messages.size(); ++i)
    std::ofstream(dir / (std::to_string(1000 + i) + ".avro"), std::ios::binary) << messages[i];
  std::istringstream lines(run_python_oracle(kReadOracle, {elasticc_schema(), dir.string()}));
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(lines, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// One of our messages as python3-avro read it, for a scorer's score p mapped to SN-like by a
// `classifications` actor with broker_name ebs-test, broker_version 9.9: ZTF's alertId =
// diaSourceId = candid; classes 2220 (SN-like) p and 200 (its complement) 1 - p.
inline void check_our_elasticc_message(const nlohmann::json& m, double p) {
  CHECK(m["diaSourceId"] == m["alertId"]);
  CHECK(m["brokerName"] == "ebs-test");
  CHECK(m["brokerVersion"] == "9.9");
  REQUIRE(m["classifications"].size() == 2);
  CHECK(m["classifications"][0]["classId"] == 2220);
  CHECK(m["classifications"][1]["classId"] == 200);
  CHECK(m["classifications"][0]["probability"].get<double>() == doctest::Approx(p).epsilon(1e-6));
  CHECK(m["classifications"][1]["probability"].get<double>() == doctest::Approx(1 - p).epsilon(1e-6));
}

// Two other brokers' classifications: ALeRCE-like ("lc_classifier 1.1": 2222 a, 2224 1 - a) and
// Fink-like ("snn 2.0": 2222 b, 2332 1 - b) for each given alert id, plus one Fink message for
// alert 42 that never comes; written by python3-avro with the ELAsTiCC schema, one file each.
struct OtherBrokers {
  std::map<int64_t, std::pair<double, double>> given;  // alert id -> (a, b)
  std::vector<std::string> files;                      // 2 per alert id, then the stray one
};

inline OtherBrokers other_brokers_classifications(const std::vector<int64_t>& alert_ids, const std::filesystem::path& dir) {
  static constexpr const char* kWriteOracle = R"py(
import datetime, io, json, os, sys, avro.schema, avro.io
schema = avro.schema.parse(open(sys.argv[1]).read())
writer = avro.io.DatumWriter(schema)
utc = datetime.timezone.utc
for i, line in enumerate(open(sys.argv[2])):
    m = json.loads(line)
    for k in ('elasticcPublishTimestamp', 'brokerIngestTimestamp'):
        m[k] = datetime.datetime.fromtimestamp(m[k] / 1000.0, utc)
    buf = io.BytesIO()
    writer.write(m, avro.io.BinaryEncoder(buf))
    open(os.path.join(sys.argv[3], '%04d.avro' % i), 'wb').write(buf.getvalue())
print('ok')
)py";
  using nlohmann::json;
  auto message = [](int64_t id, const char* broker, const char* classifier, json classes) {
    return json{{"alertId", id}, {"diaSourceId", id}, {"elasticcPublishTimestamp", 1577836800000},
                {"brokerIngestTimestamp", 1577836900000}, {"brokerName", broker}, {"brokerVersion", "v7"},
                {"classifierName", classifier}, {"classifierParams", "{}"}, {"classifications", classes}};
  };
  OtherBrokers out;
  std::filesystem::create_directories(dir / "messages");
  std::ofstream plan(dir / "plan.jsonl");
  for (size_t i = 0; i < alert_ids.size(); ++i) {
    const double a = 0.05 + 0.09 * static_cast<double>(i), b = 0.9 - 0.08 * static_cast<double>(i);
    out.given[alert_ids[i]] = {a, b};
    plan << message(alert_ids[i], "ALeRCE", "lc_classifier 1.1",
                    json::array({{{"classId", 2222}, {"probability", a}}, {{"classId", 2224}, {"probability", 1 - a}}}))
                .dump()
         << "\n";
    plan << message(alert_ids[i], "Fink", "snn 2.0",
                    json::array({{{"classId", 2222}, {"probability", b}}, {{"classId", 2332}, {"probability", 1 - b}}}))
                .dump()
         << "\n";
  }
  plan << message(42, "Fink", "snn 2.0", json::array({{{"classId", 2232}, {"probability", 1.0}}})).dump() << "\n";
  plan.close();
  REQUIRE(run_python_oracle(kWriteOracle, {elasticc_schema(), (dir / "plan.jsonl").string(), (dir / "messages").string()}) ==
          "ok\n");
  for (const auto& e : std::filesystem::directory_iterator(dir / "messages")) out.files.push_back(e.path().string());
  std::sort(out.files.begin(), out.files.end());
  REQUIRE(out.files.size() == 2 * alert_ids.size() + 1);
  return out;
}

}  // namespace ebs::test
