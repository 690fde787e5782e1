@0xf5b645005404a30b;
# A broker's classification of one alert, in the terms of the DESC ELAsTiCC `brokerClassification`
# message (schemas/elasticc.v0_9_1.brokerClassification.avsc): what ebs-flow publishes about its
# alerts and what it reads from other brokers. Class ids are the ELAsTiCC taxonomy
# (docs/exchange.md).
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ebs::wire");

struct ClassProbability {
  classId @0 :Int32;       # ELAsTiCC taxonomy id, e.g. 2222 = SN Ia
  probability @1 :Float32; # 0-1
}

struct Classification {
  alertId @0 :Int64;       # for ZTF: the candid (= diaSourceId)
  diaSourceId @1 :Int64;
  objectId @2 :Text;       # ours when known (ZTF objectId); "" for a foreign message
  survey @3 :Text;
  # Milliseconds since 1970 (UTC): the originating alert's timestamp, and the broker's ingestion
  # (hasIngestTimestamp false = null in the Avro message).
  alertTimestampMs @4 :Int64;
  ingestTimestampMs @5 :Int64;
  hasIngestTimestamp @6 :Bool;
  brokerName @7 :Text;
  brokerVersion @8 :Text;
  classifierName @9 :Text;
  classifierParams @10 :Text;
  classes @11 :List(ClassProbability);
}
