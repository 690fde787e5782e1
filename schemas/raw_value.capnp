@0xbb992a8165b401c3;
# A survey's record exactly as decoded (e.g. a ZTF Avro alert): a self-describing tree, so that any
# raw field stays reachable by path ("candidate.rb") after it crossed a node boundary.
# How raw payloads crossed until cluster protocol revision 3 (Alert.raw); since then they cross
# laid flat (Alert.rawFlat, schemas/alert.capnp), and a decoder refuses this form.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ebs::wire");

struct RawValue {
  union {
    null @0 :Void;
    bool @1 :Bool;
    int @2 :Int64;
    double @3 :Float64;
    text @4 :Text;
    data @5 :Data;
    list @6 :List(RawValue);
    record @7 :RawRecord;
    # The bytes of the alert's cutout n (Alert.cutouts): a survey's cutouts are bytes of its raw
    # record too, and are not sent twice.
    cutout @8 :UInt8;
  }
}

struct RawRecord {
  name @0 :Text;            # record type, e.g. "ztf.alert.candidate"
  fieldNames @1 :List(Text);
  values @2 :List(RawValue);  # same order as fieldNames
  # 0: name and fieldNames are given here. n > 0: they are those of the n-th record of this
  # message (in depth-first order) that gave them, and are not repeated: a light curve's 30
  # points share one shape, and its names were half the bytes of a point.
  sameShapeAs @3 :UInt32;
}
